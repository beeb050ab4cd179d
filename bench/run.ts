// `npm run bench`: cold starts, time to remediate, API economy, evaluation throughput, storms and `guardian
// evaluate` at scale, on loopback only. Prints the tables, writes bench/results.json and puts the tables into
// docs/performance.md. `--quick` runs every section with tiny counts (what the smoke test does); `--only a,b` runs some
// sections; `--render` only rewrites docs/performance.md from bench/results.json.
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { now, round } from "./lib/stats.ts";
import { startWorld } from "./lib/world.ts";
import { type AlertBurstResult, alertBurst } from "./sections/alerts.ts";
import { type Bundles, buildBundles, type ColdStartResult, coldStarts } from "./sections/cold-start.ts";
import { evaluateScale, type ScaleSummary } from "./sections/evaluate-scale.ts";
import {
  awsRemediation,
  azureRemediation,
  type EconomyResult,
  type LatencyResult,
} from "./sections/remediate.ts";
import { type ScanBenchResult, scanBench } from "./sections/scan.ts";
import { type StormResult, storms } from "./sections/storms.ts";
import { type ThroughputResult, throughput } from "./sections/throughput.ts";

export const SECTIONS = ["cold", "remediate", "throughput", "storms", "scale", "alerts", "scan"] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchSizes {
  coldRuns: number;
  remediateEvents: number;
  economyEvents: number;
  throughputWindowMs: number;
  throughputRepeats: number;
  stormOneResource: number;
  stormManyResources: number;
  scaleSizes: number[];
  scaleRuns: number;
  alertBurst: number;
  /** `scanEstate` over this many NSGs (ARM emulator, pages of 100) and security groups (moto). */
  scanNsgs: number[];
  scanSgs: number[];
  /** Groups (half open) remediated by the pull scan and, again, one at a time by the event path. */
  pullGroups: number;
}

export const FULL: BenchSizes = {
  coldRuns: 9,
  remediateEvents: 300,
  economyEvents: 20,
  throughputWindowMs: 500,
  throughputRepeats: 5,
  stormOneResource: 200,
  stormManyResources: 1000,
  scaleSizes: [1000, 10000],
  scaleRuns: 3,
  alertBurst: 500,
  scanNsgs: [1000, 10000],
  scanSgs: [1000, 10000],
  pullGroups: 200,
};

export const QUICK: BenchSizes = {
  coldRuns: 1,
  remediateEvents: 3,
  economyEvents: 2,
  throughputWindowMs: 20,
  throughputRepeats: 1,
  stormOneResource: 5,
  stormManyResources: 3,
  scaleSizes: [2, 4],
  scaleRuns: 1,
  alertBurst: 10,
  scanNsgs: [5, 10],
  scanSgs: [4],
  pullGroups: 6,
};

export interface BenchResults {
  generatedAt: string;
  machine: { nproc: number; cpu: string; node: string; platform: string; memoryGb: number };
  sizes: BenchSizes;
  totalSeconds: number;
  coldStart?: ColdStartResult[];
  remediate?: LatencyResult[];
  economy?: EconomyResult[];
  throughput?: ThroughputResult[];
  storms?: StormResult[];
  evaluateScale?: ScaleSummary;
  alerts?: AlertBurstResult;
  scan?: ScanBenchResult;
}

function cpuModel(): string {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    return line?.split(":")[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown";
  } catch {
    return os.cpus()[0]?.model ?? "unknown";
  }
}

