// CloudTrail calls on EC2 security groups: which group a call acted on and what it did to the group's rules.
//
// CloudTrail records EC2 query-API calls in an XML-derived JSON: lists are `{ items: [...] }`, an empty list is `{}`,
// and some calls wrap their request (`ModifySecurityGroupRulesRequest`). Shapes also drift with `eventVersion`: rule
// ids in `responseElements.securityGroupRuleSet` only appear in newer records. Nothing here assumes a field is
// present. The envelope (shared/events/aws.ts) has already dropped failed, read-only and unrelated calls.

import type {
  IpPermission,
  IpRange,
  Ipv6Range,
  PrefixListId,
  SecurityGroupRuleRequest,
  SecurityGroupRuleUpdate,
  UserIdGroupPair,
} from "@aws-sdk/client-ec2";
import type { CloudTrailCall, DecodedCall } from "../../clouds/aws/kinds/types.ts";
import { asObject, items, type Json, nonEmptyString } from "./json.ts";

export type RuleDirection = "ingress" | "egress";

/** Prefix of a resourceId that carries a group name, not an id; the AWS reader resolves it. */
export const GROUP_NAME_PREFIX = "name:";

/** The group a security group call acted on, and what the call did to its rules. */
export function decodeSecurityGroupCall(call: CloudTrailCall): DecodedCall {
  if (TAG_CALLS.has(call.eventName)) return decodeTagCall(call);
  const { request, response } = call;
  const group = groupOf(request, response);
  if (group === undefined) {
    return {
      malformed: `${call.eventName} names no group: detail.requestParameters has neither groupId nor groupName`,
    };
  }
  return {
    resourceId: group.id ?? `${GROUP_NAME_PREFIX}${group.name}`,
    details: detailsOf(group, request, response),
  };
}

/** EC2's tag calls: they name any resources in `resourcesSet`, not a group in `groupId`. */
const TAG_CALLS = new Set(["CreateTags", "DeleteTags"]);
const GROUP_ID = /^sg-[0-9a-z]+$/i;

/**
 * CreateTags / DeleteTags: the security groups among the tagged resources (a call may tag instances, volumes and
 * groups at once), each evaluated again since a tag may add or remove an exemption; the tags set or removed go in the
 * details (DeleteTags may name a key without a value).
 */
function decodeTagCall(call: CloudTrailCall): DecodedCall {
  const resources = items(call.request?.resourcesSet).flatMap((r) => {
    const id = nonEmptyString(r.resourceId);
    return id === undefined ? [] : [id];
  });
  const [first, ...others] = [...new Set(resources.filter((id) => GROUP_ID.test(id)))];
  if (first === undefined) {
    const named = resources.length > 0 ? resources.slice(0, 5).join(", ") : "no resource";
    return { irrelevant: `${call.eventName} tags no security group (${named})` };
  }
  const tags = items(call.request?.tagSet).flatMap((t) => {
    const key = typeof t.key === "string" ? t.key : undefined;
    if (key === undefined) return [];
    return [typeof t.value === "string" ? { Key: key, Value: t.value } : { Key: key }];
  });
  return { resourceId: first, details: { tags }, ...(others.length > 0 ? { alsoResourceIds: others } : {}) };
}

/** Ports arrive as numbers, and in some pipelines as numeric strings. */
function port(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isInteger(value)) return value;
  if (typeof value === "string" && /^-?\d+$/.test(value.trim())) return Number(value.trim());
  return undefined;
}

interface GroupRef {
  id?: string;
  name?: string;
}

/**
 * The group a call acted on, in order of trust: the id the caller sent, the id inside a wrapped request, the id
 * the response returned (CreateSecurityGroup, or the rule set of a call made by name), then the name alone.
 */
function groupOf(request: Json | undefined, response: Json | undefined): GroupRef | undefined {
  const name = nonEmptyString(request?.groupName);
  const wrapped = asObject(request?.ModifySecurityGroupRulesRequest);
  const id =
    nonEmptyString(request?.groupId) ??
    nonEmptyString(wrapped?.GroupId) ??
    nonEmptyString(response?.groupId) ??
    items(response?.securityGroupRuleSet)
      .map((rule) => nonEmptyString(rule.groupId))
      .find((value) => value !== undefined);
  if (id === undefined && name === undefined) return undefined;
  const group: GroupRef = {};
  if (id !== undefined) group.id = id;
  if (name !== undefined) group.name = name;
  return group;
}

