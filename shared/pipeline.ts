import type { AuditSink } from "./audit/index.ts";
import type { CallOptions, ResourceReader, ResourceRef, ResourceWriter } from "./clouds/ports.ts";
import type { Deadline } from "./deadline.ts";
import { ConflictError, InputError, OutcomeUnknownError, RefusedError, TransientError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { OutboxPort } from "./notify/outbox.ts";
import type { Alert } from "./notify/types.ts";
import {
  evaluatePolicy,
  exemptionFor,
  exemptTagFinding,
  modeFor,
  type RelatedResources,
  relatedWanted,
  ruleFor,
  type SubscriptionTenants,
  tenantSubscriptions,
  trustedSourcesFor,
} from "./policy/evaluate.ts";
import type { Policy, PolicyEntry } from "./policy/schema.ts";
import { remediationById } from "./remediation/index.ts";
import type {
  ActionResult,
  Actor,
  AuditRecord,
  Cloud,
  Finding,
  PlannedChange,
  ResourceChange,
  Snapshot,
  UnreadableResource,
} from "./types.ts";

/** What the pipeline needs from one cloud, implemented in shared/clouds/<cloud> with the real SDK. */
export interface CloudPort {
  reader: ResourceReader;
  writer: ResourceWriter;
  /**
   * A snapshot from the resource an event carried (Resource Notifications), with `origin: "event"`; undefined if it
   * carried none. It can show that nothing needs doing; any write first reads the resource afresh.
   */
  snapshotFromEvent(change: ResourceChange): Snapshot | undefined;
  consoleUrl(ref: ResourceRef): string;
  /** Cloud-specific recognition of the guardian's own changes (an assumed-role session of its role). */
  isOwnChange?(actor: Actor): boolean;
  /**
   * The resources to evaluate in a resource's stead after a write to it (a virtual network's subnets, with the
   * snapshots its GET body already holds; the subnets a route table's back-references name, to be read).
   */
  fanOut?(snapshot: Snapshot): readonly FanOut[];
  /** Other resources whose content rules evaluating `snapshot` may read (a subnet's route table). */
  related?(snapshot: Snapshot): readonly ResourceRef[];
  /**
   * The tenants of subscriptions (lower-cased ids), for rules that allow by tenant: each resolved or with the reason
   * it could not be. Never throws: a failed lookup is an unresolved tenant, which matches no entry.
   */
  tenantsOf?(subscriptionIds: readonly string[], options?: CallOptions): Promise<SubscriptionTenants>;
  /**
   * The same port bound to one invocation: ports keep per-invocation state there (a cache of what was read, such as
   * AWS prefix lists, read once per invocation) and what the platform says about where it runs; clients stay shared.
   */
  forInvocation?(invocation: InvocationScope): CloudPort;
  /**
   * Why this change cannot be handled here (an event for an account the guardian does not run in), or undefined.
   * A misrouted change is dead-lettered and alerted, never read: a read would only find "nothing there".
   */
  misrouted?(change: ResourceChange): string | undefined;
  /**
   * The changes to evaluate instead of one whose resource others depend on (a managed prefix list: every security
   * group that references it); undefined when the change is evaluated as it is.
   */
  expand?(change: ResourceChange, options?: CallOptions): Promise<ResourceChange[] | undefined>;
}

/** What one invocation knows beyond its instance (its time budget travels in GuardianDeps.deadline). */
export interface InvocationScope {
  /** The cloud account the invocation runs in, as the platform says (the Lambda's invokedFunctionArn). */
  account?: string;
}

/** A resource evaluated because a write to another one may have changed it. */
export interface FanOut {
  ref: ResourceRef;
  /** Its state as the other resource's read already shows it; absent: it is read. */
  snapshot?: Snapshot;
}

export interface GuardianDeps {
  policy: Policy;
  clouds: Partial<Record<Cloud, CloudPort>>;
  /** Where alerts go after their decisions are audited: a durable queue the sender drains (or inline, locally). */
  outbox: OutboxPort;
  audit: AuditSink;
  /** The guardian's own identities (object ids, app ids, role ARNs): changes they made are not acted on again. */
  selfIdentities: readonly string[];
  /** Forces dry-run whatever the policy says (environment switch); the policy's own switch also applies. */
  dryRun: boolean;
  log: Logger;
  now?: () => Date;
  /** How many times a write that hit a concurrent edit is re-read, re-evaluated and re-planned. */
  maxConflictRetries?: number;
  /** Shared by the invocations of one instance, so events about the same resource are handled one at a time. */
  locks?: ResourceLocks;
  /** The invocation's budget (set per invocation by the entry): every cloud call is abandoned when it is spent. */
  deadline?: Deadline;
  /** The budget an entry gives each invocation when the platform does not say (GUARDIAN_BUDGET_MS). */
  budgetMs?: number;
  /**
   * Where decisions about keyed findings (a connection request) are claimed, so that duplicate deliveries, parallel
   * invocations and the sweep decide and announce each once. Without it every delivery decides for itself.
   */
  decisions?: DecisionStore;
}

/** Claims on decisions, shared by every instance (DynamoDB on AWS, a Storage table on Azure; memory for one process). */
export interface DecisionStore {
  /** True when this caller may decide `key`; false when it was decided already or is being decided right now. */
  claim(key: string): Promise<boolean>;
  /** The decision was made and announced: later claims fail until the store's expiry. */
  complete(key: string, outcome: string): Promise<void>;
  /** The decision failed or was put off: the next delivery (a retry, the sweep) may decide again. */
  release(key: string): Promise<void>;
  /** Deletes expired records, a bounded number, where the store has no TTL of its own (Azure tables); how many. */
  prune?(): Promise<number>;
}

/**
 * Writes stop this long before the budget is spent (at most a quarter of it), so that a write whose answer was lost
 * can still be settled by one read, instead of leaving the redelivered event to guess.
 */
const SETTLE_RESERVE_MS = 3_000;

function readOptions(deps: GuardianDeps) {
  return deps.deadline ? { signal: deps.deadline.signal() } : {};
}

function writeOptions(deps: GuardianDeps) {
  const d = deps.deadline;
  return d ? { signal: d.signal(Math.min(SETTLE_RESERVE_MS, d.totalMs / 4)) } : {};
}

/**
 * Serialises work per resource within one process. In an event storm (many events about one resource arriving
 * together, each its own invocation) the first handles it and writes; the others wait, then read a resource that
 * is already compliant, instead of all planning the same write and colliding on its etag.
 */
export class ResourceLocks {
  readonly #tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const current = previous.then(work, work);
    const tail = current.catch(() => undefined);
    this.#tails.set(key, tail);
    try {
      return await current;
    } finally {
      // Forget the key once nothing is queued behind this work, so the map stays as small as what is in flight.
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    }
  }

  get size(): number {
    return this.#tails.size;
  }
}

