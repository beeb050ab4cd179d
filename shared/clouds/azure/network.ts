import { NetworkManagementClient, type NetworkManagementClientOptionalParams } from "@azure/arm-network";
import { StorageManagementClient } from "@azure/arm-storage";
import type { TokenCredential } from "@azure/core-auth";
import { createHttpPoller, type OperationResponse } from "@azure/core-lro";
import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type HttpMethods,
  type Pipeline,
  type PipelinePolicy,
  type PipelineRequest,
  retryPolicy,
} from "@azure/core-rest-pipeline";
import {
  ConflictError,
  clip,
  InputError,
  OutcomeUnknownError,
  RefusedError,
  TransientError,
} from "../../errors.ts";
import type { PlannedChange, Snapshot } from "../../types.ts";
import type { CallCounter, CallOptions, ResourceWriter } from "../ports.ts";
import { armName, parseArmResourceId } from "./ids.ts";
import { NSG_TYPE, networkSecurityGroup } from "./kinds/network-security-group.ts";
import { STORAGE_API_VERSION } from "./kinds/storage-account.ts";

export { NSG_TYPE };

/**
 * The api-version of rule writes: the one the NSG kind reads at, so a rule is written back at the version it was read
 * at (a property read at one version might not be accepted at another).
 */
export const RULE_WRITE_API_VERSION: string = networkSecurityGroup.read.apiVersion;

