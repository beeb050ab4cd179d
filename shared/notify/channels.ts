// Alert destinations: a name, a kind (Slack, Teams Workflows, a generic JSON webhook) and the setting that holds its
// URL. The URL is a secret: it lives in a private field and never reaches a log, an error or a message.
//
// A broken setting (unset, not a URL, a Key Vault reference or CloudFormation dynamic reference that was not resolved,
// plain http to a remote host) disables that one destination with a loud error and a notice on the destinations that
// work; it never stops the guardian, so remediation carries on (issue 7, point 15).
import { type AttemptResult, parseRetryAfter, redactor, type Sleep, type WebhookUrl } from "./deliver.ts";
import { renderJson } from "./json.ts";
import type { AlertDecision } from "./model.ts";
import { escapeMrkdwn, renderSlack } from "./slack.ts";
import { renderTeams } from "./teams.ts";

export const CHANNEL_TYPES = ["slack", "teams", "webhook"] as const;
export type ChannelType = (typeof CHANNEL_TYPES)[number];

/** A destination as the policy names it. */
export interface Destination {
  name: string;
  type: ChannelType;
  /** The setting (environment variable) whose value is the webhook URL. */
  url: string;
}

/**
 * The destinations used when the policy names none: one per well-known setting, each only when its setting is set.
 */
export const DEFAULT_DESTINATIONS: readonly Destination[] = [
  { name: "slack", type: "slack", url: "SLACK_WEBHOOK_URL" },
  { name: "teams", type: "teams", url: "TEAMS_WEBHOOK_URL" },
  { name: "webhook", type: "webhook", url: "GUARDIAN_WEBHOOK_URL" },
];

/**
 * Posting pace per kind of destination. Slack: about one message a second per webhook, short bursts allowed, then
 * 429 with Retry-After (docs.slack.dev, rate limits). Teams Workflows: flows are throttled per connection; one a
 * second keeps a burst well inside it. A generic endpoint sets its own pace through 429.
 */
export const MIN_INTERVAL_MS: Record<ChannelType, number> = { slack: 1000, teams: 1000, webhook: 0 };

