// The scan: every resource of every kind in scope, listed page by page and evaluated through the event path's own
// pipeline (same decisions, write budget, re-read before any write, audit and alerts). Events are hints; this is
// how drift they missed is found. It is generic over the kind registries: a kind that declares how it is listed is
// scanned with no code here. Memory follows one page per stream in flight and the findings, never the estate.

import { awsKinds } from "../clouds/aws/kinds/index.ts";
import { azureKinds } from "../clouds/azure/kinds/index.ts";
import { TransientError } from "../errors.ts";
import type { CloudPort, GuardianDeps } from "../pipeline.ts";
import { handleChange, ResourceLocks } from "../pipeline.ts";
import { evaluatePolicy, relatedTypes, ruleFor } from "../policy/evaluate.ts";
import type { Policy } from "../policy/schema.ts";
import type { Cloud, ResourceChange, Snapshot } from "../types.ts";
import { type FindingView, findingView } from "./offline.ts";

/** Where to scan: an Azure subscription (or one of its resource groups) or an AWS region. */
export type ScanTarget =
  | { cloud: "azure"; subscriptionId: string; resourceGroup?: string }
  | { cloud: "aws"; region: string };

/** One kind listed in one target: the unit pages belong to. */
export interface ScanStream {
  target: ScanTarget;
  /** The kind's id in its cloud's registry. */
  kind: string;
}

/** A page of a stream: the first (`from` undefined) or the one a previous page pointed at. */
export interface PageCursor extends ScanStream {
  from?: string;
}

export interface ListedPage {
  items: Snapshot[];
  next?: string;
}

/** Lists one page of a stream; built over the SDK clients in shared/clouds (see scanListers in clouds). */
export type PageLister = (cursor: PageCursor, signal?: AbortSignal) => Promise<ListedPage>;

export function targetLabel(target: ScanTarget): string {
  return target.cloud === "azure"
    ? `subscription ${target.subscriptionId}${target.resourceGroup ? `/${target.resourceGroup}` : ""}`
    : `region ${target.region}`;
}

function kindsOf(
  target: ScanTarget,
): { id: string; type: string; label: string; covers: readonly string[] }[] {
  if (target.cloud === "aws")
    return awsKinds.map((k) => ({ id: k.id, type: k.type, label: k.label, covers: [] }));
  const scope = target.resourceGroup === undefined ? "subscription" : "resourceGroup";
  return azureKinds
    .filter((k) => k.list.scopes.includes(scope))
    .map((k) => ({ id: k.id, type: k.type, label: k.label, covers: k.covers ?? [] }));
}

/** The kinds some enabled rule of the policy evaluates: a kind no rule looks at is not listed at all. */
export function evaluatedTypes(policy: Policy): Set<string> {
  return new Set(policy.rules.filter((e) => e.enabled).flatMap((e) => [...ruleFor(e).resourceTypes]));
}

/** Every stream of the targets, each kind of the registry once per target; those no rule evaluates are set apart. */
export function scanStreams(
  targets: readonly ScanTarget[],
  policy: Policy,
): { streams: ScanStream[]; skipped: Coverage[] } {
  const types = evaluatedTypes(policy);
  const streams: ScanStream[] = [];
  const skipped: Coverage[] = [];
  for (const target of targets) {
    for (const kind of kindsOf(target)) {
      // A kind is listed for itself, or for the kinds only its fan-out reaches (a virtual network's subnets).
      if (types.has(kind.type) || kind.covers.some((t) => types.has(t)))
        streams.push({ target, kind: kind.id });
      else
        skipped.push({
          target: targetLabel(target),
          kind: kind.id,
          listed: 0,
          pages: 0,
          complete: true,
          note: `not listed: no enabled rule of the policy evaluates ${kind.label}s`,
        });
    }
  }
  return { streams, skipped };
}

/** What the scan covered of one stream. */
export interface Coverage {
  target: string;
  kind: string;
  listed: number;
  pages: number;
  /** True when every page was listed and evaluated. */
  complete: boolean;
  /** Why it stopped (a list that failed after the SDK's retries, the run interrupted). */
  error?: string;
  note?: string;
}

/** What the guardian did (or, report-only, would do) about one finding: the pipeline's action. */
export interface ScanAction {
  cloud: Cloud;
  account: string;
  region?: string;
  resourceId: string;
  resourceType: string;
  policyRule: string;
  mode: string;
  outcome: string;
  /** The planned change's summary, or why the guardian would not act. */
  wouldDo: string;
  planned?: unknown;
}