export interface AzureClientConfig {
  credential: TokenCredential;
  /** ARM endpoint; default the public cloud. The emulator's https://127.0.0.1:<port> in tests and the demo. */
  endpoint?: string;
  /** Extra trusted CA (PEM) for a non-public endpoint such as the emulator's self-signed certificate. */
  ca?: string;
  /** Retries of the SDK's own policy (429 and 503 honouring Retry-After, other 5xx and connection errors). */
  maxRetries?: number;
  retryDelayInMs?: number;
  maxRetryDelayInMs?: number;
  /** How often a write's long-running operation is polled when ARM sends no Retry-After; the SDK's default when unset. */
  pollIntervalMs?: number;
  /** Each HTTP request's own deadline: an unanswered call fails fast instead of outliving its invocation. */
  requestTimeoutMs?: number;
  /** How long a write's long-running operation is polled at most (the invocation's budget may end it sooner). */
  operationTimeoutMs?: number;
  counter?: CallCounter;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const DEFAULT_OPERATION_TIMEOUT_MS = 60_000;

/** What one attempt of a request came to, recorded by a per-retry policy under the SDK's retry policy. */
export interface Attempt {
  status?: number;
  /** The transport error's code (ECONNRESET, ...) or name (AbortError) when no answer came. */
  error?: string;
}

const attemptsOf = new WeakMap<PipelineRequest, Attempt[]>();

/** Gives every attempt of every request (reads, lists, writes, operation polls) its own deadline. */
function requestTimeoutPolicy(timeoutMs: number): PipelinePolicy {
  return {
    name: "guardianRequestTimeout",
    sendRequest(request, next) {
      if (!request.timeout) request.timeout = timeoutMs;
      return next(request);
    },
  };
}

/** Records each attempt of the requests the guardian sends, so a writer can tell whether an earlier one may have landed. */
const attemptLogPolicy: PipelinePolicy = {
  name: "guardianAttemptLog",
  async sendRequest(request, next) {
    const log = attemptsOf.get(request);
    try {
      const response = await next(request);
      log?.push({ status: response.status });
      return response;
    } catch (error) {
      log?.push({ error: transportCode(error) });
      throw error;
    }
  },
};

function transportCode(error: unknown): string {
  if (typeof error === "object" && error !== null) {
    const { code, name } = error as { code?: unknown; name?: unknown };
    if (typeof code === "string" && code !== "") return code;
    if (typeof name === "string") return name;
  }
  return "Error";
}

// The connection never carried the request: nothing can have been applied.
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

/** Whether ARM may have applied an attempt: it was sent and no answer said it was not (a reset, a timeout, a 5xx). */
export function mayHaveLanded(attempt: Attempt): boolean {
  if (attempt.error !== undefined) return !NOT_SENT.has(attempt.error);
  return attempt.status !== undefined && attempt.status >= 500;
}

/** Milliseconds from a Retry-After header (seconds or an HTTP date); undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** The `error.code` of an ARM error body (CloudError), if any. */
export function armErrorCode(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const error = (body as { error?: unknown }).error;
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

function armErrorMessage(body: unknown): string | undefined {
  const error = typeof body === "object" && body !== null ? (body as { error?: unknown }).error : undefined;
  const message =
    typeof error === "object" && error !== null ? (error as { message?: unknown }).message : undefined;
  return typeof message === "string" ? message : undefined;
}

function parseJson(text: string | null | undefined): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * 409 AnotherOperationInProgress is transient (the resource's previous operation has not finished) but the SDK's
 * default policy does not retry 409s: this one does, honouring Retry-After, else backing off exponentially. It wraps
 * the default policy, which still handles 429, 5xx and connection errors on every attempt.
 */
function operationInProgressRetryPolicy(options: {
  maxRetries: number;
  retryDelayInMs: number;
  maxRetryDelayInMs: number;
}): PipelinePolicy {
  const policy = retryPolicy(
    [
      {
        name: "anotherOperationInProgress",
        retry({ retryCount, response }) {
          if (
            response?.status !== 409 ||
            armErrorCode(parseJson(response.bodyAsText)) !== "AnotherOperationInProgress"
          ) {
            return { skipStrategy: true };
          }
          const after = retryAfterMs(response.headers.get("retry-after") ?? undefined);
          const backoff = Math.min(options.maxRetryDelayInMs, options.retryDelayInMs * 2 ** retryCount);
          // Half fixed, half random: instances that collided on one resource do not retry in step.
          return { retryAfterInMs: after ?? backoff / 2 + (Math.random() * backoff) / 2 };
        },
      },
    ],
    { maxRetries: options.maxRetries },
  );
  return { name: "guardianOperationInProgressRetry", sendRequest: policy.sendRequest };
}

/** An ARM answer, or why none came. */
export type Answer =
  | {
      answered: true;
      status: number;
      headers: Record<string, string>;
      body: unknown;
      attempts: Attempt[];
    }
  | { answered: false; error: unknown; attempts: Attempt[] };

/** One client per subscription, built lazily: the guardian is deployed per subscription but reads by resource id. */
export class AzureNetwork {
  readonly #config: AzureClientConfig;
  readonly #clients = new Map<string, NetworkManagementClient>();
  readonly #storageClients = new Map<string, StorageManagementClient>();
  // One HTTP client (and its keep-alive connections) for every subscription's pipeline.
  readonly #http: HttpClient = createDefaultHttpClient();
  readonly counter: CallCounter;
  readonly endpoint: string;

  constructor(config: AzureClientConfig) {
    this.#config = config;
    this.counter = config.counter ?? { reads: 0, writes: 0 };
    this.endpoint = (config.endpoint ?? "https://management.azure.com").replace(/\/$/, "");
  }

  get pollIntervalMs(): number | undefined {
    return this.#config.pollIntervalMs;
  }

  get operationTimeoutMs(): number {
    return this.#config.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
  }

  /** The options every SDK client of the guardian is built with: endpoint, CA, retries, timeouts, the attempt log. */
  #clientOptions(): NetworkManagementClientOptionalParams {
    const { endpoint, ca } = this.#config;
    const maxRetries = this.#config.maxRetries ?? 3;
    const retryDelayInMs = this.#config.retryDelayInMs ?? 800;
    const maxRetryDelayInMs = this.#config.maxRetryDelayInMs ?? 8_000;
    const options: NetworkManagementClientOptionalParams = {
      retryOptions: { maxRetries, retryDelayInMs, maxRetryDelayInMs },
      httpClient: this.#http,
      additionalPolicies: [
        {
          policy: operationInProgressRetryPolicy({ maxRetries, retryDelayInMs, maxRetryDelayInMs }),
          position: "perCall",
        },
        { policy: attemptLogPolicy, position: "perRetry" },
        {
          policy: requestTimeoutPolicy(this.#config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS),
          position: "perRetry",
        },
      ],
    };
    if (endpoint) {
      options.endpoint = endpoint;
      options.credentials = { scopes: [`${this.endpoint}/.default`] };
    }
    if (ca) options.tlsOptions = { ca };
    return options;
  }

  /** The SDK client of a subscription: its pipeline (auth, TLS, retries, timeouts) carries every request. */
  client(subscriptionId: string): NetworkManagementClient {
    let client = this.#clients.get(subscriptionId);
    if (!client) {
      client = new NetworkManagementClient(this.#config.credential, subscriptionId, this.#clientOptions());
      this.#clients.set(subscriptionId, client);
    }
    return client;
  }

  /**
   * The storage resource provider's SDK client, built like the network one, at the api-version the storage kind
   * follows (the latest stable REST spec its rules and fixtures are checked against).
   */
  storage(subscriptionId: string): StorageManagementClient {
    let client = this.#storageClients.get(subscriptionId);
    if (!client) {
      client = new StorageManagementClient(this.#config.credential, subscriptionId, {
        ...this.#clientOptions(),
        apiVersion: STORAGE_API_VERSION,
      });
      this.#storageClients.set(subscriptionId, client);
    }
    return client;
  }

  #anonymous: Pipeline | undefined;

  /**
   * A GET with no Authorization header, through a pipeline built like the clients' (CA, retries on 429/5xx honouring
   * Retry-After, the request timeout) minus the bearer policy: for ARM's unauthenticated challenge (tenants.ts).
   */
  async anonymousGet(
    url: string,
    signal?: AbortSignal,
  ): Promise<{ status: number; headers: { get(name: string): string | undefined }; body?: string }> {
    const { ca } = this.#config;
    if (!this.#anonymous) {
      this.#anonymous = createPipelineFromOptions({
        retryOptions: {
          maxRetries: this.#config.maxRetries ?? 3,
          retryDelayInMs: this.#config.retryDelayInMs ?? 800,
          maxRetryDelayInMs: this.#config.maxRetryDelayInMs ?? 8_000,
        },
        ...(ca ? { tlsOptions: { ca } } : {}),
      });
      this.#anonymous.addPolicy(
        requestTimeoutPolicy(this.#config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS),
        { phase: "Retry" },
      );
    }
    this.counter.reads++;
    const response = await this.#anonymous.sendRequest(
      this.#http,
      createPipelineRequest({ url, method: "GET", ...(signal ? { abortSignal: signal } : {}) }),
    );
    return {
      status: response.status,
      headers: { get: (name) => response.headers.get(name) },
      ...(response.bodyAsText ? { body: response.bodyAsText } : {}),
    };
  }

