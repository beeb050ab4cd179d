import * as z from "zod";
import { AWS_VPC_ENDPOINT_CONNECTION_TYPE } from "../clouds/aws/kinds/vpc-endpoint-connection.ts";
import type { Snapshot } from "../types.ts";
import type { RuleContext, RuleDefinition, Violation } from "./types.ts";
import { allowedPrincipalsOption, compileAllowList, ownerAllowed } from "./vpce/principals.ts";
import { canonicalState, connectionResourceId, endpointConnectionOf } from "./vpce/resources.ts";

export const vpceConnectionsOptions = z.strictObject({
  allowedPrincipals: allowedPrincipalsOption.describe(
    "Whose requests are accepted: a connection names its owner account, so list account ids (an allow-listed role or user ARN admits its account too)",
  ),
  otherRequests: z
    .enum(["hold", "reject"])
    .default("hold")
    .describe(
      "Pending requests from owners outside the allow-list: hold (leave pending and alert) or reject. A rejected request cannot be accepted later; the consumer must create a new endpoint",
    ),
  availableOutsideAllowList: z
    .enum(["alert", "reject"])
    .default("alert")
    .describe(
      "Connections already available whose owner is not (or no longer) allow-listed: alert, or reject them",
    ),
});
export type VpceConnectionsOptions = z.infer<typeof vpceConnectionsOptions>;

/** What the guardian decides about one connection; the decide-connection remediation carries it out. */
export type ConnectionDecision = "accept" | "reject" | "hold";

export const vpceConnections = {
  id: "vpce-connections",
  description:
    "Endpoint service connection requests: accept those from allow-listed owners, hold or reject the rest; connections already available from owners outside the allow-list are findings",
  cloud: "aws",
  resourceTypes: [AWS_VPC_ENDPOINT_CONNECTION_TYPE],
  controls: [],
  options: vpceConnectionsOptions,
  permissions: ["ec2:DescribeVpcEndpointConnections"],
  remediations: ["decide-connection"],
  example: [
    "- name: endpoint-service-connections",
    "  rule: vpce-connections",
    "  mode: remediate",
    "  severity: high",
    "  remediation: decide-connection",
    "  options:",
    '    allowedPrincipals: ["111122223333"] # the Qubole account',
    "    otherRequests: hold",
    "    availableOutsideAllowList: alert",
    "",
  ].join("\n"),
  cannotEvaluate(snapshot: Snapshot): string | undefined {
    const c = endpointConnectionOf(snapshot);
    if (c.VpcEndpointOwner === undefined)
      return "the connection does not name its owner (VpcEndpointOwner missing)";
    if (c.VpcEndpointState === undefined)
      return "the connection does not give its state (VpcEndpointState missing)";
    return undefined;
  },
  evaluate(snapshot: Snapshot, options: VpceConnectionsOptions, _context: RuleContext): Violation[] {
    const c = endpointConnectionOf(snapshot);
    const owner = c.VpcEndpointOwner;
    const state = canonicalState(c.VpcEndpointState);
    if (owner === undefined || state === undefined) return [];
    const allowed = ownerAllowed(owner, compileAllowList(options.allowedPrincipals));
    const id = connectionResourceId(c.ServiceId, c.VpcEndpointId);
    let decision: ConnectionDecision;
    let message: string;
    if (state === "pendingAcceptance") {
      if (allowed) {
        decision = "accept";
        message = `Connection request ${c.VpcEndpointId} to ${c.ServiceId} from allow-listed account ${owner}`;
      } else {
        decision = options.otherRequests;
        message = `Connection request ${c.VpcEndpointId} to ${c.ServiceId} from account ${owner}, which is not allow-listed`;
      }
    } else if (state === "available" && !allowed) {
      decision = options.availableOutsideAllowList === "reject" ? "reject" : "hold";
      message = `Connection ${c.VpcEndpointId} to ${c.ServiceId} is available to account ${owner}, which is not allow-listed`;
    } else {
      // Accepted and allowed, rejected, deleted, failed, or still being set up (pending): nothing to decide.
      return [];
    }
    return [
      {
        message,
        matched: [
          {
            serviceId: c.ServiceId,
            vpcEndpointId: c.VpcEndpointId,
            owner,
            state,
            allowListed: allowed,
            decision,
            ...(c.CreationTimestamp !== undefined ? { requestedAt: c.CreationTimestamp } : {}),
          },
        ],
        // One decision per request: the same request in the same state, whoever reports it.
        key: `${id}:${state}:${c.CreationTimestamp ?? ""}:${decision}`,
      },
    ];
  },
} satisfies RuleDefinition<typeof vpceConnectionsOptions>;