export interface ScanFailure {
  resourceId: string;
  error: string;
  /** It may pass on a retry (throttled, the budget spent, an answer lost): the reconcile retries the page. */
  retryable?: boolean;
}

export interface ScanReport {
  tool: "network-guardian";
  version: 1;
  startedAt: string;
  finishedAt: string;
  remediate: boolean;
  targets: string[];
  /** True when every stream was listed to its end and every resource evaluated. */
  complete: boolean;
  totals: { listed: number; evaluated: number; findings: number; exempt: number; failed: number };
  coverage: Coverage[];
  /** The same findings `guardian evaluate --format json` gives for the same resources. */
  findings: FindingView[];
  actions: ScanAction[];
  failures: ScanFailure[];
}

export interface ScanProgress {
  listed: number;
  evaluated: number;
  findings: number;
  pages: number;
}

export interface ScanOptions {
  /** Apply remediations per policy; otherwise report-only (the pipeline runs in dry-run: it plans, never writes). */
  remediate: boolean;
  /** The scan's blast-radius cap: writes across the whole run (each resource also keeps the policy's per-event cap). */
  maxWrites?: number;
  /** Streams listed at once (bounded parallel reads). */
  listConcurrency?: number;
  /** Resources of a page evaluated at once. */
  evalConcurrency?: number;
  /** Names the run in event ids and audit records. */
  runId?: string;
  signal?: AbortSignal;
  onProgress?: (progress: ScanProgress) => void;
  now?: () => Date;
}

/** The scan's blast-radius cap; each resource that may be written takes its share in turn and gives back the rest. */
export class ScanBudget {
  left: number;
  constructor(total: number) {
    this.left = total;
  }
  reserve(perResource: number): { left: number } {
    const n = Math.max(0, Math.min(perResource, this.left));
    this.left -= n;
    return { left: n };
  }
  release(slice: { left: number }): void {
    this.left += Math.max(0, slice.left);
  }
}

/** Result of evaluating one page: what the report needs of it, nothing of the resources themselves. */
export interface PageResult {
  findings: FindingView[];
  actions: ScanAction[];
  failures: ScanFailure[];
  evaluated: number;
}

/**
 * Evaluates one page of listed snapshots through the pipeline, as the event path evaluates one change. The listed
 * copy stands in for the read (as a Resource Notifications event's resource does, marked `origin: "event"`): it
 * decides whether anything needs doing, and any write starts from a fresh read of the resource.
 */
