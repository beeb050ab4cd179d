// The scan at scale: `scanEstate` (report-only) over N NSGs on an ARM emulator that pages its lists and N security
// groups on moto, with wall time, the heap's peak above where it started, and the growth from the smallest N to the
// largest (time should grow linearly, memory stay flat: one page per stream in flight plus the findings). And, on the
// same moto, the pull path's scan-and-remediate of G groups (half open) against the same work one resource at a time
// through the event path's pipeline (read, evaluate, write per group), as a ratio.
//
// The ARM emulator runs in a child process (bench/child/arm-emulator.ts), so neither the estate it holds nor the
// garbage of answering pages is in the heap measured here: the peak is the scan's own.

import v8 from "node:v8";
import vm from "node:vm";
import type { EC2Client } from "@aws-sdk/client-ec2";
import { createEc2Client } from "../../shared/clouds/aws/client.ts";
import { AWS_SECURITY_GROUP_TYPE } from "../../shared/clouds/aws/kinds/security-group.ts";
import { awsPort } from "../../shared/clouds/aws/runtime.ts";
import { azurePort } from "../../shared/clouds/azure/index.ts";
import { AzureNetwork } from "../../shared/clouds/azure/network.ts";
import { pageLister } from "../../shared/clouds/listers.ts";
import type { CallCounter } from "../../shared/clouds/ports.ts";
import { memoryLogger } from "../../shared/log.ts";
import { type GuardianDeps, handleChange } from "../../shared/pipeline.ts";
import { loadPolicyFile } from "../../shared/policy/file.ts";
import type { Policy } from "../../shared/policy/schema.ts";
import { type ScanReport, type ScanTarget, scanEstate } from "../../shared/usecases/scan.ts";
import {
  DEFAULT_SUBSCRIPTION_ID,
  mintToken,
  staticTokenCredential,
} from "../../test/harness/arm-emulator/index.ts";
import { seedAwsEstate } from "../../test/harness/estate.ts";
import { MOTO_ACCOUNT } from "../../test/harness/moto.ts";
import { startEmulatorProcess } from "../lib/processes.ts";
import { mb, now, round } from "../lib/stats.ts";
import { BASELINE_POLICY, REGION, type World } from "../lib/world.ts";

export interface ScanScaleRow {
  cloud: "azure" | "aws";
  resources: number;
  listed: number;
  pages: number;
  findings: number;
  seconds: number;
  /** Heap above its level when the scan started, at its highest during the scan. */
  peakHeapMb: number;
  /** Heap still held after the scan returned, garbage collected: the report (findings, actions). */
  retainedMb: number;
  /**
   * What the scan holds live: the highest heap above the start right after a full collection, sampled every 100 ms
   * during a second, untimed scan of the same estate. The peak above also counts garbage V8 has not collected yet,
   * and V8 lets more of it pile up in a longer run, so that one grows with the run's length, not with what the scan
   * keeps. Samples are taken between turns of the event loop, so it is measured on Azure only: moto answers
   * 10,000 groups in one page that the SDK parses and the scan evaluates without yielding to a timer, which no
   * sample would see. (Absent on AWS and in results from before it was measured.)
   */
  liveHeapMb?: number;
  complete: boolean;
  /** Seeding the estate (not part of the scan's time). */
  seedSeconds: number;
}

export interface ScanGrowth {
  cloud: "azure" | "aws";
  from: number;
  to: number;
  /** Resources at the largest size over the smallest. */
  sizeRatio: number;
  /** Wall time at the largest size over the smallest. */
  timeRatio: number;
  /** Time ratio over size ratio: 1 is linear. */
  timePerResourceRatio: number;
  /** Peak heap at the largest size over the smallest: 1 is flat. */
  memoryRatio: number;
  /** Retained heap at the largest size over the smallest (what grows with the findings). */
  retainedRatio: number;
  /** Live heap at the largest size over the smallest: 1 is flat. */
  liveRatio?: number;
}

export interface PullVsPush {
  groups: number;
  open: number;
  pullSeconds: number;
  pushSeconds: number;
  /** Event path time over pull time: how many times faster the pull path did the same work. */
  ratio: number;
  pullCalls: CallCounter;
  pushCalls: CallCounter;
  revokedByPull: number;
  revokedByPush: number;
}

export interface ScanBenchResult {
  rows: ScanScaleRow[];
  growth: ScanGrowth[];
  pullVsPush: PullVsPush;
}

const NSG_PAGE = 100;

