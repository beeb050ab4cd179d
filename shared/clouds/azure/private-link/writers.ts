// Writers for Private Link decisions, on the port's contract (shared/clouds/ports.ts): the invocation's budget,
// never from an event's copy, raw ARM bodies through the subscription's SDK pipeline, lost answers reported as
// OutcomeUnknownError, and isApplied from a fresh read.
//
// - put-private-endpoint-connection: a fresh GET of the connection (at the parent kind's api-version, so every
//   provider's `.../privateEndpointConnections/{name}` is one generic call), checked against the state the decision
//   was made for, then a PUT of its privateLinkServiceConnectionState with If-Match where the provider has an etag
//   (Network, Key Vault); Storage connections have none, so the re-read right before the PUT is the guard.
// - put-private-link-service: the service as read, lists narrowed, If-Match its etag.
// - delete-private-endpoint: DELETE with If-Match the endpoint's etag.

import { ConflictError, InputError, OutcomeUnknownError, TransientError } from "../../../errors.ts";
import type { PlannedChange, Snapshot } from "../../../types.ts";
import type { CallOptions, ResourceWriter } from "../../ports.ts";
import { parseArmResourceId } from "../ids.ts";
import { azureKindOf } from "../kinds/index.ts";
import { NETWORK_API_VERSION } from "../kinds/private-link-service.ts";
import { type Answer, type AzureNetwork, armErrorCode, mayHaveLanded, retryAfterMs } from "../network.ts";

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const CONFLICT_CODES = new Set([
  "AnotherOperationInProgress",
  "Conflict",
  "PreconditionFailed",
  "OperationPreempted",
]);

function describe(answer: Answer): string {
  if (!answer.answered) {
    const e = answer.error;
    return `no answer (${e instanceof Error ? e.message : String(e)})`;
  }
  const error = isRecord(answer.body) && isRecord(answer.body.error) ? answer.body.error : {};
  const code = typeof error.code === "string" ? ` ${error.code}` : "";
  const message = typeof error.message === "string" ? `: ${error.message}` : "";
  return `${answer.status}${code}${message}`;
}

function subscriptionOf(id: string): string {
  const parsed = parseArmResourceId(id);
  if (!parsed) throw new InputError(`not an ARM id: ${id}`);
  return parsed.subscriptionId;
}

/** Classifies a write's answer; returns only when ARM accepted it (and its operation, if any, succeeded). */
async function settleWrite(
  network: AzureNetwork,
  subscriptionId: string,
  answer: Answer,
  what: string,
  resourceId: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (!answer.answered) {
    const message = `${what}: ${describe(answer)}`;
    if (answer.attempts.some(mayHaveLanded)) throw new OutcomeUnknownError(message, { cause: answer.error });
    throw new TransientError(message, { cause: answer.error });
  }
  const status = answer.status;
  const message = `${what}: ${describe(answer)}`;
  if (status >= 200 && status < 300) {
    // Azure-AsyncOperation when the provider gives one (Network, SQL), else the Location of a 202 (Cosmos DB).
    const statusUrl = answer.headers["azure-asyncoperation"];
    const location = status === 202 ? answer.headers.location : undefined;
    if (statusUrl)
      await pollOperation(network, subscriptionId, statusUrl, "status", what, resourceId, signal);
    else if (location)
      await pollOperation(network, subscriptionId, location, "location", what, resourceId, signal);
    return;
  }
  if (answer.attempts.slice(0, -1).some(mayHaveLanded)) {
    throw new OutcomeUnknownError(`${message} (after an earlier attempt that may have been applied)`);
  }
  const code = armErrorCode(answer.body);
  if (status === 412 || status === 404) throw new ConflictError(message, resourceId);
  if (status === 409 && code !== "AnotherOperationInProgress") throw new ConflictError(message, resourceId);
  if (status === 409 || status === 429 || status === 408 || status >= 500) {
    const after = retryAfterMs(answer.headers["retry-after"]);
    throw new TransientError(message, after === undefined ? {} : { retryAfterMs: after });
  }
  // 400 and the like: ARM judged the request itself (a Rejected connection cannot be approved again).
  throw new Error(message);
}

/**
 * Follows a long-running write to its end. An Azure-AsyncOperation URL answers `{status}` (InProgress, Succeeded,
 * Failed, Canceled); a Location URL answers 202 while running, then the result (200 / 201 / 204) or the operation's
 * error as an HTTP error with an ARM error body, which is a failure, never a success.
 */
