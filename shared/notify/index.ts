// Builds the configured channels and fans one alert out to all of them.
import { InputError } from "../errors.ts";
import type { RetryPolicy, Sleep, WebhookUrl } from "./deliver.ts";
import { SlackNotifier } from "./slack.ts";
import { TeamsNotifier } from "./teams.ts";
import type { Alert, Notifier } from "./types.ts";

export {
  DEFAULT_RETRY,
  DEFAULT_TIMEOUT_MS,
  parseRetryAfter,
  type RetryPolicy,
  redactor,
  WebhookDeliveryError,
  type WebhookNotifierOptions,
  type WebhookUrl,
} from "./deliver.ts";
export {
  escapeMrkdwn,
  renderSlack,
  SLACK_MAX_BLOCKS,
  SLACK_MAX_HEADER_TEXT,
  SLACK_MAX_SECTION_TEXT,
  SlackNotifier,
} from "./slack.ts";
export { ADAPTIVE_CARD_VERSION, renderTeams, TEAMS_MAX_BYTES, TeamsNotifier } from "./teams.ts";

export interface NotifyConfig {
  /** The URL, or where to read it when an alert is sent (a secret store). */
  slackWebhookUrl?: WebhookUrl | undefined;
  teamsWebhookUrl?: WebhookUrl | undefined;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
  sleep?: Sleep;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * Checks a webhook URL without ever echoing it (it is a secret). HTTPS is required, except to a loopback host,
 * which the local demo and tests use.
 */
function checkUrl(value: string, path: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InputError(`${path} is not a valid URL`, { path });
  }
  if (url.protocol === "https:") return value;
  if (url.protocol === "http:" && LOOPBACK.has(url.hostname)) return value;
  throw new InputError(`${path} must be an https URL (got ${url.protocol} to ${url.hostname})`, { path });
}

/** One notifier per configured channel; an empty string counts as not configured (an unset app setting). */
export function notifiersFromConfig(config: NotifyConfig): Notifier[] {
  const options = {
    ...(config.retry ? { retry: config.retry } : {}),
    ...(config.timeoutMs !== undefined ? { timeoutMs: config.timeoutMs } : {}),
    ...(config.sleep ? { sleep: config.sleep } : {}),
  };
  const notifiers: Notifier[] = [];
  const slack = checked(config.slackWebhookUrl, "slackWebhookUrl");
  if (slack) notifiers.push(new SlackNotifier(slack, options));
  const teams = checked(config.teamsWebhookUrl, "teamsWebhookUrl");
  if (teams) notifiers.push(new TeamsNotifier(teams, options));
  return notifiers;
}

/** A URL checked now, or a reader whose value is checked each time it is read; undefined when not configured. */
function checked(url: WebhookUrl | undefined, path: string): WebhookUrl | undefined {
  if (typeof url === "function") return async () => checkUrl((await url()).trim(), path);
  const trimmed = url?.trim();
  return trimmed ? checkUrl(trimmed, path) : undefined;
}

export interface ChannelReport {
  channel: string;
  ok: boolean;
  /** Already free of the webhook URL. */
  error?: string;
}

/** Sends to every channel concurrently; a failing channel never stops the others. Never throws. */
export async function sendAll(notifiers: readonly Notifier[], alert: Alert): Promise<ChannelReport[]> {
  const settled = await Promise.allSettled(notifiers.map((n) => n.send(alert)));
  return settled.map((outcome, i) => {
    const channel = notifiers[i]?.channel ?? `#${i}`;
    if (outcome.status === "fulfilled") return { channel, ok: true };
    const reason: unknown = outcome.reason;
    return {
      channel,
      ok: false,
      error: reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason),
    };
  });
}
