// The request pipeline shared by every resource type: api-version, authentication, injected faults, body parsing,
// routing, If-Match / If-None-Match, long-running operations, the request log and Event Grid events.

import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { type Fault, type FaultKind, type FaultPlan, faultKind } from "../faults.ts";
import { decodeToken } from "./auth.ts";
import { ArmError, invalidRequestFormat } from "./errors.ts";
import { resourceEvent, resourceNotificationEvent } from "./events.ts";
import { clone, type JsonObject } from "./json.ts";
import {
  OPERATION_RESULT_PATTERN,
  OPERATION_STATUS_PATTERN,
  operationHeaders,
  pollResult,
  pollStatus,
  startOperation,
} from "./lro.ts";
import {
  type CollectionRoute,
  decodePath,
  type ItemRoute,
  matchRoute,
  type RequestContext,
  type Route,
  type WriteOutcome,
} from "./router.ts";
import { completeProvisioning, type EmulatorState } from "./state.ts";

/**
 * A scripted fault: the next `times` requests matching `method` / `pathIncludes` fail as `Fault` says (an error status
 * when `kind` is omitted; see test/harness/faults.ts for the others). Error codes default by status:
 * TooManyRequests, InternalServerError, ServiceUnavailable, AnotherOperationInProgress (409), ...
 */
export type FaultSpec = { method?: string; pathIncludes?: string; times: number } & Fault;

export interface RequestLogEntry {
  method: string;
  path: string;
  /** The status answered, or that would have been answered when the answer was lost (reset-after, hang-after). 0 when nothing was answered. */
  status: number;
  /** The token's `oid`: who made the call. */
  caller?: string;
  /** The parsed JSON body of a PUT or PATCH, as received. */
  body?: unknown;
  /** The injected fault, if any. */
  fault?: FaultKind;
}

export type EventListener = (events: object[]) => void;
/** Runs after a request was handled and logged, before its answer leaves: lets a test interleave another caller. */
export type AnswerHook = (entry: RequestLogEntry) => void | Promise<void>;

export interface PipelineOptions {
  emitResourceNotifications: boolean;
  notificationBooleansAsNumbers: boolean;
  enforceOperationLocks: boolean;
  /** Raise write events for side effects on other resources (private endpoint connections); false exercises sweeps. */
  connectionEvents: boolean;
  /** Lower-cased provider namespaces every call under which answers 409 MissingSubscriptionRegistration. */
  unregisteredNamespaces: Set<string>;
  /** Items per page of a list; more come behind `nextLink` (`$skipToken`). Unset: one page. */
  pageSize?: number;
}

export interface Pipeline {
  state: EmulatorState;
  routes: readonly Route[];
  options: PipelineOptions;
  baseUrl: () => string;
  faults: FaultSpec[];
  faultPlan: FaultPlan | undefined;
  requests: RequestLogEntry[];
  events: object[];
  listeners: Set<EventListener>;
  answerHooks: Set<AnswerHook>;
  /** Answers held open by `hang` faults, ended when the emulator stops. */
  held: Set<ServerResponse>;
  /** The subscriptions ARM knows, by lower-cased id, with their tenant (the unauthenticated challenge names it). */
  subscriptionTenants: Map<string, string>;
}

const DEFAULT_FAULT_CODES: Record<number, string> = {
  409: "AnotherOperationInProgress",
  429: "TooManyRequests",
  500: "InternalServerError",
  502: "BadGateway",
  503: "ServiceUnavailable",
  504: "GatewayTimeout",
};

const DEFAULT_FAULT_MESSAGES: Record<string, string> = {
  TooManyRequests:
    "The request was throttled. Please retry after the number of seconds in the Retry-After header.",
  // The Network RP's wording; a real answer also names the operation's status URL.
  AnotherOperationInProgress: "Another operation on this or dependent resource is in progress.",
};

type StatusFault = Extract<Fault, { status: number }>;
type LroFailure = Extract<Fault, { kind: "lro-failed" }>;

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

function errorReply(error: ArmError): Reply {
  return { status: error.status, body: error.toBody(), headers: error.headers };
}

