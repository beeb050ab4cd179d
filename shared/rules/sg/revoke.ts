// IpPermission bodies for RevokeSecurityGroupIngress / RevokeSecurityGroupEgress. The API revokes by exact
// match on protocol, ports and source; it needs no description, and output-only fields (PeeringStatus)
// have no place in a request, so the bodies carry only what identifies each rule.

import type { IpPermission } from "./security-group.ts";

export interface RevokePermission {
  IpProtocol: string;
  FromPort?: number;
  ToPort?: number;
  IpRanges?: { CidrIp: string }[];
  Ipv6Ranges?: { CidrIpv6: string }[];
  PrefixListIds?: { PrefixListId: string }[];
  UserIdGroupPairs?: { GroupId?: string; GroupName?: string; UserId?: string }[];
}

/** The permission's protocol and ports as a revoke needs them (absent ports stay absent, as for `-1`). */
export function revokeKey(permission: IpPermission): RevokePermission {
  return {
    IpProtocol: permission.IpProtocol,
    ...(permission.FromPort === undefined ? {} : { FromPort: permission.FromPort }),
    ...(permission.ToPort === undefined ? {} : { ToPort: permission.ToPort }),
  };
}

/** A revoke of some CIDRs of one permission, leaving its other sources alone. */
export function revokeCidrsOf(
  permission: IpPermission,
  cidrs: { v4: readonly string[]; v6: readonly string[] },
): RevokePermission {
  return {
    ...revokeKey(permission),
    ...(cidrs.v4.length > 0 ? { IpRanges: cidrs.v4.map((CidrIp) => ({ CidrIp })) } : {}),
    ...(cidrs.v6.length > 0 ? { Ipv6Ranges: cidrs.v6.map((CidrIpv6) => ({ CidrIpv6 })) } : {}),
  };
}

/** A revoke of every source of one permission. */
export function revokeAllOf(permission: IpPermission): RevokePermission {
  const out: RevokePermission = revokeKey(permission);
  if (permission.IpRanges.length > 0) out.IpRanges = permission.IpRanges.map((r) => ({ CidrIp: r.CidrIp }));
  if (permission.Ipv6Ranges.length > 0) {
    out.Ipv6Ranges = permission.Ipv6Ranges.map((r) => ({ CidrIpv6: r.CidrIpv6 }));
  }
  if (permission.PrefixListIds.length > 0) {
    out.PrefixListIds = permission.PrefixListIds.map((p) => ({ PrefixListId: p.PrefixListId }));
  }
  if (permission.UserIdGroupPairs.length > 0) {
    out.UserIdGroupPairs = permission.UserIdGroupPairs.map((pair) => ({
      // GroupName only identifies a group when no id is known (default-VPC era requests).
      ...(pair.GroupId === undefined ? { GroupName: pair.GroupName } : { GroupId: pair.GroupId }),
      ...(pair.UserId === undefined ? {} : { UserId: pair.UserId }),
    }));
  }
  return out;
}

/** The permission without the given CIDRs; undefined when no source at all would remain. */
export function withoutCidrs(
  permission: IpPermission,
  cidrs: { v4: readonly string[]; v6: readonly string[] },
): IpPermission | undefined {
  const after: IpPermission = {
    ...permission,
    IpRanges: permission.IpRanges.filter((r) => !cidrs.v4.includes(r.CidrIp)),
    Ipv6Ranges: permission.Ipv6Ranges.filter((r) => !cidrs.v6.includes(r.CidrIpv6)),
  };
  const remaining =
    after.IpRanges.length +
    after.Ipv6Ranges.length +
    after.PrefixListIds.length +
    after.UserIdGroupPairs.length;
  return remaining > 0 ? after : undefined;
}
