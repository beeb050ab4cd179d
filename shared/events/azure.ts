// Azure Event Grid → ResourceChange. Pure and synchronous: no I/O, no clock.
//
// Why not EventGridDeserializer from @azure/eventgrid: it validates a whole batch at once and throws on the first
// bad event (one malformed item would lose the rest of the delivery), it is async for no I/O, it turns times into
// Dates, and it leaves `data` untyped. Its typed models also do not match the wire for Resource Notifications
// (`resourceDetails`/`operationalDetails` in the SDK model, `resourceInfo`/`operationalInfo` on the wire), so
// `isSystemEvent` narrowing would lie about the payload. We validate each item with zod instead, and use the SDK's
// `KnownSystemEventTypes` at compile time so every event type named here is one the SDK knows.
//
// Subscription validation: the guardian is deployed only behind the Event Grid trigger, whose handshake the Functions
// host answers; a validation event that reaches the normaliser (the CLI's `explain`) is skipped with its reason.

import type { KnownSystemEventTypes } from "@azure/eventgrid";
import * as z from "zod";
import { type ArmResourceId, parseArmResourceId } from "../clouds/azure/ids.ts";
import { azureKindOf, azureKinds, azureParentKindOf } from "../clouds/azure/kinds/index.ts";
import { InputError } from "../errors.ts";
import type { Actor, NormaliseResult, Operation, ResourceChange, SkippedEvent } from "../types.ts";

// ---------------------------------------------------------------------------------------------------------------
// Tables

export interface AzureResourceTypeSupport {
  /** Full lower-cased child types whose changes mean "re-evaluate this parent" (a security rule → its NSG). */
  childTypes: readonly string[];
}

/**
 * The Azure resource types the guardian evaluates, keyed by lower-cased ARM type, derived from the kind registry
 * (shared/clouds/azure/kinds). Everything else is skipped as `unsupported-resource-type`.
 */
export const SUPPORTED_AZURE_RESOURCE_TYPES: Readonly<Record<string, AzureResourceTypeSupport>> =
  Object.freeze(Object.fromEntries(azureKinds.map((k) => [k.type, { childTypes: k.childTypes }])));

/**
 * Tags written through the Tags API at a resource's scope (Tags - Create Or Update / Update / Delete At Scope) are the
 * extension resource `{scope}/providers/Microsoft.Resources/tags/default`, operation `Microsoft.Resources/tags/write`
 * or `/delete`. A tag change can add or remove an exemption, so the tagged resource is evaluated again: it is the
 * change's resource, the tags resource its subject, and the operation a write (the resource itself remains).
 */
export const TAGS_RESOURCE_TYPE = "microsoft.resources/tags";
/** The `data.operationName` prefix of tag writes, which the Event Grid subscription must let through too. */
export const TAG_OPERATION_PREFIX = "microsoft.resources/tags/";

/** The resource a tags resource (or a tag operation on the resource itself) is about. */
function taggedScope(rawId: string, id: ArmResourceId): { rawId: string; id: ArmResourceId } | undefined {
  if (id.type !== TAGS_RESOURCE_TYPE) return { rawId, id };
  // Drop the last `providers/Microsoft.Resources/tags/default`.
  const scope = `/${id.segments.slice(0, id.namespaceIndex - 1).join("/")}`;
  const parsed = parseArmResourceId(scope);
  return parsed ? { rawId: scope, id: parsed } : undefined;
}

/**
 * Resource Notifications payloads render booleans as 1/0 (event-schema-resources.md sample). These are the property
 * paths (under `properties`, `*` = any key or array element) that the ARM schema types as boolean, per type, from
 * each kind's `booleanPaths`; only these are turned back into true/false, so a numeric 1 elsewhere (a count, a
 * priority) stays a number.
 */
export const ARM_BOOLEAN_PROPERTIES: Readonly<Record<string, readonly string[]>> = Object.freeze(
  Object.fromEntries(azureKinds.map((k) => [k.type, k.booleanPaths])),
);

const VALIDATION_EVENT = "Microsoft.EventGrid.SubscriptionValidationEvent" satisfies KnownSystemEventTypes;

type Outcome = "success" | "failure" | "cancel";