function authenticate(header: string | undefined): JsonObject {
  const challenge = {
    "WWW-Authenticate":
      'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", ' +
      "error_description=\"The authentication failed because of missing 'Authorization' header.\"",
  };
  if (!header) {
    throw new ArmError(
      401,
      "AuthenticationFailed",
      "Authentication failed. The 'Authorization' header is missing.",
      {
        headers: challenge,
      },
    );
  }
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!match) {
    throw new ArmError(
      401,
      "AuthenticationFailed",
      "Authentication failed. The 'Authorization' header is provided in an invalid format.",
      { headers: challenge },
    );
  }
  const claims = decodeToken(match[1] as string);
  if (!claims) throw new ArmError(401, "InvalidAuthenticationToken", "The access token is invalid.");
  if (typeof claims.exp === "number" && claims.exp * 1000 < Date.now()) {
    throw new ArmError(
      401,
      "ExpiredAuthenticationToken",
      `The access token expiry UTC time '${new Date(claims.exp * 1000).toUTCString()}' is earlier than current ` +
        `UTC time '${new Date().toUTCString()}'.`,
    );
  }
  return claims;
}

const SUBSCRIPTION_PATH = /^\/subscriptions\/([^/]+)\/?$/i;

/**
 * ARM's answer to a GET of a subscription without a token: for a subscription it knows, 401 with a bearer challenge
 * whose authorization_uri names the subscription's tenant (what tools use to learn any subscription's tenant; see
 * shared/clouds/azure/tenants.ts); for one it does not know, 404 SubscriptionNotFound. Undefined for other requests.
 */
function subscriptionChallenge(
  pipeline: Pipeline,
  method: string,
  path: string,
  authorization: unknown,
): ArmError | undefined {
  const id = SUBSCRIPTION_PATH.exec(path)?.[1];
  if (method !== "GET" || id === undefined || authorization !== undefined) return undefined;
  const tenant = pipeline.subscriptionTenants.get(id.toLowerCase());
  if (tenant === undefined) {
    return new ArmError(404, "SubscriptionNotFound", `The subscription '${id}' could not be found.`);
  }
  return new ArmError(
    401,
    "AuthenticationFailed",
    "Authentication failed. The 'Authorization' header is missing.",
    {
      headers: {
        "WWW-Authenticate":
          `Bearer authorization_uri="https://login.windows.net/${tenant}", error="invalid_token", ` +
          "error_description=\"The authentication failed because of missing 'Authorization' header.\"",
      },
    },
  );
}

function takeFault(faults: FaultSpec[], method: string, path: string): Fault | undefined {
  const index = faults.findIndex(
    (f) =>
      f.times > 0 &&
      (f.method === undefined || f.method.toUpperCase() === method) &&
      (f.pathIncludes === undefined || path.toLowerCase().includes(f.pathIncludes.toLowerCase())),
  );
  const fault = faults[index];
  if (!fault) return undefined;
  fault.times -= 1;
  if (fault.times <= 0) faults.splice(index, 1);
  return fault;
}

function faultReply(fault: StatusFault): Reply {
  const code = fault.code ?? DEFAULT_FAULT_CODES[fault.status] ?? "InternalServerError";
  const message =
    fault.message ?? DEFAULT_FAULT_MESSAGES[code] ?? `The service returned ${fault.status} (injected fault).`;
  return {
    status: fault.status,
    body: { error: { code, message } },
    headers: fault.retryAfterSeconds === undefined ? {} : { "Retry-After": String(fault.retryAfterSeconds) },
  };
}

/** Whether the request is a write the route runs as a long-running operation (where `lro-failed` applies). */
function isLongRunningWrite(pipeline: Pipeline, method: string, path: string): boolean {
  if (method !== "PUT" && method !== "DELETE") return false;
  const match = matchRoute(pipeline.routes, path);
  return match?.route.kind === "item" && match.route.longRunning;
}

function etagMatches(ifMatch: string, etag: unknown): boolean {
  return ifMatch
    .split(",")
    .map((v) => v.trim())
    .some((v) => v === etag);
}

