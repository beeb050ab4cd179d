import { AWS_SECURITY_GROUP_TYPE } from "../clouds/aws/kinds/security-group.ts";
import { InputError } from "../errors.ts";
import { revokeAllOf } from "../rules/sg/revoke.ts";
import { isDefaultGroup, securityGroupOf } from "../rules/sg/security-group.ts";
import { undoRevokeAll } from "../rules/sg/undo.ts";
import type { Finding, PlannedChange, Snapshot } from "../types.ts";
import { matchedOf, type Remediation, type RemediationContext } from "./types.ts";

/**
 * Empties a VPC's default security group: every ingress and egress permission the snapshot holds now
 * (not only what the finding saw: the goal is an empty group, and rules added since are just as wrong).
 */
export const revokeAll: Remediation = {
  id: "revoke-all",
  description: "Revoke every inbound and outbound rule of a VPC's default security group",
  resourceTypes: [AWS_SECURITY_GROUP_TYPE],
  permissions: [
    "ec2:RevokeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:DescribeSecurityGroupRules",
  ],
  plan(snapshot: Snapshot, finding: Finding, _context: RemediationContext): PlannedChange | undefined {
    // What it revokes comes from the snapshot, but a damaged finding is refused here as by every planner.
    matchedOf(finding);
    const group = securityGroupOf(snapshot);
    // Emptying any other group would cut off whatever uses it: a policy pointing this at another rule is a
    // mistake to surface, not to carry out.
    if (!isDefaultGroup(group)) {
      throw new InputError(
        `revoke-all only empties a VPC's default security group; ${group.GroupId} is "${group.GroupName ?? "?"}"`,
      );
    }
    const ingress = group.IpPermissions.map(revokeAllOf);
    const egress = group.IpPermissionsEgress.map(revokeAllOf);
    if (ingress.length === 0 && egress.length === 0) return undefined;
    return {
      remediation: "revoke-all",
      complete: true,
      resourceId: snapshot.resourceId,
      summary:
        `revoke all ${ingress.length} inbound and ${egress.length} outbound permission(s) of default security group ` +
        `${group.GroupId}${group.VpcId ? ` (${group.VpcId})` : ""}`,
      operation: { kind: "revoke-security-group-rules", groupId: group.GroupId, ingress, egress },
      before: { IpPermissions: group.IpPermissions, IpPermissionsEgress: group.IpPermissionsEgress },
      after: { IpPermissions: [], IpPermissionsEgress: [] },
    };
  },
  undo: undoRevokeAll,
};