export type ChangeStatus = "evaluated" | "skipped-self" | "resource-deleted" | "resource-gone" | "failed";

export interface ChangeOutcome {
  change: ResourceChange;
  status: ChangeStatus;
  findings: Finding[];
  actions: ActionResult[];
  deliveries: { channel: string; ok: boolean; error?: string }[];
  /** Set when something may pass on retry (a throttled write): the trigger should be retried. */
  retryable?: TransientError;
  /** Why the change could not be handled (status `failed`); it was dead-lettered with this reason. */
  error?: string;
  /** Resources to evaluate next in this resource's stead (see CloudPort.fanOut), with what this read already saw. */
  fanOut?: { targets: readonly FanOut[]; seen: Snapshot };
}

/** Writes left in one delivery: the blast-radius cap bounds a whole batch, not each resource of it. */
interface WriteBudget {
  left: number;
}

/**
 * The one path every change takes: read → evaluate → decide → act → audit → alert.
 * Changes about the same resource in one batch are handled once (the latest change attributes it); a change that
 * fails is dead-lettered and the rest of the batch still runs.
 */
export async function handleChanges(
  changes: readonly ResourceChange[],
  deps: GuardianDeps,
): Promise<ChangeOutcome[]> {
  const outcomes: ChangeOutcome[] = [];
  const budget: WriteBudget = { left: deps.policy.maxWritesPerEvent };
  const routed: ResourceChange[] = [];
  for (const change of changes) {
    const port = deps.clouds[change.cloud];
    const misrouted = port?.misrouted?.(change);
    if (misrouted !== undefined) {
      outcomes.push(await deadLetter(change, misrouted, port, deps));
      continue;
    }
    try {
      const expanded = isSelfChange(change, deps)
        ? undefined
        : await port?.expand?.(change, readOptions(deps));
      if (expanded === undefined) routed.push(change);
      else if (expanded.length === 0) {
        deps.log.info("guardian.skip", {
          eventId: change.eventId,
          resourceId: change.resourceId,
          reason: "no resource the guardian evaluates depends on it",
        });
      } else {
        deps.log.info("guardian.expanded", {
          eventId: change.eventId,
          resourceId: change.resourceId,
          into: expanded.map((c) => c.resourceId),
        });
        routed.push(...expanded);
      }
    } catch (error) {
      outcomes.push(failedOutcome(change, error, deps));
    }
  }
  const groups = groupByResource(routed);
  // A resource the delivery names itself is evaluated as such, not again as another one's fan-out.
  const handled = new Set(groups.map((g) => resourceKey(g[0] as ResourceChange)));
  for (const group of groups) {
    // A human's change attributes the group even when the guardian's own write came later in the batch.
    const human = group.filter((c) => !isSelfChange(c, deps));
    const change = (human.at(-1) ?? group.at(-1)) as ResourceChange;
    for (const dup of group.filter((c) => c !== change)) {
      deps.log.info("guardian.collapsed", {
        eventId: dup.eventId,
        into: change.eventId,
        resourceId: dup.resourceId,
      });
    }
    try {
      const work = () => handleChange(change, deps, budget);
      outcomes.push(await (deps.locks ? deps.locks.run(resourceKey(change), work) : work()));
    } catch (error) {
      outcomes.push(failedOutcome(change, error, deps));
    }
  }
  // Then what the writes may have changed elsewhere: each subnet of a network, each subnet using a route table.
  for (let i = 0; i < outcomes.length; i++) {
    const parent = outcomes[i] as ChangeOutcome;
    const fan = parent.fanOut;
    if (!fan) continue;
    const seen = new Map<string, Snapshot | null>([[fan.seen.resourceId.toLowerCase(), fan.seen]]);
    // A write to one target can change what the parent's read showed of the others (subnets share their network's
    // etag): after one, the rest are read afresh rather than written against a state that is no longer there.
    let wrote = false;
    for (const target of fan.targets) {
      const change = fannedChange(parent.change, target.ref);
      const key = resourceKey(change);
      if (handled.has(key)) continue;
      handled.add(key);
      deps.log.info("guardian.fan-out", { from: parent.change.resourceId, to: change.resourceId });
      try {
        const preset = { snapshot: wrote ? undefined : target.snapshot, related: seen };
        const work = () => handleChange(change, deps, budget, preset);
        const done = await (deps.locks ? deps.locks.run(key, work) : work());
        outcomes.push(done);
        if (done.actions.some((a) => a.outcome === "applied")) wrote = true;
      } catch (error) {
        outcomes.push(failedOutcome(change, error, deps));
      }
    }
  }
  return outcomes;
}

/** The change that has a fan-out target evaluated: the same event and caller, about the target. */
function fannedChange(change: ResourceChange, ref: ResourceRef): ResourceChange {
  const { resource: _parentsOwn, ...rest } = change;
  return {
    ...rest,
    resourceId: ref.resourceId,
    resourceType: ref.resourceType,
    // What the caller touched: the network, the route table or its route.
    subjectId: change.subjectId ?? change.resourceId,
    details: { ...change.details, via: change.resourceId },
  };
}

function failedOutcome(change: ResourceChange, error: unknown, deps: GuardianDeps): ChangeOutcome {
  const message = error instanceof Error ? error.message : String(error);
  deps.log.error("guardian.deadletter", { what: "change", error: message, change });
  return {
    change,
    status: "failed",
    findings: [],
    actions: [],
    deliveries: [],
    error: message,
    ...(error instanceof TransientError ? { retryable: error } : {}),
  };
}