function checkPreconditions(req: IncomingMessage, current: JsonObject | undefined, id: string): void {
  const ifMatch = req.headers["if-match"];
  const ifNoneMatch = req.headers["if-none-match"];
  if (typeof ifMatch === "string" && ifMatch.trim() !== "") {
    if (ifMatch.trim() === "*") {
      if (!current) {
        throw new ArmError(
          412,
          "PreconditionFailed",
          `The condition specified using HTTP conditional header(s) is not met: resource ${id} does not exist (If-Match: *).`,
        );
      }
    } else if (!current || !etagMatches(ifMatch, current.etag)) {
      throw new ArmError(
        412,
        "PreconditionFailed",
        `The condition specified using HTTP conditional header(s) is not met: If-Match ${ifMatch} does not match ` +
          `the current etag ${current ? String(current.etag) : "(resource does not exist)"} of resource ${id}.`,
      );
    }
  }
  if (typeof ifNoneMatch === "string" && ifNoneMatch.trim() === "*" && current) {
    throw new ArmError(
      412,
      "PreconditionFailed",
      `The condition specified using HTTP conditional header(s) is not met: resource ${id} already exists (If-None-Match: *).`,
    );
  }
}

/** Reads any resource by id through its route; undefined when absent or when a parent is missing. */
export function readById(pipeline: Pipeline, id: string): JsonObject | undefined {
  const path = decodePath(id);
  const match = matchRoute(pipeline.routes, path);
  if (match?.route.kind !== "item") return undefined;
  try {
    return match.route.read(syntheticContext(pipeline, path, match.params));
  } catch (error) {
    if (error instanceof ArmError) return undefined;
    throw error;
  }
}

export function syntheticContext(
  pipeline: Pipeline,
  path: string,
  params: Record<string, string>,
): RequestContext {
  return {
    method: "GET",
    path,
    params,
    query: new URLSearchParams(),
    apiVersion: "",
    body: undefined,
    state: pipeline.state,
  };
}

interface CallerInfo {
  claims: JsonObject;
  correlationId: string;
  clientRequestId: string;
  clientIp: string;
  url: string;
}

function buildEvents(
  pipeline: Pipeline,
  ctx: RequestContext,
  route: ItemRoute,
  outcome: WriteOutcome,
  caller: CallerInfo,
): JsonObject[] {
  const isDelete = ctx.method === "DELETE";
  const subscriptionId = ctx.params.subscriptionId ?? "";
  const eventTime = new Date().toISOString();
  const events: JsonObject[] = [
    resourceEvent({
      kind: isDelete ? "delete" : "write",
      subject: ctx.path,
      operationName: `${route.resourceType}/${isDelete ? "delete" : "write"}`,
      subscriptionId,
      tokenClaims: caller.claims,
      correlationId: caller.correlationId,
      // The schema documents httpRequest on updates and deletes only.
      ...(outcome.status === 201 || outcome.created
        ? {}
        : {
            httpRequest: {
              clientRequestId: caller.clientRequestId,
              clientIpAddress: caller.clientIp,
              method: ctx.method,
              url: caller.url,
            },
          }),
      eventTime,
    }),
  ];
  for (const other of pipeline.options.connectionEvents ? (outcome.alsoWritten ?? []) : []) {
    events.push(
      resourceEvent({
        kind: "write",
        subject: other.path,
        operationName: `${other.resourceType}/write`,
        subscriptionId: other.subscriptionId,
        tokenClaims: caller.claims,
        correlationId: caller.correlationId,
        eventTime,
      }),
    );
  }
  if (pipeline.options.emitResourceNotifications && outcome.tracked) {
    let resource: JsonObject | undefined = outcome.tracked;
    if (!outcome.trackedDeleted) {
      // The notification carries the resource as committed, i.e. once its operation succeeded.
      resource = readById(pipeline, String(outcome.tracked.id)) ?? clone(outcome.tracked);
      (route.lro?.complete ?? completeProvisioning)(resource);
    }
    events.push(
      resourceNotificationEvent({
        kind: outcome.trackedDeleted ? "deleted" : "createdOrUpdated",
        subscriptionId,
        resource,
        apiVersion: ctx.apiVersion,
        eventTime,
        booleansAsNumbers: pipeline.options.notificationBooleansAsNumbers,
      }),
    );
  }
  return events;
}

