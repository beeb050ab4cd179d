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
    "Revoke only the offending CIDRs of the security group's ingress permissions, in one call, leaving every other source in place; a tcp/udp range wider than the protected ports keeps the rest open for the same CIDRs (authorized first)",
  resourceTypes: [AWS_SECURITY_GROUP_TYPE],
  // DescribeSecurityGroupRules: the writer reads the ids of the rules it removes, to settle a lost answer exactly, and
  // which re-authorized ranges the group already holds. AuthorizeSecurityGroupIngress: the unprotected ports of a
  // range, kept open for the same CIDRs (scoped like the revoke to the account's and region's groups).
  permissions: [
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:RevokeSecurityGroupIngress",
    "ec2:DescribeSecurityGroupRules",
  ],
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
    // The ports of each permission the entry does not protect, authorized again for the same CIDRs before the revoke
    // (see the writer for why first): EC2 revokes a permission's range whole, so this is how only the protected ports
    // close. Only tcp and udp can be split; an all-traffic permission keeps the whole revoke (see keptRanges).
    const authorize = entries.flatMap((e) => keptRanges(e));
    const revoked = entries.flatMap((e) => [...e.v4, ...e.v6]);
    const operation: Record<string, unknown> = {
      kind: "revoke-security-group-ingress",
      groupId: group.GroupId,
      ...(authorize.length > 0 ? { authorize } : {}),
      ipPermissions,
    };
    const described = entries
      .flatMap((e) => [...e.v4, ...e.v6].map((cidr) => `${portsText(e.permission)} from ${cidr}`))
      .join(", ");
    const oneCall =
      revoked.length > 1 ? ` (${revoked.length} CIDRs in one RevokeSecurityGroupIngress call)` : "";
    const kept = entries.flatMap((e) => {
      const rest = keptPorts(e);
      return rest === undefined ? [] : [`${rest} to ${[...e.v4, ...e.v6].join(", ")}`];
    });
    const beyond = entries.flatMap((e) => {
      const more = keptPorts(e) === undefined ? alsoCloses(e) : undefined;
      return more === undefined ? [] : [`${more} to ${[...e.v4, ...e.v6].join(", ")}`];
    });
    const keptText =
      kept.length > 0
        ? `; keeps ${kept.join("; ")} open (AuthorizeSecurityGroupIngress of those first, then the revoke: EC2 revokes a range whole)`
        : "";
    // What goes beyond the protected ports and cannot be kept is said, for the alert and the audit (the undo puts it
    // all back).
    const alsoText =
      beyond.length > 0 ? `; also closes ${beyond.join("; ")}, which the entry does not protect` : "";
    return {
      remediation: "revoke-cidr",
      // One call revokes every offending CIDR still present.
      complete: true,
      resourceId: snapshot.resourceId,
      summary: `revoke ingress ${described} on ${group.GroupId}${oneCall}${keptText}${alsoText}; other sources stay`,
      operation,
      before: entries.map((e) => e.permission),
      // One per `before` entry (null where the permission loses its last source and disappears from the group), then
      // the ranges authorized again: the audit shows both calls' effect. The undo pairs `before` and `after` by index.
      after: [...entries.map((e) => withoutCidrs(e.permission, e) ?? null), ...authorize],
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
  const protectedSet = protectedSetOf(entry);
  if (protocol === "all") return "every other protocol and port";
  if (protocol !== "tcp" && protocol !== "udp") return undefined;
  const rest = subtract([permissionPorts(entry.permission)], protectedSet);
  return rest.length === 0 ? undefined : `${protocol} ${formatPorts(rest).join(", ")}`;
}

function protectedSetOf(entry: PerPermission) {
  return portSet(
    entry.protectedPorts.flatMap((spec) => {
      const range = parsePortSpec(spec);
      return range === undefined ? [] : [range];
    }),
  );
}

/**
 * The ports of a tcp/udp permission outside the protected ones, when the protected ones take only part of its range:
 * those are re-authorized for the offending CIDRs. Undefined when nothing is to keep: the range is all protected, the
 * finding names no ports (nothing to tell protected from not), or the protocol has no ports to split. An all-traffic
 * (`-1`) permission is never split: its remainder is every other protocol (GRE, ESP, ICMP, ...), which would take one
 * permission each (up to 255) and blow the group's rule limit; it keeps the whole revoke, and the alert says so.
 */
function keptSet(entry: PerPermission) {
  const protocol = normaliseProtocol(entry.permission.IpProtocol);
  if (protocol !== "tcp" && protocol !== "udp") return undefined;
  if (entry.protectedPorts.length === 0) return undefined;
  const range = permissionPorts(entry.permission);
  const protectedSet = protectedSetOf(entry);
  const rest = subtract([range], protectedSet);
  // Protected ports outside this range (the finding is about another permission's ports): nothing here offends them,
  // and splitting would be arbitrary; the revoke stays as planned before.
  if (rest.length === 0 || (rest.length === 1 && rest[0]?.[0] === range[0] && rest[0]?.[1] === range[1])) {
    return undefined;
  }
  return { protocol, rest };
}

function keptPorts(entry: PerPermission): string | undefined {
  const kept = keptSet(entry);
  return kept === undefined ? undefined : `${kept.protocol} ${formatPorts(kept.rest).join(", ")}`;
}

/** The AuthorizeSecurityGroupIngress permissions that keep the unprotected ports open, descriptions carried. */
function keptRanges(entry: PerPermission): AuthorizePermission[] {
  const kept = keptSet(entry);
  if (kept === undefined) return [];
  const { permission } = entry;
  const v4 = permission.IpRanges.filter((r) => entry.v4.includes(r.CidrIp));
  const v6 = permission.Ipv6Ranges.filter((r) => entry.v6.includes(r.CidrIpv6));
  return kept.rest.map(([from, to]) => ({
    IpProtocol: permission.IpProtocol,
    FromPort: from,
    ToPort: to,
    ...(v4.length > 0
      ? { IpRanges: v4.map((r) => ({ CidrIp: r.CidrIp, ...descriptionOf(r.Description) })) }
      : {}),
    ...(v6.length > 0
      ? { Ipv6Ranges: v6.map((r) => ({ CidrIpv6: r.CidrIpv6, ...descriptionOf(r.Description) })) }
      : {}),
  }));
}

const descriptionOf = (d: string | undefined) => (d === undefined ? {} : { Description: d });

interface AuthorizePermission {
  IpProtocol: string;
  FromPort: number;
  ToPort: number;
  IpRanges?: { CidrIp: string; Description?: string }[];
  Ipv6Ranges?: { CidrIpv6: string; Description?: string }[];
}

function portsText(permission: IpPermission): string {
  if (permission.IpProtocol === "-1") return "all traffic";
  const { FromPort: from, ToPort: to } = permission;
  const ports = from === undefined ? "" : from === to ? ` ${from}` : ` ${from}-${to}`;
  return `${permission.IpProtocol}${ports}`;
}
