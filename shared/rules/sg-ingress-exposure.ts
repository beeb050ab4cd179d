import * as z from "zod";
import { AWS_SECURITY_GROUP_TYPE } from "../clouds/aws/kinds/security-group.ts";
import {
  isWholeSpace,
  type Prefix,
  parsePrefix,
  parsePrefixes,
  reachesPublicSpace,
  withinAny,
} from "../net/ip.ts";
import type { Snapshot } from "../types.ts";
import { EXPOSURE_CONTROLS, exposureControls } from "./sg/controls.ts";
import { type ExposureMatch, keyOf } from "./sg/matched.ts";
import { formatRange, intersectRange, type PortRange, parsePortSpec, permissionPorts } from "./sg/ports.ts";
import {
  prefixListLabel,
  prefixListsOf,
  type ResolvedPrefixList,
  unreadableReason,
} from "./sg/prefix-lists.ts";
import {
  type IpPermission,
  normaliseProtocol,
  protocolLabel,
  type SecurityGroup,
  securityGroupOf,
} from "./sg/security-group.ts";
import type { RuleContext, RuleDefinition, Violation } from "./types.ts";

const portSpec = z
  .union([
    z.number().int().min(0).max(65535),
    z.string().refine((s) => parsePortSpec(s) !== undefined, {
      message: 'expected a port "22" or a range "20-25" within 0-65535',
    }),
  ])
  .describe('A port (22) or a range ("1024-2048")');

const cidr = z.string().refine((s) => parsePrefix(s) !== undefined, {
  message: "expected an IPv4 or IPv6 address or CIDR prefix, e.g. 203.0.113.10/32",
});

export const sgIngressExposureOptions = z.strictObject({
  ports: z
    .array(portSpec)
    .min(1)
    .default([22, 3389])
    .describe("Protected destination ports; a permission whose range contains any of them is checked"),
  protocols: z
    .array(z.enum(["tcp", "udp"]))
    .min(1)
    .default(["tcp"])
    .describe("Protected protocols; a permission for all protocols (-1) always counts"),
  trustedSources: z
    .array(cidr)
    .default([])
    .describe("Prefixes allowed to reach the protected ports, added to the policy's trustedSources"),
  publicPrefixes: z
    .boolean()
    .default(true)
    .describe(
      "Whether a specific public prefix outside the trusted ones counts; 0.0.0.0/0 and ::/0 always count",
    ),
});
export type SgIngressExposureOptions = z.infer<typeof sgIngressExposureOptions>;

interface Offending {
  permission: IpPermission;
  match: ExposureMatch;
}

/** Pure: every (permission, CIDR) of the group's ingress that lets the world reach a protected port. */
export function findIngressExposures(
  group: SecurityGroup,
  options: SgIngressExposureOptions,
  context: RuleContext,
): Offending[] {
  const protectedRanges = options.ports.map(parsePortSpec).filter((r): r is PortRange => r !== undefined);
  const trusted = parsePrefixes([...context.trustedSources, ...options.trustedSources]);
  const out: Offending[] = [];
  for (const permission of group.IpPermissions) {
    const protocol = normaliseProtocol(permission.IpProtocol);
    const protocolMatches =
      protocol === "all" ||
      ((protocol === "tcp" || protocol === "udp") && options.protocols.includes(protocol));
    if (!protocolMatches) continue;
    const open = permissionPorts(permission);
    const reached = protectedRanges
      .map((r) => intersectRange(r, open))
      .filter((r): r is PortRange => r !== undefined);
    if (reached.length === 0) continue;
    const ports = [...new Set(reached.map(formatRange))];
    const sources: { cidr: string; family: "ipv4" | "ipv6" }[] = [
      ...permission.IpRanges.map((r) => ({ cidr: r.CidrIp, family: "ipv4" as const })),
      ...permission.Ipv6Ranges.map((r) => ({ cidr: r.CidrIpv6, family: "ipv6" as const })),
    ];
    // Prefix lists and security group references name AWS-managed or own sources, never the world.
    for (const source of sources) {
      const prefix = parsePrefix(source.cidr);
      // EC2 rejects malformed CIDRs on write, so a stored one always parses; skip rather than guess.
      if (!prefix || !offends(prefix, trusted, options.publicPrefixes)) continue;
      out.push({
        permission,
        match: {
          ...keyOf(permission),
          cidr: source.cidr,
          family: source.family,
          ports,
          controls: exposureControls(permission, source.family, isWholeSpace(prefix)),
        },
      });
    }
  }
  return out;
}

