// A local stand-in for Slack incoming webhooks and Teams Workflows webhooks, for tests and the demo.
// Slack answers `200` with the text body `ok` and, on errors, the status with a short text code (400 invalid_payload,
// 403 action_prohibited, 404 channel_not_found, 410 channel_is_archived, 500 rollup_error: api.slack.com changelog
// 2016-05-17 "Improving error conditions for Incoming Webhooks"; no_text and invalid_blocks from the incoming-webhooks
// error table); 429 carries Retry-After in seconds (api.slack.com rate limits). A Workflows trigger answers `202 Accepted` with an empty body.
// The sink also enforces the Block Kit limits the renderer promises (50 blocks, 3,000-char sections, 150-char
// header), so a test against it fails the way Slack would.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface SinkRequest {
  path: string;
  body: unknown;
  headers: Record<string, string>;
  /** The status the sink answered (0 when it closed the connection instead). */
  status: number;
  /** When the request arrived (Date.now()). */
  at: number;
}

/** `"close"` drops the connection without an answer, as a host that is down or a proxy that resets would. */
export type SinkFailure = number | "close";

export interface WebhookSink {
  /** Base URL, `http://127.0.0.1:<port>`. */
  url: string;
  /** A Slack-like webhook URL on the sink (`/slack/services/T.../B.../secret`). */
  slackUrl: string;
  /** A Workflows-like webhook URL on the sink, with a `sig` query parameter like the real ones. */
  teamsUrl: string;
  /** A generic JSON intake (a SIEM's HTTP collector): 200 for any JSON body. */
  webhookUrl: string;
  /** Messages delivered (answered 2xx), in arrival order. */
  received: SinkRequest[];
  /** Every request, including the ones the sink failed on purpose: what tests count attempts on. */
  attempts: SinkRequest[];
  /**
   * Fails the next `times` requests (to paths starting with `pathPrefix`, e.g. `/slack`, or to any path) with
   * `status`, adding `Retry-After: retryAfterSeconds` when given.
   */
  failNext(status: SinkFailure, times: number, retryAfterSeconds?: number, pathPrefix?: string): void;
  /**
   * Refuses every request (closes the connection, as a host that is down) while `isDown()` is true: an outage that
   * ends when the test's clock says so, then recovers on its own.
   */
  refuseWhile(isDown: () => boolean): void;
  /** Answers the next `times` requests only after `ms` (a slow endpoint; past the client's timeout, a timeout). */
  delayNext(ms: number, times: number): void;
  /**
   * Fails each request with probability `failRate` (as 500, or as 429 with Retry-After for a `rate429` share of
   * them), from a seeded generator so a run can be repeated; `0` turns it off.
   */
  flaky(failRate: number, rate429?: number, retryAfterSeconds?: number, seed?: number): void;
  /** Resolves once `received` holds at least `count` messages; rejects after `timeoutMs` (default 5 s). */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface WebhookSinkOptions {
  /** Called for every delivered message; the demo prints from here. */
  onReceive?: (request: SinkRequest) => void;
}

interface PendingFailure {
  status: SinkFailure;
  remaining: number;
  retryAfterSeconds: number | undefined;
  pathPrefix: string | undefined;
}

const SLACK_ERROR_TEXT: Record<number, string> = {
  400: "invalid_payload",
  403: "action_prohibited",
  404: "channel_not_found",
  410: "channel_is_archived",
  429: "rate_limited",
  500: "rollup_error",
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[key] = Array.isArray(value) ? value.join(", ") : value;
  }
  return out;
}

/** What Slack would reject in a Block Kit payload; undefined when it is acceptable. */
function slackPayloadError(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return "invalid_payload";
  const { text, blocks } = body as { text?: unknown; blocks?: unknown };
  if (typeof text !== "string" && !Array.isArray(blocks)) return "no_text";
  if (blocks === undefined) return undefined;
  if (!Array.isArray(blocks) || blocks.length > 50) return "invalid_blocks";
  for (const block of blocks) {
    if (typeof block !== "object" || block === null) return "invalid_blocks";
    const b = block as { type?: unknown; text?: { text?: unknown } };
    const t = b.text?.text;
    if (b.type === "header" && (typeof t !== "string" || t.length > 150)) return "invalid_blocks";
    if (b.type === "section" && typeof t === "string" && t.length > 3000) return "invalid_blocks";
  }
  return undefined;
}

