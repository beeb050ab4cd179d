// The periodic sweep of Private Link across one subscription. A connection request is not guaranteed to raise an
// event in the provider's subscription (the requester's endpoint lives in theirs), so a timer lists every resource
// that can have private endpoint connections (each registered kind with them, through its own list call), our
// private endpoints and our Private Link Services, and runs each through the same pipeline as an event would:
// pending requests approved, rejected or held, approved connections re-evaluated, endpoints and service lists
// checked. Duplicates with the event path decide once: a decided request is no longer Pending when re-read, and a
// held one is claimed in the decision store.

import { InputError } from "../errors.ts";
import { type ChangeOutcome, type GuardianDeps, handleChanges } from "../pipeline.ts";
import { connectionsOf } from "../rules/private-link/connections.ts";
import {
  CONNECTION_TARGET_TYPES,
  PRIVATE_ENDPOINT_TYPE,
  PRIVATE_LINK_SERVICE_TYPE,
} from "../rules/private-link/types.ts";
import type { ResourceChange, Snapshot } from "../types.ts";

export interface SweepScope {
  subscriptionId: string;
  /** For the audit trail and logs: the timer's invocation id. */
  runId: string;
  time: string;
}

export interface SweepResult {
  listed: Record<string, number>;
  swept: number;
  outcomes: ChangeOutcome[];
  retryable: boolean;
  unprocessable: string[];
}

/** The types the sweep lists: connection targets, our endpoints, our Private Link Services (once each). */
export const SWEPT_TYPES: readonly string[] = [
  ...new Set([...CONNECTION_TARGET_TYPES, PRIVATE_ENDPOINT_TYPE, PRIVATE_LINK_SERVICE_TYPE]),
];

/** Worth a pipeline run: an endpoint or service always; a target only when it has a connection to decide. */
function worthSweeping(snapshot: Snapshot): boolean {
  if (
    snapshot.resourceType === PRIVATE_ENDPOINT_TYPE ||
    snapshot.resourceType === PRIVATE_LINK_SERVICE_TYPE
  ) {
    return true;
  }
  return connectionsOf(snapshot).some((c) => /^(pending|approved)$/i.test(c.status));
}

export async function sweepPrivateEndpoints(scope: SweepScope, deps: GuardianDeps): Promise<SweepResult> {
  const reader = deps.clouds.azure?.reader;
  if (!reader?.list) throw new InputError("no Azure adapter that lists resources is configured");
  const listed: Record<string, number> = {};
  const changes: ResourceChange[] = [];
  for (const resourceType of SWEPT_TYPES) {
    const snapshots = await reader.list(
      { cloud: "azure", resourceType, account: scope.subscriptionId },
      deps.deadline ? { signal: deps.deadline.signal() } : {},
    );
    listed[resourceType] = snapshots.length;
    for (const snapshot of snapshots.filter(worthSweeping)) {
      changes.push({
        cloud: "azure",
        account: scope.subscriptionId,
        ...(snapshot.region ? { region: snapshot.region } : {}),
        resourceId: snapshot.resourceId,
        resourceType,
        operation: "write",
        operationName: "scheduled private endpoint sweep",
        actor: {},
        eventId: `${scope.runId}/${snapshot.resourceId}`,
        correlationId: scope.runId,
        time: scope.time,
        // Listed moments ago: it saves a read when nothing needs deciding; any write re-reads first.
        resource: snapshot.resource,
      });
    }
  }
  deps.log.info("guardian.sweep", {
    runId: scope.runId,
    subscriptionId: scope.subscriptionId,
    listed,
    swept: changes.length,
  });
  const outcomes = await handleChanges(changes, deps);
  await pruneDecisions(scope, deps);
  return {
    listed,
    swept: changes.length,
    outcomes,
    retryable: outcomes.some((o) => o.retryable !== undefined),
    unprocessable: outcomes
      .filter((o) => o.status === "failed" && o.retryable === undefined)
      .map((o) => o.error ?? "failed"),
  };
}

/**
 * Expired decision records go with the sweep (Storage tables keep rows until deleted), a bounded number per run. A
 * failure costs only table space: it is logged, and the next sweep tries again.
 */
async function pruneDecisions(scope: SweepScope, deps: GuardianDeps): Promise<void> {
  if (!deps.decisions?.prune) return;
  try {
    const pruned = await deps.decisions.prune();
    if (pruned > 0) deps.log.info("guardian.decisions-pruned", { runId: scope.runId, pruned });
  } catch (error) {
    deps.log.warn("guardian.decisions-prune-failed", {
      runId: scope.runId,
      message: error instanceof Error ? error.message : String(error),
    });
  }
}
