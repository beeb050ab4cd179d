import type { AuditSink } from "./audit/index.ts";
import type { ResourceReader, ResourceRef, ResourceWriter } from "./clouds/ports.ts";
import { ConflictError, InputError, TransientError } from "./errors.ts";
import type { Logger } from "./log.ts";
import { sendAll } from "./notify/index.ts";
import type { Alert, Notifier } from "./notify/types.ts";
import {
  type EvaluatedFinding,
  evaluatePolicy,
  exemptionFor,
  ruleFor,
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
} from "./types.ts";

/** What the pipeline needs from one cloud, implemented in shared/clouds/<cloud> with the real SDK. */
export interface CloudPort {
  reader: ResourceReader;
  writer: ResourceWriter;
  /** A snapshot from the resource an event carried (Resource Notifications); undefined if it carried none. */
  snapshotFromEvent(change: ResourceChange): Snapshot | undefined;
  consoleUrl(ref: ResourceRef): string;
  /** Cloud-specific recognition of the guardian's own changes (an assumed-role session of its role). */
  isOwnChange?(actor: Actor): boolean;
}

export interface GuardianDeps {
  policy: Policy;
  clouds: Partial<Record<Cloud, CloudPort>>;
  notifiers: readonly Notifier[];
  audit: AuditSink;
  /** The guardian's own identities (object ids, app ids, role ARNs): changes they made are not acted on again. */
  selfIdentities: readonly string[];
  /** Forces dry-run whatever the policy says (environment switch); the policy's own switch also applies. */
  dryRun: boolean;
  log: Logger;
  now?: () => Date;
  /** How many times a write that hit a concurrent edit is re-read, re-evaluated and re-planned. */
  maxConflictRetries?: number;
}

export type ChangeStatus = "evaluated" | "skipped-self" | "resource-deleted" | "resource-gone";

export interface ChangeOutcome {
  change: ResourceChange;
  status: ChangeStatus;
  findings: Finding[];
  actions: ActionResult[];
  deliveries: { channel: string; ok: boolean; error?: string }[];
  /** Set when something may pass on retry (a throttled write): the trigger should be retried. */
  retryable?: TransientError;
}

/**
 * The one path every change takes: read → evaluate → decide → act → audit → alert.
 * Changes about the same resource in one batch are handled once (the latest change attributes it).
 */
