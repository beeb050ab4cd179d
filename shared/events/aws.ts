// EventBridge "AWS API Call via CloudTrail" events → ResourceChange, for every AWS kind in the registry.
//
// This is the kind-agnostic envelope: the caller, failed and read-only calls, the ids and times. Which resource a
// call acted on, and what it did, is the business of the kind that handles the event name (its decoder, e.g.
// shared/events/cloudtrail/security-group.ts). A failed call has `errorCode` and `responseElements: null`; nothing
// here assumes a field is present.

import * as z from "zod";
import { awsKindForEvent, awsKinds } from "../clouds/aws/kinds/index.ts";
import type { Actor, NormaliseResult, Operation, ResourceChange, SkippedEvent } from "../types.ts";
import { asObject, nonEmptyString } from "./cloudtrail/json.ts";

export { AWS_SECURITY_GROUP_TYPE as AWS_SECURITY_GROUP } from "../clouds/aws/kinds/security-group.ts";
export {
  GROUP_NAME_PREFIX,
  type RecordedRule,
  type RuleDirection,
} from "./cloudtrail/security-group.ts";

/** The `detail-type` EventBridge gives every CloudTrail-delivered API call. */
export const CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail";

export interface HandledAwsEvent {
  resourceType: string;
  operation: Operation;
  /** Facts the event name alone tells (a security group call's rule direction). */
  facts?: Readonly<Record<string, string>>;
}

/** Every CloudTrail event name the guardian turns into a change, from the kinds that handle them. */
export const AWS_HANDLED_EVENTS: Readonly<Record<string, HandledAwsEvent>> = Object.freeze(
  Object.fromEntries(
    awsKinds.flatMap((kind) =>
      Object.entries(kind.events).map(
        ([name, spec]) => [name, { resourceType: kind.type, ...spec }] as const,
      ),
    ),
  ),
);

/** EventBridge sources and CloudTrail event sources of the services whose calls announce a kind. */
const SOURCES = new Set(awsKinds.map((k) => k.service.source));
const EVENT_SOURCES = new Set(awsKinds.map((k) => k.service.eventSource));
const SERVICE_NAMES = [...new Set(awsKinds.map((k) => k.service.name))].join(" or ");
const KIND_LABELS = [...new Set(awsKinds.map((k) => `${k.label}s`))].join(", ");

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

function skip(reason: SkippedEvent["reason"], detail: string, eventId?: string, eventType?: string) {
  const skipped: SkippedEvent = { reason, detail };
  if (eventId !== undefined) skipped.eventId = eventId;
  if (eventType !== undefined) skipped.eventType = eventType;
  return { changes: [], skipped: [skipped] } satisfies NormaliseResult;
}

/**
 * Normalises one EventBridge event. Undefined when the input is not an EventBridge event at all (no
 * `detail-type`), so the dispatcher can try other formats; otherwise one skip, or one change per resource the
 * call acted on (a tag call may name several). Never throws.
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
  if (detailType !== CLOUDTRAIL_DETAIL_TYPE || !SOURCES.has(source)) {
    return skip(
      "irrelevant-event-type",
      `${source} "${detailType}" is not an ${SERVICE_NAMES} API call`,
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
  // An empty id names nothing: it would collapse unrelated events and leave the audit unable to point back.
  const eventId = nonEmptyString(detail.eventID) ?? nonEmptyString(eventBridgeId);
  const eventName = nonEmptyString(detail.eventName);
  if (eventName === undefined) {
    const problem = asObject(rawDetail)?.eventName === undefined ? "is missing" : "is not a non-empty string";
    return skip("malformed", `detail.eventName ${problem}`, eventId, detailType);
  }
  if (detail.eventSource !== undefined && !EVENT_SOURCES.has(detail.eventSource)) {
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
  const handled = awsKindForEvent(eventName);
  if (handled === undefined || handled.kind.service.source !== source) {
    return skip(
      "irrelevant-event-type",
      `${eventName} does not change a resource the guardian evaluates (${KIND_LABELS})`,
      eventId,
      eventName,
    );
  }

  if (eventId === undefined)
    return skip("malformed", "detail.eventID is missing or empty", undefined, eventName);
  const account = envelope.data.account ?? detail.recipientAccountId;
  if (account === undefined) return skip("malformed", "account is missing", eventId, eventName);
  const time = nonEmptyString(detail.eventTime) ?? nonEmptyString(envelope.data.time);
  if (time === undefined) return skip("malformed", "detail.eventTime is missing", eventId, eventName);
  // Batches are ordered by time (Date.parse): a time that is not a date would sort anywhere.
  if (Number.isNaN(Date.parse(time))) {
    return skip("malformed", "detail.eventTime is not a date", eventId, eventName);
  }

  const { kind, spec } = handled;
  const decoded = kind.decode({
    eventName,
    spec,
    request: asObject(detail.requestParameters),
    response: asObject(detail.responseElements),
  });
  if ("malformed" in decoded) return skip("malformed", decoded.malformed, eventId, eventName);
  if ("irrelevant" in decoded) return skip("irrelevant-event-type", decoded.irrelevant, eventId, eventName);

  const change: ResourceChange = {
    cloud: "aws",
    account,
    resourceId: decoded.resourceId,
    resourceType: kind.type,
    operation: spec.operation,
    operationName: eventName,
    actor: actorOf(detail),
    eventId,
    time,
    details: detailsOf(detail, eventBridgeId, spec, decoded.details),
  };
  const region = envelope.data.region ?? detail.awsRegion;
  if (region !== undefined) change.region = region;
  if (detail.requestID !== undefined) change.correlationId = detail.requestID;
  // One call can act on several resources of the kind (CreateTags): each is evaluated on its own.
  const others = (decoded.alsoResourceIds ?? []).map((resourceId) => ({ ...change, resourceId }));
  return { changes: [change, ...others], skipped: [] };
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

/** The kind's details, between what every call records. */
function detailsOf(
  detail: Detail,
  eventBridgeId: string | undefined,
  spec: { facts?: Readonly<Record<string, string>> },
  own: Record<string, unknown>,
): Record<string, unknown> {
  const details: Record<string, unknown> = {};
  if (eventBridgeId !== undefined) details.eventBridgeId = eventBridgeId;
  Object.assign(details, spec.facts, own);
  if (detail.requestParameters !== undefined && detail.requestParameters !== null) {
    details.requestParameters = detail.requestParameters;
  }
  if (detail.eventVersion !== undefined) details.eventVersion = detail.eventVersion;
  if (detail.userAgent !== undefined) details.userAgent = detail.userAgent;
  if (detail.userIdentity?.invokedBy !== undefined) details.invokedBy = detail.userIdentity.invokedBy;
  return details;
}
