// Flips the offending NSG rule to Deny and leaves it in place, so its owner sees what was blocked and at which
// priority. Only when that denies nothing but the offending pairs: a rule that also allows other sources or other
// ports is narrowed as delete-rule does (shared/rules/nsg/narrow.ts), since denying it whole would cut off traffic
// the policy allows (an office range beside 0.0.0.0/0); so is a rule whose Deny would take traffic from an Allow below
// it (a `*` rule above AllowVnetInBound, an Internet rule above an office range's own rule). The description gains a note only within ARM's limit.
import { portsOf, sourcePrefixesOf } from "../rules/nsg/exposure.ts";
import { planNarrowing } from "../rules/nsg/narrow.ts";
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
import { NSG_RESOURCE_TYPE } from "../rules/nsg/schema.ts";
import { shadowedBelow } from "../rules/nsg/shadow.ts";
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

const plan = planFirstOffending((found, snapshot): PlannedChange => {
  const { rule, raw, exposure } = found;
  const p = rule.properties;
  const onlyOffending =
    sourcePrefixesOf(p).every((token) => isOffendingToken(exposure, token)) &&
    (p.sourceApplicationSecurityGroups?.length ?? 0) === 0 &&
    isEmpty(subtract(portsOf(p, true), exposure.ports));
  // A Deny in its place would refuse traffic a rule below lets in and the policy does not call offending: take the
  // offending pairs away as delete-rule does, so the rules below decide that traffic as before.
  if (!onlyOffending || shadowedBelow(found.nsg, rule, exposure, "Inbound") !== undefined)
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
