import { InputError } from "../errors.ts";
import { connectionsOf } from "../rules/private-link/connections.ts";
import { CONNECTION_TARGET_TYPES } from "../rules/private-link/types.ts";
import type { Finding, PlannedChange, Snapshot } from "../types.ts";
import { matchedOf, type Remediation, type RemediationContext } from "./types.ts";

/** Descriptions are shown to the requester; providers cap their length (Network: 140 characters). */
const MAX_DESCRIPTION = 140;

function clip(text: string): string {
  return text.length <= MAX_DESCRIPTION ? text : `${text.slice(0, MAX_DESCRIPTION - 1)}…`;
}

/**
 * Carries out the decision the private-endpoint-connections rule made about one connection: a PUT of its
 * `privateLinkServiceConnectionState` with status Approved or Rejected and a description saying the guardian
 * decided and why (the requester sees it), or a hold (no call: it stays as it is and the alert says so). Planned from
 * the snapshot: a connection no longer in the state the decision was made for needs nothing (idempotent).
 */
export const decidePrivateEndpointConnection: Remediation = {
  id: "decide-private-endpoint-connection",
  description: "Approve, reject or hold a private endpoint connection as the policy decides",
  resourceTypes: CONNECTION_TARGET_TYPES,
  permissions: [
    "Microsoft.Storage/storageAccounts/privateEndpointConnections/write",
    "Microsoft.Storage/storageAccounts/privateEndpointConnectionsApproval/action",
    "Microsoft.KeyVault/vaults/privateEndpointConnections/write",
    "Microsoft.KeyVault/vaults/privateEndpointConnectionsApproval/action",
    "Microsoft.Sql/servers/privateEndpointConnections/write",
    "Microsoft.DocumentDB/databaseAccounts/privateEndpointConnections/write",
    "Microsoft.Network/privateLinkServices/privateEndpointConnections/write",
  ],
  plan(snapshot: Snapshot, finding: Finding, _context: RemediationContext): PlannedChange | undefined {
    const [raw] = matchedOf(finding);
    const m = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
    const { connection, decision, status, why } = m;
    if (typeof connection !== "string" || typeof status !== "string") {
      throw new InputError("decide-private-endpoint-connection: the finding names no connection", {
        path: "finding.matched[0].connection",
      });
    }
    if (decision !== "approve" && decision !== "reject" && decision !== "hold") {
      throw new InputError(`decide-private-endpoint-connection: unknown decision ${String(decision)}`);
    }
    const c = connectionsOf(snapshot).find((x) => x.id.toLowerCase() === connection.toLowerCase());
    // Gone, or decided since (by a person, by another delivery): the decision no longer applies.
    if (!c || c.status.toLowerCase() !== status.toLowerCase()) return undefined;
    const from = c.subscriptionId ? ` from subscription ${c.subscriptionId}` : "";
    const base = {
      remediation: "decide-private-endpoint-connection",
      resourceId: snapshot.resourceId,
      complete: true,
      before: { connection: c.id, status: c.status, description: c.description },
    };
    if (decision === "hold") {
      return {
        ...base,
        decision: "held",
        summary: `${c.status === "Approved" ? "connection" : "request"} ${c.name}${from} left ${c.status}: ${String(why ?? "not allow-listed")}`,
        operation: { kind: "hold", connectionId: c.id },
        after: { connection: c.id, status: c.status },
      };
    }
    const target = decision === "approve" ? "Approved" : "Rejected";
    const description = clip(`${target} by network-guardian: ${String(why ?? "policy")}`);
    return {
      ...base,
      decision: decision === "approve" ? "approved" : "rejected",
      summary: `${decision} ${c.status.toLowerCase()} connection ${c.name}${from} (${c.privateEndpointId ?? "endpoint unknown"})`,
      operation: {
        kind: "put-private-endpoint-connection",
        connectionId: c.id,
        status: target,
        description,
        // What the writer checks on its fresh read of the connection, so it never overrides a newer decision.
        expected: { status: c.status, privateEndpointId: c.privateEndpointId ?? null },
      },
      after: { connection: c.id, status: target, description },
    };
  },
};
