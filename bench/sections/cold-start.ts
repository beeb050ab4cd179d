// Cold start of every bundled entry: a fresh Node process imports the esbuild bundle and handles one event that
// really completes (the ARM emulator, moto, the managed-identity endpoint and the webhook sink answer), against a
// fresh Node process that does nothing. Runs alternate with the baseline so load on the machine hits both alike.
import { copyFile, mkdir, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { DescribeSecurityGroupsCommand } from "@aws-sdk/client-ec2";
import { buildAll } from "../../scripts/build.ts";
import { baselineProcess, httpFloorProcess, type InstanceJob, runInstance } from "../lib/processes.ts";
import { median, round } from "../lib/stats.ts";
import {
  aliceWritesRule,
  createBastion,
  createNsg,
  engineerAuthorizes,
  nsgId,
  type World,
} from "../lib/world.ts";

export interface ColdStartResult {
  entry: string;
  bundleKb: number;
  runs: number;
  /** Spawn → the event handled, median. */
  coldMs: number;
  baselineMs: number;
  deltaMs: number;
  ratio: number;
  /** Inside the instance: the bundle's import alone, and the first event alone. */
  importMs: number;
  firstEventMs: number;
  maxRssMb: number;
  remediated: number;
  aimDeltaMs: number;
}

export interface Bundles {
  outdir: string;
  entries: { side: string; name: string; outfile: string; bundle: string }[];
}

/** Builds the deployable bundles into `outdir`, with the worker-supplied functions-core module beside them. */
export async function buildBundles(outdir: string): Promise<Bundles> {
  const entries = await buildAll(outdir);
  const core = path.join(outdir, "node_modules", "@azure", "functions-core");
  await mkdir(core, { recursive: true });
  await copyFile(
    path.join(import.meta.dirname, "..", "child", "functions-core.cjs"),
    path.join(core, "index.js"),
  );
  await writeFile(
    path.join(core, "package.json"),
    JSON.stringify({ name: "@azure/functions-core", main: "index.js" }),
  );
  return { outdir, entries };
}

async function nsgRuleDenied(world: World): Promise<boolean> {
  const nsg = world.emu.get(nsgId("nsg-bastion")) as
    | { properties?: { securityRules?: { name: string; properties: { access: string } }[] } }
    | undefined;
  return nsg?.properties?.securityRules?.find((r) => r.name === "open-ssh")?.properties.access === "Deny";
}

export async function coldStarts(world: World, bundles: Bundles, runs: number): Promise<ColdStartResult[]> {
  const results: ColdStartResult[] = [];
  await world.moto.reset();
  const { groupId } = await createBastion(world, "cold-bastion");
  // Only the on-change entries: the SNS connection handler and the scheduled sweep take other events, and their cold
  // start is the same runtime module and bundle size (see the README's PrivateLink section).
  for (const entry of bundles.entries.filter((e) => e.name === "on-change")) {
    const label = `${entry.side}/${entry.name}`;
    const lambda = entry.side === "lambdas";
    const cold: number[] = [];
    const base: number[] = [];
    const imports: number[] = [];
    const firsts: number[] = [];
    const rss: number[] = [];
    let remediated = 0;
    for (let i = 0; i < runs; i++) {
      let job: InstanceJob;
      if (lambda) {
        job = { kind: "lambda", bundle: entry.outfile, events: [await engineerAuthorizes(world, groupId)] };
      } else {
        world.emu.reset();
        await createNsg(world, "nsg-bastion");
        const event = await aliceWritesRule(world, "nsg-bastion");
        job = {
          kind: "function-eventgrid",
          functionName: "onChange",
          bundle: entry.outfile,
          events: [event],
        };
      }
      base.push(await baselineProcess());
      const run = await runInstance(job, lambda ? world.lambdaEnv() : world.functionEnv());
      if (run.result.errors.length > 0) throw new Error(`${label}: ${run.result.errors.join("; ")}`);
      cold.push(run.wallMs);
      imports.push(run.result.importMs);
      firsts.push(run.result.firstEventMs);
      rss.push(run.result.maxRssKb / 1024);
      if (lambda) {
        const out = await world.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
        const open = out.SecurityGroups?.[0]?.IpPermissions?.some((p) =>
          p.IpRanges?.some((r) => r.CidrIp === "0.0.0.0/0"),
        );
        if (!open) remediated++;
      } else if (await nsgRuleDenied(world)) {
        remediated++;
      }
    }
    const coldMs = median(cold);
    const baselineMs = median(base);
    results.push({
      entry: label,
      bundleKb: Math.round((await stat(entry.bundle)).size / 1024),
      runs,
      coldMs: round(coldMs),
      baselineMs: round(baselineMs),
      deltaMs: round(coldMs - baselineMs),
      ratio: round(coldMs / baselineMs, 2),
      importMs: round(median(imports)),
      firstEventMs: round(median(firsts)),
      maxRssMb: round(median(rss)),
      remediated,
      aimDeltaMs: lambda ? 100 : 150,
    });
  }
  // Reference: what loading Node's HTTP stack and one request cost before any guardian code runs.
  const floor: number[] = [];
  const base: number[] = [];
  for (let i = 0; i < runs; i++) {
    base.push(await baselineProcess());
    floor.push(await httpFloorProcess(`${world.moto.endpoint}/moto-api/`));
  }
  const floorMs = median(floor);
  const baselineMs = median(base);
  results.push({
    entry: "reference: node:http(s) + one request",
    bundleKb: 0,
    runs,
    coldMs: round(floorMs),
    baselineMs: round(baselineMs),
    deltaMs: round(floorMs - baselineMs),
    ratio: round(floorMs / baselineMs, 2),
    importMs: Number.NaN,
    firstEventMs: Number.NaN,
    maxRssMb: Number.NaN,
    remediated: runs,
    aimDeltaMs: 0,
  });
  return results;
}
