// Exfiltration guard: a service endpoint policy lets a subnet's storage endpoint reach only what its definitions list.
// An entry beyond the allow-list (a rogue account in another subscription, a whole subscription where only single
// accounts were approved, an unlisted resource group) reopens the path the policy closes. Each such entry is a
// finding naming its definition; the remediation removes those entries and keeps the rest.
import * as z from "zod";
import type { Snapshot } from "../types.ts";
import { SEP_RESOURCE_TYPE, type ServiceResource, sepOf, serviceResource, within } from "./sep/policy.ts";
import type { RuleDefinition, Violation } from "./types.ts";

const scopeId = z
  .string()
  .regex(
    /^\/subscriptions\/[^/]+(\/resourceGroups\/[^/]+(\/providers\/Microsoft\.Storage\/storageAccounts\/[^/]+)?)?$/i,
    "expected /subscriptions/<id>, a resource group id or a storage account id",
  );
const scopeOnly = z
  .string()
  .regex(
    /^\/subscriptions\/[^/]+(\/resourceGroups\/[^/]+)?$/i,
    "expected /subscriptions/<id> or a resource group id",
  );

export const sepAllowedResourcesOptions = z.strictObject({
  /** Entries a definition may list, and anything under them (a subscription, a resource group, an account). */
  allow: z.array(scopeId).default([]),
  /** Single storage accounts under these may be listed, but not the subscription or group itself. */
  accountsIn: z.array(scopeOnly).default([]),
  /** Service aliases (service Global definitions) that may be listed: /services/Azure/Databricks, ... */
  aliases: z
    .array(z.string().regex(/^\/services\//i, "expected a service alias such as /services/Azure"))
    .default([]),
});

export type SepAllowedResourcesOptions = z.infer<typeof sepAllowedResourcesOptions>;

const subscriptionOf = (scope: string) => scope.split("/").filter(Boolean)[1]?.toLowerCase() ?? "";

/** Why an entry is not approved, or undefined when it is. */
export function unapproved(entry: ServiceResource, options: SepAllowedResourcesOptions): string | undefined {
  if (entry.kind === "alias") {
    return options.aliases.some((a) => a.toLowerCase() === entry.text.toLowerCase())
      ? undefined
      : `service alias ${entry.text} is not approved`;
  }
  if (entry.kind === "other") return `${entry.text} is not a subscription, resource group or storage account`;
  const text =
    entry.kind === "subscription"
      ? `/subscriptions/${entry.subscription}`
      : entry.kind === "resourceGroup"
        ? `/subscriptions/${entry.subscription}/resourceGroups/${entry.group}`
        : entry.id;
  if (options.allow.some((a) => within(text, a))) return undefined;
  if (entry.kind === "storageAccount" && options.accountsIn.some((a) => within(text, a))) return undefined;
  const known = new Set([...options.allow, ...options.accountsIn].map(subscriptionOf));
  if (!known.has(entry.subscription.toLowerCase())) {
    return entry.kind === "subscription"
      ? `whole subscription ${entry.subscription}, another subscription than those approved`
      : `${entry.kind === "resourceGroup" ? "a resource group" : "a storage account"} in subscription ${entry.subscription}, which is not approved`;
  }
  if (entry.kind === "subscription") {
    return `whole subscription ${entry.subscription}, where only single accounts or groups are approved`;
  }
  if (entry.kind === "resourceGroup") {
    const accountsOnly = options.accountsIn.some((a) => within(text, a));
    return accountsOnly
      ? `whole resource group ${entry.group}, where only single accounts are approved`
      : `resource group ${entry.group} is not listed`;
  }
  return `storage account ${entry.id.split("/").at(-1)} is not listed`;
}

function evaluate(snapshot: Snapshot, options: SepAllowedResourcesOptions): Violation[] {
  const { definitions } = sepOf(snapshot);
  const matched = definitions.flatMap((d) =>
    (d.properties.serviceResources ?? []).flatMap((resource) => {
      const why = unapproved(serviceResource(resource), options);
      return why === undefined
        ? []
        : [{ definition: d.name, service: d.properties.service ?? null, resource, why }];
    }),
  );
  if (matched.length === 0) return [];
  const name =
    typeof (snapshot.resource as { name?: unknown }).name === "string"
      ? (snapshot.resource as { name: string }).name
      : snapshot.resourceId.split("/").at(-1);
  return [
    {
      message: `Service endpoint policy ${name} lets the endpoint reach beyond the approved resources: ${matched
        .map((m) => `${m.definition}: ${m.resource} (${m.why})`)
        .join("; ")}`,
      matched,
    },
  ];
}

export const sepAllowedResources = {
  id: "sep-allowed-resources",
  description:
    "Service endpoint policy definitions list only approved storage accounts, resource groups, subscriptions and " +
    "service aliases: no other subscription, no whole subscription or group where single accounts are approved.",
  cloud: "azure",
  resourceTypes: [SEP_RESOURCE_TYPE],
  controls: [],
  options: sepAllowedResourcesOptions,
  permissions: ["Microsoft.Network/serviceEndpointPolicies/read"],
  remediations: ["sep-remove-resources"],
  example: `- name: storage-policy-approved-only
  rule: sep-allowed-resources
  mode: remediate
  severity: critical
  options:
    accountsIn: [/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-data]
`,
  evaluate,
} satisfies RuleDefinition<typeof sepAllowedResourcesOptions>;