export async function evaluatePage(
  items: readonly Snapshot[],
  deps: GuardianDeps,
  options: {
    runId: string;
    budget: ScanBudget;
    concurrency?: number;
    now?: () => Date;
    onEvaluated?: (result: PageResult) => void;
  },
): Promise<PageResult> {
  const result: PageResult = { findings: [], actions: [], failures: [], evaluated: 0 };
  const time = (options.now?.() ?? new Date()).toISOString();
  const ports = new Map<Cloud, CloudPort>();
  const listedPort = (cloud: Cloud, listed: Map<string, Snapshot>): CloudPort => {
    const port = deps.clouds[cloud];
    if (!port) throw new Error(`no ${cloud} adapter configured for the scan`);
    // A stand-in for a resource its listing does not show whole is not evaluated: the pipeline reads it.
    return {
      ...port,
      snapshotFromEvent: (change) =>
        READ_EACH.has(change.resourceType) ? undefined : withOrigin(listed.get(change.eventId)),
    };
  };
  const listed = new Map<string, Snapshot>();
  for (const cloud of new Set(items.map((s) => s.cloud))) ports.set(cloud, listedPort(cloud, listed));
  const scanDeps: GuardianDeps = { ...deps, clouds: Object.fromEntries(ports) };
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) {
      const snapshot = items[i] as Snapshot;
      const change = scanChange(snapshot, options.runId, time);
      listed.set(change.eventId, snapshot);
      const part: PageResult = { findings: [], actions: [], failures: [], evaluated: 1 };
      // A resource that may be written takes its share of the scan's cap one at a time (the pipeline spends a
      // budget after each write, so concurrent holders could overshoot it); the rest are evaluated in parallel.
      const writes =
        !scanDeps.dryRun && !scanDeps.policy.dryRun && mayWrite(scanDeps.policy, snapshot, scanDeps.clouds);
      let slice = { left: deps.policy.maxWritesPerEvent };
      try {
        const work = async () => {
          if (writes) slice = options.budget.reserve(deps.policy.maxWritesPerEvent);
          try {
            const first = await handleChange(change, scanDeps, slice);
            // A virtual network's subnets, each as the listed copy shows it (a write still reads it afresh).
            const all = [first];
            for (const target of first.fanOut?.targets ?? []) {
              if (!target.snapshot) continue;
              const inner = scanChange(target.snapshot, options.runId, time);
              listed.set(inner.eventId, target.snapshot);
              try {
                all.push(await handleChange(inner, scanDeps, slice));
              } finally {
                listed.delete(inner.eventId);
              }
            }
            return all;
          } finally {
            if (writes) options.budget.release(slice);
          }
        };
        const locked = () => (deps.locks ? deps.locks.run(lockKey(change), work) : work());
        const outcomes = await (writes ? writeTurns.run(WRITE_TURN, locked) : locked());
        for (const outcome of outcomes) {
          if (outcome.status === "failed" || outcome.retryable !== undefined) {
            part.failures.push({
              resourceId: outcome.change.resourceId,
              error: outcome.error ?? outcome.retryable?.message ?? "failed",
              ...(outcome.retryable !== undefined ? { retryable: true } : {}),
            });
          }
          const exempt = new Map(
            outcome.actions.filter((a) => a.outcome === "skipped-exempt").map((a) => [a.finding, a.reason]),
          );
          for (const f of outcome.findings) {
            const reason = exempt.get(f);
            part.findings.push({ ...findingView(f), ...(reason ? { exempt: reason } : {}) });
          }
          for (const a of outcome.actions) {
            part.actions.push({
              cloud: snapshot.cloud,
              account: snapshot.account,
              ...(snapshot.region ? { region: snapshot.region } : {}),
              resourceId: a.finding.resourceId,
              resourceType: outcome.change.resourceType,
              policyRule: a.finding.policyRule,
              mode: a.mode,
              outcome: a.outcome,
              wouldDo: a.planned ? a.planned.summary : a.reason,
              ...(a.planned ? { planned: a.planned.operation } : {}),
            });
          }
        }
      } catch (error) {
        // A resource that cannot be evaluated (not what its type says) is reported; the page goes on.
        const message = error instanceof Error ? error.message : String(error);
        deps.log.error("guardian.scan.failed", { resourceId: snapshot.resourceId, error: message });
        part.failures.push({
          resourceId: snapshot.resourceId,
          error: message,
          ...(error instanceof TransientError ? { retryable: true } : {}),
        });
      } finally {
        listed.delete(change.eventId);
      }
      for (const f of part.findings) result.findings.push(f);
      for (const a of part.actions) result.actions.push(a);
      for (const f of part.failures) result.failures.push(f);
      result.evaluated++;
      options.onEvaluated?.(part);
    }
  };
  const n = Math.max(1, Math.min(options.concurrency ?? 8, items.length));
  await Promise.all(Array.from({ length: n }, worker));
  return result;
}

/** One write turn per process: see evaluatePage. */
const writeTurns = new ResourceLocks();
const WRITE_TURN = "scan-writes";

/** Whether the policy has a finding in remediate mode on the listed copy or what it fans out to (pure; no call). */
function mayWrite(policy: Policy, snapshot: Snapshot, clouds: GuardianDeps["clouds"]): boolean {
  const inner = (clouds[snapshot.cloud]?.fanOut?.(snapshot) ?? []).flatMap((t) =>
    t.snapshot ? [t.snapshot] : [],
  );
  // A verdict that hangs on related resources (a storage VNet rule's network, by a role's tags) is not known without
  // reading them: such a resource may be written too, and takes its share of the cap.
  return [snapshot, ...inner].some(
    (s) =>
      evaluatePolicy(policy, s).some(({ entry }) => entry.mode === "remediate") ||
      relatedTypes(policy, s).size > 0,
  );
}

/** Kinds whose listing lacks what their rules judge (AwsKind.list.incomplete): each listed one is read in full. */
const READ_EACH: ReadonlySet<string> = new Set(
  awsKinds.filter((k) => k.list.incomplete !== undefined).map((k) => k.type),
);

function withOrigin(snapshot: Snapshot | undefined): Snapshot | undefined {
  return snapshot && { ...snapshot, origin: "event" };
}