const RESOURCES_EVENTS = {
  "Microsoft.Resources.ResourceWriteSuccess": { operation: "write", outcome: "success" },
  "Microsoft.Resources.ResourceWriteFailure": { operation: "write", outcome: "failure" },
  "Microsoft.Resources.ResourceWriteCancel": { operation: "write", outcome: "cancel" },
  "Microsoft.Resources.ResourceDeleteSuccess": { operation: "delete", outcome: "success" },
  "Microsoft.Resources.ResourceDeleteFailure": { operation: "delete", outcome: "failure" },
  "Microsoft.Resources.ResourceDeleteCancel": { operation: "delete", outcome: "cancel" },
  "Microsoft.Resources.ResourceActionSuccess": { operation: "action", outcome: "success" },
  "Microsoft.Resources.ResourceActionFailure": { operation: "action", outcome: "failure" },
  "Microsoft.Resources.ResourceActionCancel": { operation: "action", outcome: "cancel" },
} as const satisfies Partial<Record<KnownSystemEventTypes, { operation: Operation; outcome: Outcome }>>;

const RESOURCE_NOTIFICATIONS_EVENTS = {
  "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated": { operation: "write" },
  "Microsoft.ResourceNotifications.Resources.Deleted": { operation: "delete" },
} as const satisfies Partial<Record<KnownSystemEventTypes, { operation: Operation }>>;

const CLAIM = {
  upn: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
  // v1 tokens carry unique_name under this long name.
  uniqueName: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
  objectId: "http://schemas.microsoft.com/identity/claims/objectidentifier",
} as const;

// ---------------------------------------------------------------------------------------------------------------
// Schemas (zod). Envelopes are checked only as far as the event type needs: an irrelevant event with an odd
// envelope is irrelevant, not malformed.