/**
 * A change that can never be handled here: failed without retry (so the trigger dead-letters it), and alerted, since
 * a dead-lettered security change nobody hears about is a silenced guardian.
 */
async function deadLetter(
  change: ResourceChange,
  reason: string,
  port: CloudPort | undefined,
  deps: GuardianDeps,
): Promise<ChangeOutcome> {
  deps.log.error("guardian.deadletter", { what: "change", error: reason, change });
  const finding: Finding = {
    policyRule: "(guardian)",
    ruleId: "misrouted-event",
    resourceId: change.resourceId,
    resourceType: change.resourceType,
    severity: "high",
    message: `${change.operationName} in account ${change.account} was not evaluated: ${reason}`,
    controls: [],
    matched: [{ account: change.account, ...(change.region === undefined ? {} : { region: change.region }) }],
  };
  const result: ActionResult = { finding, mode: "alert", outcome: "dead-lettered", reason };
  await deps.audit.record(auditRecord(change, result, deps.now?.() ?? new Date()));
  const alert: Alert = {
    cloud: change.cloud,
    account: change.account,
    resourceId: change.resourceId,
    resourceType: change.resourceType,
    operationName: change.operationName,
    actor: change.actor,
    eventId: change.eventId,
    ...(change.correlationId === undefined ? {} : { correlationId: change.correlationId }),
    time: change.time,
    results: [result],
    consoleUrl:
      port?.consoleUrl({
        cloud: change.cloud,
        resourceId: change.resourceId,
        resourceType: change.resourceType,
        account: change.account,
        ...(change.region === undefined ? {} : { region: change.region }),
      }) ?? "",
    dryRun: deps.dryRun || deps.policy.dryRun,
  };
  return {
    change,
    status: "failed",
    findings: [finding],
    actions: [result],
    deliveries: await deliver(alert, deps),
    error: reason,
  };
}

/** What another resource's read already gave a change: its own snapshot and the related resources it saw. */
interface Preset {
  snapshot?: Snapshot | undefined;
  related?: RelatedResources;
}

/**
 * The related resources the applicable entries read (RuleDefinition.reads): those `known` already holds are taken
 * from it, the others read. Undefined when no entry reads any.
 */
async function readRelated(
  snapshot: Snapshot,
  port: CloudPort,
  deps: GuardianDeps,
  known?: RelatedResources,
): Promise<RelatedResources | undefined> {
  if (!port.related) return undefined;
  const wanted = relatedWanted(deps.policy, snapshot);
  if (wanted === undefined) return undefined;
  const related = new Map<string, Snapshot | UnreadableResource | null>();
  for (const ref of port.related(snapshot)) {
    if (!wanted(ref)) continue;
    const key = ref.resourceId.toLowerCase();
    if (related.has(key)) continue;
    const had = known?.get(key);
    if (had !== undefined) {
      related.set(key, had);
      continue;
    }
    try {
      related.set(key, (await port.reader.read(ref, readOptions(deps))) ?? null);
    } catch (error) {
      // Refused (403, another tenant): the rule judges without it and says why. Anything else (throttled beyond the
      // SDK's retries, 5xx) fails the evaluation, so the event is retried: never a verdict on half the data.
      if (!(error instanceof RefusedError)) throw error;
      related.set(key, { unreadable: error.message });
    }
  }
  return related;
}

/**
 * The tenants of the subscriptions the applicable entries need for this snapshot (RuleDefinition.tenantsNeeded),
 * looked up through the port before evaluating, so rules stay pure; those `known` already holds are kept.
 */
async function resolveTenants(
  snapshot: Snapshot,
  port: CloudPort,
  deps: GuardianDeps,
  known?: SubscriptionTenants,
): Promise<SubscriptionTenants | undefined> {
  const missing = [...tenantSubscriptions(deps.policy, snapshot)].filter((s) => !known?.has(s));
  if (missing.length === 0) return known;
  const found: SubscriptionTenants = port.tenantsOf
    ? await port.tenantsOf(missing, readOptions(deps))
    : new Map(
        missing.map((s) => [s, { unresolved: `the ${snapshot.cloud} adapter cannot resolve tenants` }]),
      );
  return new Map([...(known ?? []), ...found]);
}

export function isSelf(actor: Actor, identities: readonly string[]): boolean {
  if (identities.length === 0) return false;
  const mine = new Set(identities.map((i) => i.toLowerCase()));
  return [actor.principalId, actor.appId, actor.name].some(
    (v) => v !== undefined && mine.has(v.toLowerCase()),
  );
}

function isSelfChange(change: ResourceChange, deps: GuardianDeps): boolean {
  return (
    isSelf(change.actor, deps.selfIdentities) ||
    deps.clouds[change.cloud]?.isOwnChange?.(change.actor) === true
  );
}

