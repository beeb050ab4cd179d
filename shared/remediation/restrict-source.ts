// Replaces an NSG rule's offending sources with the policy's trusted prefixes (a bastion, a tunnel
// server), keeping its other sources, ports and everything else.
import { InputError } from "../errors.ts";
import { parsePrefix } from "../net/ip.ts";
import { sourcePrefixesOf } from "../rules/nsg/exposure.ts";
import {
  ASG_JOIN_RULE,
  exposureText,
  isOffendingToken,
  planFirstOffending,
  putChange,
  ruleWith,
  SECURITY_RULE_WRITE,
  SOURCE_PAIR,
  withPair,
} from "../rules/nsg/remediate.ts";
import { NSG_RESOURCE_TYPE } from "../rules/nsg/schema.ts";
import { undoSecurityRule } from "../rules/nsg/undo.ts";
import type { PlannedChange } from "../types.ts";
import type { Remediation, RemediationContext } from "./types.ts";

const ID = "restrict-source";

const plan = planFirstOffending((found, snapshot, context: RemediationContext): PlannedChange => {
  // Only the policy-wide trusted prefixes: a finding does not carry its entry's options, so a rule
  // entry's own `trustedSources` cannot reach this plan.
  const trusted = context.trustedSources.map((t) => t.trim()).filter((t) => parsePrefix(t) !== undefined);
  if (trusted.length === 0) {
    throw new InputError(
      "restrict-source needs trustedSources: set the policy's trustedSources to the prefixes allowed in place of the offending sources",
      { path: "trustedSources" },
    );
  }
  const { rule, raw, exposure } = found;
  const sources = sourcePrefixesOf(rule.properties);
  const kept = sources.filter((token) => !isOffendingToken(exposure, token));
  const removed = sources.filter((token) => isOffendingToken(exposure, token));
  const next = [...kept];
  for (const t of trusted) if (!next.some((s) => s.trim().toLowerCase() === t.toLowerCase())) next.push(t);
  const after = ruleWith(raw, withPair(raw.properties, SOURCE_PAIR, next));
  return putChange(
    ID,
    snapshot,
    raw,
    after,
    `restrict security rule ${rule.name} to ${next.join(", ")} in place of ${removed.join(", ")} (it allowed ${exposureText(exposure)})`,
  );
});

export const restrictSource = {
  id: ID,
  description:
    "Replaces the offending sources of an NSG security rule with the policy's trusted prefixes, keeping its other " +
    "sources and everything else. Needs the policy's trustedSources.",
  resourceTypes: [NSG_RESOURCE_TYPE],
  permissions: [SECURITY_RULE_WRITE, ASG_JOIN_RULE],
  plan,
  undo: undoSecurityRule,
} satisfies Remediation;
