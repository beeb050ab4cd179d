import { AWS_SECURITY_GROUP_TYPE } from "../clouds/aws/kinds/security-group.ts";
import { formatPorts, portSet, subtract } from "../rules/nsg/ports.ts";
import { exposureMatchSchema, parseMatched } from "../rules/sg/matched.ts";
import { parsePortSpec, permissionPorts } from "../rules/sg/ports.ts";
import { type RevokePermission, revokeCidrsOf, withoutCidrs } from "../rules/sg/revoke.ts";
import {
  type IpPermission,
  normaliseProtocol,
  samePermissionKey,
  securityGroupOf,
} from "../rules/sg/security-group.ts";
import { undoRevokeCidr } from "../rules/sg/undo.ts";
import type { Finding, PlannedChange, Snapshot } from "../types.ts";
import { matchedOf, type Remediation, type RemediationContext } from "./types.ts";

interface PerPermission {
  permission: IpPermission;
  v4: string[];
  v6: string[];
  /** The protected ports the finding names for this permission (policy specs: "22", "1000-2000"). */
  protectedPorts: string[];
}

/**
 * Revokes exactly the offending CIDRs the finding matched that the snapshot still holds: all of them in one
 * RevokeSecurityGroupIngress call (one IpPermissions entry per permission), since EC2 revokes by exact
 * protocol, ports and CIDR and leaves the permission's other CIDRs, prefix lists and group references alone.
 *
 * Never by security group rule id (`sgr-...`), even when the triggering event recorded one: between the read and the
 * revoke the owner may rewrite that rule in place (ModifySecurityGroupRules keeps the id), and a revoke by id would then
 * delete the owner's new, compliant rule. A revoke by content removes the exact (protocol, ports, CIDR) that was read or
 * nothing: EC2 applies it atomically and answers InvalidPermission.NotFound when it is no longer there.
 */
export const revokeCidr: Remediation = {
  id: "revoke-cidr",
  description:
    "Revoke only the offending CIDRs of the security group's ingress permissions, in one call, leaving every other source in place",
  resourceTypes: [AWS_SECURITY_GROUP_TYPE],
  // DescribeSecurityGroupRules: the writer reads the ids of the rules it removes, to settle a lost answer exactly.
  permissions: ["ec2:RevokeSecurityGroupIngress", "ec2:DescribeSecurityGroupRules"],
  plan(snapshot: Snapshot, finding: Finding, _context: RemediationContext): PlannedChange | undefined {
    const group = securityGroupOf(snapshot);
    // A CIDR that comes from a prefix list is not the group's to revoke (the list is shared): never planned here.
    const wanted = parseMatched(exposureMatchSchema, matchedOf(finding)).filter(
      (m) => (m.direction === undefined || m.direction === "ingress") && m.prefixListId === undefined,
    );
    const byPermission = new Map<IpPermission, PerPermission>();
    for (const match of wanted) {
      // Re-check against this snapshot: it may be newer than the finding, and a CIDR already gone must not be
      // revoked again (EC2 would report it as unknown and the writer would take that for a conflict).
      const permission = group.IpPermissions.find((p) => samePermissionKey(p, match));
      if (!permission) continue;
      const present =
        match.family === "ipv4"
          ? permission.IpRanges.some((r) => r.CidrIp === match.cidr)
          : permission.Ipv6Ranges.some((r) => r.CidrIpv6 === match.cidr);
      if (!present) continue;
      const entry = byPermission.get(permission) ?? { permission, v4: [], v6: [], protectedPorts: [] };
      for (const spec of match.ports ?? [])
        if (!entry.protectedPorts.includes(spec)) entry.protectedPorts.push(spec);
      const bucket = match.family === "ipv4" ? entry.v4 : entry.v6;
      if (bucket.includes(match.cidr)) continue;
      bucket.push(match.cidr);
      byPermission.set(permission, entry);
    }
    const entries = [...byPermission.values()];
    if (entries.length === 0) return undefined;

    const ipPermissions: RevokePermission[] = entries.map((e) => revokeCidrsOf(e.permission, e));
    const revoked = entries.flatMap((e) => [...e.v4, ...e.v6]);
    const operation: Record<string, unknown> = {
      kind: "revoke-security-group-ingress",
      groupId: group.GroupId,
      ipPermissions,
    };
    const described = entries
      .flatMap((e) => [...e.v4, ...e.v6].map((cidr) => `${portsText(e.permission)} from ${cidr}`))
      .join(", ");
    const oneCall =
      revoked.length > 1 ? ` (${revoked.length} CIDRs in one RevokeSecurityGroupIngress call)` : "";
    const beyond = entries.flatMap((e) => {
      const more = alsoCloses(e);
      return more === undefined ? [] : [`${more} to ${[...e.v4, ...e.v6].join(", ")}`];
    });
    // EC2 revokes a permission's whole range or nothing: what goes beyond the protected ports is said, for the alert
    // and the audit (the undo puts it all back).
    const alsoText =
      beyond.length > 0 ? `; also closes ${beyond.join("; ")}, which the entry does not protect` : "";
    return {
      remediation: "revoke-cidr",
      // One call revokes every offending CIDR still present.
      complete: true,
      resourceId: snapshot.resourceId,
      summary: `revoke ingress ${described} on ${group.GroupId}${oneCall}${alsoText}; other sources stay`,
      operation,
      before: entries.map((e) => e.permission),
      // null where the permission loses its last source and disappears from the group.
      after: entries.map((e) => withoutCidrs(e.permission, e) ?? null),
    };
  },
  undo: undoRevokeCidr,
};

/**
 * What revoking the entry's CIDRs takes away besides the protected ports: the rest of a tcp/udp range, or every other
 * port and protocol of an all-traffic permission. Undefined when nothing beyond them goes.
 */
function alsoCloses(entry: PerPermission): string | undefined {
  const protocol = normaliseProtocol(entry.permission.IpProtocol);
  const protectedSet = portSet(
    entry.protectedPorts.flatMap((spec) => {
      const range = parsePortSpec(spec);
      return range === undefined ? [] : [range];
    }),
  );
  if (protocol === "all") return "every other protocol and port";
  if (protocol !== "tcp" && protocol !== "udp") return undefined;
  const rest = subtract([permissionPorts(entry.permission)], protectedSet);
  return rest.length === 0 ? undefined : `${protocol} ${formatPorts(rest).join(", ")}`;
}

function portsText(permission: IpPermission): string {
  if (permission.IpProtocol === "-1") return "all traffic";
  const { FromPort: from, ToPort: to } = permission;
  const ports = from === undefined ? "" : from === to ? ` ${from}` : ` ${from}-${to}`;
  return `${permission.IpProtocol}${ports}`;
}