export async function handleChange(
  change: ResourceChange,
  deps: GuardianDeps,
  budget: WriteBudget = { left: deps.policy.maxWritesPerEvent },
  preset: Preset = {},
): Promise<ChangeOutcome> {
  const outcome: ChangeOutcome = { change, status: "evaluated", findings: [], actions: [], deliveries: [] };
  const base = {
    eventId: change.eventId,
    correlationId: change.correlationId,
    resourceId: change.resourceId,
  };
  if (isSelfChange(change, deps)) {
    deps.log.info("guardian.skip", { ...base, reason: "change made by the guardian's own identity" });
    return { ...outcome, status: "skipped-self" };
  }
  if (change.operation === "delete" && change.subjectId === undefined) {
    deps.log.info("guardian.skip", { ...base, reason: "resource deleted: nothing left to evaluate" });
    return { ...outcome, status: "resource-deleted" };
  }
  const port = deps.clouds[change.cloud];
  if (!port) throw new InputError(`no ${change.cloud} adapter configured for ${change.resourceId}`);
  const ref: ResourceRef = {
    cloud: change.cloud,
    resourceId: change.resourceId,
    resourceType: change.resourceType,
    account: change.account,
    region: change.region,
  };

  // The carried resource may save the read when nothing needs doing; a write always reads afresh first.
  const carried = preset.snapshot ?? port.snapshotFromEvent(change);
  const first = carried
    ? carried.origin === "read"
      ? carried
      : { ...carried, origin: "event" as const }
    : await port.reader.read(ref, readOptions(deps));
  if (!first) {
    deps.log.info("guardian.skip", { ...base, reason: "resource no longer exists" });
    return { ...outcome, status: "resource-gone" };
  }
  const targets = port.fanOut?.(first) ?? [];
  if (targets.length > 0) outcome.fanOut = { targets, seen: first };
  const related = await readRelated(first, port, deps, preset.related);
  const tenants = await resolveTenants(first, port, deps);
  const ctx: ActContext = {
    deps,
    port,
    ref,
    change,
    now: deps.now?.() ?? new Date(),
    snapshot: first,
    related,
    tenants,
    stale: false,
    changedSinceEvent: false,
    budget,
    covered: new Map(),
    record: async (result) => {
      outcome.actions.push(result);
      await deps.audit.record(auditRecord(change, result, ctx.now));
    },
  };
  const dryRun = deps.dryRun || deps.policy.dryRun;
  for (const { entry, finding } of evaluatePolicy(deps.policy, first, evidenceOf(change), related, tenants)) {
    outcome.findings.push(finding);
    const claim = await claimDecision(entry, finding, dryRun, deps);
    if (claim === "duplicate") continue;
    const recordedBefore = outcome.actions.length;
    try {
      await decideFinding(entry, finding, first, ctx, outcome, dryRun);
    } catch (error) {
      if (claim !== undefined) await deps.decisions?.release(claim);
      throw error;
    }
    if (claim !== undefined) await settleDecision(claim, outcome.actions.slice(recordedBefore), deps);
  }

  await creditFixes(ctx, outcome);

  // An exempt tag that exempts nothing it seems meant to (empty, an unknown name, a remediate entry) is no exemption,
  // and whoever set it should see so.
  const tagProblem = exemptTagFinding(deps.policy, first);
  if (tagProblem) {
    outcome.findings.push(tagProblem);
    await ctx.record({ finding: tagProblem, mode: "alert", outcome: "warning", reason: tagProblem.message });
  }

  // Report-only findings are recorded, not announced; so is an exposure someone else already closed (a concurrent
  // edit, or a parallel invocation of the guardian in an event storm), which would only be noise. An exempt finding is
  // still announced, at low severity, once per change: whoever opens a port can often set the exempt tag too.
  // A failure the event's redelivery will try again is not announced either: the retry fixes it (and alerts that),
  // or the event ends in the dead-letter container, whose alert fires. So no "failed" alert about what gets fixed.
  const quiet = new Set<ActionResult["outcome"]>(["already-compliant"]);
  const alerted = outcome.actions
    .filter((a) => a.mode !== "report" && !quiet.has(a.outcome) && a.retryable !== true)
    .map((a) =>
      a.outcome === "skipped-exempt" ? { ...a, finding: { ...a.finding, severity: "low" as const } } : a,
    );
  if (alerted.length > 0) {
    const region = first.region ?? ref.region;
    const alert: Alert = {
      cloud: change.cloud,
      account: change.account,
      ...(region !== undefined ? { region } : {}),
      ...(first.resourceGroup !== undefined ? { resourceGroup: first.resourceGroup } : {}),
      resourceId: first.resourceId,
      resourceType: change.resourceType,
      tags: first.tags,
      operationName: change.operationName,
      actor: change.actor,
      eventId: change.eventId,
      correlationId: change.correlationId,
      time: change.time,
      results: alerted,
      // A group named in the event resolves to its id on read: link the resolved resource.
      consoleUrl: port.consoleUrl({ ...ref, resourceId: first.resourceId, region }),
      dryRun,
    };
    outcome.deliveries = await deliver(alert, deps);
  }
  return outcome;
}

/**
 * A finding an entry only alerts on (mode alert or report) that another entry's write fixed in the same change is
 * reported as fixed by that write, not as left open: once the writes are done, the resource as it now stands (read
 * again if the last write left it stale) no longer shows the finding. Nothing is written for the alerting entry; its
 * result takes the write's planned change, as a finding planned together with it would, and is audited again.
 */
async function creditFixes(ctx: ActContext, outcome: ChangeOutcome): Promise<void> {
  const writes = outcome.actions.filter(
    (a) => a.outcome === "applied" && a.mode === "remediate" && a.planned !== undefined,
  );
  const last = writes.at(-1)?.planned;
  const writers = new Set(writes.map((w) => w.finding.policyRule));
  // Another entry's findings only: a kind an entry itself holds at alert (a public prefix beside the world-open source
  // it revokes) is one its own write was planned to leave alone.
  const left = outcome.actions.flatMap((a, i) =>
    a.outcome === "skipped-mode" && a.mode !== "remediate" && !writers.has(a.finding.policyRule) ? [i] : [],
  );
  if (!last || left.length === 0) return;
  let now: Snapshot | undefined = ctx.snapshot;
  if (ctx.stale) {
    try {
      now = await reread(ctx);
    } catch (error) {
      // Unknown is not fixed: the findings stay reported as left, which is what was decided.
      ctx.deps.log.warn("guardian.read-failed", {
        resourceId: ctx.ref.resourceId,
        message: error instanceof Error ? error.message : String(error),
      });
      return;
    }
  }
  // A resource gone since is no proof of a fix by the write: those findings stay as decided.
  if (!now) return;
  const open = evaluatePolicy(ctx.deps.policy, now, evidenceOf(ctx.change), ctx.related, ctx.tenants);
  const by = [...writers].join(", ");
  for (const i of left) {
    const was = outcome.actions[i];
    if (!was) continue;
    const f = was.finding;
    const stillOpen = open.some(
      (e) =>
        e.entry.name === f.policyRule &&
        e.finding.kind === f.kind &&
        (f.key === undefined || e.finding.key === f.key),
    );
    if (stillOpen) continue;
    const fixed: ActionResult = {
      finding: f,
      mode: was.mode,
      outcome: "applied",
      reason: `fixed by the change of policy entry ${by} (${last.remediation}); this entry is in ${was.mode} mode and wrote nothing`,
      planned: last,
    };
    outcome.actions[i] = fixed;
    await ctx.deps.audit.record(auditRecord(ctx.change, fixed, ctx.now));
  }
}

