import { EC2Client, type EC2ClientConfig } from "@aws-sdk/client-ec2";
import { InputError, OutcomeUnknownError, TransientError } from "../../errors.ts";

/** Per-request timeouts: a call that never answers fails fast into the retry path instead of outliving its invocation. */
export interface Ec2Timeouts {
  /** To establish the TCP (and TLS) connection. */
  connectMs: number;
  /** For the whole request, from sending to the last byte of the answer. */
  requestMs: number;
}

export const DEFAULT_EC2_TIMEOUTS: Ec2Timeouts = { connectMs: 3_000, requestMs: 10_000 };

/**
 * Which failures the SDK retries by itself. Reads are idempotent: every transient failure is retried. A write is
 * retried only when EC2 answered that it did not carry it out (throttling): after a reset, a timeout or a 5xx the write
 * may have landed, and a blind retry would meet InvalidPermission.NotFound and take the guardian's own success for
 * someone else's edit. The writer reports those as OutcomeUnknownError, settled by re-reading.
 */
export type Ec2RetryMode = "standard" | "throttling-only";

export interface Ec2ClientOptions {
  /** Defaults to the SDK's chain (AWS_REGION, which Lambda sets). */
  region?: string;
  /** An emulator (moto) or a VPC interface endpoint; AWS's public endpoint when undefined. */
  endpoint?: string;
  /** Total attempts including the first; the SDK's default (3) when undefined. */
  maxAttempts?: number;
  /** Defaults to the SDK's chain (the Lambda execution role's environment credentials). */
  credentials?: EC2ClientConfig["credentials"];
  /** Per-request timeouts; DEFAULT_EC2_TIMEOUTS when undefined. */
  timeouts?: Partial<Ec2Timeouts>;
  retry?: Ec2RetryMode;
}

type RetryStrategyV2 = Extract<
  NonNullable<EC2ClientConfig["retryStrategy"]>,
  { refreshRetryTokenForRetry: unknown }
>;
type RetryToken = Awaited<ReturnType<RetryStrategyV2["acquireInitialRetryToken"]>>;

function retryToken(count: number, delayMs: number): RetryToken {
  return { getRetryCount: () => count, getRetryDelay: () => delayMs };
}

/**
 * The SDK's retry contract (RetryStrategyV2), retrying only throttling: full-jitter exponential backoff from 100 ms,
 * capped at 5 s, honouring the service's retry-after hint. Refusing a retry makes the SDK rethrow the attempt's error.
 */
function throttlingOnlyRetry(maxAttempts: number): RetryStrategyV2 {
  return {
    mode: "standard",
    acquireInitialRetryToken: async () => retryToken(0, 0),
    refreshRetryTokenForRetry: async (token, errorInfo) => {
      const next = token.getRetryCount() + 1;
      if (errorInfo.errorType !== "THROTTLING" || next >= maxAttempts) {
        throw new Error("not retried: only throttled writes are retried");
      }
      let delay = Math.random() * Math.min(5_000, 100 * 2 ** next);
      const hint = errorInfo.retryAfterHint;
      if (hint instanceof Date) delay = Math.max(delay, Math.min(hint.getTime() - Date.now(), 5_000));
      return retryToken(next, Math.max(0, delay));
    },
    recordSuccess: () => undefined,
  } as RetryStrategyV2;
}

export function createEc2Client(options: Ec2ClientOptions = {}): EC2Client {
  // Only defined keys are passed: an explicit `undefined` must not shadow the SDK's default chain.
  const timeouts = { ...DEFAULT_EC2_TIMEOUTS, ...options.timeouts };
  const config: EC2ClientConfig = {
    // throwOnRequestTimeout: without it the SDK only logs a warning when requestTimeout passes and keeps waiting.
    requestHandler: {
      connectionTimeout: timeouts.connectMs,
      requestTimeout: timeouts.requestMs,
      throwOnRequestTimeout: true,
    },
  };
  if (options.region !== undefined) config.region = options.region;
  if (options.endpoint !== undefined) config.endpoint = options.endpoint;
  if (options.credentials !== undefined) config.credentials = options.credentials;
  if (options.retry === "throttling-only") {
    config.retryStrategy = throttlingOnlyRetry(options.maxAttempts ?? 3);
  } else if (options.maxAttempts !== undefined) {
    config.maxAttempts = options.maxAttempts;
  }
  const client = new EC2Client(config);
  if (options.retry === "throttling-only") throttlingOnly.add(client);
  return client;
}

const throttlingOnly = new WeakSet<EC2Client>();

/** True for a client made with `retry: "throttling-only"`: every retry it made was after an answer that nothing happened. */
export function retriesOnlyThrottling(client: EC2Client): boolean {
  return throttlingOnly.has(client);
}

/**
 * Where the reader and writer get a client for a ref's region: one client (a Lambda watches its own region)
 * or a factory (a sweep across regions, events forwarded from other regions).
 */
export type Ec2ClientSource = EC2Client | ((region: string | undefined) => EC2Client);

// Commercial, GovCloud, China and ISO partitions: us-east-1, us-gov-west-1, cn-north-1, us-isob-east-1, eu-central-2.
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;

/** An AWS region name, or InputError: the region comes from the event and becomes part of an endpoint host. */
export function checkRegion(region: string): string {
  if (!REGION.test(region)) {
    throw new InputError(`"${region.slice(0, 64)}" is not an AWS region name (such as eu-west-1)`, {
      path: "region",
    });
  }
  return region;
}

