// Teams alerts through a Workflows webhook ("When a Teams webhook request is received"). Office 365 connector
// MessageCards are retired; Workflows take Adaptive Cards only. Version 1.4: the Workflows "post card" step fails to
// render 1.5 cards although Teams documents 1.5 (microsoft/AdaptiveCards#8965, MicrosoftDocs/msteams-docs#9801), and
// everything used here (TextBlock, FactSet, Container, Action.OpenUrl) exists since 1.0-1.2.
// Teams caps a message at about 28 KB, so results are dropped behind a visible marker before the body gets there.
import type { ActionResult, Severity } from "../types.ts";
import {
  type AttemptResult,
  parseRetryAfter,
  WebhookNotifier,
  type WebhookNotifierOptions,
  type WebhookUrl,
} from "./deliver.ts";
import {
  actorFacts,
  capList,
  describeMatched,
  describeOutcome,
  highestSeverity,
  orderedResults,
  resourceName,
  severityLabel,
  title,
  truncate,
} from "./format.ts";
import type { Alert, Notifier } from "./types.ts";

export const ADAPTIVE_CARD_VERSION = "1.4";
/** Budget for the serialised webhook body, below Teams' ~28 KB so its own envelope still fits. */
export const TEAMS_MAX_BYTES = 25_000;

export interface AdaptiveCardElement {
  type: string;
  [key: string]: unknown;
}

export interface AdaptiveCard {
  $schema: "http://adaptivecards.io/schemas/adaptive-card.json";
  type: "AdaptiveCard";
  version: string;
  fallbackText: string;
  body: AdaptiveCardElement[];
  actions: AdaptiveCardElement[];
  msteams: { width: "Full" };
}

export interface TeamsWebhookBody {
  type: "message";
  attachments: [
    { contentType: "application/vnd.microsoft.card.adaptive"; contentUrl: null; content: AdaptiveCard },
  ];
}

function colorFor(severity: Severity | undefined): string {
  if (severity === "critical" || severity === "high") return "Attention";
  if (severity === "medium") return "Warning";
  return "Default";
}

function text(value: string, extra: Record<string, unknown> = {}): AdaptiveCardElement {
  return { type: "TextBlock", text: value, wrap: true, ...extra };
}

const MAX_MATCHED_SHOWN = 10;

function resultContainer(result: ActionResult): AdaptiveCardElement {
  const f = result.finding;
  const controls = f.controls.length > 0 ? ` · ${truncate(f.controls.join(", "), 200)}` : "";
  const items: AdaptiveCardElement[] = [
    text(
      `**${severityLabel(f.severity)}** · **${truncate(f.policyRule, 200)}** (${truncate(f.ruleId, 100)})${controls}`,
      {
        color: colorFor(f.severity),
      },
    ),
    text(truncate(f.message, 1000), { spacing: "Small" }),
  ];
  if (f.matched.length > 0) {
    const list = capList(f.matched.map(describeMatched), MAX_MATCHED_SHOWN).map(
      (m) => `- ${truncate(m, 400)}`,
    );
    items.push(text(`Matched:\n\n${list.join("\n")}`, { spacing: "Small" }));
  }
  const done = describeOutcome(result);
  items.push(
    text(`**Done:** ${truncate(done, 500)}`, {
      spacing: "Small",
      ...(result.outcome === "failed" || result.outcome === "conflict" ? { color: "Attention" } : {}),
      ...(result.outcome === "dry-run" || result.outcome === "held" ? { color: "Warning" } : {}),
    }),
  );
  if (result.reason)
    items.push(text(`**Why:** ${truncate(result.reason, 500)}`, { spacing: "None", isSubtle: true }));
  return { type: "Container", separator: true, spacing: "Medium", items };
}