/** What the triggering change may tell a rule as evidence (who did it, what the call recorded). */
function evidenceOf(change: ResourceChange): {
  actor: Actor;
  operationName: string;
  time?: string;
  eventId?: string;
  details?: Record<string, unknown>;
} {
  return {
    actor: change.actor,
    operationName: change.operationName,
    time: change.time,
    eventId: change.eventId,
    ...(change.details ? { details: change.details } : {}),
  };
}

/**
 * The claim on a keyed finding's decision: undefined when the finding has no key (or there is no store), the claimed
 * key, or "duplicate" when another delivery decided it or is deciding it. The key also names the entry, its mode and
 * dry-run, so that changing the policy (hold → reject, alert → remediate) or leaving dry-run decides again.
 */
async function claimDecision(
  entry: PolicyEntry,
  finding: Finding,
  dryRun: boolean,
  deps: GuardianDeps,
): Promise<string | "duplicate" | undefined> {
  if (finding.key === undefined || deps.decisions === undefined) return undefined;
  const key = `${finding.key}|${entry.name}|${entry.mode}${dryRun ? "|dry-run" : ""}`;
  if (await deps.decisions.claim(key)) return key;
  deps.log.info("guardian.duplicate", {
    resourceId: finding.resourceId,
    policyRule: finding.policyRule,
    key,
    reason: "already decided (or being decided) by another delivery",
  });
  return "duplicate";
}

/** A decision that failed, lost a race or hit the cap is released for the next delivery; the rest are done. */
async function settleDecision(
  key: string,
  results: readonly ActionResult[],
  deps: GuardianDeps,
): Promise<void> {
  const unsettled = new Set<ActionResult["outcome"]>(["failed", "conflict", "skipped-cap"]);
  if (results.length === 0 || results.some((r) => unsettled.has(r.outcome))) {
    await deps.decisions?.release(key);
    return;
  }
  await deps.decisions?.complete(key, results.map((r) => r.outcome).join(","));
}

/** Decides one finding: exempt, mode, cap, dry-run, or remediate. Records every result. */
async function decideFinding(
  entry: PolicyEntry,
  finding: Finding,
  first: Snapshot,
  ctx: ActContext,
  outcome: ChangeOutcome,
  dryRun: boolean,
): Promise<void> {
  const { deps, change, budget } = ctx;
  const exempt = exemptionFor(deps.policy, entry, first, ctx.now);
  const mode = modeFor(entry, finding);
  const covered = ctx.covered.get(entry);
  if (exempt) {
    await ctx.record({ finding, mode, outcome: "skipped-exempt", reason: exempt });
  } else if (mode === "remediate" && finding.alertOnly !== undefined) {
    await ctx.record({ finding, mode, outcome: "alert-only", reason: finding.alertOnly });
  } else if (mode !== "remediate") {
    await ctx.record({ finding, mode, outcome: "skipped-mode", reason: modeReason(entry, finding, mode) });
  } else if (covered) {
    // Another entry's remediation planned this finding together with its own: one write fixed (or would fix) both.
    await ctx.record({ finding, mode, ...covered });
  } else if (budget.left <= 0) {
    await ctx.record(capped(finding, mode, deps.policy));
  } else if (dryRun) {
    // Nothing is written, so every part the finding matched gets its own planned change.
    const siblings = siblingsOf(entry, first, ctx);
    const plans = plannedOrRefused(() =>
      planEachPart(entry, first, finding, deps.policy, change.details, siblings.findings),
    );
    if (typeof plans === "string") {
      await ctx.record({ finding, mode, outcome: "failed", reason: plans });
      return;
    }
    if (plans.length === 0) {
      const manual = manualReason(entry, first, finding);
      await ctx.record(
        manual
          ? { finding, mode, outcome: "skipped-mode", reason: manual }
          : { finding, mode, outcome: "already-compliant", reason: "nothing left to change" },
      );
    }
    for (const planned of plans) {
      if (planned.decision === "held") {
        await ctx.record({ finding, mode, outcome: "held", reason: planned.summary, planned });
        continue;
      }
      // The preview spends the same budget a live run would, so it never shows more changes than one would make.
      if (budget.left <= 0) {
        await ctx.record(capped(finding, mode, deps.policy));
        continue;
      }
      budget.left--;
      await ctx.record({
        finding,
        mode,
        outcome: "dry-run",
        reason: "dry-run: nothing was changed",
        planned,
      });
      cover(ctx, siblings.entries, {
        outcome: "dry-run",
        reason: `dry-run: would be fixed with ${entry.name}`,
        planned,
      });
    }
  } else {
    try {
      await remediateFinding(entry, finding, ctx, outcome);
    } catch (error) {
      // A remediation that refuses to plan (it could only do more than the finding asks): alerted, nothing written.
      if (!(error instanceof InputError)) throw error;
      await ctx.record({ finding, mode, outcome: "failed", reason: error.message });
    }
  }
}

/** What acting on one change's findings shares: the latest snapshot, the write budget, the audit trail. */
interface ActContext {
  deps: GuardianDeps;
  port: CloudPort;
  ref: ResourceRef;
  change: ResourceChange;
  now: Date;
  /** The latest known state of the resource; `stale` once the guardian itself has written to it. */
  snapshot: Snapshot;
  /** The other resources its entries read (a subnet's route table), kept across its re-reads. */
  related: RelatedResources | undefined;
  /** The subscriptions' tenants its entries need (a requester's), resolved once and kept across its re-reads. */
  tenants: SubscriptionTenants | undefined;
  stale: boolean;
  /** Set once the resource is known to differ from what the event recorded (a write of ours, a concurrent edit). */
  changedSinceEvent: boolean;
  budget: WriteBudget;
  record(result: ActionResult): Promise<void>;
  /** Entries whose findings a write planned together with another entry's already fixed (or would fix). */
  covered: Map<PolicyEntry, Pick<ActionResult, "outcome" | "reason" | "planned" | "retryable">>;
}

