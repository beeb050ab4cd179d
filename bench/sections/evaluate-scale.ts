// `guardian evaluate` over 1,000 and 10,000 snapshot files in one call (half ARM NSGs, half DescribeSecurityGroups
// items), against the same command over one file: wall time, peak memory of the CLI process, growth.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { armNsg, securityGroup } from "../lib/inputs.ts";
import { runProbed } from "../lib/processes.ts";
import { mapLimit, median, round } from "../lib/stats.ts";
import { BASELINE_POLICY, ROOT } from "../lib/world.ts";

export interface ScaleResult {
  snapshots: number;
  runs: number;
  wallMs: number;
  /** The same command over one snapshot. */
  baselineMs: number;
  ratio: number;
  perSnapshotMs: number;
  peakRssMb: number;
  exitCode: number | null;
}

export interface ScaleSummary {
  results: ScaleResult[];
  /** Wall time of the largest run over the smallest, and the same net of the one-snapshot baseline. */
  growth: number;
  netGrowth: number;
  sizeRatio: number;
}

async function writeSnapshots(dir: string, count: number): Promise<string[]> {
  const files = Array.from({ length: count }, (_, i) => path.join(dir, `r${i}.json`));
  await mapLimit(files, 64, (file, i) =>
    writeFile(file, JSON.stringify(i % 2 === 0 ? armNsg(`nsg-${i}`, 10) : securityGroup(i, 10))),
  );
  return files;
}

export async function evaluateScale(sizes: number[], runs: number): Promise<ScaleSummary> {
  const dir = await mkdtemp(path.join(tmpdir(), "guardian-bench-scale-"));
  const cli = path.join(ROOT, "cli", "guardian.ts");
  const evaluate = (files: string[]) =>
    runProbed([cli, "evaluate", "--policy", BASELINE_POLICY, "--format", "json", ...files]);
  try {
    const all = await writeSnapshots(dir, Math.max(...sizes));
    const results: ScaleResult[] = [];
    for (const size of sizes) {
      const files = all.slice(0, size);
      const walls: number[] = [];
      const bases: number[] = [];
      const rss: number[] = [];
      let exitCode: number | null = null;
      for (let r = 0; r < runs; r++) {
        bases.push((await evaluate(all.slice(0, 1))).wallMs);
        const run = await evaluate(files);
        if (run.code !== 0 && run.code !== 1) throw new Error(`guardian evaluate failed: ${run.stderr}`);
        walls.push(run.wallMs);
        rss.push(run.maxRssKb / 1024);
        exitCode = run.code;
      }
      const wallMs = median(walls);
      const baselineMs = median(bases);
      results.push({
        snapshots: size,
        runs,
        wallMs: round(wallMs),
        baselineMs: round(baselineMs),
        ratio: round(wallMs / baselineMs, 2),
        perSnapshotMs: round((wallMs - baselineMs) / size, 3),
        peakRssMb: round(median(rss)),
        exitCode,
      });
    }
    const first = results[0];
    const last = results.at(-1);
    if (!first || !last) throw new Error("no sizes");
    return {
      results,
      growth: round(last.wallMs / first.wallMs, 2),
      netGrowth: round((last.wallMs - last.baselineMs) / (first.wallMs - first.baselineMs), 2),
      sizeRatio: last.snapshots / first.snapshots,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
