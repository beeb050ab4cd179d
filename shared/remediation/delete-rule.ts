// Removes an NSG rule's Internet exposure with the smallest edit: drop only the offending sources when
// others remain, else only the offending ports when others remain, else delete the rule.
import { destinationPortSpecsOf, sourcePrefixesOf } from "../rules/nsg/exposure.ts";
import { formatPorts, type PortSet, parsePortSpec, subtract } from "../rules/nsg/ports.ts";
import {
  ASG_JOIN_RULE,
  DESTINATION_PORT_PAIR,
  deleteChange,
  exposureText,
  isOffendingToken,
  planFirstOffending,
  putChange,
  ruleWith,
  SECURITY_RULE_DELETE,
  SECURITY_RULE_WRITE,
  SOURCE_PAIR,
  withPair,
} from "../rules/nsg/remediate.ts";
import { NSG_RESOURCE_TYPE } from "../rules/nsg/schema.ts";
import { undoSecurityRule } from "../rules/nsg/undo.ts";
import type { PlannedChange } from "../types.ts";
import type { Remediation, RemediationContext } from "./types.ts";

const ID = "delete-rule";

/** Each port spec minus the offending ports, split where needed; undefined if a spec is unreadable. */
function remainingPortSpecs(specs: readonly string[], offending: PortSet): string[] | undefined {
  const out: string[] = [];
  for (const spec of specs) {
    const interval = parsePortSpec(spec);
    if (!interval) return undefined;
    const left = subtract([interval], offending);
    // An untouched spec keeps its spelling (`*` stays `*`, not 0-65535).
    const pieces =
      left.length === 1 && left[0]?.[0] === interval[0] && left[0]?.[1] === interval[1]
        ? [spec]
        : formatPorts(left);
    for (const piece of pieces) if (!out.includes(piece)) out.push(piece);
  }
  return out;
}

const plan = planFirstOffending((found, snapshot, _context: RemediationContext): PlannedChange => {
  const { rule, raw, exposure } = found;
  const p = rule.properties;
  const what = exposureText(exposure);

  const sources = sourcePrefixesOf(p);
  const kept = sources.filter((token) => !isOffendingToken(exposure, token));
  const removed = sources.filter((token) => isOffendingToken(exposure, token));
  const asgCount = p.sourceApplicationSecurityGroups?.length ?? 0;
  if (kept.length > 0 || asgCount > 0) {
    const after = ruleWith(raw, withPair(raw.properties, SOURCE_PAIR, kept));
    const keeps = kept.length > 0 ? kept.join(", ") : "its application security groups";
    return putChange(
      ID,
      snapshot,
      raw,
      after,
      `remove source ${removed.join(", ")} from security rule ${rule.name} (it allowed ${what}); keeps ${keeps}`,
    );
  }

  const specs = destinationPortSpecsOf(p);
  const remaining = remainingPortSpecs(specs, exposure.ports);
  if (remaining && remaining.length > 0) {
    const after = ruleWith(raw, withPair(raw.properties, DESTINATION_PORT_PAIR, remaining));
    return putChange(
      ID,
      snapshot,
      raw,
      after,
      `remove port ${formatPorts(exposure.ports).join(", ")} from security rule ${rule.name} (it allowed ${what}); keeps ${remaining.join(", ")}`,
    );
  }

  return deleteChange(ID, snapshot, raw, `delete security rule ${rule.name} (it allowed ${what})`);
});

export const deleteRule = {
  id: ID,
  description:
    "Deletes the offending NSG security rule; when the rule also allows other sources or ports, narrows it instead " +
    "(removes only the offending sources, else only the offending ports), so legitimate traffic keeps flowing.",
  resourceTypes: [NSG_RESOURCE_TYPE],
  permissions: [SECURITY_RULE_DELETE, SECURITY_RULE_WRITE, ASG_JOIN_RULE],
  plan,
  undo: undoSecurityRule,
} satisfies Remediation;