/** What the call says about the group's rules, for the remediations (rule ids, the rules it added, by content). */
function detailsOf(
  group: GroupRef,
  request: Json | undefined,
  response: Json | undefined,
): Record<string, unknown> {
  const details: Record<string, unknown> = {};
  if (group.name !== undefined) details.groupName = group.name;
  const ruleIds = ruleIdsOf(request, response);
  if (ruleIds.length > 0) details.ruleIds = ruleIds;
  const ruleSet = ruleSetOf(response);
  if (ruleSet.length > 0) details.ruleSet = ruleSet;
  const permissions = permissionsOf(request);
  if (permissions.length > 0) details.permissions = permissions;
  const ruleUpdates = ruleUpdatesOf(request);
  if (ruleUpdates.length > 0) details.ruleUpdates = ruleUpdates;
  return details;
}

/** A rule a newer Authorize returned (responseElements.securityGroupRuleSet), in the SDK's SecurityGroupRule terms. */
export interface RecordedRule {
  SecurityGroupRuleId: string;
  IsEgress: boolean;
  IpProtocol: string;
  FromPort?: number;
  ToPort?: number;
  CidrIpv4?: string;
  CidrIpv6?: string;
}

function ruleSetOf(response: Json | undefined): RecordedRule[] {
  const out: RecordedRule[] = [];
  for (const item of items(response?.securityGroupRuleSet)) {
    const id = nonEmptyString(item.securityGroupRuleId);
    const protocol = nonEmptyString(item.ipProtocol);
    if (id === undefined || protocol === undefined) continue;
    const rule: RecordedRule = {
      SecurityGroupRuleId: id,
      IsEgress: item.isEgress === true,
      IpProtocol: protocol,
    };
    if (typeof item.fromPort === "number") rule.FromPort = item.fromPort;
    if (typeof item.toPort === "number") rule.ToPort = item.toPort;
    const v4 = nonEmptyString(item.cidrIpv4);
    const v6 = nonEmptyString(item.cidrIpv6);
    if (v4 !== undefined) rule.CidrIpv4 = v4;
    if (v6 !== undefined) rule.CidrIpv6 = v6;
    out.push(rule);
  }
  return out;
}

const RULE_ID_KEYS = new Set(["securityGroupRuleId", "SecurityGroupRuleId"]);
const MAX_DEPTH = 8;

/**
 * Rule ids wherever the call names them: the rule set a newer Authorize returns, the rules a Modify rewrites, the
 * ids a Revoke removes. Searched by key rather than by path because the path differs per call and per version.
 */
function ruleIdsOf(request: Json | undefined, response: Json | undefined): string[] {
  const found: string[] = [];
  const visit = (value: unknown, depth: number): void => {
    if (depth > MAX_DEPTH || typeof value !== "object" || value === null) return;
    if (Array.isArray(value)) {
      for (const item of value) visit(item, depth + 1);
      return;
    }
    for (const [key, child] of Object.entries(value)) {
      if (RULE_ID_KEYS.has(key)) {
        const id = nonEmptyString(child);
        if (id !== undefined && !found.includes(id)) found.push(id);
      } else {
        visit(child, depth + 1);
      }
    }
  };
  visit(request, 0);
  visit(response, 0);
  return found;
}

/**
 * The permissions the request carried, in the SDK's IpPermission shape (what DescribeSecurityGroups returns and
 * Revoke accepts), from either the `ipPermissions.items` form or the legacy flat `cidrIp`/`fromPort` form.
 */
function permissionsOf(request: Json | undefined): IpPermission[] {
  if (request === undefined) return [];
  const nested = items(request.ipPermissions).map(permissionFromItem);
  if (nested.length > 0) return nested;
  // The flat form: ipPermissions is recorded as {} and the single rule sits on requestParameters itself.
  const protocol = nonEmptyString(request.ipProtocol);
  const cidr = nonEmptyString(request.cidrIp);
  const sourceGroup = nonEmptyString(request.sourceSecurityGroupName);
  if (protocol === undefined && cidr === undefined && sourceGroup === undefined) return [];
  const permission: IpPermission = {};
  if (protocol !== undefined) permission.IpProtocol = protocol;
  const fromPort = port(request.fromPort);
  const toPort = port(request.toPort);
  if (fromPort !== undefined) permission.FromPort = fromPort;
  if (toPort !== undefined) permission.ToPort = toPort;
  if (cidr !== undefined) permission.IpRanges = [{ CidrIp: cidr }];
  if (sourceGroup !== undefined) {
    const pair: UserIdGroupPair = { GroupName: sourceGroup };
    const owner = nonEmptyString(request.sourceSecurityGroupOwnerId);
    if (owner !== undefined) pair.UserId = owner;
    permission.UserIdGroupPairs = [pair];
  }
  return [permission];
}

