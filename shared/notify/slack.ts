// Slack incoming-webhook alerts in Block Kit. Limits (docs.slack.dev, Block Kit reference): 50 blocks per message,
// 3,000 characters per section text, 150 per header text. mrkdwn needs `&`, `<`, `>` escaped as HTML entities, else a
// rule name such as `<!channel>` would ping a whole channel or forge a link.
import { IncomingWebhook, IncomingWebhookHTTPError, type IncomingWebhookSendArguments } from "@slack/webhook";
import type { ActionResult } from "../types.ts";
import {
  type AttemptResult,
  parseRetryAfter,
  WebhookNotifier,
  type WebhookNotifierOptions,
  type WebhookUrl,
} from "./deliver.ts";
import {
  actorFacts,
  describeMatched,
  describeOutcome,
  orderedResults,
  resourceName,
  severityLabel,
  title,
  truncate,
} from "./format.ts";
import type { Alert, Notifier } from "./types.ts";

export const SLACK_MAX_BLOCKS = 50;
export const SLACK_MAX_SECTION_TEXT = 3000;
export const SLACK_MAX_HEADER_TEXT = 150;

export type SlackBlock = NonNullable<IncomingWebhookSendArguments["blocks"]>[number];

export interface SlackMessage {
  /** Notification fallback (push, screen readers); mrkdwn-escaped. */
  text: string;
  blocks: SlackBlock[];
}

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** `<url|name>`, or the bare name when the URL is not http(s) (a link Slack could not open is noise). */
function link(url: string, name: string): string {
  const label = escapeMrkdwn(name).replace(/\|/g, "¦");
  if (!/^https?:\/\//i.test(url)) return label;
  const target = escapeMrkdwn(url).replace(/\|/g, "%7C").replace(/ /g, "%20");
  return `<${target}|${label}>`;
}

/** Drops a trailing half entity (`&am`) or half link (`<https://...`) so a cut never corrupts the markup. */
function safeCut(text: string, length: number): string {
  let cut = text.slice(0, length);
  cut = cut.replace(/&[a-z]{0,4}$/, "");
  const open = cut.lastIndexOf("<");
  if (open > cut.lastIndexOf(">")) cut = cut.slice(0, open);
  return cut;
}

/**
 * Joins already-escaped lines into one section text within the limit. Whole lines are kept while they fit; the rest
 * is replaced by a visible `… (N more lines)` marker, and a single oversized line by `… (N more chars)`.
 */
export function fitSectionText(lines: readonly string[], max: number = SLACK_MAX_SECTION_TEXT): string {
  const full = lines.join("\n");
  if (full.length <= max) return full;
  const reserve = 32;
  const kept: string[] = [];
  let length = 0;
  for (const line of lines) {
    const added = (kept.length > 0 ? 1 : 0) + line.length;
    if (length + added + reserve > max) break;
    kept.push(line);
    length += added;
  }
  if (kept.length === 0) {
    const first = lines[0] ?? "";
    const cut = safeCut(first, max - reserve);
    const rest = lines.length > 1 ? `, ${lines.length - 1} more lines` : "";
    return `${cut}… (${first.length - cut.length} more chars${rest})`;
  }
  return `${kept.join("\n")}\n… (${lines.length - kept.length} more lines)`;
}

function section(lines: readonly string[]): SlackBlock {
  return { type: "section", text: { type: "mrkdwn", text: fitSectionText(lines) } };
}

function whoSection(alert: Alert): SlackBlock {
  const facts = actorFacts(alert.actor);
  const identity = [facts.principalType, facts.principalId ? `id ${facts.principalId}` : undefined]
    .filter((x): x is string => x !== undefined)
    .join(", ");
  const lines = [
    `*Who:* ${escapeMrkdwn(truncate(facts.who, 300))}${identity ? ` (${escapeMrkdwn(truncate(identity, 300))})` : ""}`,
  ];
  if (facts.appId) lines.push(`*App:* ${escapeMrkdwn(truncate(facts.appId, 300))}`);
  if (facts.sourceIp) lines.push(`*Source IP:* ${escapeMrkdwn(truncate(facts.sourceIp, 100))}`);
  lines.push(`*When:* ${escapeMrkdwn(truncate(alert.time, 100))}`);
  lines.push(`*Operation:* ${escapeMrkdwn(truncate(alert.operationName, 300))}`);
  lines.push(
    `*Resource:* ${link(alert.consoleUrl, truncate(resourceName(alert.resourceId), 200))} (${escapeMrkdwn(alert.resourceType)})`,
  );
  lines.push(`*${alert.cloud === "azure" ? "Subscription" : "Account"}:* ${escapeMrkdwn(alert.account)}`);
  if (alert.dryRun) lines.push("*DRY RUN:* the guardian is in dry-run mode; nothing was changed.");
  return section(lines);
}

const MAX_MATCHED_SHOWN = 10;

function resultSection(result: ActionResult): SlackBlock {
  const f = result.finding;
  const controls = f.controls.length > 0 ? ` · ${escapeMrkdwn(truncate(f.controls.join(", "), 200))}` : "";
  const lines = [
    `*${severityLabel(f.severity)}* · *${escapeMrkdwn(truncate(f.policyRule, 200))}* (${escapeMrkdwn(truncate(f.ruleId, 100))})${controls}`,
    escapeMrkdwn(truncate(f.message, 1000)),
  ];
  if (f.matched.length > 0) {
    lines.push("*Matched:*");
    // Inline code, so a `*` source or port (the very thing the alert is about) is shown, not read as bold.
    for (const item of f.matched.slice(0, MAX_MATCHED_SHOWN)) {
      lines.push(`• \`${escapeMrkdwn(truncate(describeMatched(item), 400).replace(/`/g, "'"))}\``);
    }
    if (f.matched.length > MAX_MATCHED_SHOWN)
      lines.push(`• … (${f.matched.length - MAX_MATCHED_SHOWN} more)`);
  }
  lines.push(`*Done:* ${escapeMrkdwn(truncate(describeOutcome(result), 500))}`);
  if (result.reason) lines.push(`*Why:* ${escapeMrkdwn(truncate(result.reason, 500))}`);
  return section(lines);
}

