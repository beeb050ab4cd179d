// One item of EC2 DescribeSecurityGroups, as the AWS SDK v3 and the AWS CLI return it (both PascalCase).
// Shapes follow the EC2 API reference (SecurityGroup, IpPermission, IpRange, Ipv6Range, PrefixListId,
// UserIdGroupPair) as typed in @aws-sdk/client-ec2. Loose objects: AWS adds fields (SecurityGroupArn was
// added years after the rest) and `before` in an audit record must show the permission exactly as read.

import * as z from "zod";
import { InputError } from "../../errors.ts";
import type { Snapshot } from "../../types.ts";

// Some serialisers (AWS Config, older tools) write null for an empty list; treat it as empty.
const list = <T extends z.ZodType>(item: T) =>
  z
    .array(item)
    .nullish()
    .transform((v) => v ?? []);

const ipRangeSchema = z.looseObject({ CidrIp: z.string(), Description: z.string().optional() });
const ipv6RangeSchema = z.looseObject({ CidrIpv6: z.string(), Description: z.string().optional() });
const prefixListIdSchema = z.looseObject({ PrefixListId: z.string(), Description: z.string().optional() });
const userIdGroupPairSchema = z.looseObject({
  GroupId: z.string().optional(),
  GroupName: z.string().optional(),
  UserId: z.string().optional(),
  VpcId: z.string().optional(),
  VpcPeeringConnectionId: z.string().optional(),
  PeeringStatus: z.string().optional(),
  Description: z.string().optional(),
});

export const ipPermissionSchema = z.looseObject({
  IpProtocol: z.string(),
  FromPort: z.number().int().optional(),
  ToPort: z.number().int().optional(),
  IpRanges: list(ipRangeSchema),
  Ipv6Ranges: list(ipv6RangeSchema),
  PrefixListIds: list(prefixListIdSchema),
  UserIdGroupPairs: list(userIdGroupPairSchema),
});

export const securityGroupSchema = z.looseObject({
  GroupId: z.string().regex(/^sg-[0-9a-zA-Z]+$/, "a security group id such as sg-0123456789abcdef0"),
  GroupName: z.string().optional(),
  Description: z.string().optional(),
  OwnerId: z.string().optional(),
  VpcId: z.string().optional(),
  SecurityGroupArn: z.string().optional(),
  IpPermissions: list(ipPermissionSchema),
  IpPermissionsEgress: list(ipPermissionSchema),
  Tags: list(z.looseObject({ Key: z.string(), Value: z.string().optional() })),
});

/** The snapshot's security group, validated once per snapshot (every entry of a policy evaluates the same one). */
export function securityGroupOf(snapshot: Snapshot): SecurityGroup {
  let group = parsedGroups.get(snapshot);
  if (!group) {
    group = parseSecurityGroup(snapshot.resource);
    parsedGroups.set(snapshot, group);
  }
  return group;
}

const parsedGroups = new WeakMap<Snapshot, SecurityGroup>();

export type IpPermission = z.infer<typeof ipPermissionSchema>;
export type SecurityGroup = z.infer<typeof securityGroupSchema>;

/** Parses one DescribeSecurityGroups item; InputError naming the first bad field otherwise. */
export function parseSecurityGroup(resource: unknown, where = "resource"): SecurityGroup {
  const parsed = securityGroupSchema.safeParse(resource);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = [where, ...(issue?.path ?? []).map(String)].join(".");
  throw new InputError(
    `not an EC2 security group (DescribeSecurityGroups item): ${path}: ${issue?.message}`,
    {
      path,
      cause: parsed.error,
    },
  );
}

/**
 * The items of a DescribeSecurityGroups response (`{SecurityGroups: [...]}`, SDK or CLI output), of a bare
 * array of items, or of a single item. Each item is validated, then returned as given (unknown), so callers
 * keep the raw shape for snapshots.
 */
export function securityGroupsFromDescribe(json: unknown): unknown[] {
  let items: unknown[];
  let where: string;
  if (Array.isArray(json)) {
    items = json;
    where = "";
  } else if (typeof json === "object" && json !== null && "SecurityGroups" in json) {
    const groups = (json as { SecurityGroups: unknown }).SecurityGroups;
    if (!Array.isArray(groups)) {
      throw new InputError("DescribeSecurityGroups response: SecurityGroups is not an array", {
        path: "SecurityGroups",
      });
    }
    items = groups;
    where = "SecurityGroups";
  } else if (typeof json === "object" && json !== null && "GroupId" in json) {
    parseSecurityGroup(json);
    return [json];
  } else {
    throw new InputError(
      "expected a DescribeSecurityGroups response ({SecurityGroups: [...]}), an array of security groups or one group",
    );
  }
  items.forEach((item, i) => {
    parseSecurityGroup(item, `${where}[${i}]`);
  });
  return items;
}

/** AWS names the default group of every VPC `default`, and no other group may take that name. */
export function isDefaultGroup(group: SecurityGroup): boolean {
  return group.GroupName === "default";
}

export type Protocol = "tcp" | "udp" | "icmp" | "icmpv6" | "all" | "other";

/**
 * IpProtocol as the EC2 API returns it: a name (tcp, udp, icmp, icmpv6), `-1` for every protocol, or an
 * IANA number (6 = tcp, 17 = udp, 1 = icmp, 58 = icmpv6; any other number is a protocol without ports).
 */
export function normaliseProtocol(ipProtocol: string): Protocol {
  switch (ipProtocol.trim().toLowerCase()) {
    case "-1":
    case "all":
      return "all";
    case "tcp":
    case "6":
      return "tcp";
    case "udp":
    case "17":
      return "udp";
    case "icmp":
    case "1":
      return "icmp";
    case "icmpv6":
    case "58":
      return "icmpv6";
    default:
      return "other";
  }
}

/** For messages: `tcp`, `udp`, `all traffic`, or the protocol as written. */
export function protocolLabel(ipProtocol: string): string {
  const p = normaliseProtocol(ipProtocol);
  if (p === "all") return "all traffic";
  if (p === "other") return `protocol ${ipProtocol}`;
  return p;
}

/** Same rule, as the revoke APIs require: protocol, from and to port exactly as the group holds them. */
export function samePermissionKey(
  a: { IpProtocol: string; FromPort?: number | undefined; ToPort?: number | undefined },
  b: { protocol: string; fromPort?: number | undefined; toPort?: number | undefined },
): boolean {
  return a.IpProtocol === b.protocol && a.FromPort === b.fromPort && a.ToPort === b.toPort;
}

/** Every source a permission names, for counting and for the default-group rule. */
export function sourceCount(permission: IpPermission): number {
  return (
    permission.IpRanges.length +
    permission.Ipv6Ranges.length +
    permission.PrefixListIds.length +
    permission.UserIdGroupPairs.length
  );
}
