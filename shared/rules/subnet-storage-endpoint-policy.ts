// Exfiltration guard: a subnet with the Azure Storage service endpoint and no service endpoint policy lets anything in
// it reach every storage account reachable over the endpoint, in any subscription or tenant (a rogue account opened
// to the subnet included). A service endpoint policy narrows the endpoint to listed accounts, groups or subscriptions.
import * as z from "zod";
import type { Snapshot } from "../types.ts";
import type { SubnetPart } from "./subnet/parts.ts";
import { STORAGE_SERVICES, SUBNET_RESOURCE_TYPE, subnetOf } from "./subnet/schema.ts";
import type { RuleDefinition, Violation } from "./types.ts";

const sepId = z
  .string()
  .regex(
    /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/serviceEndpointPolicies\/[^/]+$/i,
    "expected a service endpoint policy id",
  );

export const subnetStorageEndpointPolicyOptions = z.strictObject({
  /** The service endpoints that need a policy (compared without case). */
  services: z
    .array(z.string().min(1))
    .min(1)
    .default([...STORAGE_SERVICES]),
  /** The service endpoint policy remediation attaches (needed in remediate mode). */
  attach: sepId.optional(),
});

export type SubnetStorageEndpointPolicyOptions = z.infer<typeof subnetStorageEndpointPolicyOptions>;

function evaluate(snapshot: Snapshot, options: SubnetStorageEndpointPolicyOptions): Violation[] {
  const subnet = subnetOf(snapshot);
  const wanted = new Set(options.services.map((s) => s.toLowerCase()));
  const endpoints = subnet.services.filter((s) => wanted.has(s.toLowerCase()));
  if (endpoints.length === 0 || subnet.policyIds.length > 0) return [];
  const part: SubnetPart = {
    part: "serviceEndpointPolicies",
    current: [],
    ...(options.attach
      ? { want: [options.attach] }
      : { manual: "no service endpoint policy to attach is named (options.attach)" }),
  };
  return [
    {
      message:
        `Subnet ${subnet.name} has the ${endpoints.join(", ")} service endpoint and no service endpoint policy: ` +
        "anything in it can reach any storage account over the endpoint, in any subscription or tenant",
      matched: [
        {
          ...part,
          services: endpoints,
          why: `the ${endpoints.join(", ")} service endpoint has no service endpoint policy`,
        },
      ],
    },
  ];
}

export const subnetStorageEndpointPolicy = {
  id: "subnet-storage-endpoint-policy",
  description:
    "Subnets with the Azure Storage service endpoint (Microsoft.Storage or Microsoft.Storage.Global) must carry a " +
    "service endpoint policy, or the endpoint reaches every storage account in every tenant (data exfiltration).",
  cloud: "azure",
  resourceTypes: [SUBNET_RESOURCE_TYPE],
  controls: [],
  options: subnetStorageEndpointPolicyOptions,
  permissions: ["Microsoft.Network/virtualNetworks/read"],
  remediations: ["subnet-restore"],
  remediateNeeds: (options) =>
    (options as Partial<SubnetStorageEndpointPolicyOptions>).attach === undefined
      ? {
          path: ["options", "attach"],
          message: "remediate attaches a service endpoint policy: name it in attach",
        }
      : undefined,
  example: `- name: storage-endpoint-needs-policy
  rule: subnet-storage-endpoint-policy
  mode: alert
  severity: high
`,
  evaluate,
} satisfies RuleDefinition<typeof subnetStorageEndpointPolicyOptions>;
