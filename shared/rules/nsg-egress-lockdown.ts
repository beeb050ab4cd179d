// Deny-by-default egress (Databricks serverless behind a firewall, Cassandra Managed Instance reaching only the Azure
// services it needs, a private subnet with service endpoint policies): on the NSGs the policy marks, outbound traffic
// to the Internet meets a Deny, and above it only the allowed destinations are opened. An outbound Allow to Internet,
// *, 0.0.0.0/0, ::/0, a public prefix or another service tag that takes precedence over the Deny is a finding, and so
// is a Deny that is missing or does not cover everything.
import * as z from "zod";
import { parsePrefix } from "../net/ip.ts";
import type { Snapshot } from "../types.ts";
import {
  defaultEgressLeak,
  type EgressAllowances,
  freeOutboundPriority,
  isOffendingDestination,
} from "./nsg/egress.ts";
import { nsgExposures, PROTOCOLS, type Protocol, type RuleExposure } from "./nsg/exposure.ts";
import { ALL_PORTS, formatPorts } from "./nsg/ports.ts";
import { NSG_RESOURCE_TYPE, nsgOf } from "./nsg/schema.ts";
import type { RuleContext, RuleDefinition, Violation } from "./types.ts";

export const nsgEgressLockdownOptions = z.strictObject({
  /** Service tags outbound rules may open above the Deny (their regional variants too). */
  allowedServiceTags: z
    .array(z.string().min(1))
    .default(["Storage", "AzureMonitor", "AzureKeyVault", "AzureActiveDirectory"]),
  /** The firewall (policy `firewalls`) whose private IP outbound rules may open. */
  firewall: z.string().min(1).optional(),
  /** Addresses or prefixes outbound rules may open. */
  allowedPrefixes: z
    .array(z.string().refine((s) => parsePrefix(s) !== undefined, "expected an IP address or CIDR prefix"))
    .default([]),
  /** Where the missing Deny goes; default the lowest precedence free (right above the default rules). */
  denyPriority: z.int().min(100).max(4096).optional(),
  protocols: z
    .array(z.enum(PROTOCOLS))
    .min(1)
    .default([...PROTOCOLS]),
});

export type NsgEgressLockdownOptions = z.infer<typeof nsgEgressLockdownOptions>;

function allowancesFor(options: NsgEgressLockdownOptions, context: RuleContext): EgressAllowances {
  const firewall = options.firewall === undefined ? undefined : context.firewalls?.[options.firewall];
  return {
    serviceTags: options.allowedServiceTags,
    prefixes: [...options.allowedPrefixes, ...(firewall ? [firewall.privateIp] : [])],
  };
}

const opens = (e: RuleExposure) => `${e.protocols.join("/")} ${formatPorts(e.ports).join(", ")}`;

function evaluate(snapshot: Snapshot, options: NsgEgressLockdownOptions, context: RuleContext): Violation[] {
  const nsg = nsgOf(snapshot);
  const allow = allowancesFor(options, context);
  const protocols = options.protocols as readonly Protocol[];
  const allows = nsgExposures(nsg, {
    direction: "Outbound",
    ports: ALL_PORTS,
    protocols,
    isOffendingSource: (token) => isOffendingDestination(token, allow),
  });
  const leak = defaultEgressLeak(nsg, allow, protocols);
  const matched: Record<string, unknown>[] = allows.map((e) => ({
    securityRule: e.rule.name,
    id: e.rule.id,
    priority: e.rule.properties.priority,
    protocol: e.rule.properties.protocol,
    // For the remediations' re-check: the offending destinations, the ports and protocols still open to them.
    destinations: e.sources,
    ports: formatPorts(e.ports),
    protocols: e.protocols,
    direction: "Outbound",
  }));
  const messages = allows.map(
    (e) =>
      `Security rule ${e.rule.name} (priority ${e.rule.properties.priority}) allows outbound ${opens(e)} to ${e.sources.join(", ")}`,
  );
  if (leak) {
    const priority = freeOutboundPriority(nsg, options.denyPriority);
    matched.push({
      missingDeny: true,
      direction: "Outbound",
      defaultRule: leak.rule.name,
      protocols: leak.protocols,
      ports: formatPorts(leak.ports),
      ...(priority === undefined ? {} : { priority }),
      why:
        `no outbound Deny to the Internet is in force: ${leak.rule.name} lets ${opens(leak)} out` +
        (priority === undefined ? "" : `; the Deny goes at priority ${priority}`),
    });
    messages.push(
      `no outbound Deny to the Internet is in force: ${leak.rule.name} (priority ${leak.rule.properties.priority}) lets ${opens(leak)} out`,
    );
  }
  if (matched.length === 0) return [];
  return [{ message: messages.join("; "), matched }];
}

export const nsgEgressLockdown = {
  id: "nsg-egress-lockdown",
  description:
    "Deny-by-default egress on the NSGs an entry scopes: an outbound Deny to the Internet in force, and above it " +
    "only allowed destinations (service tags, the firewall, listed prefixes, private space).",
  cloud: "azure",
  resourceTypes: [NSG_RESOURCE_TYPE],
  controls: [],
  options: nsgEgressLockdownOptions,
  permissions: ["Microsoft.Network/networkSecurityGroups/read"],
  remediations: ["nsg-egress-delete", "nsg-egress-deny"],
  example: `- name: databricks-egress-locked
  rule: nsg-egress-lockdown
  mode: remediate
  severity: critical
  scope: { tags: { egress: deny-by-default } }
  options:
    firewall: hub
`,
  evaluate,
} satisfies RuleDefinition<typeof nsgEgressLockdownOptions>;
