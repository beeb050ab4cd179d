import * as z from "zod";
import { AWS_VPC_ENDPOINT_SERVICE_TYPE } from "../clouds/aws/kinds/vpc-endpoint-service.ts";
import type { Snapshot } from "../types.ts";
import type { RuleContext, RuleDefinition, Violation } from "./types.ts";
import {
  allowedPrincipalsOption,
  compileAllowList,
  describePrincipal,
  outsideAllowList,
  parsePrincipal,
} from "./vpce/principals.ts";
import { endpointServiceOf } from "./vpce/resources.ts";

export const vpceAllowedPrincipalsOptions = z.strictObject({
  allowedPrincipals: allowedPrincipalsOption,
});
export type VpceAllowedPrincipalsOptions = z.infer<typeof vpceAllowedPrincipalsOptions>;

/** The principals the triggering call added (ModifyVpcEndpointServicePermissions `AddAllowedPrincipals`). */
function addedByChange(context: RuleContext): Set<string> {
  const added = context.change?.details?.addedPrincipals;
  return new Set(Array.isArray(added) ? added.filter((p): p is string => typeof p === "string") : []);
}

export const vpceAllowedPrincipals = {
  id: "vpce-allowed-principals",
  description:
    "An endpoint service may grant access only to allow-listed principals (accounts, roles, organizations, OUs); '*' makes it public and is always a finding",
  cloud: "aws",
  resourceTypes: [AWS_VPC_ENDPOINT_SERVICE_TYPE],
  controls: [],
  options: vpceAllowedPrincipalsOptions,
  permissions: ["ec2:DescribeVpcEndpointServiceConfigurations", "ec2:DescribeVpcEndpointServicePermissions"],
  remediations: ["remove-principals"],
  example: [
    "- name: endpoint-service-principals",
    "  rule: vpce-allowed-principals",
    "  mode: remediate",
    "  severity: critical",
    "  remediation: remove-principals",
    "  options:",
    "    allowedPrincipals:",
    '      - "111122223333" # the Qubole account',
    "      - arn:aws:iam::111122223333:role/qubole-cluster-manager",
    "",
  ].join("\n"),
  cannotEvaluate(snapshot: Snapshot): string | undefined {
    return endpointServiceOf(snapshot).AllowedPrincipals === undefined
      ? "the service's permissions were not given (add the DescribeVpcEndpointServicePermissions output: AllowedPrincipals)"
      : undefined;
  },
  evaluate(snapshot: Snapshot, options: VpceAllowedPrincipalsOptions, context: RuleContext): Violation[] {
    const service = endpointServiceOf(snapshot);
    const config = service.ServiceConfiguration;
    const list = compileAllowList(options.allowedPrincipals);
    const added = addedByChange(context);
    const who = context.change ? (context.change.actor.name ?? context.change.actor.principalId) : undefined;
    const matched: Violation["matched"] = [];
    const parts: string[] = [];
    for (const allowed of service.AllowedPrincipals ?? []) {
      const principal = parsePrincipal(allowed.Principal);
      const reason = outsideAllowList(principal, list);
      if (reason === undefined) continue;
      const wasAdded = added.has(allowed.Principal);
      matched.push({
        serviceId: config.ServiceId,
        principal: allowed.Principal,
        ...(allowed.PrincipalType !== undefined ? { principalType: allowed.PrincipalType } : {}),
        ...(allowed.ServicePermissionId !== undefined
          ? { servicePermissionId: allowed.ServicePermissionId }
          : {}),
        reason,
        // Evidence from the call that triggered this evaluation; absent when the principal was there before it.
        ...(wasAdded && context.change
          ? { addedBy: who ?? "unknown caller", addedIn: context.change.operationName }
          : {}),
      });
      parts.push(`${describePrincipal(principal)}${wasAdded && who ? ` (added by ${who})` : ""}`);
    }
    if (matched.length === 0) return [];
    const name = config.ServiceName ? ` (${config.ServiceName})` : "";
    return [
      {
        message: `Endpoint service ${config.ServiceId}${name} allows principals outside the allow-list: ${parts.join("; ")}`,
        matched,
      },
    ];
  },
} satisfies RuleDefinition<typeof vpceAllowedPrincipalsOptions>;
