// Every ordinary subnet carries a network security group. Subnets Azure reserves for its own services are left
// alone: the gateway, firewall and Route Server subnets cannot take one, Bastion's needs none (and must keep every
// rule Bastion requires when it has one), nor do subnets delegated to Dedicated HSM.
import * as z from "zod";
import { nameMatches } from "../policy/match.ts";
import type { Snapshot } from "../types.ts";
import type { SubnetPart } from "./subnet/parts.ts";
import { noNsgReason, SUBNET_RESOURCE_TYPE, subnetOf } from "./subnet/schema.ts";
import type { RuleDefinition, Violation } from "./types.ts";

const nsgId = z
  .string()
  .regex(
    /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/networkSecurityGroups\/[^/]+$/i,
    "expected a network security group id",
  );

export const subnetNsgRequiredOptions = z.strictObject({
  /** The NSG remediation attaches (needed in remediate mode). */
  attach: nsgId.optional(),
  /** More subnet name patterns that need no NSG (* and ?, case-insensitive). */
  exemptNames: z.array(z.string().min(1)).default([]),
});

export type SubnetNsgRequiredOptions = z.infer<typeof subnetNsgRequiredOptions>;

function evaluate(snapshot: Snapshot, options: SubnetNsgRequiredOptions): Violation[] {
  const subnet = subnetOf(snapshot);
  if (subnet.nsgId !== undefined || noNsgReason(subnet) !== undefined) return [];
  if (options.exemptNames.some((p) => nameMatches(subnet.name, p))) return [];
  const part: SubnetPart = {
    part: "networkSecurityGroup",
    current: null,
    ...(options.attach
      ? { attach: options.attach }
      : { manual: "no NSG to attach is named (options.attach)" }),
  };
  return [
    {
      message: `Subnet ${subnet.name} has no network security group`,
      matched: [{ ...part, why: "no network security group" }],
    },
  ];
}

export const subnetNsgRequired = {
  id: "subnet-nsg-required",
  description:
    "Ordinary subnets must carry a network security group (GatewaySubnet, AzureFirewallSubnet, " +
    "AzureFirewallManagementSubnet, RouteServerSubnet, AzureBastionSubnet and Dedicated HSM subnets excepted).",
  cloud: "azure",
  resourceTypes: [SUBNET_RESOURCE_TYPE],
  controls: ["CIS Azure v5.0.0 7.11"],
  options: subnetNsgRequiredOptions,
  permissions: ["Microsoft.Network/virtualNetworks/read"],
  remediations: ["subnet-restore"],
  remediateNeeds: (options) =>
    (options as Partial<SubnetNsgRequiredOptions>).attach === undefined
      ? { path: ["options", "attach"], message: "remediate attaches an NSG: name it in attach" }
      : undefined,
  example: `- name: subnets-need-an-nsg
  rule: subnet-nsg-required
  mode: alert
  severity: medium
`,
  evaluate,
} satisfies RuleDefinition<typeof subnetNsgRequiredOptions>;