function handleItemWrite(
  pipeline: Pipeline,
  req: IncomingMessage,
  ctx: RequestContext,
  route: ItemRoute,
  caller: CallerInfo,
  lroFailure: LroFailure | undefined,
): { reply: Reply; events: JsonObject[] } {
  const method = ctx.method;
  const handler = method === "PUT" ? route.put : method === "PATCH" ? route.patch : route.delete;
  if (!handler) {
    throw new ArmError(
      405,
      "MethodNotAllowed",
      `The requested resource does not support http method '${method}'.`,
    );
  }
  if (pipeline.options.enforceOperationLocks) {
    const pending = pipeline.state.pendingOperationFor(route.trackedId(ctx));
    if (pending) {
      const { "Azure-AsyncOperation": statusUrl } = operationHeaders(
        pipeline.baseUrl(),
        pending,
        ctx.apiVersion,
        false,
      );
      throw new ArmError(
        409,
        "AnotherOperationInProgress",
        `Another operation on this or dependent resource is in progress. To retrieve status of the operation use uri: ${statusUrl}.`,
      );
    }
  }
  const current = route.read(ctx);
  checkPreconditions(req, current, ctx.path);
  if (method === "PATCH" && !current) throw route.notFound(ctx);
  const failing = route.longRunning && method !== "PATCH" ? lroFailure : undefined;
  // What a failed operation rolls back to (the tracked resource as it was, or nothing if the write created it).
  const before = failing ? pipeline.state.getTracked(route.trackedId(ctx)) : undefined;
  const rollback = failing && failing.applied !== true ? { resource: before && clone(before) } : undefined;
  const outcome = (handler as (c: RequestContext, cur: JsonObject | undefined) => WriteOutcome)(ctx, current);
  if (outcome.status === 204) return { reply: { status: 204 }, events: [] };

  let headers: Record<string, string> = {};
  // lroPolls 0 completes synchronously (no async headers), which ARM allows and core-lro finishes without sleeping;
  // an operation that is to fail is always asynchronous, since only its status can say so.
  const asynchronous =
    route.longRunning && method !== "PATCH" && (pipeline.state.lroPolls > 0 || failing !== undefined);
  if (asynchronous) {
    const op = startOperation(pipeline.state, {
      trackedId: outcome.trackedId,
      subscriptionId: ctx.params.subscriptionId ?? "",
      location: outcome.location,
      touched: outcome.touched,
      ...(failing
        ? {
            failure: {
              code: failing.code,
              message: failing.message ?? `The operation failed with ${failing.code} (injected fault).`,
              ...(rollback ? { rollback } : {}),
            },
          }
        : {}),
      ...(route.lro
        ? {
            provider: route.lro.provider,
            ...(method === "PUT" ? { resultPath: ctx.path } : {}),
            ...(route.lro.complete ? { complete: route.lro.complete } : {}),
          }
        : {}),
    });
    const putHeaders = route.lro?.putHeaders ?? ["Azure-AsyncOperation"];
    headers =
      method === "DELETE"
        ? operationHeaders(pipeline.baseUrl(), op, ctx.apiVersion, true)
        : operationHeaders(
            pipeline.baseUrl(),
            op,
            ctx.apiVersion,
            putHeaders.includes("Location"),
            putHeaders.includes("Azure-AsyncOperation"),
          );
  }
  // A write that will be rolled back never took effect: ARM raises no success event for it.
  const events = rollback ? [] : buildEvents(pipeline, ctx, route, outcome, caller);
  if (method === "DELETE") {
    return { reply: { status: asynchronous ? 202 : 200, headers }, events };
  }
  if (asynchronous && route.lro?.acceptedPut) return { reply: { status: 202, headers }, events };
  return { reply: { status: outcome.status, body: route.read(ctx), headers }, events };
}

function route(
  pipeline: Pipeline,
  req: IncomingMessage,
  ctx: RequestContext,
  caller: CallerInfo,
  lroFailure: LroFailure | undefined,
): { reply: Reply; events: JsonObject[] } {
  const statusMatch = matchRoute(
    [
      { kind: "collection", pattern: OPERATION_STATUS_PATTERN, list: () => [] },
      { kind: "collection", pattern: OPERATION_RESULT_PATTERN, list: () => [] },
    ],
    ctx.path,
  );
  if (statusMatch && ctx.method === "GET") {
    const operationId = statusMatch.params.operationId ?? "";
    if (statusMatch.route.pattern === OPERATION_STATUS_PATTERN) {
      const { status, body } = pollStatus(pipeline.state, operationId);
      return {
        reply: { status, body, headers: body.status === "InProgress" ? { "Retry-After": "0" } : {} },
        events: [],
      };
    }
    return {
      reply: pollResult(pipeline.state, operationId, pipeline.baseUrl(), ctx.apiVersion, (p) =>
        readById(pipeline, p),
      ),
      events: [],
    };
  }

  const match = matchRoute(pipeline.routes, ctx.path);
  if (!match) {
    throw new ArmError(
      404,
      "InvalidResourceType",
      `The resource type could not be found for path '${ctx.path}' and api version '${ctx.apiVersion}'.`,
    );
  }
  ctx.params = match.params;
  const r = match.route;
  if (r.kind === "collection") {
    if (ctx.method !== "GET") {
      throw new ArmError(
        405,
        "MethodNotAllowed",
        `The requested resource does not support http method '${ctx.method}'.`,
      );
    }
    return { reply: { status: 200, body: page(pipeline, ctx, r) }, events: [] };
  }
  if (ctx.method === "GET") {
    const resource = r.read(ctx);
    if (!resource) throw r.notFound(ctx);
    return { reply: { status: 200, body: resource }, events: [] };
  }
  return handleItemWrite(pipeline, req, ctx, r, caller, lroFailure);
}

