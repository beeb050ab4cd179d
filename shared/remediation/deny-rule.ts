// Flips the offending NSG rule to Deny and leaves it in place, so its owner sees what was blocked and at which
// priority. Only when that denies nothing but the offending pairs: a rule that also allows other sources or other
// ports is narrowed as delete-rule does (shared/rules/nsg/narrow.ts), since denying it whole would cut off traffic
// the policy allows (an office range beside 0.0.0.0/0); so is a rule whose Deny would take traffic from an Allow below
// it (a `*` rule above AllowVnetInBound, an Internet rule above an office range's own rule). The description gains a note only within ARM's limit.
import { isAllow, isInbound, portsOf, type RuleExposure, sourcePrefixesOf } from "../rules/nsg/exposure.ts";
import { planNarrowing, provablyDisjoint, shapeOf } from "../rules/nsg/narrow.ts";
import { isEmpty, subtract } from "../rules/nsg/ports.ts";
import {
  ASG_JOIN_RULE,
  DESCRIPTION_MAX,
  exposureText,
  isOffendingToken,
  planFirstOffending,
  putChange,
  ruleWith,
  SECURITY_RULE_WRITE,
} from "../rules/nsg/remediate.ts";
import { NSG_RESOURCE_TYPE, type ParsedNsg, type SecurityRule } from "../rules/nsg/schema.ts";
import { undoSecurityRule } from "../rules/nsg/undo.ts";
import type { PlannedChange } from "../types.ts";
import type { Remediation } from "./types.ts";

const ID = "deny-rule";

export { DESCRIPTION_MAX };

const NOTE = "denied by network-guardian";

function annotated(description: string | null | undefined): string | undefined {
  const current = description ?? "";
  if (current.includes(NOTE)) return undefined;
  const next = current.trim() === "" ? NOTE : `${current} (${NOTE})`;
  return next.length <= DESCRIPTION_MAX ? next : undefined;
}

/**
 * The platform's inbound Allows (NetworkSecurityGroupPropertiesFormat.defaultSecurityRules, as every NSG holds them),
 * for an NSG read without its default rules.
 */
const DEFAULT_INBOUND_ALLOWS: SecurityRule[] = [
  ["AllowVnetInBound", 65000, "VirtualNetwork"],
  ["AllowAzureLoadBalancerInBound", 65001, "AzureLoadBalancer"],
].map(([name, priority, source]) => ({
  name: String(name),
  properties: {
    protocol: "*",
    sourcePortRange: "*",
    destinationPortRange: "*",
    sourceAddressPrefix: String(source),
    destinationAddressPrefix: "*",
    access: "Allow",
    priority: Number(priority),
    direction: "Inbound",
  },
}));

/** Service tags of Azure's own network, which the Internet tag (the address space outside the network) never holds. */
const INTERNAL_TAGS = new Set(["virtualnetwork", "azureloadbalancer"]);
const INTERNET = new Set(["internet"]);
const isTag = (token: string, tags: ReadonlySet<string>) => tags.has(token.trim().toLowerCase());

/**
 * The first Allow below `rule` (a user rule or a platform default) that a Deny in `rule`'s place could take traffic
 * from, or undefined when there is none. Flipping an Allow of `*` to Deny also refuses what AllowVnetInBound let in
 * from inside the network (Azure Bastion and jump hosts reach port 22/3389 so), and a flipped Allow of the Internet
 * refuses an allow-listed office range that a rule below it lets in: traffic the policy never called offending.
 * Deleting the Allow instead leaves those to the rules below. Sources are compared as in placement (service tags and
 * application security groups may hold any address), except that Internet is disjoint from Azure's own tags.
 */
function shadowedBelow(nsg: ParsedNsg, rule: SecurityRule, exposure: RuleExposure): SecurityRule | undefined {
  const defaults = nsg.defaultSecurityRules.some((r) => isInbound(r) && isAllow(r))
    ? nsg.defaultSecurityRules
    : DEFAULT_INBOUND_ALLOWS;
  const sources = sourcePrefixesOf(rule.properties);
  const internetOnly =
    sources.length > 0 &&
    sources.every((t) => isTag(t, INTERNET)) &&
    (rule.properties.sourceApplicationSecurityGroups?.length ?? 0) === 0;
  return [...nsg.securityRules, ...defaults].find((x) => {
    if (x === rule || !isInbound(x) || !isAllow(x)) return false;
    if (x.properties.priority <= rule.properties.priority) return false;
    const xSources = sourcePrefixesOf(x.properties);
    const xAsgs = x.properties.sourceApplicationSecurityGroups?.length ?? 0;
    // Another Allow of the same offending sources (a second rule opening 22 to the Internet): what the Deny takes from
    // it is offending too (the Deny matches only protected ports).
    if (xAsgs === 0 && xSources.length > 0 && xSources.every((t) => isOffendingToken(exposure, t)))
      return false;
    if (
      internetOnly &&
      xSources.length > 0 &&
      xSources.every((t) => isTag(t, INTERNAL_TAGS)) &&
      xAsgs === 0
    ) {
      return false;
    }
    return !provablyDisjoint(rule, shapeOf(x, xSources, portsOf(x.properties, true)));
  });
}

const plan = planFirstOffending((found, snapshot): PlannedChange => {
  const { rule, raw, exposure } = found;
  const p = rule.properties;
  const onlyOffending =
    sourcePrefixesOf(p).every((token) => isOffendingToken(exposure, token)) &&
    (p.sourceApplicationSecurityGroups?.length ?? 0) === 0 &&
    isEmpty(subtract(portsOf(p, true), exposure.ports));
  // A Deny in its place would refuse traffic a rule below lets in and the policy does not call offending: take the
  // offending pairs away as delete-rule does, so the rules below decide that traffic as before.
  if (!onlyOffending || shadowedBelow(found.nsg, rule, exposure) !== undefined)
    return planNarrowing(found, snapshot, { id: ID });
  const properties: Record<string, unknown> = { ...raw.properties, access: "Deny" };
  const description = annotated(p.description);
  if (description !== undefined) properties.description = description;
  return putChange(
    ID,
    snapshot,
    raw,
    ruleWith(raw, properties),
    `set security rule ${rule.name} to Deny (it allowed ${exposureText(exposure)})`,
  );
});

export const denyRule = {
  id: ID,
  description:
    "Sets the offending NSG security rule's access to Deny, keeping the rule (and its priority) visible. A rule that " +
    "also allows sources or ports that do not offend is narrowed as delete-rule does instead, so only the offending " +
    "pairs are taken away.",
  resourceTypes: [NSG_RESOURCE_TYPE],
  permissions: [SECURITY_RULE_WRITE, ASG_JOIN_RULE],
  plan,
  undo: undoSecurityRule,
} satisfies Remediation;