function lockKey(change: ResourceChange): string {
  return `${change.cloud}:${change.resourceId.toLowerCase()}`;
}

/** The change a listed resource stands for: no caller is known, the run names it. */
export function scanChange(snapshot: Snapshot, runId: string, time: string): ResourceChange {
  return {
    cloud: snapshot.cloud,
    account: snapshot.account,
    ...(snapshot.region ? { region: snapshot.region } : {}),
    resourceId: snapshot.resourceId,
    resourceType: snapshot.resourceType,
    operation: "write",
    operationName: "guardian/scan",
    actor: {},
    eventId: `scan:${runId}:${snapshot.resourceId}`,
    time,
    resource: snapshot.resource,
  };
}

/** Writes a report-only scan may plan: unbounded (nothing is written); each resource keeps the per-event cap. */
export const UNBOUNDED = Number.MAX_SAFE_INTEGER;

/**
 * The scan: lists every stream page by page (a few streams at a time), evaluates each page as it arrives and keeps
 * only what the report needs. A stream that fails (a list call that failed after the SDK's retries) or that the
 * signal interrupts is reported as incomplete with how far it got; the other streams go on.
 */
export async function scanEstate(
  targets: readonly ScanTarget[],
  deps: GuardianDeps,
  lister: PageLister,
  options: ScanOptions,
): Promise<ScanReport> {
  const now = options.now ?? (() => new Date());
  const startedAt = now().toISOString();
  const runId = options.runId ?? startedAt;
  const guardian: GuardianDeps = { ...deps, dryRun: deps.dryRun || !options.remediate };
  const budget = new ScanBudget(options.remediate ? (options.maxWrites ?? UNBOUNDED) : UNBOUNDED);
  const { streams, skipped } = scanStreams(targets, deps.policy);
  const report: ScanReport = {
    tool: "network-guardian",
    version: 1,
    startedAt,
    finishedAt: startedAt,
    remediate: options.remediate,
    targets: targets.map(targetLabel),
    complete: false,
    totals: { listed: 0, evaluated: 0, findings: 0, exempt: 0, failed: 0 },
    coverage: [],
    findings: [],
    actions: [],
    failures: [],
  };
  const progress: ScanProgress = { listed: 0, evaluated: 0, findings: 0, pages: 0 };
  const tell = () => options.onProgress?.({ ...progress });
  const coverage: Coverage[] = streams.map((s) => ({
    target: targetLabel(s.target),
    kind: s.kind,
    listed: 0,
    pages: 0,
    complete: false,
  }));
  let nextStream = 0;
  const streamWorker = async () => {
    for (let i = nextStream++; i < streams.length; i = nextStream++) {
      const stream = streams[i] as ScanStream;
      const cov = coverage[i] as Coverage;
      let from: string | undefined;
      try {
        do {
          if (options.signal?.aborted) throw new Error("the scan was interrupted");
          const page = await lister({ ...stream, ...(from ? { from } : {}) }, options.signal);
          cov.pages++;
          cov.listed += page.items.length;
          progress.pages++;
          progress.listed += page.items.length;
          tell();
          const result = await evaluatePage(page.items, guardian, {
            runId,
            budget,
            concurrency: options.evalConcurrency ?? 8,
            now,
            onEvaluated: (part) => {
              progress.evaluated += part.evaluated;
              progress.findings += part.findings.filter((f) => f.exempt === undefined).length;
              tell();
            },
          });
          for (const f of result.findings) report.findings.push(f);
          for (const a of result.actions) report.actions.push(a);
          for (const f of result.failures) report.failures.push(f);
          report.totals.evaluated += result.evaluated;
          from = page.next;
        } while (from !== undefined);
        cov.complete = true;
      } catch (error) {
        cov.error = error instanceof Error ? error.message : String(error);
        deps.log.error("guardian.scan.incomplete", { ...cov });
      }
    }
  };
  const n = Math.max(1, Math.min(options.listConcurrency ?? 4, streams.length));
  await Promise.all(Array.from({ length: n }, streamWorker));
  report.coverage = [...coverage, ...skipped];
  report.totals.listed = progress.listed;
  report.totals.findings = report.findings.filter((f) => f.exempt === undefined).length;
  report.totals.exempt = report.findings.length - report.totals.findings;
  report.totals.failed = report.failures.length;
  report.complete = coverage.every((c) => c.complete) && report.failures.length === 0;
  report.finishedAt = now().toISOString();
  return report;
}