/**
 * One page of a list. ARM pages large lists and puts the URL of the next page in `nextLink`, an absolute URL that
 * carries a `$skipToken` (its format is the provider's own; clients follow it as given).
 */
function page(pipeline: Pipeline, ctx: RequestContext, route: CollectionRoute): JsonObject {
  const size = pipeline.options.pageSize;
  if (size === undefined) return { value: route.list(ctx) };
  const skip = Number(ctx.query.get("$skipToken") ?? "0");
  const from = Number.isInteger(skip) && skip > 0 ? skip : 0;
  const { items, total } = route.slice
    ? route.slice(ctx, from, size)
    : (() => {
        const all = route.list(ctx);
        return { items: all.slice(from, from + size), total: all.length };
      })();
  const body: JsonObject = { value: items };
  if (from + size < total) {
    const next = new URL(ctx.path, pipeline.baseUrl());
    next.searchParams.set("api-version", ctx.apiVersion);
    next.searchParams.set("$skipToken", String(from + size));
    body.nextLink = next.toString();
  }
  return body;
}

function send(res: ServerResponse, reply: Reply, baseHeaders: Record<string, string>): void {
  const payload = reply.body === undefined ? undefined : Buffer.from(JSON.stringify(reply.body), "utf8");
  res.statusCode = reply.status;
  for (const [k, v] of Object.entries({ ...baseHeaders, ...(reply.headers ?? {}) })) res.setHeader(k, v);
  if (payload) {
    res.setHeader("Content-Type", "application/json; charset=utf-8");
    res.setHeader("Content-Length", payload.length);
    res.end(payload);
  } else {
    res.setHeader("Content-Length", 0);
    res.end();
  }
}

function dispatch(pipeline: Pipeline, batch: JsonObject[]): void {
  for (const listener of pipeline.listeners) {
    try {
      listener(batch);
    } catch (error) {
      // A failing consumer must not take the emulator down; surface it where a developer will see it.
      console.error("arm-emulator: event listener threw", error);
    }
  }
}

