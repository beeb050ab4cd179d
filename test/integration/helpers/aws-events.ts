// Adapts the CloudTrail-shaped EventBridge fixtures of test/fixtures/events/aws/ (see the README there for where each
// record's shape comes from) to resources that really exist in moto: the group id or name, the account, the region,
// the caller and the permissions the call carried. Also builds the two other things a Lambda invocation needs:
// an SQS batch (the record shape of the AWS Lambda developer guide's "Using Lambda with Amazon SQS" example event,
// also typed by @types/aws-lambda SQSRecord) and a Lambda context (the Node.js runtime's context object:
// functionName, functionVersion, invokedFunctionArn, memoryLimitInMB, awsRequestId, logGroupName, logStreamName,
// getRemainingTimeInMillis).
//
// CloudTrail records EC2 query-API lists as `{ items: [...] }` and an empty list as `{}`; the builders below keep
// that, so the normaliser sees what CloudTrail would have recorded for the same call.

import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IpPermission, SecurityGroupRule } from "@aws-sdk/client-ec2";
import type { Context, SQSEvent, SQSRecord } from "aws-lambda";
import { z } from "zod";

export type Json = Record<string, unknown>;

const envelopeSchema = z.looseObject({
  version: z.string(),
  id: z.string(),
  "detail-type": z.string(),
  source: z.string(),
  account: z.string(),
  time: z.string(),
  region: z.string(),
  resources: z.array(z.string()),
  detail: z.looseObject({}),
});

/** One EventBridge event around one CloudTrail record, as a Lambda target receives it. */
export type CloudTrailEvent = z.infer<typeof envelopeSchema>;

const FIXTURES = new URL("../../fixtures/events/aws/", import.meta.url);

/** A fresh, mutable copy of one fixture of test/fixtures/events/aws/. */
export function loadAwsEvent(file: string): CloudTrailEvent {
  const raw: unknown = JSON.parse(readFileSync(new URL(file, FIXTURES), "utf8"));
  return envelopeSchema.parse(raw);
}

function asJson(value: unknown): Json | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

/** A stable, AWS-looking unique id (`AROA` + 17 characters) derived from a seed, so reruns log the same ids. */
function awsUniqueId(prefix: string, seed: string, length: number): string {
  const digest = createHash("sha256")
    .update(seed)
    .digest("base64")
    .replace(/[^A-Za-z0-9]/g, "");
  return `${prefix}${digest.toUpperCase().slice(0, length)}`;
}

export interface AssumedRoleOptions {
  account: string;
  roleName: string;
  /** The session name: an e-mail for IAM Identity Center users, the function name for a Lambda role. */
  sessionName: string;
  /** The role's path, e.g. `/aws-reserved/sso.amazonaws.com/` for IAM Identity Center roles; `/` by default. */
  rolePath?: string;
  /** When the session was created; defaults to ten minutes before now. */
  sessionCreated?: Date;
  mfaAuthenticated?: boolean;
}

/**
 * `userIdentity` of an AssumedRole caller as CloudTrail records it (type, principalId `<role id>:<session>`, the
 * sts session ARN, and sessionContext.sessionIssuer naming the IAM role with its path). Session ARNs drop the path.
 */
export function assumedRoleIdentity(options: AssumedRoleOptions): Json {
  const path = options.rolePath ?? "/";
  const roleId = awsUniqueId("AROA", `${options.account}${path}${options.roleName}`, 17);
  const created = options.sessionCreated ?? new Date(Date.now() - 10 * 60_000);
  return {
    type: "AssumedRole",
    principalId: `${roleId}:${options.sessionName}`,
    arn: `arn:aws:sts::${options.account}:assumed-role/${options.roleName}/${options.sessionName}`,
    accountId: options.account,
    accessKeyId: awsUniqueId("ASIA", `${roleId}${options.sessionName}`, 16),
    sessionContext: {
      sessionIssuer: {
        type: "Role",
        principalId: roleId,
        arn: `arn:aws:iam::${options.account}:role${path}${options.roleName}`,
        accountId: options.account,
        userName: options.roleName,
      },
      attributes: {
        creationDate: cloudTrailTime(created),
        mfaAuthenticated: String(options.mfaAuthenticated ?? false),
      },
    },
  };
}

/** CloudTrail and EventBridge write times to the second: `2025-06-15T10:51:12Z`. */
export function cloudTrailTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