export async function runBench(
  sizes: BenchSizes,
  sections: readonly Section[] = SECTIONS,
  progress: (message: string) => void = () => {},
): Promise<BenchResults> {
  const started = now();
  const results: BenchResults = {
    generatedAt: new Date().toISOString(),
    machine: {
      nproc: os.availableParallelism(),
      cpu: cpuModel(),
      node: process.version,
      platform: `${os.platform()} ${os.arch()}`,
      memoryGb: round(os.totalmem() / 1024 ** 3, 1),
    },
    sizes,
    totalSeconds: 0,
  };
  const world = await startWorld();
  const outdir = await mkdtemp(path.join(tmpdir(), "guardian-bench-dist-"));
  try {
    let bundles: Bundles | undefined;
    const bundled = async () => {
      bundles ??= await buildBundles(outdir);
      return bundles;
    };
    if (sections.includes("cold")) {
      progress("cold starts");
      results.coldStart = await coldStarts(world, await bundled(), sizes.coldRuns);
    }
    if (sections.includes("remediate")) {
      progress("time to remediate and API economy (Azure)");
      const azure = await azureRemediation(world, sizes.remediateEvents, sizes.economyEvents);
      progress("time to remediate and API economy (AWS)");
      const aws = await awsRemediation(world, sizes.remediateEvents, sizes.economyEvents);
      results.remediate = [azure.latency, aws.latency];
      results.economy = [...azure.economy, ...aws.economy];
    }
    if (sections.includes("throughput")) {
      progress("evaluation throughput");
      results.throughput = await throughput(sizes.throughputWindowMs, sizes.throughputRepeats);
    }
    if (sections.includes("storms")) {
      progress("storms");
      results.storms = await storms(world, await bundled(), {
        oneResource: sizes.stormOneResource,
        manyResources: sizes.stormManyResources,
      });
    }
    if (sections.includes("scale")) {
      progress("guardian evaluate at scale");
      results.evaluateScale = await evaluateScale(sizes.scaleSizes, sizes.scaleRuns);
    }
    if (sections.includes("alerts")) {
      progress("alert burst against a flaky webhook");
      results.alerts = await alertBurst(world, sizes.alertBurst);
    }
    if (sections.includes("scan")) {
      progress("guardian scan at scale, and pull against push");
      results.scan = await scanBench(
        world,
        { nsgs: sizes.scanNsgs, sgs: sizes.scanSgs, pullGroups: sizes.pullGroups },
        progress,
      );
    }
  } finally {
    await world.stop();
    await rm(outdir, { recursive: true, force: true });
  }
  results.totalSeconds = round((now() - started) / 1000, 1);
  return results;
}

function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [
    line(cells[0] ?? []),
    `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`,
    ...cells.slice(1).map(line),
  ].join("\n");
}

const mark = (ok: boolean): string => (ok ? "met" : "NOT met");