/** The protected ports (as policy specs) a permission opens for a protected protocol; undefined when none. */
function protectedPortsOf(permission: IpPermission, options: SgIngressExposureOptions): string[] | undefined {
  const protocol = normaliseProtocol(permission.IpProtocol);
  const protocolMatches =
    protocol === "all" ||
    ((protocol === "tcp" || protocol === "udp") && options.protocols.includes(protocol));
  if (!protocolMatches) return undefined;
  const open = permissionPorts(permission);
  const reached = options.ports
    .map(parsePortSpec)
    .filter((r): r is PortRange => r !== undefined)
    .map((r) => intersectRange(r, open))
    .filter((r): r is PortRange => r !== undefined);
  return reached.length === 0 ? undefined : [...new Set(reached.map(formatRange))];
}

interface UnreadableReference {
  permission: IpPermission;
  prefixListId: string;
  ports: string[];
  list: ResolvedPrefixList | undefined;
}

/**
 * Pure: the exposures that come through prefix lists the group's ingress references on protected ports. Entries of a
 * customer-managed list are judged exactly as CIDRs of the rule itself; AWS-managed lists are service ranges; a list
 * that could not be read (or was never resolved) is reported on its own, never taken as harmless.
 */
export function findPrefixListExposures(
  group: SecurityGroup,
  lists: ReadonlyMap<string, ResolvedPrefixList>,
  options: SgIngressExposureOptions,
  context: RuleContext,
): { viaList: Offending[]; unreadable: UnreadableReference[] } {
  const trusted = parsePrefixes([...context.trustedSources, ...options.trustedSources]);
  const viaList: Offending[] = [];
  const unreadable: UnreadableReference[] = [];
  for (const permission of group.IpPermissions) {
    if (permission.PrefixListIds.length === 0) continue;
    const ports = protectedPortsOf(permission, options);
    if (ports === undefined) continue;
    for (const { PrefixListId: prefixListId } of permission.PrefixListIds) {
      const list = lists.get(prefixListId);
      if (list?.state === "aws-managed") continue;
      if (list?.state !== "customer-managed") {
        unreadable.push({ permission, prefixListId, ports, list });
        continue;
      }
      for (const entry of list.entries) {
        const prefix = parsePrefix(entry.Cidr);
        // EC2 validates entries on write; one that does not parse is left out rather than guessed at.
        if (!prefix || !offends(prefix, trusted, options.publicPrefixes)) continue;
        viaList.push({
          permission,
          match: {
            ...keyOf(permission),
            cidr: entry.Cidr,
            family: prefix.family,
            ports,
            controls: exposureControls(permission, prefix.family, isWholeSpace(prefix)),
            prefixListId,
          },
        });
      }
    }
  }
  return { viaList, unreadable };
}