  /** `https://<endpoint><path>?api-version=...` for an ARM path. */
  url(path: string, apiVersion: string): string {
    return `${this.endpoint}${path}?api-version=${encodeURIComponent(apiVersion)}`;
  }

  /**
   * Sends one request through the subscription's SDK pipeline: the JSON body goes as given (no model serializer drops
   * what it does not know), the SDK retries what it retries, and the answer comes back raw with every attempt made.
   */
  async send(
    subscriptionId: string,
    method: HttpMethods,
    url: string,
    options: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal | undefined } = {},
  ): Promise<Answer> {
    if (new URL(url).origin !== new URL(this.endpoint).origin) {
      // Operation URLs come from response headers: never send the guardian's token anywhere but ARM.
      throw new InputError(`refusing to call ${url}: not the ARM endpoint ${this.endpoint}`);
    }
    const headers = createHttpHeaders({ accept: "application/json", ...options.headers });
    if (options.body !== undefined) headers.set("content-type", "application/json");
    const request = createPipelineRequest({
      url,
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      ...(options.signal ? { abortSignal: options.signal } : {}),
    });
    const attempts: Attempt[] = [];
    // Spent before it started: nothing is sent (and nothing can have been applied).
    if (options.signal?.aborted) return { answered: false, error: options.signal.reason, attempts };
    attemptsOf.set(request, attempts);
    try {
      const response = await this.client(subscriptionId).pipeline.sendRequest(this.#http, request);
      return {
        answered: true,
        status: response.status,
        headers: response.headers.toJSON(),
        body: parseJson(response.bodyAsText),
        attempts,
      };
    } catch (error) {
      return { answered: false, error, attempts };
    }
  }
}

function nsgParts(resourceId: string) {
  const id = parseArmResourceId(resourceId);
  if (!id || id.type !== NSG_TYPE || !id.resourceGroup) {
    throw new InputError(`not a network security group id: ${resourceId}`);
  }
  const name = armName(id);
  const path =
    `/subscriptions/${encodeURIComponent(id.subscriptionId)}/resourceGroups/${encodeURIComponent(id.resourceGroup)}` +
    `/providers/Microsoft.Network/networkSecurityGroups/${encodeURIComponent(name)}`;
  return { subscriptionId: id.subscriptionId, resourceGroup: id.resourceGroup, name, path };
}

