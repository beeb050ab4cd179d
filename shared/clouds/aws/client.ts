import { EC2Client, type EC2ClientConfig } from "@aws-sdk/client-ec2";
import { TransientError } from "../../errors.ts";

export interface Ec2ClientOptions {
  /** Defaults to the SDK's chain (AWS_REGION, which Lambda sets). */
  region?: string;
  /** An emulator (moto) or a VPC interface endpoint; AWS's public endpoint when undefined. */
  endpoint?: string;
  /** Total attempts including the first; the SDK's default (3) when undefined. */
  maxAttempts?: number;
  /** Defaults to the SDK's chain (the Lambda execution role's environment credentials). */
  credentials?: EC2ClientConfig["credentials"];
}

export function createEc2Client(options: Ec2ClientOptions = {}): EC2Client {
  // Only defined keys are passed: an explicit `undefined` must not shadow the SDK's default chain.
  const config: EC2ClientConfig = {};
  if (options.region !== undefined) config.region = options.region;
  if (options.endpoint !== undefined) config.endpoint = options.endpoint;
  if (options.maxAttempts !== undefined) config.maxAttempts = options.maxAttempts;
  if (options.credentials !== undefined) config.credentials = options.credentials;
  return new EC2Client(config);
}

/**
 * Where the reader and writer get a client for a ref's region: one client (a Lambda watches its own region)
 * or a factory (a sweep across regions).
 */
export type Ec2ClientSource = EC2Client | ((region: string | undefined) => EC2Client);

export function clientFor(source: Ec2ClientSource, region: string | undefined): EC2Client {
  return typeof source === "function" ? source(region) : source;
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
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "TimeoutError",
]);

/**
 * A TransientError when the failure may pass on its own (throttled past the SDK's retries, a 5xx, the
 * endpoint unreachable); undefined otherwise. The SDK has already retried by the time this sees it.
 */
export function asTransient(error: unknown, what: string): TransientError | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = ec2ErrorCode(error);
  if (code !== undefined && THROTTLING_CODES.has(code)) {
    return new TransientError(`${what}: throttled by EC2 (${code}) after the SDK's retries`, {
      cause: error,
    });
  }
  const fault = (error as { $fault?: unknown }).$fault;
  if ((code !== undefined && SERVER_CODES.has(code)) || fault === "server") {
    return new TransientError(`${what}: EC2 server error (${code ?? "unknown"})`, { cause: error });
  }
  const errno = (error as { code?: unknown }).code;
  const name = (error as { name?: unknown }).name;
  if (
    code === undefined &&
    ((typeof errno === "string" && NETWORK_CODES.has(errno)) ||
      (typeof name === "string" && NETWORK_CODES.has(name)))
  ) {
    return new TransientError(`${what}: EC2 endpoint unreachable (${String(errno ?? name)})`, {
      cause: error,
    });
  }
  return undefined;
}

/** Wraps an unexpected failure so the log says which call on which group failed, keeping the original as cause. */
export function withContext(error: unknown, what: string): Error {
  const code = ec2ErrorCode(error);
  const message = error instanceof Error ? error.message : String(error);
  return new Error(`${what} failed${code === undefined ? "" : ` (${code})`}: ${message}`, { cause: error });
}