function modeReason(entry: PolicyEntry, finding: Finding, mode: ActionResult["mode"]): string {
  if (mode === entry.mode) return `mode ${mode}: not remediated`;
  // A finding of its own kind (a specific public prefix, a malformed one) held below the entry's mode.
  return `mode ${mode} for ${finding.kind ?? "this finding"} (entry ${entry.name} is ${entry.mode}): not remediated`;
}

/** The plans, or why the remediation refused to plan (an InputError's message). */
function plannedOrRefused(make: () => PlannedChange[]): PlannedChange[] | string {
  try {
    return make();
  } catch (error) {
    if (error instanceof InputError) return error.message;
    throw error;
  }
}

function capped(finding: Finding, mode: ActionResult["mode"], policy: Policy): ActionResult {
  return {
    finding,
    mode,
    outcome: "skipped-cap",
    reason: `blast-radius cap: at most ${policy.maxWritesPerEvent} writes per event`,
  };
}

/** Why a finding's remaining parts are left to a person (its remediation cannot change them), or undefined. */
function manualReason(entry: PolicyEntry, snapshot: Snapshot, finding: Finding): string | undefined {
  const why = remediationFor(entry).manual?.(snapshot, finding);
  return why && `left for a person: ${why}`;
}

function remediationFor(entry: PolicyEntry) {
  const rule = ruleFor(entry);
  const id = entry.remediation ?? rule.remediations[0];
  const remediation = id === undefined ? undefined : remediationById(id);
  if (!remediation) throw new InputError(`rule ${rule.id} has no remediation ${id ?? "(none)"}`);
  return remediation;
}

function plan(
  entry: PolicyEntry,
  snapshot: Snapshot,
  finding: Finding,
  policy: Policy,
  eventDetails?: Record<string, unknown>,
  siblings?: readonly Finding[],
): PlannedChange | undefined {
  return remediationFor(entry).plan(snapshot, finding, {
    trustedSources: trustedSourcesFor(policy, entry),
    ...(eventDetails ? { eventDetails } : {}),
    ...(siblings && siblings.length > 0 ? { siblings } : {}),
  });
}

/**
 * For a remediation that plans together (one write fixes every finding it has on a resource): the other entries in
 * remediate mode, not exempt, whose findings on `snapshot` name the same remediation.
 */
function siblingsOf(
  entry: PolicyEntry,
  snapshot: Snapshot,
  ctx: ActContext,
): { entries: PolicyEntry[]; findings: Finding[] } {
  const remediation = remediationFor(entry);
  const entries: PolicyEntry[] = [];
  const findings: Finding[] = [];
  if (!remediation.planTogether) return { entries, findings };
  for (const other of evaluatePolicy(
    ctx.deps.policy,
    snapshot,
    evidenceOf(ctx.change),
    ctx.related,
    ctx.tenants,
  )) {
    if (
      other.entry === entry ||
      modeFor(other.entry, other.finding) !== "remediate" ||
      // Alerted, never remediated: not planned into another entry's write either.
      other.finding.alertOnly !== undefined ||
      ctx.covered.has(other.entry)
    )
      continue;
    if (remediationFor(other.entry).id !== remediation.id) continue;
    if (exemptionFor(ctx.deps.policy, other.entry, snapshot, ctx.now)) continue;
    entries.push(other.entry);
    findings.push(other.finding);
  }
  return { entries, findings };
}

function cover(
  ctx: ActContext,
  entries: readonly PolicyEntry[],
  result: Pick<ActionResult, "outcome" | "reason" | "planned" | "retryable">,
): void {
  for (const e of entries) ctx.covered.set(e, result);
}

/** One planned change per matched part (for dry-run, where nothing is applied between plans). */
function planEachPart(
  entry: PolicyEntry,
  snapshot: Snapshot,
  finding: Finding,
  policy: Policy,
  eventDetails?: Record<string, unknown>,
  siblings?: readonly Finding[],
): PlannedChange[] {
  const all = plan(entry, snapshot, finding, policy, eventDetails, siblings);
  if (!all || all.complete === true || finding.matched.length <= 1) return all ? [all] : [];
  const seen = new Set<string>();
  const plans: PlannedChange[] = [];
  for (const part of finding.matched) {
    const one = plan(entry, snapshot, { ...finding, matched: [part] }, policy, eventDetails);
    const key = JSON.stringify(one?.operation);
    if (one && !seen.has(key)) {
      seen.add(key);
      plans.push({ ...one, complete: false });
    }
  }
  return plans;
}

/** Reads the resource again; undefined when it is gone. */
async function reread(ctx: ActContext): Promise<Snapshot | undefined> {
  const fresh = await ctx.port.reader.read(ctx.ref, readOptions(ctx.deps));
  if (fresh) {
    ctx.snapshot = fresh;
    ctx.stale = false;
    // A concurrent edit may have pointed it at another related resource (a new route table): read what is new.
    if (ctx.related) ctx.related = await readRelated(fresh, ctx.port, ctx.deps, ctx.related);
    // A new requester may have appeared since: resolve its tenant too.
    ctx.tenants = await resolveTenants(fresh, ctx.port, ctx.deps, ctx.tenants);
  }
  return fresh;
}

/**
 * Re-reads and re-assesses; a failed read becomes a recorded `failed` action (retryable when it may pass), so what
 * was already applied for this change is still alerted rather than lost with the error.
 */
async function look(
  entry: PolicyEntry,
  finding: Finding,
  ctx: ActContext,
  outcome: ChangeOutcome,
): Promise<ReturnType<typeof reassess> | undefined> {
  const fresh = await freshRead(entry, finding, ctx, outcome);
  return fresh === false ? undefined : reassess(entry, finding.kind, fresh, ctx, finding.key);
}

