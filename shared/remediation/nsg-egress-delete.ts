// Deny-by-default egress put back by deleting: each outbound Allow that opens the Internet above the Deny is deleted
// (or, when it also opens allowed destinations, only its offending destinations are removed), then the missing Deny to
// the Internet is added at the policy's priority or the lowest free one above the default rules.
import { egressManual, planEgress, undoEgress } from "../rules/nsg/egress-remediate.ts";
import { ASG_JOIN_RULE, SECURITY_RULE_DELETE, SECURITY_RULE_WRITE } from "../rules/nsg/remediate.ts";
import { NSG_RESOURCE_TYPE } from "../rules/nsg/schema.ts";
import type { Finding, PlannedChange, Snapshot } from "../types.ts";
import type { Remediation, RemediationContext } from "./types.ts";

const ID = "nsg-egress-delete";

export const nsgEgressDelete = {
  id: ID,
  description:
    "Deletes each outbound Allow that opens the Internet above the Deny (keeping its allowed destinations when it " +
    "has some), then adds the missing outbound Deny to the Internet; one security rule per etag-guarded write.",
  resourceTypes: [NSG_RESOURCE_TYPE],
  permissions: [SECURITY_RULE_DELETE, SECURITY_RULE_WRITE, ASG_JOIN_RULE],
  plan: (snapshot: Snapshot, finding: Finding, _context: RemediationContext): PlannedChange | undefined =>
    planEgress(ID, "delete", snapshot, finding),
  manual: egressManual,
  undo: undoEgress,
} satisfies Remediation;