function list(entries: Json[]): Json {
  return entries.length === 0 ? {} : { items: entries };
}

function withDescription(entry: Json, description: string | undefined): Json {
  return description === undefined ? entry : { ...entry, description };
}

/** The SDK's IpPermission list as CloudTrail records `requestParameters.ipPermissions`. */
export function cloudTrailIpPermissions(permissions: readonly IpPermission[]): Json {
  return list(
    permissions.map((p) => {
      const item: Json = { ipProtocol: p.IpProtocol };
      if (p.FromPort !== undefined) item.fromPort = p.FromPort;
      if (p.ToPort !== undefined) item.toPort = p.ToPort;
      item.groups = list(
        (p.UserIdGroupPairs ?? []).map((g) => {
          const pair: Json = {};
          if (g.UserId !== undefined) pair.userId = g.UserId;
          if (g.GroupId !== undefined) pair.groupId = g.GroupId;
          if (g.GroupName !== undefined) pair.groupName = g.GroupName;
          return withDescription(pair, g.Description);
        }),
      );
      item.ipRanges = list(
        (p.IpRanges ?? []).map((r) => withDescription({ cidrIp: r.CidrIp }, r.Description)),
      );
      item.ipv6Ranges = list(
        (p.Ipv6Ranges ?? []).map((r) => withDescription({ cidrIpv6: r.CidrIpv6 }, r.Description)),
      );
      item.prefixListIds = list(
        (p.PrefixListIds ?? []).map((r) => withDescription({ prefixListId: r.PrefixListId }, r.Description)),
      );
      return item;
    }),
  );
}

/**
 * The rules an Authorize call returned (the SDK's `SecurityGroupRules`) as newer CloudTrail records keep them in
 * `responseElements.securityGroupRuleSet`. moto leaves GroupOwnerId out of its answer; `ownerId` fills it in.
 */
export function cloudTrailRuleSet(rules: readonly SecurityGroupRule[], ownerId: string): Json {
  return list(
    rules.map((r) => {
      const item: Json = {
        groupOwnerId: r.GroupOwnerId ?? ownerId,
        groupId: r.GroupId,
        securityGroupRuleId: r.SecurityGroupRuleId,
      };
      if (r.Description !== undefined) item.description = r.Description;
      item.isEgress = r.IsEgress ?? false;
      item.ipProtocol = r.IpProtocol;
      if (r.FromPort !== undefined) item.fromPort = r.FromPort;
      if (r.ToPort !== undefined) item.toPort = r.ToPort;
      if (r.CidrIpv4 !== undefined) item.cidrIpv4 = r.CidrIpv4;
      if (r.CidrIpv6 !== undefined) item.cidrIpv6 = r.CidrIpv6;
      if (r.PrefixListId !== undefined) item.prefixListId = r.PrefixListId;
      if (r.ReferencedGroupInfo !== undefined) {
        item.referencedGroupInfo = {
          userId: r.ReferencedGroupInfo.UserId ?? ownerId,
          groupId: r.ReferencedGroupInfo.GroupId,
        };
      }
      return item;
    }),
  );
}

export interface AdaptOptions {
  /** The account the event comes from (envelope `account`, `recipientAccountId`, and the caller's when kept). */
  account?: string;
  region?: string;
  /** Replaces `detail.userIdentity` (see assumedRoleIdentity). */
  identity?: Json;
  sourceIp?: string;
  /** The group the call named: by id, or by name only (a default-VPC call). */
  group?: { groupId: string } | { groupName: string };
  /** What the call asked for, in the SDK's shape; replaces the request's permissions (nested or flat form). */
  ipPermissions?: readonly IpPermission[];
  /**
   * What the call returned (newer records). When the group or the permissions change and this is not given, the
   * fixture's rule set is dropped (as in eventVersion 1.05 records), since its ids name another group.
   */
  ruleSet?: readonly SecurityGroupRule[];
  /** When the call happened; now by default. */
  time?: Date;
}

const FLAT_REQUEST_FIELDS = [
  "ipProtocol",
  "fromPort",
  "toPort",
  "cidrIp",
  "sourceSecurityGroupName",
  "sourceSecurityGroupOwnerId",
];