export function describeFailure(answer: Answer): string {
  if (!answer.answered) {
    const error = answer.error;
    return `no answer (${transportCode(error)}${error instanceof Error ? `: ${error.message}` : ""})`;
  }
  const code = armErrorCode(answer.body);
  const message = armErrorMessage(answer.body);
  return `${answer.status}${code ? ` ${code}` : ""}${message ? `: ${message}` : ""}`;
}

/** Captures the raw ARM JSON of an SDK call: rules evaluate the REST shape, not the SDK's flattened models. */
export function rawBody() {
  let body: unknown;
  return {
    options: {
      onResponse: (raw: { parsedBody?: unknown; bodyAsText?: string | null }) => {
        body = raw.parsedBody ?? (raw.bodyAsText ? (JSON.parse(raw.bodyAsText) as unknown) : undefined);
      },
    },
    json: () => body,
  };
}

export function statusOf(error: unknown): number | undefined {
  return typeof error === "object" &&
    error !== null &&
    "statusCode" in error &&
    typeof error.statusCode === "number"
    ? error.statusCode
    : undefined;
}

/** An SDK call's failure (a read, a list): 412 a conflict; 429, 5xx and no answer (reset, timeout) transient. */
export function translate(error: unknown, resourceId: string, what: string): Error {
  const status = statusOf(error);
  const message = error instanceof Error ? error.message : String(error);
  if (status === 412)
    return new ConflictError(`${what}: ${resourceId} changed since it was read`, resourceId, {
      cause: error,
    });
  if (status === 429 || status === undefined || status >= 500) {
    return new TransientError(`${what} ${resourceId} failed (${status ?? "network"}): ${message}`, {
      cause: error,
    });
  }
  if (status === 401 || status === 403) {
    return new RefusedError(`${what} ${resourceId} refused (${status}): ${clip(message, 300)}`, {
      cause: error,
    });
  }
  return new Error(`${what} ${resourceId} failed (${status}): ${message}`, { cause: error });
}

interface SecurityRuleOperation {
  kind: "delete-security-rule" | "put-security-rule";
  nsgId: string;
  ruleName: string;
  ifMatch?: string;
  /** `*` for a rule the write creates: refused (412) if one of that name appeared meanwhile. */
  ifNoneMatch?: "*";
  /** The rule's full ARM body, sent as it is. */
  rule?: Record<string, unknown> & { properties?: Record<string, unknown> };
}

function securityRuleOperation(change: PlannedChange): SecurityRuleOperation {
  const op = change.operation as Partial<SecurityRuleOperation>;
  if (
    (op.kind !== "delete-security-rule" && op.kind !== "put-security-rule") ||
    typeof op.nsgId !== "string" ||
    typeof op.ruleName !== "string" ||
    (op.kind === "put-security-rule" && (typeof op.rule !== "object" || op.rule === null))
  ) {
    throw new InputError(`the Azure NSG writer cannot apply ${JSON.stringify(change.operation)}`);
  }
  return op as SecurityRuleOperation;
}

// How a long-running operation that ended Failed is settled, by its error code. A conflict (another writer got in
// first) re-reads and re-plans; a request ARM judged invalid is permanent and will fail the same way every time;
// anything else (an internal error) may have been partly applied, so its outcome is settled by reading.
const CONFLICT_CODES = new Set([
  "AnotherOperationInProgress",
  "Conflict",
  "PreconditionFailed",
  "OperationPreempted",
  "RetryableError",
]);
const PERMANENT_CODES =
  /^(InvalidRequestFormat|InvalidResourceReference|InvalidParameter\w*|BadRequest|SecurityRule\w+|LinkedAuthorizationFailed|AuthorizationFailed|InvalidResourceName)$/;

function lroResponse(
  answer: Extract<Answer, { answered: true }>,
  method: string,
  url: string,
): OperationResponse {
  return {
    flatResponse: answer.body,
    rawResponse: {
      statusCode: answer.status,
      headers: answer.headers,
      body: answer.body,
      request: { method, url },
    },
  };
}

