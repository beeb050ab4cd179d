// EventBridge "AWS API Call via CloudTrail" events for EC2 security groups → ResourceChange.
//
// CloudTrail records EC2 query-API calls in an XML-derived JSON: lists are `{ items: [...] }`, an empty list is `{}`,
// a failed call has `errorCode` and `responseElements: null`, and some calls wrap their request
// (`ModifySecurityGroupRulesRequest`). Shapes also drift with `eventVersion`: rule ids in
// `responseElements.securityGroupRuleSet` only appear in newer records. Nothing here assumes a field is present.

import type {
  IpPermission,
  IpRange,
  Ipv6Range,
  PrefixListId,
  SecurityGroupRuleRequest,
  SecurityGroupRuleUpdate,
  UserIdGroupPair,
} from "@aws-sdk/client-ec2";
import * as z from "zod";
import type { Actor, NormaliseResult, Operation, ResourceChange, SkippedEvent } from "../types.ts";

export { AWS_SECURITY_GROUP_TYPE as AWS_SECURITY_GROUP } from "../clouds/aws/snapshot.ts";

import { AWS_SECURITY_GROUP_TYPE as AWS_SECURITY_GROUP } from "../clouds/aws/snapshot.ts";

/** The `detail-type` EventBridge gives every CloudTrail-delivered API call. */
export const CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail";
const EC2_SOURCE = "aws.ec2";
const EC2_EVENT_SOURCE = "ec2.amazonaws.com";

export type RuleDirection = "ingress" | "egress";

export interface HandledAwsEvent {
  resourceType: string;
  operation: Operation;
  /** Which rule list the call touches, when it names one; ModifySecurityGroupRules can touch both. */
  direction?: RuleDirection;
}

/**
 * Every CloudTrail event name the guardian turns into a change: the calls that create a group, delete it, or
 * add, remove or rewrite its rules (a description update rewrites the rule in place).
 */
export const AWS_HANDLED_EVENTS: Readonly<Record<string, HandledAwsEvent>> = Object.freeze({
  CreateSecurityGroup: { resourceType: AWS_SECURITY_GROUP, operation: "write" },
  DeleteSecurityGroup: { resourceType: AWS_SECURITY_GROUP, operation: "delete" },
  AuthorizeSecurityGroupIngress: {
    resourceType: AWS_SECURITY_GROUP,
    operation: "write",
    direction: "ingress",
  },
  AuthorizeSecurityGroupEgress: { resourceType: AWS_SECURITY_GROUP, operation: "write", direction: "egress" },
  RevokeSecurityGroupIngress: { resourceType: AWS_SECURITY_GROUP, operation: "write", direction: "ingress" },
  RevokeSecurityGroupEgress: { resourceType: AWS_SECURITY_GROUP, operation: "write", direction: "egress" },
  ModifySecurityGroupRules: { resourceType: AWS_SECURITY_GROUP, operation: "write" },
  UpdateSecurityGroupRuleDescriptionsIngress: {
    resourceType: AWS_SECURITY_GROUP,
    operation: "write",
    direction: "ingress",
  },
  UpdateSecurityGroupRuleDescriptionsEgress: {
    resourceType: AWS_SECURITY_GROUP,
    operation: "write",
    direction: "egress",
  },
});

/** Prefix of a resourceId that carries a group name, not an id; the AWS reader resolves it. */
export const GROUP_NAME_PREFIX = "name:";

// A field of the wrong type is treated as absent rather than failing the whole event: one odd field must not
// hide a security-relevant change.
const optString = z.string().optional().catch(undefined);

const sessionIssuerSchema = z.looseObject({ arn: optString, type: optString, userName: optString });

const userIdentitySchema = z.looseObject({
  type: optString,
  principalId: optString,
  arn: optString,
  accountId: optString,
  userName: optString,
  invokedBy: optString,
  sessionContext: z
    .looseObject({ sessionIssuer: sessionIssuerSchema.optional().catch(undefined) })
    .optional()
    .catch(undefined),
});

const envelopeSchema = z.looseObject({
  "detail-type": z.unknown().optional(),
  source: z.unknown().optional(),
  id: optString,
  account: optString,
  region: optString,
  time: optString,
  detail: z.unknown().optional(),
});

