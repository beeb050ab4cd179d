import { AWS_VPC_ENDPOINT_SERVICE_TYPE } from "../clouds/aws/kinds/vpc-endpoint-service.ts";
import { endpointServiceOf } from "../rules/vpce/resources.ts";
import { undoRequireAcceptance } from "../rules/vpce/undo.ts";
import type { Finding, PlannedChange, Snapshot } from "../types.ts";
import type { Remediation, RemediationContext } from "./types.ts";

/**
 * Turns "acceptance required" back on for an endpoint service (ModifyVpcEndpointServiceConfiguration with
 * AcceptanceRequired=true and nothing else): its load balancers, DNS name and regions stay as they are.
 */
export const requireAcceptance: Remediation = {
  id: "require-acceptance",
  description: "Set an endpoint service's AcceptanceRequired back to true, changing nothing else",
  resourceTypes: [AWS_VPC_ENDPOINT_SERVICE_TYPE],
  permissions: ["ec2:ModifyVpcEndpointServiceConfiguration"],
  plan(snapshot: Snapshot, _finding: Finding, _context: RemediationContext): PlannedChange | undefined {
    const config = endpointServiceOf(snapshot).ServiceConfiguration;
    // Planned from the snapshot, not the finding: someone may have turned it back on already.
    if (config.AcceptanceRequired !== false) return undefined;
    return {
      remediation: "require-acceptance",
      complete: true,
      resourceId: snapshot.resourceId,
      summary: `require acceptance of connection requests on endpoint service ${config.ServiceId}`,
      operation: {
        kind: "modify-vpc-endpoint-service-configuration",
        serviceId: config.ServiceId,
        acceptanceRequired: true,
      },
      before: { AcceptanceRequired: false },
      after: { AcceptanceRequired: true },
    };
  },
  undo: undoRequireAcceptance,
};