export const DEFAULT_TIMEOUT_MS = 10_000;

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Why a URL setting cannot be used, never quoting the value (it is a secret); undefined when it is usable. */
export function urlProblem(value: string | undefined, setting: string): string | undefined {
  const v = value?.trim();
  if (!v) return `${setting} is not set`;
  if (/^@Microsoft\.KeyVault\(/i.test(v)) {
    return `${setting} is an unresolved Key Vault reference: check that the secret exists and that the function's identity may read it (Key Vault Secrets User)`;
  }
  if (/^\{\{resolve:/i.test(v)) return `${setting} is an unresolved CloudFormation dynamic reference`;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return `${setting} is not a valid URL`;
  }
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:" && LOOPBACK.has(url.hostname)) return undefined;
  return `${setting} must be an https URL (got ${url.protocol} to a remote host)`;
}

/** One destination that works: renders decisions for its kind and posts them, one attempt per call. */
export class WebhookChannel {
  readonly name: string;
  readonly type: ChannelType;
  readonly minIntervalMs: number;
  readonly #url: WebhookUrl;
  /** The setting the URL comes from, to name it (never its value) when a secret read at send time is unusable. */
  readonly #setting: string;
  #resolved: string | undefined;
  readonly #timeoutMs: number;

  constructor(destination: Destination, url: WebhookUrl, options: { timeoutMs?: number } = {}) {
    this.name = destination.name;
    this.type = destination.type;
    this.minIntervalMs = MIN_INTERVAL_MS[destination.type];
    this.#url = url;
    this.#setting = destination.url;
    this.#resolved = typeof url === "string" ? url : undefined;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** The webhook body for these decisions (all about one resource). */
  render(decisions: readonly AlertDecision[]): string {
    if (this.type === "slack") return JSON.stringify(renderSlack(decisions));
    if (this.type === "teams") return JSON.stringify(renderTeams(decisions));
    return JSON.stringify(renderJson(decisions));
  }

  /** A short notice in this channel's format (a broken destination, a dead-lettered message). Trusted text only. */
  renderNotice(title: string, lines: readonly string[]): string {
    if (this.type === "slack") {
      return JSON.stringify({
        text: escapeMrkdwn(title),
        blocks: [
          { type: "header", text: { type: "plain_text", text: title.slice(0, 150), emoji: true } },
          { type: "section", text: { type: "mrkdwn", text: escapeMrkdwn(lines.join("\n")).slice(0, 3000) } },
        ],
      });
    }
    if (this.type === "teams") {
      const run = (text: string, extra: Record<string, unknown> = {}) => ({
        type: "RichTextBlock",
        inlines: [{ type: "TextRun", text, ...extra }],
      });
      return JSON.stringify({
        type: "message",
        attachments: [
          {
            contentType: "application/vnd.microsoft.card.adaptive",
            contentUrl: null,
            content: {
              $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
              type: "AdaptiveCard",
              version: "1.4",
              fallbackText: title,
              body: [
                run(title, { weight: "Bolder", size: "Large", color: "Attention" }),
                ...lines.map((l) => run(l)),
              ],
              actions: [],
              msteams: { width: "Full" },
            },
          },
        ],
      });
    }
    return JSON.stringify({ schema: "network-guardian.notice", version: 1, title, lines });
  }

  /** Redacts this channel's URL from a text (for errors that might quote it). */
  redact(text: string): string {
    return this.#resolved === undefined ? text : redactor(this.#resolved)(text);
  }

  /**
   * One POST; never throws. A URL kept in a secret is read now (a rotation needs no redeploy): a read that fails may
   * pass (retried), a value that is not a usable URL will not (answered like a 400, so the message is dead-lettered).
   * A redirect is refused: it would carry the alert where the operator did not configure.
   */
  async post(body: string): Promise<AttemptResult> {
    let url: string;
    try {
      url = typeof this.#url === "string" ? this.#url : (await this.#url()).trim();
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      return { ok: false, error: new Error(`the URL for ${this.#setting} could not be read: ${why}`) };
    }
    const problem = urlProblem(url, `${this.#setting} (read from its secret)`);
    if (problem) return { ok: false, status: 400, body: problem };
    this.#resolved = url;
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        redirect: "error",
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      const text = await response.text();
      if (response.ok) return { ok: true, status: response.status };
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
      return {
        ok: false,
        status: response.status,
        body: text,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      };
    } catch (error) {
      return { ok: false, error };
    }
  }

  /** The URL kept out of console.log and JSON. */
  toJSON(): Record<string, string> {
    return { name: this.name, type: this.type };
  }
}

export interface BrokenDestination {
  name: string;
  type: ChannelType;
  problem: string;
}

export interface Channels {
  channels: WebhookChannel[];
  broken: BrokenDestination[];
}

/**
 * The working channels and the broken destinations, from the policy's destinations (or the defaults) and the
 * resolved URL settings. Takes URLs already resolved (environment, Secrets Manager, Key Vault references), so how a
 * secret is fetched stays with the runtime. Never throws.
 */
export function channelsFrom(
  destinations: readonly Destination[] | undefined,
  urls: Readonly<Record<string, WebhookUrl | undefined>>,
  options: { timeoutMs?: number } = {},
): Channels {
  const named = destinations !== undefined;
  const list = destinations ?? DEFAULT_DESTINATIONS;
  const channels: WebhookChannel[] = [];
  const broken: BrokenDestination[] = [];
  for (const d of list) {
    const value = Object.hasOwn(urls, d.url) ? urls[d.url] : undefined;
    // Read from a secret at send time: checked then (see WebhookChannel.post).
    if (typeof value === "function") {
      channels.push(new WebhookChannel(d, value, options));
      continue;
    }
    // A default destination whose setting is unset is simply not configured.
    if (!named && !value?.trim()) continue;
    const problem = urlProblem(value, d.url);
    if (problem) broken.push({ name: d.name, type: d.type, problem });
    else channels.push(new WebhookChannel(d, (value as string).trim(), options));
  }
  return { channels, broken };
}

/**
 * Spaces posts to one channel at least `minIntervalMs` apart and holds them while a 429's Retry-After runs, within
 * one process. Several sender instances each keep their own pace; Retry-After covers the rest.
 */
export class Pacer {
  readonly #next = new Map<string, number>();
  readonly #tails = new Map<string, Promise<unknown>>();
  readonly #now: () => number;
  readonly #sleep: Sleep;

  constructor(now: () => number, sleep: Sleep) {
    this.#now = now;
    this.#sleep = sleep;
  }

  /** Runs `post` in this channel's turn. */
  async run<T>(channel: WebhookChannel, post: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(channel.name) ?? Promise.resolve();
    const turn = previous.then(async () => {
      const wait = (this.#next.get(channel.name) ?? 0) - this.#now();
      if (wait > 0) await this.#sleep(wait);
      try {
        return await post();
      } finally {
        // Counted from the end of the turn: a turn may hold several attempts (a quick retry), the last one counts.
        this.pause(channel, this.#now() + channel.minIntervalMs);
      }
    });
    this.#tails.set(
      channel.name,
      turn.catch(() => undefined),
    );
    return turn;
  }

  /** No post to this channel before `untilMs` (a 429's Retry-After). */
  pause(channel: WebhookChannel, untilMs: number): void {
    this.#next.set(channel.name, Math.max(this.#next.get(channel.name) ?? 0, untilMs));
  }
}
