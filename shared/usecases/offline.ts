import { memoryAuditSink } from "../audit/index.ts";
import { azureSnapshot } from "../clouds/azure/snapshot.ts";
import { InputError } from "../errors.ts";
import { normalise } from "../events/index.ts";
import { memoryLogger } from "../log.ts";
import { type CloudPort, handleChange } from "../pipeline.ts";
import { evaluatePolicy } from "../policy/evaluate.ts";
import type { Policy } from "../policy/schema.ts";
import type { ActionResult, Finding, ResourceChange, SkippedEvent, Snapshot } from "../types.ts";

export interface FindingView {
  resourceId: string;
  ruleId: string;
  policyRule: string;
  severity: string;
  message: string;
  controls: string[];
  matched: unknown[];
}

export function findingView(f: Finding): FindingView {
  return {
    resourceId: f.resourceId,
    ruleId: f.ruleId,
    policyRule: f.policyRule,
    severity: f.severity,
    message: f.message,
    controls: f.controls,
    matched: f.matched,
  };
}

/** `guardian evaluate`: pure evaluation of snapshots, no cloud call. */
export function evaluateSnapshots(
  policy: Policy,
  snapshots: readonly Snapshot[],
): { findings: FindingView[] } {
  return { findings: snapshots.flatMap((s) => evaluatePolicy(policy, s).map((e) => findingView(e.finding))) };
}

export type ChangeView =
  | {
      cloud: string;
      resourceId: string;
      resourceType: string;
      operation: string;
      operationName: string;
      actor: ResourceChange["actor"];
      eventId: string;
      correlationId?: string;
      subjectId?: string;
    }
  | { skipped: SkippedEvent["reason"]; detail: string; eventId?: string; eventType?: string };

export interface ActionView {
  resourceId: string;
  policyRule: string;
  mode: string;
  /** What the guardian would do: the planned change for a remediation, else the reason it would not act. */
  wouldDo: string;
  outcome: ActionResult["outcome"];
  planned?: unknown;
}

/**
 * `guardian explain`: what the guardian would do with a captured event, offline. The event's own resource, or one
 * supplied by the caller, stands in for the read; the pipeline runs in dry-run with no writer and no alert channel.
 */
export async function explainEvent(
  policy: Policy,
  event: unknown,
  resources: readonly Snapshot[],
  selfIdentities: readonly string[] = [],
): Promise<{ changes: ChangeView[]; findings: FindingView[]; actions: ActionView[] }> {
  const { changes, skipped } = await normalise(event);
  const views: ChangeView[] = [
    ...changes.map((c) => ({
      cloud: c.cloud,
      resourceId: c.resourceId,
      resourceType: c.resourceType,
      operation: c.operation,
      operationName: c.operationName,
      actor: c.actor,
      eventId: c.eventId,
      correlationId: c.correlationId,
      subjectId: c.subjectId,
    })),
    ...skipped.map((s) => ({
      skipped: s.reason,
      detail: s.detail,
      eventId: s.eventId,
      eventType: s.eventType,
    })),
  ];
  const findings: FindingView[] = [];
  const actions: ActionView[] = [];
  for (const change of changes) {
    const supplied = resources.find((r) => r.resourceId.toLowerCase() === change.resourceId.toLowerCase());
    if (change.resource === undefined && !supplied) continue;
    const port = offlinePort(supplied);
    const outcome = await handleChange(change, {
      policy,
      clouds: { [change.cloud]: port },
      notifiers: [],
      audit: memoryAuditSink(),
      selfIdentities,
      dryRun: true,
      log: memoryLogger(),
    });
    findings.push(...outcome.findings.map(findingView));
    actions.push(
      ...outcome.actions.map((a) => ({
        resourceId: a.finding.resourceId,
        policyRule: a.finding.policyRule,
        mode: a.mode,
        outcome: a.outcome,
        wouldDo: a.planned ? a.planned.summary : a.reason,
        planned: a.planned?.operation,
      })),
    );
  }
  return { changes: views, findings, actions };
}

function offlinePort(supplied: Snapshot | undefined): CloudPort {
  return {
    reader: { read: async () => supplied },
    writer: {
      apply: async () => {
        throw new InputError("explain never writes");
      },
    },
    snapshotFromEvent: (change) => {
      if (change.resource === undefined) return undefined;
      return (
        supplied ??
        (change.cloud === "azure" ? azureSnapshot(change.resource, change.resourceType) : undefined)
      );
    },
    consoleUrl: () => "",
  };
}