const detailSchema = z.looseObject({
  eventVersion: optString,
  eventTime: optString,
  eventSource: optString,
  eventName: optString,
  awsRegion: optString,
  sourceIPAddress: optString,
  userAgent: optString,
  userIdentity: userIdentitySchema.optional().catch(undefined),
  requestParameters: z.unknown().optional(),
  responseElements: z.unknown().optional(),
  requestID: optString,
  eventID: optString,
  errorCode: optString,
  errorMessage: optString,
  readOnly: z.boolean().optional().catch(undefined),
  recipientAccountId: optString,
});

type Detail = z.infer<typeof detailSchema>;
type UserIdentity = z.infer<typeof userIdentitySchema>;

type Json = Record<string, unknown>;

function asObject(value: unknown): Json | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

/** CloudTrail's `{ items: [...] }` list; `{}` (an empty list) and anything else give []. */
function items(value: unknown): Json[] {
  const list = asObject(value)?.items;
  if (!Array.isArray(list)) return [];
  return list.map(asObject).filter((item): item is Json => item !== undefined);
}

/** Ports arrive as numbers, and in some pipelines as numeric strings. */
function port(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isInteger(value)) return value;
  if (typeof value === "string" && /^-?\d+$/.test(value.trim())) return Number(value.trim());
  return undefined;
}

function skip(reason: SkippedEvent["reason"], detail: string, eventId?: string, eventType?: string) {
  const skipped: SkippedEvent = { reason, detail };
  if (eventId !== undefined) skipped.eventId = eventId;
  if (eventType !== undefined) skipped.eventType = eventType;
  return { changes: [], skipped: [skipped] } satisfies NormaliseResult;
}

/**
 * Normalises one EventBridge event. Undefined when the input is not an EventBridge event at all (no
 * `detail-type`), so the dispatcher can try other formats; otherwise exactly one change or one skip.
 * Never throws.
 */
export function normaliseAwsEvent(input: unknown): NormaliseResult | undefined {
  const raw = asObject(input);
  if (raw === undefined || !("detail-type" in raw)) return undefined;
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success) return undefined;
  const { id: eventBridgeId } = envelope.data;
  const detailType = envelope.data["detail-type"];
  const source = envelope.data.source;

  if (typeof detailType !== "string") return skip("malformed", "detail-type is not a string", eventBridgeId);
  if (source === undefined) return skip("malformed", "source is missing", eventBridgeId, detailType);
  if (typeof source !== "string") {
    return skip("malformed", "source is not a string", eventBridgeId, detailType);
  }
  if (detailType !== CLOUDTRAIL_DETAIL_TYPE || source !== EC2_SOURCE) {
    return skip(
      "irrelevant-event-type",
      `${source} "${detailType}" is not an EC2 API call`,
      eventBridgeId,
      detailType,
    );
  }

  const rawDetail = envelope.data.detail;
  if (rawDetail === undefined) return skip("malformed", "detail is missing", eventBridgeId, detailType);
  const parsed = detailSchema.safeParse(rawDetail);
  if (!parsed.success) return skip("malformed", "detail is not an object", eventBridgeId, detailType);
  const detail = parsed.data;
  // The CloudTrail id is the one CloudTrail Lake and the console search by; the EventBridge id is the fallback.
  const eventId = detail.eventID ?? eventBridgeId;
  const eventName = nonEmptyString(detail.eventName);
  if (eventName === undefined) {
    const problem = asObject(rawDetail)?.eventName === undefined ? "is missing" : "is not a non-empty string";
    return skip("malformed", `detail.eventName ${problem}`, eventId, detailType);
  }
  if (detail.eventSource !== undefined && detail.eventSource !== EC2_EVENT_SOURCE) {
    return skip("irrelevant-event-type", `${eventName} comes from ${detail.eventSource}`, eventId, eventName);
  }

  const errorCode = nonEmptyString(detail.errorCode);
  if (errorCode !== undefined) {
    const message = detail.errorMessage === undefined ? "" : `: ${detail.errorMessage}`;
    return skip("failed-operation", `${eventName} failed with ${errorCode}${message}`, eventId, eventName);
  }
  if (detail.readOnly === true || /^(Describe|Get|List)/.test(eventName)) {
    return skip("read-only", `${eventName} is a read-only call`, eventId, eventName);
  }
  const handled = Object.hasOwn(AWS_HANDLED_EVENTS, eventName) ? AWS_HANDLED_EVENTS[eventName] : undefined;
  if (handled === undefined) {
    return skip(
      "irrelevant-event-type",
      `${eventName} does not change security group rules`,
      eventId,
      eventName,
    );
  }

  if (eventId === undefined) return skip("malformed", "detail.eventID is missing", undefined, eventName);
  const account = envelope.data.account ?? detail.recipientAccountId;
  if (account === undefined) return skip("malformed", "account is missing", eventId, eventName);
  const time = detail.eventTime ?? envelope.data.time;
  if (time === undefined) return skip("malformed", "detail.eventTime is missing", eventId, eventName);

  const request = asObject(detail.requestParameters);
  const response = asObject(detail.responseElements);
  const group = groupOf(request, response);
  if (group === undefined) {
    return skip(
      "malformed",
      `${eventName} names no group: detail.requestParameters has neither groupId nor groupName`,
      eventId,
      eventName,
    );
  }

  const change: ResourceChange = {
    cloud: "aws",
    account,
    resourceId: group.id ?? `${GROUP_NAME_PREFIX}${group.name}`,
    resourceType: handled.resourceType,
    operation: handled.operation,
    operationName: eventName,
    actor: actorOf(detail),
    eventId,
    time,
    details: detailsOf(detail, handled, group, eventBridgeId, request, response),
  };
  const region = envelope.data.region ?? detail.awsRegion;
  if (region !== undefined) change.region = region;
  if (detail.requestID !== undefined) change.correlationId = detail.requestID;
  return { changes: [change], skipped: [] };
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

