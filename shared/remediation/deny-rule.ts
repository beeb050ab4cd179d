// Flips the offending NSG rule to Deny and leaves it in place, so its owner sees what was blocked and
// at which priority. Nothing else changes; the description gains a note only within ARM's limit.
import {
  ASG_JOIN_RULE,
  exposureText,
  planFirstOffending,
  putChange,
  ruleWith,
  SECURITY_RULE_WRITE,
} from "../rules/nsg/remediate.ts";
import { NSG_RESOURCE_TYPE } from "../rules/nsg/schema.ts";
import { undoSecurityRule } from "../rules/nsg/undo.ts";
import type { PlannedChange } from "../types.ts";
import type { Remediation, RemediationContext } from "./types.ts";

const ID = "deny-rule";
// SecurityRulePropertiesFormat.description: "A description for this rule. Restricted to 140 chars."
export const DESCRIPTION_MAX = 140;
const NOTE = "denied by network-guardian";

function annotated(description: string | null | undefined): string | undefined {
  const current = description ?? "";
  if (current.includes(NOTE)) return undefined;
  const next = current.trim() === "" ? NOTE : `${current} (${NOTE})`;
  return next.length <= DESCRIPTION_MAX ? next : undefined;
}

const plan = planFirstOffending((found, snapshot, _context: RemediationContext): PlannedChange => {
  const { rule, raw, exposure } = found;
  const properties: Record<string, unknown> = { ...raw.properties, access: "Deny" };
  const description = annotated(rule.properties.description);
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
    "Sets the offending NSG security rule's access to Deny, keeping the rule (and its priority) visible. " +
    "It then denies everything the rule matched, including any non-offending sources or ports.",
  resourceTypes: [NSG_RESOURCE_TYPE],
  permissions: [SECURITY_RULE_WRITE, ASG_JOIN_RULE],
  plan,
  undo: undoSecurityRule,
} satisfies Remediation;
