// How to put a security group remediation back: `aws ec2 authorize-security-group-ingress|egress` with exactly what
// was revoked (from the audited before- and after-state), shell-quoted, and the console step.
import type { UndoStep, UndoWhere } from "../../remediation/types.ts";
import { shellQuote } from "../../shell.ts";
import type { PlannedChange } from "../../types.ts";

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
function permissionForCli(p: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { IpProtocol: p.IpProtocol };
  if (p.FromPort !== undefined) out.FromPort = p.FromPort;
  if (p.ToPort !== undefined) out.ToPort = p.ToPort;
  const list = (key: string, fields: string[]) => {
    const items = Array.isArray(p[key]) ? (p[key] as unknown[]).filter(isRecord) : [];
    if (items.length === 0) return;
    out[key] = items.map((i) =>
      Object.fromEntries(fields.filter((f) => i[f] !== undefined).map((f) => [f, i[f]])),
    );
  };
  list("IpRanges", ["CidrIp", "Description"]);
  list("Ipv6Ranges", ["CidrIpv6", "Description"]);
  list("PrefixListIds", ["PrefixListId", "Description"]);
  list("UserIdGroupPairs", ["GroupId", "UserId", "Description"]);
  return out;
}

/** What revoke-cidr took away: each permission's ranges in `before` and not in `after`. */
function revokedRanges(before: unknown, after: unknown): Record<string, unknown>[] {
  if (!Array.isArray(before)) return [];
  const afterList = Array.isArray(after) ? after : [];
  return before.flatMap((b, i) => {
    if (!isRecord(b)) return [];
    const a = afterList[i];
    const kept = (key: string, field: string) =>
      new Set(
        (isRecord(a) && Array.isArray(a[key]) ? (a[key] as unknown[]) : []).flatMap((r) =>
          isRecord(r) && typeof r[field] === "string" ? [r[field] as string] : [],
        ),
      );
    const gone = (key: string, field: string) =>
      (Array.isArray(b[key]) ? (b[key] as unknown[]) : []).filter(
        (r) => isRecord(r) && typeof r[field] === "string" && !kept(key, field).has(r[field] as string),
      );
    const v4 = gone("IpRanges", "CidrIp");
    const v6 = gone("Ipv6Ranges", "CidrIpv6");
    if (v4.length === 0 && v6.length === 0) return [];
    return [
      permissionForCli({ ...b, IpRanges: v4, Ipv6Ranges: v6, PrefixListIds: [], UserIdGroupPairs: [] }),
    ];
  });
}

function awsAuthorize(
  direction: "ingress" | "egress",
  groupId: string,
  region: string | undefined,
  permissions: unknown[],
): string {
  return awsCall("authorize", direction, groupId, region, permissions);
}

function awsCall(
  verb: "authorize" | "revoke",
  direction: "ingress" | "egress",
  groupId: string,
  region: string | undefined,
  permissions: unknown[],
): string {
  return [
    `aws ec2 ${verb}-security-group-${direction}`,
    ...(region ? [`--region ${shellQuote(region)}`] : []),
    `--group-id ${shellQuote(groupId)}`,
    `--ip-permissions ${shellQuote(JSON.stringify(permissions))}`,
  ].join(" \\\n  ");
}

function groupIdOf(planned: PlannedChange): string | undefined {
  const id = planned.operation.groupId;
  return typeof id === "string" ? id : undefined;
}

const consoleStep = (groupId: string) =>
  `AWS console: EC2 › Security Groups › ${groupId} › Edit inbound rules › add the rules above back`;

export function undoRevokeCidr(planned: PlannedChange, where: UndoWhere): UndoStep | undefined {
  const groupId = groupIdOf(planned);
  const permissions = revokedRanges(planned.before, planned.after);
  if (!groupId || permissions.length === 0) return undefined;
  // The narrowed ranges authorized before the revoke go first (revoked by content, descriptions dropped), then the
  // original range comes back whole: the group is as it was read.
  const added = Array.isArray(planned.operation.authorize)
    ? planned.operation.authorize
        .filter(isRecord)
        .map(permissionForCli)
        .map((p) => ({
          ...p,
          ...(Array.isArray(p.IpRanges)
            ? { IpRanges: p.IpRanges.filter(isRecord).map((r) => ({ CidrIp: r.CidrIp })) }
            : {}),
          ...(Array.isArray(p.Ipv6Ranges)
            ? { Ipv6Ranges: p.Ipv6Ranges.filter(isRecord).map((r) => ({ CidrIpv6: r.CidrIpv6 })) }
            : {}),
        }))
    : [];
  const commands = [
    ...(added.length > 0 ? [awsCall("revoke", "ingress", groupId, where.region, added)] : []),
    awsAuthorize("ingress", groupId, where.region, permissions),
  ];
  return { command: commands.join("\n"), portal: consoleStep(groupId) };
}

export function undoRevokeAll(planned: PlannedChange, where: UndoWhere): UndoStep | undefined {
  const groupId = groupIdOf(planned);
  const before = planned.before;
  if (!groupId || !isRecord(before)) return undefined;
  const list = (key: string) =>
    Array.isArray(before[key]) ? (before[key] as unknown[]).filter(isRecord).map(permissionForCli) : [];
  const commands = [
    ...(list("IpPermissions").length > 0
      ? [awsAuthorize("ingress", groupId, where.region, list("IpPermissions"))]
      : []),
    ...(list("IpPermissionsEgress").length > 0
      ? [awsAuthorize("egress", groupId, where.region, list("IpPermissionsEgress"))]
      : []),
  ];
  return commands.length > 0 ? { command: commands.join("\n"), portal: consoleStep(groupId) } : undefined;
}