export async function handleChanges(
  changes: readonly ResourceChange[],
  deps: GuardianDeps,
): Promise<ChangeOutcome[]> {
  const outcomes: ChangeOutcome[] = [];
  for (const group of groupByResource(changes)) {
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
    outcomes.push(await handleChange(change, deps));
  }
  return outcomes;
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

export async function handleChange(change: ResourceChange, deps: GuardianDeps): Promise<ChangeOutcome> {
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

  let snapshot = port.snapshotFromEvent(change) ?? (await port.reader.read(ref));
  if (!snapshot) {
    deps.log.info("guardian.skip", { ...base, reason: "resource no longer exists" });
    return { ...outcome, status: "resource-gone" };
  }

  const now = deps.now?.() ?? new Date();
  const dryRun = deps.dryRun || deps.policy.dryRun;
  let writesLeft = deps.policy.maxWritesPerEvent;
  let stale = false;
  const before = snapshot;
  for (const evaluated of evaluatePolicy(deps.policy, snapshot)) {
    const { entry, finding } = evaluated;
    outcome.findings.push(finding);
    const exempt = exemptionFor(deps.policy, entry, before, now);
    let result: ActionResult;
    if (exempt) {
      result = { finding, mode: entry.mode, outcome: "skipped-exempt", reason: exempt };
    } else if (entry.mode !== "remediate") {
      result = {
        finding,
        mode: entry.mode,
        outcome: "skipped-mode",
        reason: `mode ${entry.mode}: not remediated`,
      };
    } else if (dryRun) {
      const planned = plan(entry, snapshot, finding, deps.policy);
      result = planned
        ? { finding, mode: entry.mode, outcome: "dry-run", reason: "dry-run: nothing was changed", planned }
        : { finding, mode: entry.mode, outcome: "already-compliant", reason: "nothing left to change" };
    } else if (writesLeft <= 0) {
      result = {
        finding,
        mode: entry.mode,
        outcome: "skipped-cap",
        reason: `blast-radius cap: at most ${deps.policy.maxWritesPerEvent} writes per event`,
      };
    } else {
      if (stale) snapshot = (await port.reader.read(ref)) ?? snapshot;
      const remediated = await remediate(entry, evaluated, snapshot, port, ref, deps);
      result = remediated.result;
      if (remediated.snapshot) snapshot = remediated.snapshot;
      if (result.outcome === "applied") {
        writesLeft--;
        stale = true;
      }
      if (remediated.retryable) outcome.retryable = remediated.retryable;
    }
    outcome.actions.push(result);
    await deps.audit.record(auditRecord(change, result));
  }

  // Exempt and report-only findings are recorded, not announced; so is an exposure someone else already closed
  // (a concurrent edit, or a parallel invocation of the guardian in an event storm), which would only be noise.
  const quiet = new Set<ActionResult["outcome"]>(["skipped-exempt", "already-compliant"]);
  const alerted = outcome.actions.filter((a) => a.mode !== "report" && !quiet.has(a.outcome));
  if (alerted.length > 0) {
    const alert: Alert = {
      cloud: change.cloud,
      account: change.account,
      resourceId: snapshot.resourceId,
      resourceType: change.resourceType,
      operationName: change.operationName,
      actor: change.actor,
      eventId: change.eventId,
      correlationId: change.correlationId,
      time: change.time,
      results: alerted,
      // A group named in the event resolves to its id on read: link the resolved resource.
      consoleUrl: port.consoleUrl({
        ...ref,
        resourceId: snapshot.resourceId,
        region: snapshot.region ?? ref.region,
      }),
      dryRun,
    };
    outcome.deliveries = await deliver(alert, deps);
  }
  return outcome;
}

function plan(
  entry: PolicyEntry,
  snapshot: Snapshot,
  finding: Finding,
  policy: Policy,
): PlannedChange | undefined {
  const rule = ruleFor(entry);
  const id = entry.remediation ?? rule.remediations[0];
  const remediation = id === undefined ? undefined : remediationById(id);
  if (!remediation) throw new InputError(`rule ${rule.id} has no remediation ${id ?? "(none)"}`);
  return remediation.plan(snapshot, finding, { trustedSources: trustedSourcesFor(policy, entry) });
}

/** Plan, write with the concurrency token; on a concurrent edit re-read, re-evaluate and re-plan, never overwrite. */
async function remediate(
  entry: PolicyEntry,
  evaluated: EvaluatedFinding,
  initial: Snapshot,
  port: CloudPort,
  ref: ResourceRef,
  deps: GuardianDeps,
): Promise<{ result: ActionResult; snapshot?: Snapshot; retryable?: TransientError }> {
  const attempts = (deps.maxConflictRetries ?? 3) + 1;
  let snapshot = initial;
  let finding = evaluated.finding;
  const mode = entry.mode;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let planned = plan(entry, snapshot, finding, deps.policy);
    if (planned && snapshot.cloud === "azure" && planned.operation.ifMatch === undefined) {
      // The event carried the resource without a concurrency token: read it so the write can be guarded.
      const fresh = await port.reader.read(ref);
      if (!fresh)
        return {
          result: { finding, mode, outcome: "already-compliant", reason: "resource no longer exists" },
        };
      snapshot = fresh;
      planned = plan(entry, snapshot, finding, deps.policy);
    }
    if (!planned) {
      return {
        result: { finding, mode, outcome: "already-compliant", reason: "no longer offending" },
        snapshot,
      };
    }
    try {
      await port.writer.apply(planned, snapshot);
      return {
        result: {
          finding,
          mode,
          outcome: "applied",
          reason: `policy entry ${entry.name} is in remediate mode (${planned.remediation})`,
          planned,
        },
        snapshot,
      };
    } catch (error) {
      if (error instanceof ConflictError) {
        deps.log.warn("guardian.conflict", { resourceId: ref.resourceId, attempt, message: error.message });
        const fresh = await port.reader.read(ref);
        if (!fresh)
          return {
            result: { finding, mode, outcome: "already-compliant", reason: "resource deleted meanwhile" },
          };
        snapshot = fresh;
        const again = evaluatePolicy(deps.policy, snapshot).find((e) => e.entry.name === entry.name);
        if (!again) {
          return {
            result: {
              finding,
              mode,
              outcome: "already-compliant",
              reason: "a concurrent edit already removed the exposure",
            },
            snapshot,
          };
        }
        finding = again.finding;
        continue;
      }
      const message = error instanceof Error ? error.message : String(error);
      const retryable = error instanceof TransientError ? error : undefined;
      deps.log.error("guardian.write-failed", {
        resourceId: ref.resourceId,
        message,
        retryable: Boolean(retryable),
      });
      return { result: { finding, mode, outcome: "failed", reason: message, planned }, snapshot, retryable };
    }
  }
  return {
    result: {
      finding,
      mode,
      outcome: "conflict",
      reason: `the resource kept changing concurrently (${attempts} attempts); left as the last editor set it`,
    },
    snapshot,
  };
}

function auditRecord(change: ResourceChange, result: ActionResult): AuditRecord {
  return {
    kind: "guardian.decision",
    time: new Date().toISOString(),
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
    before: result.planned?.before,
    after: result.planned?.after,
  };
}

async function deliver(alert: Alert, deps: GuardianDeps): Promise<ChangeOutcome["deliveries"]> {
  const deliveries = await sendAll(deps.notifiers, alert);
  for (const d of deliveries.filter((x) => !x.ok)) {
    // The remediation already happened, so a retry of the event would find nothing to alert about:
    // the undelivered alert is kept whole in the dead-letter log instead of being lost.
    deps.log.error("guardian.deadletter", { what: "alert", channel: d.channel, error: d.error, alert });
  }
  return deliveries;
}

function groupByResource(changes: readonly ResourceChange[]): ResourceChange[][] {
  const groups = new Map<string, ResourceChange[]>();
  for (const change of changes) {
    const key = `${change.cloud}|${change.resourceId.toLowerCase()}`;
    const group = groups.get(key) ?? [];
    group.push(change);
    groups.set(key, group);
  }
  return [...groups.values()].map((g) => [...g].sort((a, b) => a.time.localeCompare(b.time)));
}