/** Renders an alert as an incoming-webhook message: header, who/what section, one section per result, context. */
export function renderSlack(alert: Alert): SlackMessage {
  const heading = title(alert);
  const blocks: SlackBlock[] = [
    {
      type: "header",
      text: { type: "plain_text", text: truncate(heading, SLACK_MAX_HEADER_TEXT), emoji: true },
    },
    whoSection(alert),
  ];

  const context: SlackBlock = {
    type: "context",
    elements: [
      {
        type: "mrkdwn",
        text: truncate(
          [
            `Event ${escapeMrkdwn(alert.eventId)}`,
            alert.correlationId ? `Correlation ${escapeMrkdwn(alert.correlationId)}` : undefined,
            `${alert.cloud}`,
          ]
            .filter((x): x is string => x !== undefined)
            .join(" · "),
          SLACK_MAX_SECTION_TEXT,
        ),
      },
    ],
  };

  const results = orderedResults(alert);
  // Header, who section and context are fixed; results share what is left of the 50-block budget.
  const room = SLACK_MAX_BLOCKS - blocks.length - 1;
  const shown = results.length <= room ? results : results.slice(0, room - 1);
  for (const result of shown) blocks.push(resultSection(result));
  if (shown.length < results.length) {
    blocks.push(
      section([
        `… (${results.length - shown.length} more findings not shown: Slack allows ${SLACK_MAX_BLOCKS} blocks per message; every finding is in the audit log)`,
      ]),
    );
  }
  blocks.push(context);

  return { text: escapeMrkdwn(`${heading} (by ${actorFacts(alert.actor).who})`), blocks };
}

/**
 * Posts through `@slack/webhook` (v8: fetch-based, retries off by default). Its HTTP error carries status and body
 * but not headers, so a wrapping fetch captures Retry-After; the library's own retries stay off and `deliver` decides.
 */
export class SlackNotifier extends WebhookNotifier<SlackMessage> implements Notifier {
  constructor(url: WebhookUrl, options: WebhookNotifierOptions = {}) {
    super(url, "slack", options);
  }

  protected render(alert: Alert): SlackMessage {
    return renderSlack(alert);
  }

  protected async attempt(message: SlackMessage, url: string, timeoutMs: number): Promise<AttemptResult> {
    const seen: { retryAfter: string | null } = { retryAfter: null };
    const hook = new IncomingWebhook(url, {
      timeout: timeoutMs,
      retryConfig: { retries: 0 },
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        seen.retryAfter = response.headers.get("retry-after");
        return response;
      },
    });
    try {
      await hook.send({ text: message.text, blocks: message.blocks });
      return { ok: true, status: 200 };
    } catch (error) {
      if (error instanceof IncomingWebhookHTTPError) {
        const retryAfterMs = parseRetryAfter(seen.retryAfter);
        return {
          ok: false,
          status: error.statusCode,
          body: error.body,
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        };
      }
      return { ok: false, error };
    }
  }
}