/** The results as Markdown tables (what docs/performance.md shows). */
export function render(r: BenchResults): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(
    `Machine: ${m.nproc} CPUs (${m.cpu}), ${m.memoryGb} GB, Node ${m.node}, ${m.platform}; ${r.totalSeconds} s in all.`,
  );
  if (r.coldStart) {
    out.push(
      "\n**Cold start** (fresh process: import the bundle, handle one event to the end; median of runs)\n",
    );
    out.push(
      table(
        [
          "entry",
          "bundle",
          "runs",
          "cold",
          "baseline `node`",
          "over baseline",
          "ratio",
          "import",
          "first event",
          "peak RSS",
          "remediated",
          "aim",
        ],
        r.coldStart.map((c) => {
          // The reference row has no bundle, no guardian work and no aim of its own.
          const ref = c.aimDeltaMs === 0;
          return [
            c.entry,
            ref ? "-" : `${c.bundleKb} KB`,
            c.runs,
            `${c.coldMs} ms`,
            `${c.baselineMs} ms`,
            `${c.deltaMs} ms`,
            `${c.ratio}x`,
            ref ? "-" : `${c.importMs} ms`,
            ref ? "-" : `${c.firstEventMs} ms`,
            ref ? "-" : `${c.maxRssMb} MB`,
            ref ? "-" : `${c.remediated}/${c.runs}`,
            ref ? "floor under every entry" : `< ${c.aimDeltaMs} ms: ${mark(c.deltaMs < c.aimDeltaMs)}`,
          ];
        }),
      ),
    );
  }
  if (r.remediate) {
    out.push("\n**Time to remediate** (event handed to the handler → write acknowledged by the emulator)\n");
    out.push(
      table(
        [
          "path",
          "events",
          "p50",
          "p99",
          "handler p50 (with alerts)",
          "floor p50 / p99 (bare read + write)",
          "p50 / floor",
          "outcomes",
          "aim p50 < 25, p99 < 100",
        ],
        r.remediate.map((l) => [
          l.path,
          l.events,
          `${l.remediateP50Ms} ms`,
          `${l.remediateP99Ms} ms`,
          `${l.handlerP50Ms} ms`,
          `${l.floorP50Ms} / ${l.floorP99Ms} ms`,
          `${l.ratioP50}x`,
          Object.entries(l.outcomes)
            .map(([k, v]) => `${k} ${v}`)
            .join(", "),
          mark(l.remediateP50Ms < 25 && l.remediateP99Ms < 100),
        ]),
      ),
    );
  }
  if (r.economy) {
    out.push("\n**API economy** (per event, median; max in brackets)\n");
    out.push(
      table(
        ["scenario", "events", "reads", "writes", "LRO polls", "alerts"],
        r.economy.map((e) => [
          e.scenario,
          e.events,
          `${e.readsPerEvent} (${e.maxReads})`,
          `${e.writesPerEvent} (${e.maxWrites})`,
          e.pollsPerEvent ?? "-",
          e.alertsPerEvent,
        ]),
      ),
    );
  }
  if (r.throughput) {
    out.push("\n**Evaluation throughput, no I/O** (one core; normalise + evaluate the baseline policy)\n");
    out.push(
      table(
        ["case", "events/s", "µs/event", "JSON round trip/s (baseline)", "time vs baseline", "aim"],
        r.throughput.map((t) =>
          t.skipped
            ? [t.case, "skipped", "-", "-", "-", t.skipped]
            : [
                t.case,
                t.perSecond.toLocaleString("en-US"),
                t.microsPerEvent,
                t.baselinePerSecond.toLocaleString("en-US"),
                `${t.ratio}x`,
                `> ${t.aimPerSecond.toLocaleString("en-US")}/s: ${mark(t.perSecond > t.aimPerSecond)}${t.note ? ` (${t.note})` : ""}`,
              ],
        ),
      ),
    );
  }
  if (r.storms) {
    out.push(
      "\n**Storms** (a fresh Function instance in its own process; bare GETs with the same pacing as baseline)\n",
    );
    out.push(
      table(
        [
          "storm",
          "pacing",
          "reads",
          "writes",
          "LRO polls",
          "alerts",
          "wall",
          "baseline",
          "ratio",
          "peak RSS",
          "peak heap",
          "errors",
          "aim",
        ],
        r.storms.map((s) => [
          s.storm,
          s.pacing,
          s.reads,
          s.writes,
          s.polls,
          s.alerts,
          `${s.wallMs} ms`,
          `${s.baselineMs} ms`,
          `${s.ratio}x`,
          `${s.peakRssMb} MB`,
          `${s.peakHeapMb} MB`,
          s.errors,
          s.aim,
        ]),
      ),
    );
  }
  if (r.evaluateScale) {
    const s = r.evaluateScale;
    out.push("\n**`guardian evaluate` at scale** (one call; baseline: the same command on one snapshot)\n");
    out.push(
      table(
        ["snapshots", "runs", "wall", "baseline", "ratio", "per snapshot", "peak RSS"],
        s.results.map((x) => [
          x.snapshots.toLocaleString("en-US"),
          x.runs,
          `${x.wallMs} ms`,
          `${x.baselineMs} ms`,
          `${x.ratio}x`,
          `${x.perSnapshotMs} ms`,
          `${x.peakRssMb} MB`,
        ]),
      ),
    );
    out.push(
      `\nGrowth for ${s.sizeRatio}x the snapshots: ${s.growth}x wall time (${s.netGrowth}x net of the one-snapshot baseline).`,
    );
  }
  if (r.alerts) {
    const a = r.alerts;
    out.push(
      `\n**Alerts** (${a.alerts} alerts about ${a.alerts} resources queued at once on the SQS outbox; the sender Lambda on moto SQS and DynamoDB; one Slack webhook failing ${a.failRate * 100}% of posts, 30% of those with 429 and Retry-After: 1; times on the sender's clock, run ${a.clockFactor}x faster)\n`,
    );
    out.push(
      table(
        [
          "alerts",
          "posts",
          "failed posts (429)",
          "delivered",
          "lost",
          "duplicated",
          "dead-lettered",
          "still queued",
          "time to drain",
          "peak posts/s",
          "Slack's limit",
          "aim",
        ],
        [
          [
            a.alerts,
            a.posts,
            `${a.failedPosts} (${a.throttledPosts})`,
            a.delivered,
            a.lost,
            a.duplicated,
            a.deadLettered,
            a.stillQueued,
            `${a.drainSeconds} s (${a.realSeconds} s real)`,
            a.peakPerSecond,
            `${a.slackLimitPerSecond}/s`,
            `all delivered, 0 lost, 0 duplicated: ${mark(a.delivered === a.alerts && a.lost === 0 && a.duplicated === 0)}`,
          ],
        ],
      ),
    );
  }
  if (r.scan) {
    out.push(
      "\n**guardian scan at scale** (report-only; ARM emulator pages of 100 NSGs, moto answers one page; seeding is not timed)\n",
    );
    out.push(
      table(
        [
          "cloud",
          "resources",
          "listed",
          "pages",
          "findings",
          "wall",
          "peak heap above start",
          "retained after (GC)",
          "live heap (after GC)",
          "complete",
          "seeding",
        ],
        r.scan.rows.map((x) => [
          x.cloud,
          x.resources,
          x.listed,
          x.pages,
          x.findings,
          `${x.seconds} s`,
          `${x.peakHeapMb} MB`,
          `${x.retainedMb ?? "-"} MB`,
          x.liveHeapMb === undefined ? "-" : `${x.liveHeapMb} MB`,
          x.complete ? "yes" : "NO",
          `${x.seedSeconds ?? "-"} s`,
        ]),
      ),
    );
    for (const g of r.scan.growth) {
      out.push(
        `\n${g.cloud} ${g.from} → ${g.to} (×${g.sizeRatio} resources): wall time ×${g.timeRatio}, per resource ×${g.timePerResourceRatio} (1 = linear); peak heap ×${g.memoryRatio} (uncollected garbage included), retained after ×${g.retainedRatio ?? "-"} (the report's findings)${g.liveRatio === undefined ? "" : `; live heap ×${g.liveRatio}`}`,
      );
    }
    const p = r.scan.pullVsPush;
    out.push(
      `\n**Pull against push** (moto, ${p.groups} groups, ${p.open} open): scan-and-remediate ${p.pullSeconds} s ` +
        `(${p.pullCalls.reads} reads, ${p.pullCalls.writes} writes, ${p.revokedByPull} revoked); one at a time through the ` +
        `event path ${p.pushSeconds} s (${p.pushCalls.reads} reads, ${p.pushCalls.writes} writes, ${p.revokedByPush} revoked).\n` +
        `Ratio (event path time / pull time): ×${p.ratio}, the pull path is ${p.ratio >= 1 ? `${p.ratio} times faster` : `${round(1 / p.ratio, 2)} times slower`}.`,
    );
  }
  return out.join("\n");
}

