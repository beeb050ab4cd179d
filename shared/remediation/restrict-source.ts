// Replaces an NSG rule's offending sources with the policy's trusted prefixes (a bastion, a tunnel server), keeping its
// other sources, ports and everything else. When the offending sources also reach ports that are not offending, a
// rule keeping those for them is added first (shared/rules/nsg/narrow.ts), so they lose only the offending pairs.
import { InputError } from "../errors.ts";
import { parsePrefix } from "../net/ip.ts";
import { planNarrowing } from "../rules/nsg/narrow.ts";
import { ASG_JOIN_RULE, planFirstOffending, SECURITY_RULE_WRITE } from "../rules/nsg/remediate.ts";
import { NSG_RESOURCE_TYPE } from "../rules/nsg/schema.ts";
import { undoSecurityRule } from "../rules/nsg/undo.ts";
import type { Remediation, RemediationContext } from "./types.ts";

const ID = "restrict-source";

const plan = planFirstOffending((found, snapshot, context: RemediationContext) => {
  // Only the policy-wide trusted prefixes: a finding does not carry its entry's options, so a rule
  // entry's own `trustedSources` cannot reach this plan.
  const trusted = context.trustedSources.map((t) => t.trim()).filter((t) => parsePrefix(t) !== undefined);
  if (trusted.length === 0) {
    throw new InputError(
      "restrict-source needs trustedSources: set the policy's trustedSources to the prefixes allowed in place of the offending sources",
      { path: "trustedSources" },
    );
  }
  return planNarrowing(found, snapshot, { id: ID, replacement: trusted, verb: "restrict" });
});

export const restrictSource = {
  id: ID,
  description:
    "Replaces the offending sources of an NSG security rule with the policy's trusted prefixes, keeping its other " +
    "sources and everything else (the offending sources keep any other ports through a rule added next to it). " +
    "Needs the policy's trustedSources.",
  resourceTypes: [NSG_RESOURCE_TYPE],
  permissions: [SECURITY_RULE_WRITE, ASG_JOIN_RULE],
  plan,
  undo: undoSecurityRule,
} satisfies Remediation;