/**
 * Reads the resource again; `false` when the read failed, which is recorded as a `failed` action (retryable when it
 * may pass, with `about` saying what the read was for) so what was already applied is still alerted.
 */
async function freshRead(
  entry: PolicyEntry,
  finding: Finding,
  ctx: ActContext,
  outcome: ChangeOutcome,
  about?: { planned: PlannedChange; what: string },
): Promise<Snapshot | undefined | false> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await reread(ctx);
    } catch (error) {
      // Settling a write whose answer was lost is worth a few more reads (each bounded by its request timeout and
      // the budget): the redelivered event could no longer tell the guardian's own fix from someone else's.
      const budgetLeft = !ctx.deps.deadline || ctx.deps.deadline.remainingMs() > 0;
      if (about && error instanceof TransientError && attempt < SETTLE_READS && budgetLeft) continue;
      return await readFailed(error);
    }
  }

  async function readFailed(error: unknown): Promise<false> {
    const message = error instanceof Error ? error.message : String(error);
    const retryable = error instanceof TransientError ? error : undefined;
    if (retryable) outcome.retryable = retryable;
    ctx.deps.log.error("guardian.read-failed", { resourceId: ctx.ref.resourceId, message });
    await ctx.record({
      finding,
      mode: entry.mode,
      outcome: "failed",
      reason: `${about ? `${about.what}; ` : ""}could not read the resource again: ${message}`,
      ...(about ? { planned: about.planned } : {}),
      ...(retryable ? { retryable: true } : {}),
    });
    return false;
  }
}

/** Reads made to settle a write whose outcome is unknown before giving the event back to the platform. */
const SETTLE_READS = 3;

/**
 * Whether a fresh snapshot shows a planned change in place. The writer knows its operation's after-state; without
 * that, the finding no longer matching is taken as the change applied (exact for removals such as revokes).
 */
function showsApplied(
  entry: PolicyEntry,
  kind: string | undefined,
  planned: PlannedChange,
  fresh: Snapshot | undefined,
  ctx: ActContext,
  key?: string,
): boolean {
  if (!fresh) return false;
  const known = ctx.port.writer.isApplied?.(planned, fresh);
  if (known !== undefined) return known;
  const now = reassess(entry, kind, fresh, ctx, key);
  return "why" in now && now.why === "already-compliant";
}

/**
 * Re-evaluates one policy entry on a fresh snapshot: the finding as it now stands, or why there is nothing to do
 * (gone, exempt since, fixed by someone else).
 */
function reassess(
  entry: PolicyEntry,
  kind: string | undefined,
  fresh: Snapshot | undefined,
  ctx: ActContext,
  key?: string,
): { finding: Finding } | { why: ActionResult["outcome"]; reason: string } {
  if (!fresh) return { why: "already-compliant", reason: "the resource no longer exists" };
  // A concurrent edit may have added an exemption: honour it as it is now.
  const exempt = exemptionFor(ctx.deps.policy, entry, fresh, ctx.now);
  if (exempt) return { why: "skipped-exempt", reason: `${exempt} (set concurrently)` };
  // One entry can yield several findings; only one the guardian may remediate is followed here, of the same kind (an
  // entry reports world-open sources apart from public prefixes), and a keyed finding (one connection of several on a
  // resource) by its key.
  const again = evaluatePolicy(ctx.deps.policy, fresh, evidenceOf(ctx.change), ctx.related, ctx.tenants).find(
    (e) =>
      e.entry.name === entry.name &&
      e.finding.alertOnly === undefined &&
      e.finding.kind === kind &&
      (key === undefined || e.finding.key === key),
  );
  if (!again) return { why: "already-compliant", reason: "no longer offending" };
  return { finding: again.finding };
}

/**
 * Removes every part a finding matched, one etag-guarded write at a time: on a concurrent edit (412) it re-reads,
 * re-evaluates and re-plans, never overwriting; after a write that leaves other parts, it re-reads for the next.
 */