/** One client per region, made on first use and kept for the life of the instance. */
export function regionalClients(
  options: Omit<Ec2ClientOptions, "region">,
  defaultRegion: string | undefined,
): (region: string | undefined) => EC2Client {
  const clients = new Map<string, EC2Client>();
  return (region) => {
    const name = region ?? defaultRegion;
    const key = name === undefined ? "" : checkRegion(name);
    let client = clients.get(key);
    if (client === undefined) {
      client = createEc2Client({ ...options, ...(name === undefined ? {} : { region: name }) });
      clients.set(key, client);
    }
    return client;
  };
}

export function clientFor(source: Ec2ClientSource, region: string | undefined): EC2Client {
  if (typeof source === "function") return source(region);
  return source;
}

/**
 * Options for one SDK call: the invocation's budget (CallOptions.signal), so that no call outlives it. Throws a
 * TransientError, before anything is sent, when the budget is already spent.
 */
export function callOptions(signal: AbortSignal | undefined, what: string): { abortSignal?: AbortSignal } {
  if (signal?.aborted) {
    throw new TransientError(
      `${what}: not started, the invocation's time budget is spent; the event is retried`,
    );
  }
  return signal === undefined ? {} : { abortSignal: signal };
}

/** The EC2 error code (`InvalidGroup.NotFound`), or undefined for errors that did not come from the service. */
export function ec2ErrorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const withCode = error as { Code?: unknown; name?: unknown; $fault?: unknown };
  if (typeof withCode.Code === "string") return withCode.Code;
  // Service exceptions carry $fault; a network error's name ("Error") is not an EC2 code.
  if (typeof withCode.$fault === "string" && typeof withCode.name === "string") return withCode.name;
  return undefined;
}

const THROTTLING_CODES = new Set(["RequestLimitExceeded", "Throttling", "ThrottlingException"]);
const SERVER_CODES = new Set(["InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable"]);
// Failures before the request left: nothing can have been applied.
const NOT_SENT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);
// Failures after the request may have left: the answer was lost.
const LOST_ANSWER_CODES = new Set(["ECONNRESET", "ETIMEDOUT", "EPIPE", "TimeoutError", "AbortError"]);

/** The errno or error name of a network-level failure, looking through causes; undefined for a service answer. */
function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const { code, name, cause } = current as { code?: unknown; name?: unknown; cause?: unknown };
    if (typeof code === "string" && (NOT_SENT_CODES.has(code) || LOST_ANSWER_CODES.has(code))) return code;
    if (typeof name === "string" && LOST_ANSWER_CODES.has(name)) return name;
    current = cause;
  }
  return undefined;
}

function isServerFault(error: unknown): string | undefined {
  const code = ec2ErrorCode(error);
  const fault = (error as { $fault?: unknown }).$fault;
  const status = (error as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode;
  if ((code !== undefined && SERVER_CODES.has(code)) || fault === "server") return code ?? "unknown";
  if (typeof status === "number" && status >= 500) return code ?? `HTTP ${status}`;
  return undefined;
}

/**
 * A TransientError when the failure may pass on its own (throttled past the SDK's retries, a 5xx, the
 * endpoint unreachable, the invocation's budget spent); undefined otherwise. The SDK has already retried.
 */
export function asTransient(error: unknown, what: string): TransientError | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = ec2ErrorCode(error);
  if (code !== undefined && THROTTLING_CODES.has(code)) {
    return new TransientError(`${what}: throttled by EC2 (${code}) after the SDK's retries`, {
      cause: error,
    });
  }
  const server = isServerFault(error);
  if (server !== undefined) {
    return new TransientError(`${what}: EC2 server error (${server})`, { cause: error });
  }
  const network = code === undefined ? networkCode(error) : undefined;
  if (network === "AbortError") {
    return new TransientError(`${what}: the invocation's time budget ran out`, { cause: error });
  }
  if (network !== undefined) {
    return new TransientError(`${what}: EC2 endpoint unreachable or not answering (${network})`, {
      cause: error,
    });
  }
  return undefined;
}

/**
 * How a failed write ended: `not-applied` when EC2 answered without carrying it out (throttled, refused) or the
 * request never left; `unknown` when the request may have been applied and its answer was lost (a reset or timeout
 * after sending, the budget's abort, a 5xx); undefined for an ordinary EC2 error answer (the caller classifies it).
 */
export function writeFailureKind(error: unknown): "not-applied" | "unknown" | undefined {
  if (typeof error !== "object" || error === null) return "unknown";
  const code = ec2ErrorCode(error);
  if (code !== undefined && THROTTLING_CODES.has(code)) return "not-applied";
  if (isServerFault(error) !== undefined) return "unknown";
  if (code !== undefined) return undefined;
  const network = networkCode(error);
  if (network !== undefined && NOT_SENT_CODES.has(network)) return "not-applied";
  // Anything else without an answer from EC2 (a reset, a timeout, an abort, a socket hang-up) may have landed.
  return "unknown";
}

/** The OutcomeUnknownError for a write whose answer was lost. */
export function outcomeUnknown(error: unknown, what: string): OutcomeUnknownError {
  const detail = isServerFault(error) ?? networkCode(error) ?? (error instanceof Error ? error.message : "");
  return new OutcomeUnknownError(
    `${what}: sent, but its answer was lost (${detail}); it may or may not have been applied`,
    { cause: error },
  );
}

/** Wraps an unexpected failure so the log says which call on which group failed, keeping the original as cause. */
export function withContext(error: unknown, what: string): Error {
  const code = ec2ErrorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return new Error(`${what} failed${code === undefined ? "" : ` (${code})`}: ${message}`, { cause: error });
}