function permissionFromItem(item: Json): IpPermission {
  const permission: IpPermission = {};
  const protocol = nonEmptyString(item.ipProtocol);
  if (protocol !== undefined) permission.IpProtocol = protocol;
  const fromPort = port(item.fromPort);
  const toPort = port(item.toPort);
  if (fromPort !== undefined) permission.FromPort = fromPort;
  if (toPort !== undefined) permission.ToPort = toPort;

  const ipRanges = items(item.ipRanges).flatMap((range) => {
    const cidr = nonEmptyString(range.cidrIp);
    return cidr === undefined ? [] : [withDescription<IpRange>({ CidrIp: cidr }, range)];
  });
  if (ipRanges.length > 0) permission.IpRanges = ipRanges;

  const ipv6Ranges = items(item.ipv6Ranges).flatMap((range) => {
    const cidr = nonEmptyString(range.cidrIpv6);
    return cidr === undefined ? [] : [withDescription<Ipv6Range>({ CidrIpv6: cidr }, range)];
  });
  if (ipv6Ranges.length > 0) permission.Ipv6Ranges = ipv6Ranges;

  const prefixLists = items(item.prefixListIds).flatMap((entry) => {
    const id = nonEmptyString(entry.prefixListId);
    return id === undefined ? [] : [withDescription<PrefixListId>({ PrefixListId: id }, entry)];
  });
  if (prefixLists.length > 0) permission.PrefixListIds = prefixLists;

  const pairs = items(item.groups).flatMap((entry) => {
    const pair: UserIdGroupPair = {};
    const groupId = nonEmptyString(entry.groupId);
    const groupName = nonEmptyString(entry.groupName);
    const userId = nonEmptyString(entry.userId);
    if (groupId !== undefined) pair.GroupId = groupId;
    if (groupName !== undefined) pair.GroupName = groupName;
    if (userId !== undefined) pair.UserId = userId;
    if (groupId === undefined && groupName === undefined) return [];
    return [withDescription(pair, entry)];
  });
  if (pairs.length > 0) permission.UserIdGroupPairs = pairs;
  return permission;
}

function withDescription<T extends { Description?: string }>(target: T, source: Json): T {
  const description = typeof source.description === "string" ? source.description : undefined;
  if (description !== undefined) target.Description = description;
  return target;
}

/**
 * ModifySecurityGroupRules' rule updates, already in the SDK's PascalCase. CloudTrail records one update as an
 * object and several as a list, each with a `tag` (its position in the query string) that is dropped here.
 */
function ruleUpdatesOf(request: Json | undefined): SecurityGroupRuleUpdate[] {
  const wrapped = asObject(request?.ModifySecurityGroupRulesRequest);
  const raw = wrapped?.SecurityGroupRule;
  const entries = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return entries.flatMap((entry) => {
    const update = asObject(entry);
    const ruleId = nonEmptyString(update?.SecurityGroupRuleId);
    if (update === undefined || ruleId === undefined) return [];
    const result: SecurityGroupRuleUpdate = { SecurityGroupRuleId: ruleId };
    const rule = asObject(update.SecurityGroupRule);
    if (rule !== undefined) result.SecurityGroupRule = ruleRequestOf(rule);
    return [result];
  });
}

function ruleRequestOf(rule: Json): SecurityGroupRuleRequest {
  const request: SecurityGroupRuleRequest = {};
  const protocol = nonEmptyString(rule.IpProtocol);
  if (protocol !== undefined) request.IpProtocol = protocol;
  const fromPort = port(rule.FromPort);
  const toPort = port(rule.ToPort);
  if (fromPort !== undefined) request.FromPort = fromPort;
  if (toPort !== undefined) request.ToPort = toPort;
  for (const key of ["CidrIpv4", "CidrIpv6", "PrefixListId", "ReferencedGroupId"] as const) {
    const value = nonEmptyString(rule[key]);
    if (value !== undefined) request[key] = value;
  }
  if (typeof rule.Description === "string") request.Description = rule.Description;
  return request;
}
