// Bounded delivery shared by the webhook senders: honour 429 Retry-After, retry 5xx and network faults a few times,
// then give up loudly with a TransientError the caller dead-letters. Webhook URLs are secrets and never leave here.

import { TransientError } from "../errors.ts";

export interface RetryPolicy {
  /** Total attempts including the first. */
  maxAttempts: number;
  /** Cap on the sum of all waits between attempts; a Retry-After beyond it fails at once with `retryAfterMs`. */
  maxTotalWaitMs: number;
  /** First backoff for 5xx and network faults; doubles each retry. */
  backoffMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, maxTotalWaitMs: 30_000, backoffMs: 500 };

/** What one HTTP attempt came to, independent of the client library that made it. */
export type AttemptResult =
  | { ok: true; status: number }
  | { ok: false; status: number; body: string; retryAfterMs?: number }
  | { ok: false; status?: undefined; error: unknown };

/** A delivery that failed for good. A TransientError, so callers that only know the shared errors still handle it. */
export class WebhookDeliveryError extends TransientError {
  readonly channel: string;
  /** The last HTTP status; undefined when no response came (connection refused, reset, timeout). */
  readonly status: number | undefined;
  readonly attempts: number;
  constructor(
    message: string,
    details: {
      channel: string;
      status: number | undefined;
      attempts: number;
      retryAfterMs?: number;
      cause?: unknown;
    },
  ) {
    super(message, { cause: details.cause, retryAfterMs: details.retryAfterMs });
    this.channel = details.channel;
    this.status = details.status;
    this.attempts = details.attempts;
  }
}

/**
 * Returns a function that removes every trace of the webhook URL from a text: the URL itself, its path and query
 * (Slack's path and the Workflows `sig` query parameter are the secrets), and any `sig=` value.
 */
export function redactor(url: string): (text: string) => string {
  const secrets: string[] = [url];
  let safe = "<webhook url redacted>";
  try {
    const parsed = new URL(url);
    safe = `${parsed.origin}/<redacted>`;
    const rest = `${parsed.pathname}${parsed.search}`;
    if (rest.length > 1) secrets.push(rest);
    if (parsed.pathname.length > 1) secrets.push(parsed.pathname);
    if (parsed.search.length > 1) secrets.push(parsed.search);
  } catch {
    // Not a URL: only the raw string can be recognised.
  }
  // Longest first so a whole URL is replaced before its path would be.
  secrets.sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text;
    for (const secret of secrets) if (secret) out = out.split(secret).join(safe);
    return out.replace(/([?&]sig=)[^&\s"']+/gi, "$1<redacted>");
  };
}

/** The host part of a webhook URL, safe to show. */
export function safeUrl(url: string): string {
  try {
    return `${new URL(url).origin}/<redacted>`;
  } catch {
    return "<webhook url redacted>";
  }
}

/** Retry-After is either delta-seconds or an HTTP-date (RFC 9110 §10.2.3). Undefined when absent or unreadable. */
export function parseRetryAfter(
  value: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (value === null || value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** A short, URL-free description of a network-level failure (the code of the innermost cause when there is one). */
export function describeNetworkError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (current.name === "TimeoutError" || current.name === "AbortError") parts.push("timed out");
    else if (typeof code === "string" && !code.startsWith("slack_")) parts.push(code);
    current = current.cause;
  }
  if (parts.length > 0) return `no response (${[...new Set(parts)].join(", ")})`;
  return `no response (${error instanceof Error ? error.message : String(error)})`;
}

export const DEFAULT_TIMEOUT_MS = 10_000;

const MAX_BODY_IN_MESSAGE = 500;

export type Sleep = (ms: number) => Promise<void>;

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export interface DeliverOptions {
  channel: string;
  /** The webhook URL, only to remove it from error texts. */
  url?: string;
  /** Or a redactor that already knows it. */
  redact?: (text: string) => string;
  policy: RetryPolicy;
  sleep?: Sleep;
}

/**
 * Runs `attempt` until it succeeds or the policy is spent. 4xx other than 429 is not retried (the payload or the URL
 * is wrong) but still throws, with the response body, so the alert is dead-lettered rather than lost.
 * Returns the number of attempts made.
 */
export async function deliver(
  attempt: () => Promise<AttemptResult>,
  options: DeliverOptions,
): Promise<number> {
  const { channel, policy } = options;
  const sleep = options.sleep ?? realSleep;
  const redact = options.redact ?? redactor(options.url ?? "");
  const where =
    options.url === undefined ? `${channel} webhook` : `${channel} webhook ${safeUrl(options.url)}`;
  const maxAttempts = Math.max(1, Math.floor(policy.maxAttempts));
  let waited = 0;

  for (let n = 1; ; n++) {
    const result = await attempt();
    if (result.ok) return n;

    const status = result.status;
    const what =
      status === undefined
        ? describeNetworkError(result.error)
        : `HTTP ${status}${result.body ? `: ${truncateBody(result.body)}` : ""}`;
    const fail = (message: string, retryAfterMs?: number) =>
      new WebhookDeliveryError(redact(message), {
        channel,
        status,
        attempts: n,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        // The raw error may quote the URL (an unparseable URL, a proxy message): keep only its redacted text.
        ...(status === undefined ? { cause: new Error(redact(errorText(result.error))) } : {}),
      });

    const retryable = status === undefined || status === 408 || status === 429 || status >= 500;
    if (!retryable) throw fail(`${where} rejected the alert (not retried): ${what}`);

    const retryAfterMs = status === 429 ? result.retryAfterMs : undefined;
    if (n >= maxAttempts) throw fail(`${where} failed after ${n} attempts: ${what}`, retryAfterMs);

    const wait = retryAfterMs ?? policy.backoffMs * 2 ** (n - 1);
    if (waited + wait > policy.maxTotalWaitMs) {
      throw fail(
        `${where} failed after ${n} attempts: ${what}; waiting ${wait} ms more would exceed the ${policy.maxTotalWaitMs} ms budget`,
        wait,
      );
    }
    await sleep(wait);
    waited += wait;
  }
}

function truncateBody(body: string): string {
  const flat = body.replace(/\s+/g, " ").trim();
  return flat.length > MAX_BODY_IN_MESSAGE ? `${flat.slice(0, MAX_BODY_IN_MESSAGE)}… (truncated)` : flat;
}

function errorText(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const causes: string[] = [error.message];
  let current: unknown = error.cause;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    causes.push(current.message);
    current = current.cause;
  }
  return causes.join(": ");
}

/**
 * A webhook URL, or where to read it at send time (a secret store: the value never sits in the function's
 * configuration, and a rotated secret is picked up without a redeploy).
 */
export type WebhookUrl = string | (() => Promise<string>);
