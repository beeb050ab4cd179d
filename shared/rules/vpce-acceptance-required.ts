import * as z from "zod";
import { AWS_VPC_ENDPOINT_SERVICE_TYPE } from "../clouds/aws/kinds/vpc-endpoint-service.ts";
import type { Snapshot } from "../types.ts";
import type { RuleContext, RuleDefinition, Violation } from "./types.ts";
import { endpointServiceOf } from "./vpce/resources.ts";

export const vpceAcceptanceRequiredOptions = z.strictObject({});

/**
 * Who turned acceptance off, when the triggering call did (ModifyVpcEndpointServiceConfiguration or
 * CreateVpcEndpointServiceConfiguration recording `AcceptanceRequired: false`).
 */
function changedBy(context: RuleContext): Record<string, string> {
  const change = context.change;
  if (change?.details?.acceptanceRequired !== false) return {};
  const who = change.actor.name ?? change.actor.principalId;
  return { setBy: who ?? "unknown caller", setIn: change.operationName };
}

export const vpceAcceptanceRequired = {
  id: "vpce-acceptance-required",
  description:
    "An endpoint service must require acceptance: without it every connection request from an allowed principal is approved automatically, and the guardian never gets to decide",
  cloud: "aws",
  resourceTypes: [AWS_VPC_ENDPOINT_SERVICE_TYPE],
  controls: [],
  options: vpceAcceptanceRequiredOptions,
  permissions: ["ec2:DescribeVpcEndpointServiceConfigurations"],
  remediations: ["require-acceptance"],
  example: [
    "- name: endpoint-services-require-acceptance",
    "  rule: vpce-acceptance-required",
    "  mode: remediate",
    "  severity: high",
    "  remediation: require-acceptance",
    "",
  ].join("\n"),
  cannotEvaluate(snapshot: Snapshot): string | undefined {
    return endpointServiceOf(snapshot).ServiceConfiguration.AcceptanceRequired === undefined
      ? "the service configuration does not say whether acceptance is required (AcceptanceRequired missing)"
      : undefined;
  },
  evaluate(
    snapshot: Snapshot,
    _options: z.infer<typeof vpceAcceptanceRequiredOptions>,
    context: RuleContext,
  ): Violation[] {
    const config = endpointServiceOf(snapshot).ServiceConfiguration;
    // Only an explicit false: a configuration that does not say is reported by cannotEvaluate, not guessed at.
    if (config.AcceptanceRequired !== false) return [];
    const name = config.ServiceName ? ` (${config.ServiceName})` : "";
    const evidence = changedBy(context);
    const by = evidence.setBy ? `; turned off by ${evidence.setBy}` : "";
    return [
      {
        message: `Endpoint service ${config.ServiceId}${name} accepts connection requests automatically${by}`,
        matched: [{ serviceId: config.ServiceId, property: "AcceptanceRequired", value: false, ...evidence }],
      },
    ];
  },
} satisfies RuleDefinition<typeof vpceAcceptanceRequiredOptions>;
