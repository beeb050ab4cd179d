// Removes an NSG rule's Internet exposure with the smallest edit: exactly the offending (source, port) pairs go and
// every other pair the rule allowed stays (shared/rules/nsg/narrow.ts). The rule is deleted only when nothing else
// is left in it.
import { planNarrowing } from "../rules/nsg/narrow.ts";
import {
  ASG_JOIN_RULE,
  planFirstOffending,
  SECURITY_RULE_DELETE,
  SECURITY_RULE_WRITE,
} from "../rules/nsg/remediate.ts";
import { NSG_RESOURCE_TYPE } from "../rules/nsg/schema.ts";
import { undoSecurityRule } from "../rules/nsg/undo.ts";
import type { Remediation } from "./types.ts";

const ID = "delete-rule";

const plan = planFirstOffending((found, snapshot) => planNarrowing(found, snapshot, { id: ID }));

export const deleteRule = {
  id: ID,
  description:
    "Deletes the offending NSG security rule; when the rule also allows traffic that is not offending, takes out only " +
    "the offending (source, port) pairs: the offending sources, or the protected ports, or (when the offending sources " +
    "also reach other ports and other sources remain) it first adds a rule that keeps those other ports for them at a " +
    "free priority next to it, then removes the offending sources.",
  resourceTypes: [NSG_RESOURCE_TYPE],
  permissions: [SECURITY_RULE_DELETE, SECURITY_RULE_WRITE, ASG_JOIN_RULE],
  plan,
  undo: undoSecurityRule,
} satisfies Remediation;
