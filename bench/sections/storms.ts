// Storms, through a fresh instance of the deployed Function bundle (Event Grid trigger) in its own process, so its
// peak memory is the instance's alone: 200 events about one NSG arriving within one second (each its own
// invocation, as the Functions host delivers them), and 1,000 events about 1,000 NSGs at a fixed concurrency.
// Reads and writes are the emulator's request log, alerts the webhook sink's messages per channel.
import { AzureNetwork } from "../../shared/clouds/azure/network.ts";
import { staticTokenCredential } from "../../test/harness/arm-emulator/index.ts";
import { type InstanceJob, runInstance } from "../lib/processes.ts";
import { mapLimit, mb, now, round } from "../lib/stats.ts";
import {
  aliceWritesRule,
  armCounts,
  createNsg,
  GUARDIAN_TOKEN,
  RG,
  SUBSCRIPTION,
  type World,
} from "../lib/world.ts";
import type { Bundles } from "./cold-start.ts";

export interface StormResult {
  storm: string;
  events: number;
  resources: number;
  pacing: string;
  reads: number;
  writes: number;
  polls: number;
  alerts: number;
  wallMs: number;
  /** The same number of bare ARM GETs with the same pacing, from the benchmark process. */
  baselineMs: number;
  ratio: number;
  peakRssMb: number;
  peakHeapMb: number;
  rssAfterImportMb: number;
  errors: number;
  aim: string;
}

async function bareGets(world: World, names: string[], job: InstanceJob): Promise<number> {
  const client = new AzureNetwork({
    credential: staticTokenCredential(GUARDIAN_TOKEN),
    endpoint: world.emu.url,
    ca: world.emu.ca,
  }).client(SUBSCRIPTION);
  const get = (name: string) => client.networkSecurityGroups.get(RG, name).then(() => undefined);
  const start = now();
  const pacing = job.pacing ?? { mode: "serial" };
  if (pacing.mode === "interval") {
    const pending: Promise<void>[] = [];
    for (let i = 0; i < names.length; i++) {
      const wait = start + i * pacing.ms - now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      pending.push(get(names[i] as string));
    }
    await Promise.all(pending);
  } else {
    await mapLimit(names, pacing.mode === "concurrent" ? pacing.limit : 1, get);
  }
  return now() - start;
}

async function storm(
  world: World,
  bundle: string,
  label: string,
  aim: string,
  events: object[],
  names: string[],
  pacing: NonNullable<InstanceJob["pacing"]>,
): Promise<StormResult> {
  const requests = world.emu.requests.length;
  const alerts = world.sink.received.length;
  const job: InstanceJob = {
    kind: "function-eventgrid",
    functionName: "onChange",
    bundle,
    events,
    pacing,
    sampleMemory: true,
  };
  const { result } = await runInstance(job, world.functionEnv());
  const counts = armCounts(world, requests);
  const alerted = (world.sink.received.length - alerts) / 2;
  const baselineMs = await bareGets(world, names, job);
  const wallMs = result.restMs;
  return {
    storm: label,
    events: events.length,
    resources: new Set(names).size,
    pacing:
      pacing.mode === "interval"
        ? `one every ${pacing.ms} ms`
        : `${pacing.mode} ${"limit" in pacing ? pacing.limit : ""}`.trim(),
    reads: counts.reads,
    writes: counts.writes,
    polls: counts.polls,
    alerts: alerted,
    wallMs: round(wallMs),
    baselineMs: round(baselineMs),
    ratio: round(wallMs / baselineMs, 2),
    peakRssMb: mb(result.maxRssKb * 1024),
    peakHeapMb: mb(result.peakHeapBytes),
    rssAfterImportMb: mb(result.rssAfterImportKb * 1024),
    errors: result.errors.length,
    aim,
  };
}

export async function storms(
  world: World,
  bundles: Bundles,
  sizes: { oneResource: number; manyResources: number },
): Promise<StormResult[]> {
  const entry = bundles.entries.find((e) => e.side === "functions" && e.name === "on-change");
  if (!entry) throw new Error("no functions/on-change bundle");

  // One NSG: the engineer opens SSH, then the same deployment writes its other rules; every write is an event.
  world.emu.reset();
  await createNsg(world, "nsg-storm");
  const oneEvents: object[] = [await aliceWritesRule(world, "nsg-storm")];
  for (let i = 1; i < sizes.oneResource; i++) {
    oneEvents.push(
      await aliceWritesRule(world, "nsg-storm", {
        risky: false,
        ruleName: `allow-app-${i}`,
        priority: 300 + i,
      }),
    );
  }
  const interval = Math.max(1, Math.floor(1000 / sizes.oneResource));
  const one = await storm(
    world,
    entry.outfile,
    `${sizes.oneResource} events, one NSG, within 1 s`,
    "1 write, 1 alert, < 150 MB",
    oneEvents,
    oneEvents.map(() => "nsg-storm"),
    { mode: "interval", ms: interval },
  );

  // Many NSGs: each gets SSH opened once.
  world.emu.reset();
  const names = Array.from({ length: sizes.manyResources }, (_, i) => `nsg-fleet-${i}`);
  await mapLimit(names, 16, (name) => createNsg(world, name));
  const manyEvents = await mapLimit(names, 16, (name) => aliceWritesRule(world, name));
  const many = await storm(
    world,
    entry.outfile,
    `${sizes.manyResources} events, ${sizes.manyResources} NSGs`,
    "1 write and 1 alert per NSG, < 150 MB",
    manyEvents,
    names,
    { mode: "concurrent", limit: 32 },
  );
  return [one, many];
}