async function remediateFinding(
  entry: PolicyEntry,
  initial: Finding,
  ctx: ActContext,
  outcome: ChangeOutcome,
): Promise<void> {
  const { deps, port, ref } = ctx;
  const mode = entry.mode;
  const attempts = (deps.maxConflictRetries ?? 3) + 1;
  let finding = initial;
  let conflicts = 0;
  let wrote = false;
  for (;;) {
    // Every write starts from a fresh read: after the guardian's own write (stale), or when all it has is the
    // resource an event carried, whose content may be forged or stale and whose etag proves nothing.
    if (ctx.stale || ctx.snapshot.origin === "event") {
      const next = await look(entry, finding, ctx, outcome);
      if (!next) return;
      if (!("finding" in next)) {
        if (!wrote) await ctx.record({ finding, mode, outcome: next.why, reason: next.reason });
        return;
      }
      finding = next.finding;
    }
    // What the event recorded describes the resource only until someone (or the guardian) changes it again.
    const hints = ctx.changedSinceEvent ? undefined : ctx.change.details;
    const siblings = siblingsOf(entry, ctx.snapshot, ctx);
    const planned = plan(entry, ctx.snapshot, finding, deps.policy, hints, siblings.findings);
    // A decision to leave the resource as it is writes nothing: no budget, no writer.
    if (planned?.decision === "held") {
      return ctx.record({ finding, mode, outcome: "held", reason: planned.summary, planned });
    }
    if (ctx.budget.left <= 0) return ctx.record(capped(finding, mode, deps.policy));
    if (!planned) {
      // After our own writes this is success, already recorded; otherwise someone else got there first, or what is
      // left is not the remediation's to change.
      const manual = manualReason(entry, ctx.snapshot, finding);
      if (manual) await ctx.record({ finding, mode, outcome: "skipped-mode", reason: manual });
      else if (!wrote)
        await ctx.record({ finding, mode, outcome: "already-compliant", reason: "no longer offending" });
      return;
    }
    try {
      await port.writer.apply(planned, ctx.snapshot, writeOptions(deps));
    } catch (error) {
      const unknown = error instanceof OutcomeUnknownError;
      if (error instanceof ConflictError || unknown) {
        conflicts++;
        ctx.changedSinceEvent = true;
        deps.log.warn(unknown ? "guardian.outcome-unknown" : "guardian.conflict", {
          resourceId: ref.resourceId,
          attempt: conflicts,
          message: error.message,
        });
        // Settle by reading, never by guessing: the write may have landed (unknown) or lost to another edit.
        const what = unknown
          ? `the answer to the write was lost (${error.message})`
          : `the write met a concurrent edit (${error.message})`;
        const fresh = await freshRead(entry, finding, ctx, outcome, { planned, what });
        if (fresh === false) return;
        const next = reassess(entry, finding.kind, fresh, ctx, finding.key);
        if (unknown && showsApplied(entry, finding.kind, planned, fresh, ctx, finding.key)) {
          await applied(planned, siblings.entries, "confirmed by reading after the write's answer was lost");
          if (planned.complete === true || !("finding" in next)) return;
          finding = next.finding;
          continue;
        }
        if (!("finding" in next)) {
          if (wrote) return;
          const reason =
            next.why !== "already-compliant"
              ? next.reason
              : unknown
                ? "another change removed the exposure (the guardian's write, whose answer was lost, is not what the resource shows)"
                : "a concurrent edit already removed the exposure";
          return ctx.record({ finding, mode, outcome: next.why, reason });
        }
        finding = next.finding;
        if (conflicts >= attempts) {
          // Still open: the event is retried (and dead-lettered if it never settles), not acknowledged.
          const retry = new TransientError(
            unknown
              ? `the outcome of ${attempts} writes to ${ref.resourceId} stayed unknown and the exposure is still open`
              : `${ref.resourceId} kept changing concurrently (${attempts} attempts)`,
            { cause: error },
          );
          outcome.retryable = retry;
          return ctx.record({
            finding,
            mode,
            outcome: unknown ? "failed" : "conflict",
            reason: unknown
              ? `${retry.message}; the event will be retried`
              : `the resource kept changing concurrently (${attempts} attempts); left as the last editor set it, the event will be retried`,
            planned,
            retryable: true,
          });
        }
        continue;
      }
      const message = error instanceof Error ? error.message : String(error);
      const retryable = error instanceof TransientError ? error : undefined;
      deps.log.error("guardian.write-failed", {
        resourceId: ref.resourceId,
        message,
        retryable: Boolean(retryable),
      });
      if (retryable) outcome.retryable = retryable;
      // The findings planned into this write failed with it: none is tried again as a write of its own.
      cover(ctx, siblings.entries, {
        outcome: "failed",
        reason: `the write planned with policy entry ${entry.name} failed: ${message}`,
        planned,
        ...(retryable ? { retryable: true } : {}),
      });
      return ctx.record({
        finding,
        mode,
        outcome: "failed",
        reason: message,
        planned,
        ...(retryable ? { retryable: true } : {}),
      });
    }
    await applied(planned, siblings.entries);
    if (planned.complete === true) return;
    // Other parts of the finding may remain (another offending rule): look again before the next write.
    const next = await look(entry, finding, ctx, outcome);
    if (!next || !("finding" in next)) return;
    finding = next.finding;
  }

  /**
   * Records a write that took effect, and the other entries' findings it fixed with it (planned together); `how` says
   * how it is known when its answer was lost.
   */
  async function applied(
    planned: PlannedChange,
    together: readonly PolicyEntry[],
    how?: string,
  ): Promise<void> {
    ctx.budget.left--;
    ctx.stale = how === undefined;
    ctx.changedSinceEvent = true;
    wrote = true;
    await ctx.record({
      finding,
      mode,
      outcome: planned.decision ?? "applied",
      reason: `policy entry ${entry.name} is in remediate mode (${planned.remediation})${how ? `; ${how}` : ""}`,
      planned,
    });
    cover(ctx, together, {
      outcome: "applied",
      reason: `fixed by the same write as policy entry ${entry.name} (${planned.remediation})`,
      planned,
    });
  }
}

function auditRecord(change: ResourceChange, result: ActionResult, now: Date): AuditRecord {
  return {
    kind: "guardian.decision",
    time: now.toISOString(),
    cloud: change.cloud,
    resourceId: result.finding.resourceId,
    eventId: change.eventId,
    correlationId: change.correlationId,
    actor: change.actor,
    policyRule: result.finding.policyRule,
    ruleId: result.finding.ruleId,
    severity: result.finding.severity,
    mode: result.mode,
    outcome: result.outcome,
    reason: result.reason,
    matched: result.finding.matched,
    remediation: result.planned?.remediation,
    summary: result.planned?.summary,
    before: result.planned?.before,
    after: result.planned?.after,
  };
}

/** The alert step: the decisions are already audited; hand them to the outbox. Never throws. */
async function deliver(alert: Alert, deps: GuardianDeps): Promise<ChangeOutcome["deliveries"]> {
  let deliveries: ChangeOutcome["deliveries"];
  try {
    deliveries = await deps.outbox.enqueue(alert);
  } catch (error) {
    deliveries = [
      { channel: "outbox", ok: false, error: error instanceof Error ? error.message : String(error) },
    ];
  }
  for (const d of deliveries.filter((x) => !x.ok)) {
    // The remediation already happened, so a retry of the event would find nothing to alert about:
    // the undelivered alert is kept whole in the dead-letter log instead of being lost.
    deps.log.error("guardian.deadletter", { what: "alert", channel: d.channel, error: d.error, alert });
  }
  return deliveries;
}

function resourceKey(change: ResourceChange): string {
  return `${change.cloud}|${change.resourceId.toLowerCase()}`;
}

function groupByResource(changes: readonly ResourceChange[]): ResourceChange[][] {
  const groups = new Map<string, ResourceChange[]>();
  for (const change of changes) {
    const key = resourceKey(change);
    const group = groups.get(key) ?? [];
    group.push(change);
    groups.set(key, group);
  }
  // Date.parse, not string order: event times differ in fractional-second precision.
  return [...groups.values()].map((g) => [...g].sort((a, b) => Date.parse(a.time) - Date.parse(b.time)));
}