function deps(policy: Policy, clouds: GuardianDeps["clouds"], dryRun: boolean): GuardianDeps {
  return {
    policy,
    clouds,
    outbox: { enqueue: async () => [] },
    audit: { record: async () => {} },
    selfIdentities: [],
    dryRun,
    log: memoryLogger(),
  };
}

/** Runs `work` while sampling the heap every 10 ms; the peak is reported above the level it started at. */
async function measured<T>(
  work: () => Promise<T>,
): Promise<{ value: T; seconds: number; peakHeapMb: number; retainedMb: number }> {
  // A full collection first, so the base is what is live before the scan, not garbage from earlier work.
  collect();
  const base = process.memoryUsage().heapUsed;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 10);
  const started = now();
  try {
    const value = await work();
    const seconds = round((now() - started) / 1000, 2);
    peak = Math.max(peak, process.memoryUsage().heapUsed);
    // What the scan still holds once it is done (its report: findings and actions), garbage collected.
    collect();
    const retained = process.memoryUsage().heapUsed - base;
    return {
      value,
      seconds,
      peakHeapMb: mb(Math.max(0, peak - base)),
      retainedMb: mb(Math.max(0, retained)),
    };
  } finally {
    clearInterval(timer);
  }
}

/** The highest live heap (sampled right after full collections every 100 ms) above its level when `work` started. */
async function liveHeap(work: () => Promise<unknown>): Promise<number> {
  collect();
  const base = process.memoryUsage().heapUsed;
  let live = base;
  const timer = setInterval(() => {
    collect();
    live = Math.max(live, process.memoryUsage().heapUsed);
  }, 100);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return mb(Math.max(0, live - base));
}

/** V8's full collection, exposed at run time (the bench runs without --expose-gc). */
const collect: () => void = (() => {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as unknown;
  return typeof gc === "function" ? () => void gc() : () => {};
})();

function row(
  cloud: "azure" | "aws",
  resources: number,
  m: { value: ScanReport; seconds: number; peakHeapMb: number; retainedMb: number },
  seedSeconds: number,
  liveHeapMb: number | undefined,
): ScanScaleRow {
  const r = m.value;
  return {
    cloud,
    resources,
    listed: r.totals.listed,
    pages: r.coverage.reduce((n, c) => n + c.pages, 0),
    findings: r.totals.findings,
    seconds: m.seconds,
    peakHeapMb: m.peakHeapMb,
    retainedMb: m.retainedMb,
    ...(liveHeapMb !== undefined ? { liveHeapMb } : {}),
    complete: r.complete,
    seedSeconds: round(seedSeconds, 2),
  };
}

function growthOf(rows: ScanScaleRow[], cloud: "azure" | "aws"): ScanGrowth | undefined {
  const mine = rows.filter((r) => r.cloud === cloud).sort((a, b) => a.resources - b.resources);
  const first = mine[0];
  const last = mine.at(-1);
  if (!first || !last || first === last) return undefined;
  return {
    cloud,
    from: first.resources,
    to: last.resources,
    sizeRatio: round(last.resources / first.resources, 2),
    timeRatio: round(last.seconds / first.seconds, 2),
    timePerResourceRatio: round(last.seconds / last.resources / (first.seconds / first.resources), 2),
    memoryRatio: round(last.peakHeapMb / Math.max(0.1, first.peakHeapMb), 2),
    retainedRatio: round(last.retainedMb / Math.max(0.1, first.retainedMb), 2),
    ...(first.liveHeapMb !== undefined && last.liveHeapMb !== undefined
      ? { liveRatio: round(last.liveHeapMb / Math.max(0.1, first.liveHeapMb), 2) }
      : {}),
  };
}