async function pollOperation(
  network: AzureNetwork,
  subscriptionId: string,
  url: string,
  via: "status" | "location",
  what: string,
  resourceId: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const bound = AbortSignal.timeout(network.operationTimeoutMs);
  const abort = signal ? AbortSignal.any([signal, bound]) : bound;
  for (;;) {
    const answer = await network.send(subscriptionId, "GET", url, { signal: abort });
    if (!answer.answered || answer.status >= 500 || answer.status === 429) {
      throw new OutcomeUnknownError(
        `${what}: accepted, but its operation's status was lost: ${describe(answer)}`,
      );
    }
    if (answer.status === 204) return;
    const body = isRecord(answer.body) ? answer.body : {};
    // A Location URL's 200 is the resource itself: its fields say nothing about the operation.
    const state =
      answer.status >= 400
        ? "failed"
        : via === "status" && typeof body.status === "string"
          ? body.status.toLowerCase()
          : answer.status === 202
            ? "inprogress"
            : "succeeded";
    if (state === "succeeded") return;
    if (state === "failed" || state === "canceled") {
      const code = armErrorCode(body);
      const message = `${what}: its operation ended ${state}${code ? ` (${code})` : ""}`;
      if (code !== undefined && CONFLICT_CODES.has(code)) throw new ConflictError(message, resourceId);
      throw new OutcomeUnknownError(message);
    }
    const wait = retryAfterMs(answer.headers["retry-after"]) ?? network.pollIntervalMs ?? 1000;
    if (abort.aborted)
      throw new OutcomeUnknownError(`${what}: accepted, but its operation did not finish in time`);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

function refuseEventCopy(snapshot: Snapshot, id: string): void {
  if (snapshot.origin === "event") {
    throw new InputError(`refusing to write ${id} from the resource an event carried: read it first`);
  }
}

interface ConnectionOperation {
  kind: "put-private-endpoint-connection";
  connectionId: string;
  status: "Approved" | "Rejected";
  description: string;
  expected: { status: string; privateEndpointId: string | null };
}

function connectionOperation(change: PlannedChange): ConnectionOperation {
  const op = change.operation as Partial<ConnectionOperation>;
  if (
    op.kind !== "put-private-endpoint-connection" ||
    typeof op.connectionId !== "string" ||
    (op.status !== "Approved" && op.status !== "Rejected") ||
    typeof op.description !== "string" ||
    !isRecord(op.expected)
  ) {
    throw new InputError(`the connection writer cannot apply ${JSON.stringify(change.operation)}`);
  }
  return op as ConnectionOperation;
}

function connectionIn(snapshot: Snapshot, id: string): Record<string, unknown> | undefined {
  const r = snapshot.resource;
  const props = isRecord(r) && isRecord(r.properties) ? r.properties : {};
  const list = Array.isArray(props.privateEndpointConnections) ? props.privateEndpointConnections : [];
  return list.find(
    (c): c is Record<string, unknown> =>
      isRecord(c) && typeof c.id === "string" && c.id.toLowerCase() === id.toLowerCase(),
  );
}

function stateOf(connection: unknown): {
  status: string;
  endpoint: string | undefined;
  state: Record<string, unknown>;
} {
  const p = isRecord(connection) && isRecord(connection.properties) ? connection.properties : {};
  const state = isRecord(p.privateLinkServiceConnectionState) ? p.privateLinkServiceConnectionState : {};
  const endpoint =
    isRecord(p.privateEndpoint) && typeof p.privateEndpoint.id === "string"
      ? p.privateEndpoint.id
      : undefined;
  return { status: typeof state.status === "string" ? state.status : "", endpoint, state };
}

/** Approves or rejects one private endpoint connection of any provider. */
export class PrivateEndpointConnectionWriter implements ResourceWriter {
  readonly #network: AzureNetwork;
  constructor(network: AzureNetwork) {
    this.#network = network;
  }

  async apply(change: PlannedChange, snapshot: Snapshot, options: CallOptions = {}): Promise<void> {
    const op = connectionOperation(change);
    refuseEventCopy(snapshot, op.connectionId);
    const kind = azureKindOf(snapshot.resourceType);
    if (!kind) throw new InputError(`no Azure kind for ${snapshot.resourceType}`);
    const apiVersion = kind.read.apiVersion;
    const subscriptionId = subscriptionOf(op.connectionId);
    const url = this.#network.url(op.connectionId.split("/").map(encodeURIComponent).join("/"), apiVersion);
    const what = `${change.summary} on ${snapshot.resourceId}`;
    // The connection as it is now: the guard for providers without an etag, and the body the PUT sends back.
    this.#network.counter.reads++;
    const read = await this.#network.send(subscriptionId, "GET", url, { signal: options.signal });
    if (!read.answered || read.status >= 500 || read.status === 429) {
      throw new TransientError(`${what}: reading the connection failed: ${describe(read)}`);
    }
    if (read.status === 404)
      throw new ConflictError(`${what}: the connection no longer exists`, snapshot.resourceId);
    if (read.status !== 200 || !isRecord(read.body))
      throw new Error(`${what}: reading the connection: ${describe(read)}`);
    const now = stateOf(read.body);
    if (now.status.toLowerCase() === op.status.toLowerCase()) return; // already decided as planned
    const sameEndpoint =
      (now.endpoint ?? null)?.toLowerCase() === op.expected.privateEndpointId?.toLowerCase();
    if (now.status.toLowerCase() !== op.expected.status.toLowerCase() || !sameEndpoint) {
      throw new ConflictError(
        `${what}: the connection is now ${now.status} (${now.endpoint ?? "no endpoint"}), not what was decided on`,
        snapshot.resourceId,
      );
    }
    const body = structuredClone(read.body) as Record<string, unknown> & {
      properties: Record<string, unknown>;
    };
    body.properties = {
      ...(isRecord(body.properties) ? body.properties : {}),
      privateLinkServiceConnectionState: { ...now.state, status: op.status, description: op.description },
    };
    const etag = typeof read.body.etag === "string" && read.body.etag !== "" ? read.body.etag : undefined;
    this.#network.counter.writes++;
    const answer = await this.#network.send(subscriptionId, "PUT", url, {
      body,
      ...(etag ? { headers: { "If-Match": etag } } : {}),
      signal: options.signal,
    });
    await settleWrite(this.#network, subscriptionId, answer, what, snapshot.resourceId, options.signal);
  }

  isApplied(change: PlannedChange, snapshot: Snapshot): boolean {
    const op = connectionOperation(change);
    return stateOf(connectionIn(snapshot, op.connectionId)).status.toLowerCase() === op.status.toLowerCase();
  }
}

interface ServiceOperation {
  kind: "put-private-link-service";
  serviceId: string;
  body: Record<string, unknown>;
}

/** Narrows a Private Link Service's lists: the service as read, etag-guarded. */
export class PrivateLinkServiceWriter implements ResourceWriter {
  readonly #network: AzureNetwork;
  constructor(network: AzureNetwork) {
    this.#network = network;
  }

  async apply(change: PlannedChange, snapshot: Snapshot, options: CallOptions = {}): Promise<void> {
    const op = change.operation as Partial<ServiceOperation>;
    if (op.kind !== "put-private-link-service" || typeof op.serviceId !== "string" || !isRecord(op.body)) {
      throw new InputError(
        `the Private Link Service writer cannot apply ${JSON.stringify(change.operation)}`,
      );
    }
    refuseEventCopy(snapshot, op.serviceId);
    if (!snapshot.etag) throw new InputError(`refusing an unguarded write to ${op.serviceId}: no etag`);
    const subscriptionId = subscriptionOf(op.serviceId);
    const url = this.#network.url(
      op.serviceId.split("/").map(encodeURIComponent).join("/"),
      NETWORK_API_VERSION,
    );
    this.#network.counter.writes++;
    const answer = await this.#network.send(subscriptionId, "PUT", url, {
      body: op.body,
      headers: { "If-Match": snapshot.etag },
      signal: options.signal,
    });
    await settleWrite(
      this.#network,
      subscriptionId,
      answer,
      `${change.summary} on ${op.serviceId}`,
      op.serviceId,
      options.signal,
    );
  }

  isApplied(change: PlannedChange, snapshot: Snapshot): boolean | undefined {
    const after = change.after;
    if (!isRecord(after)) return undefined;
    const props =
      isRecord(snapshot.resource) && isRecord(snapshot.resource.properties)
        ? snapshot.resource.properties
        : {};
    return Object.entries(after).every(([list, want]) => {
      const holder = isRecord(props[list]) ? props[list] : {};
      return JSON.stringify(holder.subscriptions ?? []) === JSON.stringify(want);
    });
  }
}

