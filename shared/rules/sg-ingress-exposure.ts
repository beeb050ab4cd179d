import * as z from "zod";
import { AWS_SECURITY_GROUP_TYPE } from "../clouds/aws/kinds/security-group.ts";
import { isWholeSpace, parsePrefix, parsePrefixes } from "../net/ip.ts";
import type { Snapshot } from "../types.ts";
import {
  classNote,
  maxModeFor,
  publicPrefixesOption,
  SOURCE_CLASSES,
  type SourceClass,
  sourceClass,
} from "./common/sources.ts";
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
  publicPrefixes: publicPrefixesOption,
});
export type SgIngressExposureOptions = z.infer<typeof sgIngressExposureOptions>;

interface Offending {
  permission: IpPermission;
  match: ExposureMatch;
  kind: SourceClass;
}

/**
 * Pure: every (permission, CIDR) of the group's ingress that lets the world (or a public prefix outside the trusted
 * ones, or a CIDR that does not parse) reach a protected port.
 */
export function findIngressExposures(
  group: SecurityGroup,
  options: SgIngressExposureOptions,
  context: RuleContext,
): Offending[] {
  const protectedRanges = options.ports.map(parsePortSpec).filter((r): r is PortRange => r !== undefined);
  const policy = {
    trusted: parsePrefixes([...context.trustedSources, ...options.trustedSources]),
    publicPrefixes: options.publicPrefixes,
  };
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
      // EC2 rejects malformed CIDRs on write, but a snapshot may come from elsewhere: one that does not parse is
      // reported (as malformed), never taken for private space.
      const kind = sourceClass(source.cidr, policy);
      if (kind === undefined) continue;
      const prefix = parsePrefix(source.cidr);
      out.push({
        permission,
        kind,
        match: {
          ...keyOf(permission),
          cidr: source.cidr,
          family: source.family,
          ports,
          controls: exposureControls(permission, source.family, prefix !== undefined && isWholeSpace(prefix)),
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
  const policy = {
    trusted: parsePrefixes([...context.trustedSources, ...options.trustedSources]),
    publicPrefixes: options.publicPrefixes,
  };
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
        // The same line as for a CIDR of the rule itself (a malformed entry is reported, never taken as private).
        const kind = sourceClass(entry.Cidr, policy);
        if (kind === undefined) continue;
        const prefix = parsePrefix(entry.Cidr);
        const family = prefix?.family ?? (entry.Cidr.includes(":") ? "ipv6" : "ipv4");
        viaList.push({
          permission,
          kind,
          match: {
            ...keyOf(permission),
            cidr: entry.Cidr,
            family,
            ports,
            controls: exposureControls(permission, family, prefix !== undefined && isWholeSpace(prefix)),
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
    "AWS security group ingress that lets the Internet (0.0.0.0/0, ::/0) reach a protected port; specific public " +
    "prefixes outside the trusted sources (alerted, not remediated, unless the entry opts in) and malformed CIDRs are " +
    "findings of their own",
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
    // One finding per kind of source: revoking 0.0.0.0/0 never takes the allow-listed office range beside it.
    const violations: Violation[] = [];
    for (const kind of SOURCE_CLASSES) {
      const mine = offending.filter((o) => o.kind === kind);
      if (mine.length === 0) continue;
      const controls = EXPOSURE_CONTROLS.filter((c) => mine.some((o) => o.match.controls?.includes(c)));
      const parts = mine.map((o) => describeMatch(o.permission, o.match));
      const maxMode = maxModeFor(kind, options.publicPrefixes);
      violations.push({
        message: `Security group ${groupLabel(group)} allows ${parts.join("; ")}${classNote(kind)}`,
        matched: mine.map((o) => o.match),
        controls,
        kind,
        ...(maxMode ? { maxMode } : {}),
      });
    }
    return [...violations, ...viaLists];
  },
} satisfies RuleDefinition<typeof sgIngressExposureOptions>;