export async function startWebhookSink(options: WebhookSinkOptions = {}): Promise<WebhookSink> {
  const received: SinkRequest[] = [];
  const attempts: SinkRequest[] = [];
  const failures: PendingFailure[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  let isDown: () => boolean = () => false;
  const delays: { ms: number; remaining: number }[] = [];
  let flakiness = { failRate: 0, rate429: 0, retryAfterSeconds: 1, state: 1 };
  /** mulberry32: small, seeded, good enough to spread failures. */
  const nextRandom = () => {
    flakiness.state = (flakiness.state + 0x6d2b79f5) | 0;
    let t = flakiness.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  const notify = () => {
    for (const waiter of [...waiters]) {
      if (received.length >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };

  const takeFailure = (path: string): PendingFailure | undefined => {
    const failure = failures.find((f) => f.remaining > 0 && (!f.pathPrefix || path.startsWith(f.pathPrefix)));
    if (!failure) return undefined;
    failure.remaining--;
    if (failure.remaining === 0) failures.splice(failures.indexOf(failure), 1);
    return failure;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const raw = await readBody(req);
    const path = new URL(req.url ?? "/", "http://sink").pathname;
    const headers = flatHeaders(req);
    let body: unknown = raw;
    let parsed = false;
    try {
      body = JSON.parse(raw);
      parsed = true;
    } catch {
      // Kept as text: the channel answers 400 below.
    }
    const arrived = Date.now();
    const record = (status: number): SinkRequest => {
      const entry = { path, body, headers, status, at: arrived };
      attempts.push(entry);
      return entry;
    };
    const isSlack = path.startsWith("/slack/");
    const isTeams = path.startsWith("/teams/");
    const isWebhook = path.startsWith("/webhook/");

    if (isDown()) {
      record(0);
      req.socket.destroy();
      return;
    }
    const delay = delays.find((d) => d.remaining > 0);
    if (delay) {
      delay.remaining--;
      if (delay.remaining === 0) delays.splice(delays.indexOf(delay), 1);
      await new Promise((resolve) => setTimeout(resolve, delay.ms));
      // The client may have given up meanwhile (its timeout): nothing was delivered then.
      if (req.socket.destroyed) {
        record(0);
        return;
      }
    }
    let failure = takeFailure(path);
    if (!failure && flakiness.failRate > 0 && nextRandom() < flakiness.failRate) {
      const throttle = nextRandom() < flakiness.rate429;
      failure = {
        status: throttle ? 429 : 500,
        remaining: 0,
        retryAfterSeconds: throttle ? flakiness.retryAfterSeconds : undefined,
        pathPrefix: undefined,
      };
    }
    if (failure) {
      if (failure.status === "close") {
        record(0);
        req.socket.destroy();
        return;
      }
      record(failure.status);
      const extra: Record<string, string> =
        failure.retryAfterSeconds !== undefined ? { "retry-after": String(failure.retryAfterSeconds) } : {};
      if (isSlack) {
        res.writeHead(failure.status, { "content-type": "text/plain; charset=utf-8", ...extra });
        res.end(SLACK_ERROR_TEXT[failure.status] ?? "error");
      } else {
        res.writeHead(failure.status, { "content-type": "text/plain; charset=utf-8", ...extra });
        res.end(`injected failure ${failure.status}`);
      }
      return;
    }

    if (req.method !== "POST" || (!isSlack && !isTeams && !isWebhook)) {
      record(404);
      res.writeHead(404).end();
      return;
    }
    if (isSlack) {
      const error = parsed ? slackPayloadError(body) : "invalid_payload";
      if (error) {
        record(400);
        res.writeHead(400, { "content-type": "text/plain; charset=utf-8" }).end(error);
        return;
      }
      const entry = record(200);
      received.push(entry);
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end("ok");
    } else if (isWebhook) {
      if (!parsed) {
        record(400);
        res.writeHead(400).end();
        return;
      }
      const entry = record(200);
      received.push(entry);
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    } else {
      if (!parsed) {
        record(400);
        res.writeHead(400).end();
        return;
      }
      const entry = record(202);
      received.push(entry);
      res.writeHead(202).end();
    }
    options.onReceive?.(received[received.length - 1] as SinkRequest);
    notify();
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    slackUrl: `${url}/slack/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX`,
    teamsUrl: `${url}/teams/workflows/00000000000000000000000000000000/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=sink-signature-0000`,
    webhookUrl: `${url}/webhook/intake?token=sink-token-0000`,
    received,
    attempts,
    failNext(status, times, retryAfterSeconds, pathPrefix) {
      failures.push({ status, remaining: times, retryAfterSeconds, pathPrefix });
    },
    refuseWhile(predicate) {
      isDown = predicate;
    },
    delayNext(ms, times) {
      delays.push({ ms, remaining: times });
    },
    flaky(failRate, rate429 = 0, retryAfterSeconds = 1, seed = 1) {
      flakiness = { failRate, rate429, retryAfterSeconds, state: seed };
    },
    waitFor(count, timeoutMs = 5000) {
      if (received.length >= count) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const waiter = {
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`webhook sink: ${received.length} of ${count} messages after ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    stop() {
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

/** One line per delivered message, for the demo: the channel and the title the recipient would see first. */
export function summarizeDelivery(request: SinkRequest): string {
  const body = request.body as {
    blocks?: { type?: string; text?: { text?: string } }[];
    text?: string;
    attachments?: {
      content?: { body?: { type?: string; text?: string; inlines?: { text?: string }[] }[] };
    }[];
  } | null;
  if (request.path.startsWith("/slack/")) {
    const header = body?.blocks?.find((b) => b.type === "header")?.text?.text;
    return `slack  ${request.status}  ${header ?? body?.text ?? "(no text)"}`;
  }
  if (request.path.startsWith("/teams/")) {
    const heading = body?.attachments?.[0]?.content?.body?.find(
      (e) => e.type === "TextBlock" || e.type === "RichTextBlock",
    );
    const first = heading?.text ?? heading?.inlines?.map((i) => i.text ?? "").join("");
    return `teams  ${request.status}  ${first ?? "(no card)"}`;
  }
  if (request.path.startsWith("/webhook/")) {
    return `json   ${request.status}  ${(body as { headline?: string } | null)?.headline ?? "(no headline)"}`;
  }
  return `${request.path}  ${request.status}`;
}