export async function scanBench(
  world: World,
  sizes: { nsgs: readonly number[]; sgs: readonly number[]; pullGroups: number },
  progress: (message: string) => void = () => {},
): Promise<ScanBenchResult> {
  const policy = await loadPolicyFile(BASELINE_POLICY);
  const rows: ScanScaleRow[] = [];
  const emu = await startEmulatorProcess(NSG_PAGE);
  try {
    const network = new AzureNetwork({
      credential: staticTokenCredential(mintToken({ oid: "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d" })),
      endpoint: emu.url,
      ca: emu.ca,
    });
    const scanAzure = () =>
      scanEstate(
        [{ cloud: "azure", subscriptionId: DEFAULT_SUBSCRIPTION_ID }],
        deps(policy, { azure: azurePort(network) }, true),
        pageLister({ azure: network }),
        { remediate: false },
      );
    // One untimed scan of a small estate first: the emulator's process is fresh, and its first pages (and the
    // guardian's first TLS handshake and compiled paths) would otherwise be charged to the smallest row only and
    // make the growth look better than linear.
    await emu.seedAzureEstate({ subscriptionId: DEFAULT_SUBSCRIPTION_ID, nsgs: NSG_PAGE * 2, openEvery: 10 });
    await scanAzure();
    for (const n of sizes.nsgs) {
      await emu.reset();
      const seedSeconds = await emu.seedAzureEstate({
        subscriptionId: DEFAULT_SUBSCRIPTION_ID,
        nsgs: n,
        openEvery: 10,
      });
      progress(`scan of ${n} NSGs`);
      const m = await measured(scanAzure);
      rows.push(row("azure", n, m, seedSeconds, await liveHeap(scanAzure)));
    }
  } finally {
    await emu.stop();
  }
  const ec2: EC2Client = world.ec2;
  // moto filters every group for each page it answers, so a page of 10,000 groups can take longer than the
  // guardian's 10 s request timeout on a busy machine: the scan rows read with a patient client, so that they measure
  // the scan rather than time out on the emulator.
  const patient = createEc2Client({
    region: REGION,
    endpoint: world.moto.endpoint,
    maxAttempts: 2,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    timeouts: { requestMs: 120_000 },
  });
  for (const n of sizes.sgs) {
    await world.moto.reset();
    progress(`seeding ${n} security groups on moto`);
    const seedStart = now();
    await seedAwsEstate(ec2, { groups: n, openEvery: 10, concurrency: 16 });
    const seedSeconds = (now() - seedStart) / 1000;
    progress(`scan of ${n} security groups`);
    const targets: ScanTarget[] = [{ cloud: "aws", region: REGION }];
    const m = await measured(() =>
      scanEstate(targets, deps(policy, { aws: awsPort(patient, []) }, true), pageLister({ aws: patient }), {
        remediate: false,
      }),
    );
    rows.push(row("aws", n, m, seedSeconds, undefined));
  }
  patient.destroy();
  const growth = [growthOf(rows, "azure"), growthOf(rows, "aws")].filter(
    (g): g is ScanGrowth => g !== undefined,
  );

  // Pull against push on the same estate: G groups, every other one open.
  const g = sizes.pullGroups;
  await world.moto.reset();
  progress(`pull scan-and-remediate of ${g} groups`);
  const pullSeeded = await seedAwsEstate(ec2, { groups: g, openEvery: 2 });
  const pullCalls = { reads: 0, writes: 0 };
  const pullStart = now();
  const pulled = await scanEstate(
    [{ cloud: "aws", region: REGION }],
    deps(policy, { aws: awsPort(ec2, [], pullCalls) }, false),
    pageLister({ aws: ec2, awsCounter: pullCalls }),
    { remediate: true },
  );
  const pullSeconds = (now() - pullStart) / 1000;
  const revokedByPull = pulled.actions.filter((a) => a.outcome === "applied").length;

  await world.moto.reset();
  progress(`the same ${g} groups one at a time (event path)`);
  const pushSeeded = await seedAwsEstate(ec2, { groups: g, openEvery: 2 });
  const pushCalls = { reads: 0, writes: 0 };
  const pushDeps = deps(policy, { aws: awsPort(ec2, [], pushCalls) }, false);
  const pushStart = now();
  let revokedByPush = 0;
  for (const groupId of pushSeeded.groupIds) {
    // What an AuthorizeSecurityGroupIngress event of that group sets off: read it, evaluate, revoke what is open.
    const outcome = await handleChange(
      {
        cloud: "aws",
        account: MOTO_ACCOUNT,
        region: REGION,
        resourceId: groupId,
        resourceType: AWS_SECURITY_GROUP_TYPE,
        operation: "write",
        operationName: "AuthorizeSecurityGroupIngress",
        actor: {},
        eventId: `bench:${groupId}`,
        time: new Date().toISOString(),
      },
      pushDeps,
    );
    revokedByPush += outcome.actions.filter((a) => a.outcome === "applied").length;
  }
  const pushSeconds = (now() - pushStart) / 1000;
  await world.moto.reset();
  return {
    rows,
    growth,
    pullVsPush: {
      groups: g,
      open: pullSeeded.openGroupIds.length,
      pullSeconds: round(pullSeconds, 2),
      pushSeconds: round(pushSeconds, 2),
      ratio: round(pushSeconds / pullSeconds, 2),
      pullCalls,
      pushCalls,
      revokedByPull,
      revokedByPush,
    },
  };
}