/** ARM rule ids and names are case-insensitive. */
function findRule(snapshot: Snapshot, name: string): Record<string, unknown> | undefined {
  const rules = (snapshot.resource as { properties?: { securityRules?: unknown } } | undefined)?.properties
    ?.securityRules;
  if (!Array.isArray(rules)) return undefined;
  const all = rules.filter((r): r is Record<string, unknown> => typeof r === "object" && r !== null);
  return (
    all.find((r) => r.name === name) ??
    all.find((r) => typeof r.name === "string" && r.name.toLowerCase() === name.toLowerCase())
  );
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** One etag-guarded write of an ARM resource (a child's PUT or DELETE), as `armWrite` sends it. */
export interface ArmWrite {
  subscriptionId: string;
  method: "PUT" | "DELETE";
  /** The resource's URL with its api-version (`AzureNetwork.url`). */
  url: string;
  /** The full ARM body of a PUT, sent as raw JSON. */
  body?: unknown;
  /** The etag the resource must still have; or, for a resource the write creates, `ifNoneMatch: "*"`. */
  ifMatch?: string;
  ifNoneMatch?: "*";
  /** For messages: "delete security rule x on <nsg>". */
  what: string;
  /** The resource whose state the write changes (the NSG of a rule, the subnet), for ConflictError. */
  resourceId: string;
}

/**
 * Sends one write guarded by If-Match through the subscription's pipeline and follows its long-running operation.
 * Throws ConflictError when ARM refused it as stale (412, or an operation that failed on a conflict), TransientError
 * when it was not applied but may pass later (throttled, unavailable), OutcomeUnknownError when it may have been
 * applied but no answer says so, and a plain Error when ARM judged the request itself invalid (permanent).
 */
export async function armWrite(network: AzureNetwork, write: ArmWrite, signal?: AbortSignal): Promise<void> {
  const { subscriptionId, method, url, what, resourceId } = write;
  if (!write.ifMatch && !write.ifNoneMatch) throw new InputError(`refusing an unguarded write: ${what}`);
  network.counter.writes++;
  const answer = await network.send(subscriptionId, method, url, {
    headers: write.ifMatch ? { "If-Match": write.ifMatch } : { "If-None-Match": "*" },
    ...(method === "PUT" ? { body: write.body } : {}),
    signal,
  });
  if (!answer.answered) {
    const message = `${what}: ${describeFailure(answer)}`;
    // A timeout or reset after the request left: ARM may have applied it. Refused connections never carried it.
    if (answer.attempts.some(mayHaveLanded)) throw new OutcomeUnknownError(message, { cause: answer.error });
    throw new TransientError(message, { cause: answer.error });
  }
  const status = answer.status;
  if (status >= 200 && status < 300) {
    await settleOperation(network, subscriptionId, answer, { method, url, what, resourceId }, signal);
    return;
  }
  const message = `${what}: ${describeFailure(answer)}`;
  // An earlier attempt of this same request may have landed: what this answer says may be about our own write
  // (a 412 because our first PUT changed the etag), so only a read can tell.
  if (answer.attempts.slice(0, -1).some(mayHaveLanded)) {
    throw new OutcomeUnknownError(`${message} (after an earlier attempt that may have been applied)`);
  }
  if (status === 412 || status === 404) throw new ConflictError(message, resourceId);
  const code = armErrorCode(answer.body);
  if (status === 409 && code !== "AnotherOperationInProgress") throw new ConflictError(message, resourceId);
  // Another rule took the priority (or direction) the write planned for since it was read: read and plan again.
  if (status === 400 && code === "SecurityRuleConflict") throw new ConflictError(message, resourceId);
  if (status === 409 || status === 429 || status === 408 || status >= 500) {
    const after = retryAfterMs(answer.headers["retry-after"]);
    throw new TransientError(message, after === undefined ? {} : { retryAfterMs: after });
  }
  throw new Error(message);
}

/** Polls a write's long-running operation to its end (bounded) and classifies a failed one by its error code. */
async function settleOperation(
  network: AzureNetwork,
  subscriptionId: string,
  initial: Extract<Answer, { answered: true }>,
  request: { method: string; url: string; what: string; resourceId: string },
  signal: AbortSignal | undefined,
): Promise<void> {
  const { method, url, what, resourceId } = request;
  if (!initial.headers["azure-asyncoperation"] && !initial.headers.location) return;
  let last: unknown;
  const bound = AbortSignal.timeout(network.operationTimeoutMs);
  const abortSignal = signal ? AbortSignal.any([signal, bound]) : bound;
  const poller = createHttpPoller(
    {
      sendInitialRequest: async () => lroResponse(initial, method, url),
      sendPollRequest: async (pollUrl: string) => {
        const answer = await network.send(subscriptionId, "GET", pollUrl, { signal: abortSignal });
        if (!answer.answered || answer.status >= 500 || answer.status === 429) {
          throw new OutcomeUnknownError(
            `${what}: applied, but its operation's status was lost: ${describeFailure(answer)}`,
            { cause: answer.answered ? undefined : answer.error },
          );
        }
        last = answer.body;
        return lroResponse(answer, "GET", pollUrl);
      },
    },
    {
      ...(network.pollIntervalMs === undefined ? {} : { intervalInMs: network.pollIntervalMs }),
      resourceLocationConfig: method === "DELETE" ? "location" : "azure-async-operation",
      // The guardian re-reads when it needs the result; the final GET would be one more call.
      skipFinalGet: true,
      resolveOnUnsuccessful: true,
    },
  );
  try {
    await poller.pollUntilDone({ abortSignal });
  } catch (error) {
    if (error instanceof OutcomeUnknownError) throw error;
    throw new OutcomeUnknownError(
      `${what}: accepted, but its operation did not finish in time: ${String(error)}`,
      {
        cause: error,
      },
    );
  }
  const state = poller.operationState;
  if (state?.status === "succeeded") return;
  const code = armErrorCode(last);
  const detail = code ? ` (${code}: ${armErrorMessage(last) ?? ""})` : "";
  const message = `${what}: its long-running operation ended ${state?.status ?? "unknown"}${detail}`;
  if (code !== undefined && CONFLICT_CODES.has(code)) throw new ConflictError(message, resourceId);
  if (code !== undefined && PERMANENT_CODES.test(code)) throw new Error(message);
  throw new OutcomeUnknownError(message);
}

/** Whether `now` holds every property `sent` has, with the same value (a write's after-state in a fresh read). */
export function holdsAll(
  sent: Readonly<Record<string, unknown>>,
  now: Readonly<Record<string, unknown>>,
): boolean {
  return Object.entries(sent).every(([key, value]) => deepEqual(value, now[key]));
}

/** Writes NSG security rules (`delete-security-rule`, `put-security-rule`). */
export class AzureNsgWriter implements ResourceWriter {
  readonly #network: AzureNetwork;
  constructor(network: AzureNetwork) {
    this.#network = network;
  }

  /** Applies a planned rule write, guarded by If-Match (errors as `armWrite` classifies them). */
  async apply(change: PlannedChange, snapshot: Snapshot, options: CallOptions = {}): Promise<void> {
    const op = securityRuleOperation(change);
    if (snapshot.origin === "event") {
      throw new InputError(`refusing to write ${op.nsgId} from the resource an event carried: read it first`);
    }
    // A new rule (a split) is guarded by If-None-Match: *, so that a rule of its name made meanwhile is never replaced.
    const create = op.kind === "put-security-rule" && op.ifNoneMatch === "*";
    const ifMatch = op.ifMatch ?? snapshot.etag;
    if (!create && !ifMatch) throw new InputError(`refusing an unguarded write to ${op.nsgId}: no etag`);
    const { subscriptionId, path } = nsgParts(op.nsgId);
    const url = this.#network.url(
      `${path}/securityRules/${encodeURIComponent(op.ruleName)}`,
      RULE_WRITE_API_VERSION,
    );
    const method = op.kind === "delete-security-rule" ? "DELETE" : "PUT";
    await armWrite(
      this.#network,
      {
        subscriptionId,
        method,
        url,
        ...(method === "PUT" ? { body: op.rule } : {}),
        ...(create ? { ifNoneMatch: "*" as const } : { ifMatch: ifMatch as string }),
        what: `${change.summary} on ${op.nsgId}`,
        resourceId: op.nsgId,
      },
      options.signal,
    );
  }

  /**
   * Whether a fresh snapshot shows the planned change in place: the rule gone (delete), or the rule holding every
   * property the write sent. Settles a write whose answer was lost: the guardian's own, or someone else's state.
   */
  isApplied(change: PlannedChange, snapshot: Snapshot): boolean {
    const op = securityRuleOperation(change);
    const rule = findRule(snapshot, op.ruleName);
    if (op.kind === "delete-security-rule") return rule === undefined;
    if (!rule) return false;
    return holdsAll(op.rule?.properties ?? {}, (rule.properties ?? {}) as Record<string, unknown>);
  }
}
