import { AWS_VPC_ENDPOINT_SERVICE_TYPE } from "../clouds/aws/kinds/vpc-endpoint-service.ts";
import { endpointServiceOf } from "../rules/vpce/resources.ts";
import { undoRemovePrincipals } from "../rules/vpce/undo.ts";
import type { Finding, PlannedChange, Snapshot } from "../types.ts";
import type { Remediation, RemediationContext } from "./types.ts";

/**
 * Removes exactly the offending principals from an endpoint service's permissions (ModifyVpcEndpointServicePermissions
 * RemoveAllowedPrincipals): those the finding named that the fresh snapshot still lists. Allowed principals stay.
 */
export const removePrincipals: Remediation = {
  id: "remove-principals",
  description:
    "Remove the offending principals (and only them) from an endpoint service's allowed principals",
  resourceTypes: [AWS_VPC_ENDPOINT_SERVICE_TYPE],
  permissions: ["ec2:ModifyVpcEndpointServicePermissions"],
  plan(snapshot: Snapshot, finding: Finding, _context: RemediationContext): PlannedChange | undefined {
    const service = endpointServiceOf(snapshot);
    const listed = (service.AllowedPrincipals ?? []).map((p) => p.Principal);
    const offending = new Set(
      finding.matched.flatMap((m) => (typeof m.principal === "string" ? [m.principal] : [])),
    );
    const remove = listed.filter((p) => offending.has(p));
    if (remove.length === 0) return undefined;
    const serviceId = service.ServiceConfiguration.ServiceId;
    return {
      remediation: "remove-principals",
      complete: true,
      resourceId: snapshot.resourceId,
      summary: `remove ${remove.join(", ")} from the allowed principals of endpoint service ${serviceId}`,
      operation: {
        kind: "modify-vpc-endpoint-service-permissions",
        serviceId,
        removeAllowedPrincipals: remove,
      },
      before: { AllowedPrincipals: listed },
      after: { AllowedPrincipals: listed.filter((p) => !offending.has(p)) },
    };
  },
  undo: undoRemovePrincipals,
};
