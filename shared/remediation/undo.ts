// How to put a remediation back, for the alert: a command to paste (az or aws CLI) built from the audited
// before-state, every value shell-quoted (rule names and descriptions are chosen by whoever made the change), plus a
// portal step where one helps.
import type { ActionResult } from "../types.ts";

type Undo = { command?: string; portal?: string } | undefined;
type Where = { region?: string; resourceGroup?: string; account: string };

/** POSIX single quotes: safe to paste whatever the value holds. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];

function pair(p: Record<string, unknown>, single: string, plural: string): string[] {
  const many = strings(p[plural]);
  if (many.length > 0) return many;
  return typeof p[single] === "string" ? [p[single] as string] : [];
}

/** `az network nsg rule create` (a PUT: it overwrites the rule as it is now) with every field of the old rule. */
function nsgRuleUndo(result: ActionResult): Undo {
  const planned = result.planned;
  if (!planned || !isRecord(planned.before) || !isRecord(planned.before.properties)) return undefined;
  const name = planned.before.name;
  if (typeof name !== "string") return undefined;
  const ids =
    /\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/networkSecurityGroups\/([^/]+)/i.exec(
      planned.resourceId,
    );
  if (!ids) return undefined;
  const [, subscription = "", group = "", nsg = ""] = ids;
  const p = planned.before.properties;
  const args: string[] = [
    "az network nsg rule create",
    `--subscription ${shellQuote(subscription)}`,
    `--resource-group ${shellQuote(group)}`,
    `--nsg-name ${shellQuote(nsg)}`,
    `--name ${shellQuote(name)}`,
  ];
  const add = (flag: string, values: string[]) => {
    if (values.length > 0) args.push(`${flag} ${values.map(shellQuote).join(" ")}`);
  };
  add("--priority", typeof p.priority === "number" ? [String(p.priority)] : []);
  add("--direction", typeof p.direction === "string" ? [p.direction] : []);
  add("--access", typeof p.access === "string" ? [p.access] : []);
  add("--protocol", typeof p.protocol === "string" ? [p.protocol] : []);
  add("--source-address-prefixes", pair(p, "sourceAddressPrefix", "sourceAddressPrefixes"));
  add("--source-port-ranges", pair(p, "sourcePortRange", "sourcePortRanges"));
  add("--destination-address-prefixes", pair(p, "destinationAddressPrefix", "destinationAddressPrefixes"));
  add("--destination-port-ranges", pair(p, "destinationPortRange", "destinationPortRanges"));
  const asgs = (key: string) =>
    (Array.isArray(p[key]) ? (p[key] as unknown[]) : []).flatMap((a) =>
      isRecord(a) && typeof a.id === "string" ? [a.id] : [],
    );
  add("--source-asgs", asgs("sourceApplicationSecurityGroups"));
  add("--destination-asgs", asgs("destinationApplicationSecurityGroups"));
  if (typeof p.description === "string" && p.description !== "") add("--description", [p.description]);
  return {
    command: args.join(" \\\n  "),
    portal: `Azure portal: network security group ${nsg} › ${p.direction === "Outbound" ? "Outbound" : "Inbound"} security rules › add (or edit) rule ${name} with the values above`,
  };
}

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
  return [
    `aws ec2 authorize-security-group-${direction}`,
    ...(region ? [`--region ${shellQuote(region)}`] : []),
    `--group-id ${shellQuote(groupId)}`,
    `--ip-permissions ${shellQuote(JSON.stringify(permissions))}`,
  ].join(" \\\n  ");
}

function groupIdOf(result: ActionResult): string | undefined {
  const id = result.planned?.operation.groupId;
  return typeof id === "string" ? id : undefined;
}

const consoleStep = (groupId: string) =>
  `AWS console: EC2 › Security Groups › ${groupId} › Edit inbound rules › add the rules above back`;

const UNDO: Record<string, (result: ActionResult, where: Where) => Undo> = {
  "delete-rule": nsgRuleUndo,
  "deny-rule": nsgRuleUndo,
  "restrict-source": nsgRuleUndo,
  "revoke-cidr": (result, where) => {
    const groupId = groupIdOf(result);
    const permissions = revokedRanges(result.planned?.before, result.planned?.after);
    if (!groupId || permissions.length === 0) return undefined;
    return {
      command: awsAuthorize("ingress", groupId, where.region, permissions),
      portal: consoleStep(groupId),
    };
  },
  "revoke-all": (result, where) => {
    const groupId = groupIdOf(result);
    const before = result.planned?.before;
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
  },
};

/** The undo step for an applied remediation; undefined when the remediation has none to offer. */
export function undoFor(result: ActionResult, where: Where): Undo {
  const id = result.planned?.remediation;
  const build = id === undefined ? undefined : UNDO[id];
  const undo = build?.(result, where);
  if (!undo) return undefined;
  // Bounded like every other alert field.
  return {
    ...(undo.command ? { command: undo.command.slice(0, 4000) } : {}),
    ...(undo.portal ? { portal: undo.portal.slice(0, 1000) } : {}),
  };
}