/**
 * A copy of `fixture` about a resource that exists: new EventBridge, CloudTrail and request ids (each event is a
 * distinct call), the time, and whatever `options` names. The record's own shape (eventVersion, user agent,
 * error fields, the `{}` of empty lists) is kept.
 */
export function adaptAwsEvent(fixture: CloudTrailEvent, options: AdaptOptions = {}): CloudTrailEvent {
  const event = structuredClone(fixture);
  const detail = event.detail;
  const previousAccount = event.account;
  const time = cloudTrailTime(options.time ?? new Date());

  event.id = randomUUID();
  event.time = time;
  detail.eventTime = time;
  detail.eventID = randomUUID();
  const requestId = randomUUID();
  detail.requestID = requestId;

  if (options.account !== undefined) {
    event.account = options.account;
    detail.recipientAccountId = options.account;
    if (options.identity === undefined && detail.userIdentity !== undefined) {
      // Keep the fixture's caller but move it into the account: its ARNs and ids all carry the account id.
      detail.userIdentity = JSON.parse(
        JSON.stringify(detail.userIdentity).split(previousAccount).join(options.account),
      ) as unknown;
    }
  }
  if (options.region !== undefined) {
    event.region = options.region;
    detail.awsRegion = options.region;
  }
  if (options.identity !== undefined) detail.userIdentity = options.identity;
  if (options.sourceIp !== undefined) detail.sourceIPAddress = options.sourceIp;

  const request = asJson(detail.requestParameters);
  if (request !== undefined) {
    if (options.group !== undefined) {
      delete request.groupId;
      delete request.groupName;
      // The group first, as CloudTrail lists it.
      detail.requestParameters = { ...options.group, ...request };
    }
    if (options.ipPermissions !== undefined) {
      const target = asJson(detail.requestParameters) ?? request;
      for (const key of FLAT_REQUEST_FIELDS) delete target[key];
      target.ipPermissions = cloudTrailIpPermissions(options.ipPermissions);
    }
  }

  const response = asJson(detail.responseElements);
  if (response !== undefined) {
    if ("requestId" in response) response.requestId = requestId;
    const owner = options.account ?? event.account;
    if (options.ruleSet !== undefined) {
      response.securityGroupRuleSet = cloudTrailRuleSet(options.ruleSet, owner);
    } else if (options.group !== undefined || options.ipPermissions !== undefined) {
      delete response.securityGroupRuleSet;
    }
  }
  return event;
}

export interface QueueOptions {
  account: string;
  region: string;
  queueName: string;
}

/** One SQS message as Lambda's event source mapping hands it over; `body` is kept byte for byte. */
export function sqsRecord(body: string, queue: QueueOptions, messageId: string = randomUUID()): SQSRecord {
  const sent = Date.now();
  return {
    messageId,
    receiptHandle: `AQEB${createHash("sha256").update(messageId).digest("base64")}`,
    body,
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: String(sent),
      // The Lambda developer guide's example value; the guardian never reads it.
      SenderId: "AIDAIENQZJOLO23YVJ4VO",
      ApproximateFirstReceiveTimestamp: String(sent + 12),
    },
    messageAttributes: {},
    md5OfBody: createHash("md5").update(body, "utf8").digest("hex"),
    eventSource: "aws:sqs",
    eventSourceARN: `arn:aws:sqs:${queue.region}:${queue.account}:${queue.queueName}`,
    awsRegion: queue.region,
  };
}

export function sqsEvent(records: SQSRecord[]): SQSEvent {
  return { Records: records };
}

export interface ContextOptions {
  functionName: string;
  account: string;
  region: string;
  /** The function's configured timeout; getRemainingTimeInMillis counts down from the call to lambdaContext. */
  timeoutMs?: number;
  memoryMb?: number;
}

/** A Lambda context as the Node.js runtime passes it: identity of the invocation plus the remaining-time clock. */
export function lambdaContext(options: ContextOptions): Context {
  const requestId = randomUUID();
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const day = new Date().toISOString().slice(0, 10).replace(/-/g, "/");
  const unsupported = () => {
    throw new Error("done/fail/succeed are not used by async handlers");
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: options.functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${options.region}:${options.account}:function:${options.functionName}`,
    memoryLimitInMB: String(options.memoryMb ?? 256),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${options.functionName}`,
    logStreamName: `${day}/[$LATEST]${randomUUID().replace(/-/g, "")}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}