/** Deletes one private endpoint, etag-guarded. */
export class PrivateEndpointDeleteWriter implements ResourceWriter {
  readonly #network: AzureNetwork;
  constructor(network: AzureNetwork) {
    this.#network = network;
  }

  async apply(change: PlannedChange, snapshot: Snapshot, options: CallOptions = {}): Promise<void> {
    const op = change.operation as { kind?: unknown; endpointId?: unknown };
    if (op.kind !== "delete-private-endpoint" || typeof op.endpointId !== "string") {
      throw new InputError(`the private endpoint writer cannot apply ${JSON.stringify(change.operation)}`);
    }
    refuseEventCopy(snapshot, op.endpointId);
    if (!snapshot.etag) throw new InputError(`refusing an unguarded delete of ${op.endpointId}: no etag`);
    const subscriptionId = subscriptionOf(op.endpointId);
    const url = this.#network.url(
      op.endpointId.split("/").map(encodeURIComponent).join("/"),
      NETWORK_API_VERSION,
    );
    this.#network.counter.writes++;
    const answer = await this.#network.send(subscriptionId, "DELETE", url, {
      headers: { "If-Match": snapshot.etag },
      signal: options.signal,
    });
    await settleWrite(this.#network, subscriptionId, answer, change.summary, op.endpointId, options.signal);
  }
}