function facts(alert: Alert): AdaptiveCardElement {
  const actor = actorFacts(alert.actor);
  const rows: { title: string; value: string }[] = [{ title: "Who", value: actor.who }];
  if (actor.principalType) rows.push({ title: "Principal type", value: actor.principalType });
  if (actor.principalId) rows.push({ title: "Principal id", value: actor.principalId });
  if (actor.appId) rows.push({ title: "App", value: actor.appId });
  if (actor.sourceIp) rows.push({ title: "Source IP", value: actor.sourceIp });
  rows.push({ title: "When", value: alert.time });
  rows.push({ title: "Operation", value: alert.operationName });
  rows.push({ title: "Resource", value: `${resourceName(alert.resourceId)} (${alert.resourceType})` });
  rows.push({ title: alert.cloud === "azure" ? "Subscription" : "Account", value: alert.account });
  return { type: "FactSet", facts: rows.map((r) => ({ title: r.title, value: truncate(r.value, 500) })) };
}

function bytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), "utf8");
}

/** Renders an alert as a Workflows webhook body carrying one Adaptive Card. */
export function renderTeams(alert: Alert, maxBytes: number = TEAMS_MAX_BYTES): TeamsWebhookBody {
  const heading = title(alert);
  const body: AdaptiveCardElement[] = [
    text(truncate(heading, 300), {
      size: "Large",
      weight: "Bolder",
      color: colorFor(highestSeverity(alert.results)),
    }),
  ];
  if (alert.dryRun) {
    body.push(
      text("DRY RUN: the guardian is in dry-run mode; nothing was changed.", {
        weight: "Bolder",
        color: "Warning",
      }),
    );
  }
  body.push(facts(alert));

  const footer = text(
    [
      `Event ${alert.eventId}`,
      alert.correlationId ? `Correlation ${alert.correlationId}` : undefined,
      alert.resourceId,
    ]
      .filter((x): x is string => x !== undefined)
      .join(" · "),
    { size: "Small", isSubtle: true, separator: true },
  );
  const actions: AdaptiveCardElement[] = /^https?:\/\//i.test(alert.consoleUrl)
    ? [
        {
          type: "Action.OpenUrl",
          title: alert.cloud === "azure" ? "Open in Azure portal" : "Open in AWS console",
          url: alert.consoleUrl,
        },
      ]
    : [];
  const card: AdaptiveCard = {
    $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
    type: "AdaptiveCard",
    version: ADAPTIVE_CARD_VERSION,
    fallbackText: heading,
    body,
    actions,
    msteams: { width: "Full" },
  };
  const message: TeamsWebhookBody = {
    type: "message",
    attachments: [
      { contentType: "application/vnd.microsoft.card.adaptive", contentUrl: null, content: card },
    ],
  };

  const results = orderedResults(alert);
  const markerFor = (left: number) =>
    text(
      `… (${left} more findings not shown: the card would exceed Teams' message size; every finding is in the audit log)`,
      {
        weight: "Bolder",
        separator: true,
      },
    );
  // Reserve room for the footer and a marker with a worst-case count, then add results while they fit.
  let used = bytes(message) + bytes(footer) + bytes(markerFor(results.length)) + 2;
  let shown = 0;
  for (const result of results) {
    const container = resultContainer(result);
    const size = bytes(container) + 1;
    if (used + size > maxBytes) break;
    body.push(container);
    used += size;
    shown++;
  }
  if (shown < results.length) body.push(markerFor(results.length - shown));
  body.push(footer);
  return message;
}

/** Posts the card with fetch; Workflows answer 202 Accepted (the flow runs after the response). */
export class TeamsNotifier extends WebhookNotifier<string> implements Notifier {
  constructor(url: WebhookUrl, options: WebhookNotifierOptions = {}) {
    super(url, "teams", options);
  }

  protected render(alert: Alert): string {
    return JSON.stringify(renderTeams(alert));
  }

  protected async attempt(payload: string, url: string, timeoutMs: number): Promise<AttemptResult> {
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: payload,
        // A redirect would carry the alert somewhere the operator did not configure.
        redirect: "error",
        signal: AbortSignal.timeout(timeoutMs),
      });
      const body = await response.text();
      if (response.ok) return { ok: true, status: response.status };
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
      return {
        ok: false,
        status: response.status,
        body,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      };
    } catch (error) {
      return { ok: false, error };
    }
  }
}