export async function handle(pipeline: Pipeline, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = (req.method ?? "GET").toUpperCase();
  const url = new URL(req.url ?? "/", pipeline.baseUrl());
  const path = decodePath(url.pathname);
  const correlationId = String(req.headers["x-ms-correlation-request-id"] ?? randomUUID());
  const baseHeaders = {
    "x-ms-request-id": randomUUID(),
    "x-ms-correlation-request-id": correlationId,
    "Cache-Control": "no-cache",
  };
  let reply: Reply;
  let events: JsonObject[] = [];
  let fault: Fault | undefined;
  let caller: string | undefined;
  let received: unknown;
  try {
    const raw = await readBody(req);
    const apiVersion = url.searchParams.get("api-version");
    if (!apiVersion) {
      throw new ArmError(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
      );
    }
    // Scripted faults apply to it too (ARM throttles and fails unauthenticated calls as well); the plan does not.
    const challenge = subscriptionChallenge(pipeline, method, path, req.headers.authorization);
    const claims = challenge ? {} : authenticate(req.headers.authorization);
    caller = typeof claims.oid === "string" ? claims.oid : undefined;
    let body: unknown;
    if ((method === "PUT" || method === "PATCH") && raw.length > 0) {
      try {
        body = JSON.parse(raw.toString("utf8"));
        received = body;
      } catch (error) {
        throw invalidRequestFormat(error instanceof Error ? error.message : "Invalid JSON.");
      }
    }
    fault =
      takeFault(pipeline.faults, method, path) ??
      (challenge ? undefined : pipeline.faultPlan)?.decide({
        method,
        path,
        ...(caller === undefined ? {} : { caller }),
        longRunning: isLongRunningWrite(pipeline, method, path),
      });
    const kind = fault && faultKind(fault);
    if (kind === "reset-before" || kind === "hang") {
      // Nothing reaches the service: the connection drops, or the call is never answered.
      pipeline.requests.push({ method, path, status: 0, ...logged(caller, received), fault: kind });
      if (kind === "reset-before") req.socket.destroy();
      else hold(pipeline, res);
      return;
    }
    const unregistered = unregisteredNamespaceOf(pipeline, path);
    if (unregistered) {
      // ARM's answer under a namespace the subscription is not registered for (message as Azure words it).
      throw new ArmError(
        409,
        "MissingSubscriptionRegistration",
        `The subscription is not registered to use namespace '${unregistered}'. See https://aka.ms/rps-not-found for how to register subscriptions.`,
      );
    }
    if (fault && "status" in fault) {
      reply = faultReply(fault);
    } else if (challenge) {
      throw challenge;
    } else {
      const ctx: RequestContext = {
        method,
        path,
        params: {},
        query: url.searchParams,
        apiVersion,
        body,
        state: pipeline.state,
      };
      const remote = req.socket.remoteAddress ?? "";
      const info: CallerInfo = {
        claims,
        correlationId,
        clientRequestId: String(req.headers["x-ms-client-request-id"] ?? ""),
        clientIp: remote.replace(/^::ffff:/, ""),
        url: url.toString(),
      };
      const lroFailure = fault?.kind === "lro-failed" ? fault : undefined;
      ({ reply, events } = route(pipeline, req, ctx, info, lroFailure));
    }
  } catch (error) {
    if (error instanceof ArmError) {
      reply = errorReply(error);
    } else {
      console.error("arm-emulator: unexpected error", error);
      reply = {
        status: 500,
        body: {
          error: {
            code: "InternalServerError",
            message: error instanceof Error ? error.message : String(error),
          },
        },
      };
    }
    events = [];
  }
  const kind = fault && faultKind(fault);
  const entry: RequestLogEntry = {
    method,
    path,
    status: reply.status,
    ...logged(caller, received),
    ...(kind === undefined ? {} : { fault: kind }),
  };
  pipeline.requests.push(entry);
  // Recorded before the response leaves so a caller that awaited its write always finds the events; listeners run
  // once the response is flushed so a consumer that reads back never races the writer's own response.
  pipeline.events.push(...events);
  for (const hook of pipeline.answerHooks) await hook(entry);
  if (kind === "reset-after" || kind === "hang-after") {
    // Applied, but the answer is lost: the connection drops, or the call is never answered.
    if (events.length > 0) setImmediate(() => dispatch(pipeline, events));
    if (kind === "reset-after") req.socket.destroy();
    else hold(pipeline, res);
    return;
  }
  if (events.length > 0) res.once("finish", () => dispatch(pipeline, events));
  send(res, reply, baseHeaders);
}

/** The namespace as the caller spelled it, when the path is under one the subscriptions are not registered for. */
function unregisteredNamespaceOf(pipeline: Pipeline, path: string): string | undefined {
  if (pipeline.options.unregisteredNamespaces.size === 0) return undefined;
  const match = /^\/subscriptions\/[^/]+(?:\/resourceGroups\/[^/]+)?\/providers\/([^/]+)/i.exec(path);
  const namespace = match?.[1];
  return namespace && pipeline.options.unregisteredNamespaces.has(namespace.toLowerCase())
    ? namespace
    : undefined;
}

function logged(caller: string | undefined, body: unknown): Partial<RequestLogEntry> {
  return {
    ...(caller === undefined ? {} : { caller }),
    ...(body === undefined ? {} : { body: clone(body) }),
  };
}

/** Keeps an answer open until the client gives up (its socket closes) or the emulator stops. */
function hold(pipeline: Pipeline, res: ServerResponse): void {
  pipeline.held.add(res);
  res.once("close", () => pipeline.held.delete(res));
}