function prefixListViolations(
  group: SecurityGroup,
  lists: ReadonlyMap<string, ResolvedPrefixList>,
  options: SgIngressExposureOptions,
  context: RuleContext,
): Violation[] {
  const { viaList, unreadable } = findPrefixListExposures(group, lists, options, context);
  const out: Violation[] = [];
  if (viaList.length > 0) {
    const ids = [...new Set(viaList.map((o) => o.match.prefixListId ?? ""))];
    const names = ids.map((id) => prefixListLabel(id, lists.get(id))).join(", ");
    const parts = viaList.map(
      (o) =>
        `${describeMatch(o.permission, o.match)} (in prefix list ${prefixListLabel(o.match.prefixListId ?? "", lists.get(o.match.prefixListId ?? ""))})`,
    );
    out.push({
      message: `Security group ${groupLabel(group)} allows ${parts.join("; ")}`,
      matched: viaList.map((o) => o.match),
      controls: EXPOSURE_CONTROLS.filter((c) => viaList.some((o) => o.match.controls?.includes(c))),
      alertOnly:
        `the exposure comes from customer-managed prefix list ${names}, which other groups and route tables may ` +
        "use: the guardian does not edit prefix lists. Remove the entry from the list, or the list from this rule",
    });
  }
  if (unreadable.length > 0) {
    const parts = unreadable.map(
      (u) =>
        `${protocolLabel(u.permission.IpProtocol)} ${u.ports.join(", ")} from prefix list ${u.prefixListId}, ` +
        `which could not be read (${unreadableReason(u.list)})`,
    );
    out.push({
      message: `Security group ${groupLabel(group)} allows ${parts.join("; ")}: it may hold 0.0.0.0/0`,
      matched: unreadable.map((u) => ({
        ...keyOf(u.permission),
        prefixListId: u.prefixListId,
        ports: u.ports,
        unreadable: unreadableReason(u.list),
      })),
      // What the list holds is unknown, so no control can be said to fail.
      controls: [],
      alertOnly:
        "the guardian could not read what the prefix list allows and does not change a group on a guess: " +
        "check the list (and the guardian's ec2:GetManagedPrefixListEntries access)",
    });
  }
  return out;
}

function offends(prefix: Prefix, trusted: readonly Prefix[], publicPrefixes: boolean): boolean {
  // The whole space is never "within" a trusted range in a way that makes it safe.
  if (isWholeSpace(prefix)) return true;
  if (!publicPrefixes || !reachesPublicSpace(prefix)) return false;
  return !withinAny(prefix, trusted);
}

function describeMatch(permission: IpPermission, match: ExposureMatch): string {
  const ports = (match.ports ?? []).join(", ");
  if (normaliseProtocol(permission.IpProtocol) === "all") {
    return `all traffic (ports ${ports} among it) from ${match.cidr}`;
  }
  const open = formatRange(permissionPorts(permission));
  const detail = open === ports ? "" : ` (rule opens ${open})`;
  return `${protocolLabel(permission.IpProtocol)} ${ports}${detail} from ${match.cidr}`;
}

function groupLabel(group: SecurityGroup): string {
  return group.GroupName ? `${group.GroupName} (${group.GroupId})` : group.GroupId;
}

export const sgIngressExposure = {
  id: "sg-ingress-exposure",
  description:
    "AWS security group ingress that lets the Internet (0.0.0.0/0, ::/0 or an untrusted public prefix) reach a protected port",
  cloud: "aws",
  resourceTypes: [AWS_SECURITY_GROUP_TYPE],
  // Each finding names only the controls its matched parts fail (see Violation.controls); this is the set.
  controls: EXPOSURE_CONTROLS,
  options: sgIngressExposureOptions,
  permissions: ["ec2:DescribeSecurityGroups"],
  remediations: ["revoke-cidr"],
  example: [
    "- name: no-admin-ports-from-world",
    "  rule: sg-ingress-exposure",
    "  mode: remediate",
    "  severity: high",
    "  remediation: revoke-cidr",
    "  options:",
    "    ports: [22, 3389]",
    "",
  ].join("\n"),
  evaluate(snapshot: Snapshot, options: SgIngressExposureOptions, context: RuleContext): Violation[] {
    const group = securityGroupOf(snapshot);
    const viaLists = prefixListViolations(group, prefixListsOf(snapshot), options, context);
    const offending = findIngressExposures(group, options, context);
    if (offending.length === 0) return viaLists;
    const controls = EXPOSURE_CONTROLS.filter((c) => offending.some((o) => o.match.controls?.includes(c)));
    const parts = offending.map((o) => describeMatch(o.permission, o.match));
    return [
      {
        message: `Security group ${groupLabel(group)} allows ${parts.join("; ")}`,
        matched: offending.map((o) => o.match),
        controls,
      },
      ...viaLists,
    ];
  },
} satisfies RuleDefinition<typeof sgIngressExposureOptions>;
