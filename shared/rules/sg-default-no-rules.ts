import * as z from "zod";
import { AWS_SECURITY_GROUP_TYPE } from "../clouds/aws/kinds/security-group.ts";
import type { Snapshot } from "../types.ts";
import { DEFAULT_GROUP_CONTROLS } from "./sg/controls.ts";
import { type DefaultRuleMatch, keyOf } from "./sg/matched.ts";
import {
  type IpPermission,
  isDefaultGroup,
  normaliseProtocol,
  protocolLabel,
  securityGroupOf,
} from "./sg/security-group.ts";
import type { RuleContext, RuleDefinition, Violation } from "./types.ts";

export const sgDefaultNoRulesOptions = z.strictObject({});

/** One entry per source (CIDR, prefix list, group reference) of every permission, in the group's order. */
export function defaultGroupMatches(
  direction: "ingress" | "egress",
  permissions: IpPermission[],
): DefaultRuleMatch[] {
  return permissions.flatMap((permission) => {
    const key = { direction, ...keyOf(permission) };
    return [
      ...permission.IpRanges.map((r) => ({ ...key, cidr: r.CidrIp })),
      ...permission.Ipv6Ranges.map((r) => ({ ...key, cidr: r.CidrIpv6 })),
      ...permission.PrefixListIds.map((p) => ({ ...key, prefixListId: p.PrefixListId })),
      ...permission.UserIdGroupPairs.map((pair) => ({
        ...key,
        ...(pair.GroupId === undefined ? {} : { groupId: pair.GroupId }),
        ...(pair.UserId === undefined ? {} : { userId: pair.UserId }),
      })),
    ];
  });
}

function describe(match: DefaultRuleMatch, selfId: string): string {
  const protocol = normaliseProtocol(match.protocol);
  const ports =
    (protocol === "tcp" || protocol === "udp") && match.fromPort !== undefined
      ? ` ${match.fromPort === match.toPort ? match.fromPort : `${match.fromPort}-${match.toPort}`}`
      : "";
  const source =
    match.cidr ??
    match.prefixListId ??
    (match.groupId === selfId ? `${selfId} (itself)` : (match.groupId ?? "a group"));
  const way = match.direction === "ingress" ? "from" : "to";
  return `${match.direction} ${protocolLabel(match.protocol)}${ports} ${way} ${source}`;
}

export const sgDefaultNoRules = {
  id: "sg-default-no-rules",
  description: "The default security group of a VPC must have no inbound and no outbound rules",
  cloud: "aws",
  resourceTypes: [AWS_SECURITY_GROUP_TYPE],
  controls: DEFAULT_GROUP_CONTROLS,
  options: sgDefaultNoRulesOptions,
  permissions: ["ec2:DescribeSecurityGroups"],
  remediations: ["revoke-all"],
  example: [
    "- name: default-security-groups-closed",
    "  rule: sg-default-no-rules",
    "  mode: remediate",
    "  severity: high",
    "  remediation: revoke-all",
    "",
  ].join("\n"),
  evaluate(
    snapshot: Snapshot,
    _options: z.infer<typeof sgDefaultNoRulesOptions>,
    _context: RuleContext,
  ): Violation[] {
    const group = securityGroupOf(snapshot);
    if (!isDefaultGroup(group)) return [];
    const matched = [
      ...defaultGroupMatches("ingress", group.IpPermissions),
      ...defaultGroupMatches("egress", group.IpPermissionsEgress),
    ];
    if (matched.length === 0) return [];
    const inbound = matched.filter((m) => m.direction === "ingress").length;
    const outbound = matched.length - inbound;
    const vpc = group.VpcId ? ` of ${group.VpcId}` : "";
    return [
      {
        message:
          `Default security group ${group.GroupId}${vpc} has ${inbound} inbound and ${outbound} outbound rule(s): ` +
          matched.map((m) => describe(m, group.GroupId)).join("; "),
        matched,
        controls: [...DEFAULT_GROUP_CONTROLS],
      },
    ];
  },
} satisfies RuleDefinition<typeof sgDefaultNoRulesOptions>;