function actorOf(detail: Detail): Actor {
  const identity: UserIdentity | undefined = detail.userIdentity;
  const actor: Actor = {};
  // An AWS service acting on its own account has no ARN; invokedBy names the service.
  const name = identity?.arn ?? identity?.invokedBy ?? identity?.userName;
  if (name !== undefined) actor.name = name;
  if (identity?.principalId !== undefined) actor.principalId = identity.principalId;
  if (identity?.type !== undefined) actor.principalType = identity.type;
  const roleArn = identity?.sessionContext?.sessionIssuer?.arn;
  if (roleArn !== undefined) actor.appId = roleArn;
  if (detail.sourceIPAddress !== undefined) actor.sourceIp = detail.sourceIPAddress;
  return actor;
}

function detailsOf(
  detail: Detail,
  handled: HandledAwsEvent,
  group: GroupRef,
  eventBridgeId: string | undefined,
  request: Json | undefined,
  response: Json | undefined,
): Record<string, unknown> {
  const details: Record<string, unknown> = {};
  if (eventBridgeId !== undefined) details.eventBridgeId = eventBridgeId;
  if (group.name !== undefined) details.groupName = group.name;
  if (handled.direction !== undefined) details.direction = handled.direction;
  const ruleIds = ruleIdsOf(request, response);
  if (ruleIds.length > 0) details.ruleIds = ruleIds;
  const ruleSet = ruleSetOf(response);
  if (ruleSet.length > 0) details.ruleSet = ruleSet;
  const permissions = permissionsOf(request);
  if (permissions.length > 0) details.permissions = permissions;
  const ruleUpdates = ruleUpdatesOf(request);
  if (ruleUpdates.length > 0) details.ruleUpdates = ruleUpdates;
  if (detail.requestParameters !== undefined && detail.requestParameters !== null) {
    details.requestParameters = detail.requestParameters;
  }
  if (detail.eventVersion !== undefined) details.eventVersion = detail.eventVersion;
  if (detail.userAgent !== undefined) details.userAgent = detail.userAgent;
  if (detail.userIdentity?.invokedBy !== undefined) details.invokedBy = detail.userIdentity.invokedBy;
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