export const RESULTS_START = "<!-- bench:results:start -->";
export const RESULTS_END = "<!-- bench:results:end -->";

/** The document with the text between the result markers replaced by `tables`; the rest is left as written. */
export function withResults(doc: string, tables: string): string {
  const start = doc.indexOf(RESULTS_START);
  const end = doc.indexOf(RESULTS_END);
  if (start < 0 || end < start) {
    throw new Error(`docs/performance.md has no ${RESULTS_START} … ${RESULTS_END} section for the tables`);
  }
  return `${doc.slice(0, start + RESULTS_START.length)}\n\n${tables}\n\n${doc.slice(end)}`;
}

const PERFORMANCE_DOC = path.join(import.meta.dirname, "..", "docs", "performance.md");
const RESULTS_FILE = path.join(import.meta.dirname, "results.json");

async function writePerformanceDoc(results: BenchResults): Promise<void> {
  const doc = await readFile(PERFORMANCE_DOC, "utf8");
  await writeFile(PERFORMANCE_DOC, withResults(doc, render(results)));
  process.stderr.write(`bench: wrote the tables into ${path.relative(process.cwd(), PERFORMANCE_DOC)}\n`);
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  if (args.includes("--render")) {
    await writePerformanceDoc(JSON.parse(await readFile(RESULTS_FILE, "utf8")) as BenchResults);
    process.exit(0);
  }
  const quick = args.includes("--quick");
  const onlyIndex = args.indexOf("--only");
  const only = onlyIndex >= 0 ? (args[onlyIndex + 1] ?? "").split(",") : undefined;
  const sections = SECTIONS.filter((s) => !only || only.includes(s));
  // BENCH_SCAN_SCALE=0.1 runs the scan section at a tenth of its sizes (a check on a busy machine).
  const scale = Number(process.env.BENCH_SCAN_SCALE ?? "1");
  if (!(scale > 0))
    throw new Error(`BENCH_SCAN_SCALE must be a positive number, not ${process.env.BENCH_SCAN_SCALE}`);
  const base = quick ? QUICK : FULL;
  const scaled = (sizes: number[]) => sizes.map((n) => Math.max(1, Math.round(n * scale)));
  const sizes = { ...base, scanNsgs: scaled(base.scanNsgs), scanSgs: scaled(base.scanSgs) };
  const results = await runBench(sizes, sections, (m) => process.stderr.write(`bench: ${m}\n`));
  process.stdout.write(`${render(results)}\n`);
  if (!quick && !only && scale === 1) {
    await writeFile(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
    process.stderr.write(`bench: wrote ${path.relative(process.cwd(), RESULTS_FILE)}\n`);
    await writePerformanceDoc(results);
  }
}