// Early deliveries (and the older docs) carried `claims` and `authorization` as JSON-encoded strings.
function jsonObjectString(value: unknown): unknown {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

const eventGridEnvelope = z.object({
  id: z.string().min(1),
  eventType: z.string().min(1),
  subject: z.string(),
  eventTime: z.string().min(1),
  topic: z.string().optional(),
  data: z.unknown(),
});

const cloudEventEnvelope = z.object({
  specversion: z.literal("1.0"),
  id: z.string().min(1),
  type: z.string().min(1),
  source: z.string().min(1),
  subject: z.string().optional(),
  time: z.string().min(1).optional(),
  data: z.unknown(),
});

const resourcesData = z.object({
  operationName: z.string().min(1),
  resourceUri: z.string().optional(),
  subscriptionId: z.string().optional(),
  tenantId: z.string().optional(),
  resourceProvider: z.string().optional(),
  correlationId: z.string().optional(),
  status: z.string().optional(),
  claims: z.preprocess(jsonObjectString, z.record(z.string(), z.unknown())).optional(),
  authorization: z
    .preprocess(
      jsonObjectString,
      z.object({
        scope: z.string().optional(),
        action: z.string().optional(),
        evidence: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .optional(),
  httpRequest: z
    .object({
      clientRequestId: z.string().optional(),
      clientIpAddress: z.string().optional(),
      method: z.string().optional(),
      url: z.string().optional(),
    })
    .optional(),
});

const resourceNotificationsData = z.object({
  resourceInfo: z.object({
    id: z.string().min(1),
    name: z.string().optional(),
    type: z.string().optional(),
    location: z.string().optional(),
    // Documented as "string" in the property table, an object in every sample: accept both.
    tags: z.preprocess(jsonObjectString, z.record(z.string(), z.unknown())).optional(),
    properties: z.record(z.string(), z.unknown()).optional(),
  }),
  apiVersion: z.string().optional(),
  operationalInfo: z.object({ resourceEventTime: z.string().min(1) }).optional(),
});

const validationData = z.object({ validationCode: z.string().min(1), validationUrl: z.string().optional() });

// ---------------------------------------------------------------------------------------------------------------
// ARM resource ids

/** The id of the ancestor whose type has `typeDepth` type segments (1 = the top-level resource). */
function ancestorId(id: ArmResourceId, typeDepth: number): string {
  return `/${id.segments.slice(0, id.namespaceIndex + 1 + typeDepth * 2).join("/")}`;
}

interface Target {
  resourceId: string;
  resourceType: string;
  /** The touched resource when it is a child mapped to its parent. */
  subjectId?: string;
}

/** Maps the touched resource to the one to evaluate, or names the unsupported type. */
function targetFor(rawId: string, id: ArmResourceId): Target | { unsupported: string } {
  const kind = azureKindOf(id.type);
  if (kind) return { resourceId: rawId, resourceType: kind.type };
  const parent = azureParentKindOf(id.type);
  if (parent) {
    const depth = parent.type.split("/").length - 1;
    return { resourceId: ancestorId(id, depth), resourceType: parent.type, subjectId: rawId };
  }
  return { unsupported: id.type };
}

// ---------------------------------------------------------------------------------------------------------------
// 1/0 → boolean, by known field names only

/**
 * `properties` with the ARM-boolean fields of `resourceType` turned from 1/0 into true/false. Copy on write: only
 * the objects on the path to a converted field are copied, and the input is never changed.
 */
export function normaliseArmBooleans(
  resourceType: string,
  properties: Record<string, unknown>,
): Record<string, unknown> {
  const paths = Object.hasOwn(ARM_BOOLEAN_PROPERTIES, resourceType)
    ? ARM_BOOLEAN_PROPERTIES[resourceType]
    : [];
  return booleansAt(paths ?? [], properties);
}

/** `properties` with the 1/0 values at `paths` (dotted, `*` = any key or element) turned into booleans. */
export function booleansAt(
  paths: readonly string[],
  properties: Record<string, unknown>,
): Record<string, unknown> {
  let result = properties;
  for (const path of paths) result = convertAt(result, path.split(".")) as Record<string, unknown>;
  return result;
}

function convertAt(node: unknown, path: readonly string[]): unknown {
  if (typeof node !== "object" || node === null) return node;
  const [head, ...rest] = path;
  if (head === undefined) return node;
  const container = node as Record<string, unknown>;
  const keys = head === "*" ? Object.keys(container) : Object.hasOwn(container, head) ? [head] : [];
  let copy: Record<string, unknown> | undefined;
  for (const key of keys) {
    const value = container[key];
    const next = rest.length > 0 ? convertAt(value, rest) : value === 1 ? true : value === 0 ? false : value;
    if (next !== value) {
      copy ??= (Array.isArray(container) ? [...container] : { ...container }) as Record<string, unknown>;
      copy[key] = next;
    }
  }
  return copy ?? node;
}

// ---------------------------------------------------------------------------------------------------------------
// Public API

/**
 * Normalises an Event Grid delivery: one event or a batch, Event Grid or CloudEvents 1.0 schema, mixed freely.
 * Never throws for a bad item (it becomes a `malformed` skip naming the index and field, and the rest proceeds);
 * throws InputError only when the input is neither an object nor an array. Changes for the same resource and
 * correlation id within the batch are collapsed into the first (a create can raise two ResourceWriteSuccess).
 */
export function normaliseEventGrid(input: unknown): NormaliseResult {
  if (!isRecord(input) && !Array.isArray(input)) {
    const what = describe(input);
    throw new InputError(`an Event Grid delivery is an event object or an array of events, got ${what}`, {
      path: "",
    });
  }
  const items: readonly unknown[] = Array.isArray(input) ? input : [input];
  const changes: ResourceChange[] = [];
  const skipped: SkippedEvent[] = [];
  items.forEach((item, index) => {
    const result = normaliseItem(item, index);
    if ("reason" in result) skipped.push(result);
    else changes.push(result);
  });
  return { changes: collapseDuplicates(changes), skipped };
}

// ---------------------------------------------------------------------------------------------------------------
// One item

interface Envelope {
  schema: "eventgrid" | "cloudevents";
  id: string;
  type: string;
  subject: string | undefined;
  time: string | undefined;
  topic: string | undefined;
  data: unknown;
}

function normaliseItem(item: unknown, index: number): ResourceChange | SkippedEvent {
  const where = `event[${index}]`;
  if (!isRecord(item)) return malformed(`${where}: expected an event object, got ${describe(item)}`);
  const eventId = typeof item.id === "string" && item.id.length > 0 ? item.id : undefined;
  const eventType = eventTypeOf(item);
  if (eventType === undefined) {
    return malformed(`${where}: missing eventType (Event Grid schema) or type (CloudEvents schema)`, eventId);
  }
  if (
    eventType !== VALIDATION_EVENT &&
    !Object.hasOwn(RESOURCES_EVENTS, eventType) &&
    !Object.hasOwn(RESOURCE_NOTIFICATIONS_EVENTS, eventType)
  ) {
    return skip("irrelevant-event-type", `${eventType} is not a resource change event`, eventId, eventType);
  }

  const envelope = parseEnvelope(item, where);
  if (typeof envelope === "string") return malformed(envelope, eventId, eventType);

  if (eventType === VALIDATION_EVENT) {
    const data = validationData.safeParse(envelope.data);
    if (!data.success) {
      return malformed(zodDetail(where, "data", envelope.data, data.error), eventId, eventType);
    }
    return skip(
      "validation-handshake",
      "Event Grid subscription validation; the Functions host answers it for the Event Grid trigger",
      envelope.id,
      eventType,
    );
  }
  if (Object.hasOwn(RESOURCES_EVENTS, eventType)) {
    return resourcesEvent(envelope, RESOURCES_EVENTS[eventType as keyof typeof RESOURCES_EVENTS], where);
  }
  return resourceNotificationsEvent(
    envelope,
    RESOURCE_NOTIFICATIONS_EVENTS[eventType as keyof typeof RESOURCE_NOTIFICATIONS_EVENTS],
    where,
  );
}

function eventTypeOf(item: Record<string, unknown>): string | undefined {
  if (typeof item.eventType === "string" && item.eventType.length > 0) return item.eventType;
  if (typeof item.type === "string" && item.type.length > 0) return item.type;
  return undefined;
}

/** The envelope, or the detail of what is wrong with it. */
function parseEnvelope(item: Record<string, unknown>, where: string): Envelope | string {
  if ("eventType" in item) {
    const parsed = eventGridEnvelope.safeParse(item);
    if (!parsed.success) return zodDetail(where, "", item, parsed.error);
    const e = parsed.data;
    return {
      schema: "eventgrid",
      id: e.id,
      type: e.eventType,
      subject: e.subject,
      time: e.eventTime,
      topic: e.topic,
      data: e.data,
    };
  }
  const parsed = cloudEventEnvelope.safeParse(item);
  if (!parsed.success) return zodDetail(where, "", item, parsed.error);
  const e = parsed.data;
  return {
    schema: "cloudevents",
    id: e.id,
    type: e.type,
    subject: e.subject,
    time: e.time,
    topic: e.source,
    data: e.data,
  };
}

function resourcesEvent(
  envelope: Envelope,
  kind: { operation: Operation; outcome: Outcome },
  where: string,
): ResourceChange | SkippedEvent {
  const { id: eventId, type: eventType } = envelope;
  const parsed = resourcesData.safeParse(envelope.data);
  if (!parsed.success)
    return malformed(zodDetail(where, "data", envelope.data, parsed.error), eventId, eventType);
  const data = parsed.data;

  const rawId = nonEmpty(data.resourceUri) ?? nonEmpty(envelope.subject);
  if (rawId === undefined) {
    return malformed(`${where}: data.resourceUri is missing and subject is empty`, eventId, eventType);
  }
  if (kind.outcome !== "success") {
    return skip(
      "failed-operation",
      `${data.operationName} on ${rawId} ${kind.outcome === "cancel" ? "was canceled" : "failed"}` +
        (data.status ? ` (status ${data.status})` : ""),
      eventId,
      eventType,
    );
  }
  // A POST that only reads (listKeys, listAccountSas) changes nothing worth evaluating.
  if (kind.operation === "action" && /\/list[^/]*\/action$/i.test(data.operationName)) {
    return skip("read-only", `${data.operationName} reads and changes nothing`, eventId, eventType);
  }
  const armId = parseArmResourceId(rawId);
  if (armId === undefined) {
    const field = nonEmpty(data.resourceUri) ? "data.resourceUri" : "subject";
    return malformed(
      `${where}: ${field} is not an ARM resource id: ${JSON.stringify(rawId)}`,
      eventId,
      eventType,
    );
  }
  const tagWrite =
    armId.type === TAGS_RESOURCE_TYPE || data.operationName.toLowerCase().startsWith(TAG_OPERATION_PREFIX);
  const scope = tagWrite ? taggedScope(rawId, armId) : { rawId, id: armId };
  if (scope === undefined) {
    return skip(
      "unsupported-resource-type",
      `tags of ${rawId} are not on a resource (${data.operationName})`,
      eventId,
      eventType,
    );
  }
  const target = targetFor(scope.rawId, scope.id);
  if ("unsupported" in target) {
    return skip(
      "unsupported-resource-type",
      `${target.unsupported} is not a supported resource type (${data.operationName})`,
      eventId,
      eventType,
    );
  }
  const time = envelope.time;
  if (time === undefined || Number.isNaN(Date.parse(time))) {
    const field = envelope.schema === "eventgrid" ? "eventTime" : "time";
    return malformed(`${where}: ${field} is missing or not a date`, eventId, eventType);
  }

  const change: ResourceChange = {
    cloud: "azure",
    account: nonEmpty(data.subscriptionId) ?? armId.subscriptionId,
    resourceId: target.resourceId,
    resourceType: target.resourceType,
    // Deleting a resource's tags leaves the resource: evaluate it again like any other write.
    operation: tagWrite ? "write" : kind.operation,
    operationName: data.operationName,
    actor: actorFrom(data),
    eventId,
    time,
    details: compact({
      schema: envelope.schema,
      topic: envelope.topic,
      tenantId: data.tenantId,
      resourceGroup: armId.resourceGroup,
      status: data.status,
      httpMethod: data.httpRequest?.method,
      clientRequestId: data.httpRequest?.clientRequestId,
      role: stringOf(data.authorization?.evidence?.role),
    }),
  };
  if (target.subjectId !== undefined) change.subjectId = target.subjectId;
  else if (scope.rawId !== rawId) change.subjectId = rawId;
  const correlationId = nonEmpty(data.correlationId);
  if (correlationId !== undefined) change.correlationId = correlationId;
  return change;
}

function resourceNotificationsEvent(
  envelope: Envelope,
  kind: { operation: Operation },
  where: string,
): ResourceChange | SkippedEvent {
  const { id: eventId, type: eventType } = envelope;
  const parsed = resourceNotificationsData.safeParse(envelope.data);
  if (!parsed.success)
    return malformed(zodDetail(where, "data", envelope.data, parsed.error), eventId, eventType);
  const { resourceInfo, operationalInfo, apiVersion } = parsed.data;

  const armId = parseArmResourceId(resourceInfo.id);
  if (armId === undefined) {
    return malformed(
      `${where}: data.resourceInfo.id is not an ARM resource id: ${JSON.stringify(resourceInfo.id)}`,
      eventId,
      eventType,
    );
  }
  const target = targetFor(resourceInfo.id, armId);
  if ("unsupported" in target) {
    return skip(
      "unsupported-resource-type",
      `${target.unsupported} is not a supported resource type`,
      eventId,
      eventType,
    );
  }
  const time = operationalInfo?.resourceEventTime ?? envelope.time;
  if (time === undefined || Number.isNaN(Date.parse(time))) {
    return malformed(
      `${where}: data.operationalInfo.resourceEventTime is missing or not a date`,
      eventId,
      eventType,
    );
  }

  const change: ResourceChange = {
    cloud: "azure",
    account: armId.subscriptionId,
    resourceId: target.resourceId,
    resourceType: target.resourceType,
    operation: kind.operation,
    // The topic names no caller operation; the event type is the only name the event gives.
    operationName: eventType,
    // Resource Notifications carry no caller identity.
    actor: {},
    eventId,
    time,
    details: compact({
      schema: envelope.schema,
      topic: envelope.topic,
      resourceGroup: armId.resourceGroup,
      apiVersion,
    }),
  };
  if (resourceInfo.location !== undefined) change.region = resourceInfo.location;
  if (target.subjectId !== undefined) change.subjectId = target.subjectId;
  // The payload is the evaluated resource only when it was not mapped to a parent; a child's payload is what the
  // change wrote (a security rule), kept so an offline explanation can evaluate the change itself.
  if (kind.operation === "write") {
    const payload = compact({
      id: resourceInfo.id,
      name: resourceInfo.name,
      type: resourceInfo.type,
      location: resourceInfo.location,
      tags: resourceInfo.tags,
      properties:
        resourceInfo.properties === undefined
          ? undefined
          : normaliseArmBooleans(target.resourceType, resourceInfo.properties),
    });
    if (target.subjectId === undefined) change.resource = payload;
    else if (payload.properties !== undefined)
      change.details = { ...change.details, subjectResource: payload };
  }
  return change;
}

function actorFrom(data: z.infer<typeof resourcesData>): Actor {
  const claims = data.claims ?? {};
  const evidence = data.authorization?.evidence ?? {};
  const claim = (name: string) => nonEmpty(stringOf(claims[name]));
  const appId = claim("appid");
  const actor: Actor = compact({
    name:
      claim("upn") ??
      claim(CLAIM.upn) ??
      claim("unique_name") ??
      claim(CLAIM.uniqueName) ??
      claim("name") ??
      appId,
    principalId: nonEmpty(stringOf(evidence.principalId)) ?? claim("oid") ?? claim(CLAIM.objectId),
    principalType: nonEmpty(stringOf(evidence.principalType)),
    appId,
    sourceIp: nonEmpty(data.httpRequest?.clientIpAddress) ?? claim("ipaddr"),
  });
  return actor;
}

// ---------------------------------------------------------------------------------------------------------------
// Batch collapse

function collapseDuplicates(changes: ResourceChange[]): ResourceChange[] {
  const firstByKey = new Map<string, ResourceChange>();
  const kept: ResourceChange[] = [];
  for (const change of changes) {
    if (change.correlationId === undefined) {
      kept.push(change);
      continue;
    }
    // ARM ids are case-insensitive, and events spell `resourceGroups` both ways.
    const key = `${change.resourceId.toLowerCase()}\n${change.correlationId.toLowerCase()}`;
    const first = firstByKey.get(key);
    if (first === undefined) {
      firstByKey.set(key, change);
      kept.push(change);
      continue;
    }
    const details = first.details ?? {};
    const duplicates = Array.isArray(details.duplicateEventIds) ? details.duplicateEventIds : [];
    details.duplicateEventIds = [...duplicates, change.eventId];
    // Two child writes under one correlation (a deployment) collapse to one evaluation; keep what each touched.
    if (change.subjectId !== undefined && change.subjectId !== first.subjectId) {
      const others = Array.isArray(details.otherSubjectIds) ? details.otherSubjectIds : [];
      if (!others.includes(change.subjectId)) details.otherSubjectIds = [...others, change.subjectId];
    }
    first.details = details;
  }
  return kept;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.length > 0 ? value : undefined;
}

function stringOf(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Drops undefined values so results compare and serialise cleanly. */
function compact<T extends Record<string, unknown>>(record: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = value;
  return out as T;
}

function skip(
  reason: SkippedEvent["reason"],
  detail: string,
  eventId?: string,
  eventType?: string,
): SkippedEvent {
  const skipped: SkippedEvent = { reason, detail };
  if (eventId !== undefined) skipped.eventId = eventId;
  if (eventType !== undefined) skipped.eventType = eventType;
  return skipped;
}

function malformed(detail: string, eventId?: string, eventType?: string): SkippedEvent {
  return skip("malformed", detail, eventId, eventType);
}

/** `event[2]: data.operationName is missing; data.claims: Invalid input: expected record, received string` */
function zodDetail(where: string, prefix: string, root: unknown, error: z.ZodError): string {
  const issues = error.issues.map((issue) => {
    const path = formatPath([...(prefix ? [prefix] : []), ...issue.path]);
    if (valueAt(root, issue.path) === undefined) return `${path || "event"} is missing`;
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  return `${where}: ${issues.join("; ")}`;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const part of path) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[part];
  }
  return node;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else if (typeof part === "string" && /^[A-Za-z_$][\w$]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}
