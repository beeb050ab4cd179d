import { PRIVATE_ENDPOINT_TYPE } from "../rules/private-link/types.ts";
import type { Finding, PlannedChange, Snapshot } from "../types.ts";
import { matchedOf, type Remediation, type RemediationContext } from "./types.ts";

/**
 * Deletes one of our private endpoints that connects to a target nobody allowed (opt-in: the default is to alert).
 * Only for the unknown-target finding; an endpoint that is merely pending is never removed.
 */
export const removePrivateEndpoint: Remediation = {
  id: "remove-private-endpoint",
  description: "Delete a private endpoint that connects to a target outside the allow-list",
  resourceTypes: [PRIVATE_ENDPOINT_TYPE],
  permissions: ["Microsoft.Network/privateEndpoints/delete"],
  plan(snapshot: Snapshot, finding: Finding, _context: RemediationContext): PlannedChange | undefined {
    const parts = matchedOf(finding).filter(
      (m): m is Record<string, unknown> =>
        typeof m === "object" && m !== null && (m as { problem?: unknown }).problem === "unknown-target",
    );
    if (parts.length === 0) return undefined;
    return {
      remediation: "remove-private-endpoint",
      resourceId: snapshot.resourceId,
      summary: `delete private endpoint ${snapshot.resourceId} (connects to ${parts.map((p) => String(p.target)).join(", ")})`,
      operation: { kind: "delete-private-endpoint", endpointId: snapshot.resourceId },
      before: snapshot.resource,
      after: null,
      complete: true,
    };
  },
};
