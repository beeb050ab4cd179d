import { AWS_VPC_ENDPOINT_CONNECTION_TYPE } from "../clouds/aws/kinds/vpc-endpoint-connection.ts";
import { InputError } from "../errors.ts";
import { canonicalState, endpointConnectionOf } from "../rules/vpce/resources.ts";
import { undoDecideConnection } from "../rules/vpce/undo.ts";
import type { Finding, PlannedChange, Snapshot } from "../types.ts";
import type { Remediation, RemediationContext } from "./types.ts";

/**
 * Carries out the decision the vpce-connections rule made about one connection: accept it
 * (AcceptVpcEndpointConnections), reject it (RejectVpcEndpointConnections), or hold it (no call: it stays as it is
 * and the alert says so). Planned from the snapshot: a connection no longer in the state the decision was made for
 * needs nothing.
 */
export const decideConnection: Remediation = {
  id: "decide-connection",
  description: "Accept, reject or hold an endpoint service connection request as the policy decides",
  resourceTypes: [AWS_VPC_ENDPOINT_CONNECTION_TYPE],
  permissions: ["ec2:AcceptVpcEndpointConnections", "ec2:RejectVpcEndpointConnections"],
  plan(snapshot: Snapshot, finding: Finding, _context: RemediationContext): PlannedChange | undefined {
    const c = endpointConnectionOf(snapshot);
    const match = finding.matched.find((m) => m.vpcEndpointId === c.VpcEndpointId);
    if (match === undefined) return undefined;
    const decision = match.decision;
    if (decision !== "accept" && decision !== "reject" && decision !== "hold") {
      throw new InputError(`decide-connection: unknown decision ${String(decision)} for ${c.VpcEndpointId}`);
    }
    const state = canonicalState(c.VpcEndpointState);
    // The decision was for the state the rule saw; in any other state it no longer applies.
    if (state !== match.state) return undefined;
    const owner = c.VpcEndpointOwner ?? "unknown";
    const base = { resourceId: snapshot.resourceId, complete: true, before: { VpcEndpointState: state } };
    if (decision === "hold") {
      return {
        ...base,
        remediation: "decide-connection",
        decision: "held",
        summary:
          state === "pendingAcceptance"
            ? `request ${c.VpcEndpointId} from account ${owner} left pending: the account is not allow-listed`
            : `connection ${c.VpcEndpointId} from account ${owner} left available: the account is not allow-listed`,
        operation: { kind: "hold", serviceId: c.ServiceId, vpcEndpointId: c.VpcEndpointId },
        after: { VpcEndpointState: state },
      };
    }
    const accept = decision === "accept";
    return {
      ...base,
      remediation: "decide-connection",
      decision: accept ? "approved" : "rejected",
      summary: `${accept ? "accept" : "reject"} ${state === "available" ? "connection" : "request"} ${c.VpcEndpointId} from account ${owner} to ${c.ServiceId}`,
      operation: {
        kind: accept ? "accept-vpc-endpoint-connections" : "reject-vpc-endpoint-connections",
        serviceId: c.ServiceId,
        vpcEndpointIds: [c.VpcEndpointId],
        // What the writer checks on a fresh read before a reject, so it never overrides a newer decision.
        expected: { [c.VpcEndpointId]: { owner, state } },
      },
      after: { VpcEndpointState: accept ? "available" : "rejected" },
    };
  },
  undo: undoDecideConnection,
};
