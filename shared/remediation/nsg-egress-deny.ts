// Deny-by-default egress put back by denying: each outbound Allow that opens the Internet above the Deny is set to
// Deny where it stands (its owner sees what was blocked), then the missing Deny to the Internet is added.
import { egressManual, planEgress, undoEgress } from "../rules/nsg/egress-remediate.ts";
import { ASG_JOIN_RULE, SECURITY_RULE_WRITE } from "../rules/nsg/remediate.ts";
import { NSG_RESOURCE_TYPE } from "../rules/nsg/schema.ts";
import type { Finding, PlannedChange, Snapshot } from "../types.ts";
import type { Remediation, RemediationContext } from "./types.ts";

const ID = "nsg-egress-deny";

export const nsgEgressDeny = {
  id: ID,
  description:
    "Sets each outbound Allow that opens the Internet above the Deny to Deny, keeping it visible at its priority, " +
    "then adds the missing outbound Deny to the Internet; one security rule per etag-guarded write.",
  resourceTypes: [NSG_RESOURCE_TYPE],
  permissions: [SECURITY_RULE_WRITE, ASG_JOIN_RULE],
  plan: (snapshot: Snapshot, finding: Finding, _context: RemediationContext): PlannedChange | undefined =>
    planEgress(ID, "deny", snapshot, finding),
  manual: egressManual,
  undo: undoEgress,
} satisfies Remediation;
