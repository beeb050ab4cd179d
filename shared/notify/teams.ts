// Teams messages through a Workflows webhook ("When a Teams webhook request is received"). Office 365 connector
// MessageCards are retired; Workflows take Adaptive Cards only. Version 1.4: the Workflows "post card" step fails to
// render 1.5 cards although Teams documents 1.5 (microsoft/AdaptiveCards#8965, MicrosoftDocs/msteams-docs#9801).
// Teams caps a message at about 28 KB, so decisions are dropped behind a visible marker before the body gets there.
//
// TextBlock text is Markdown in Teams: a security group named `[approve exemption](https://evil.example)` would render
// as a link. Every value the guardian does not control is therefore a TextRun of a RichTextBlock (Adaptive Cards 1.2),
// which hosts render as plain text, never as Markdown; the few TextBlocks left hold only the guardian's own words.
import { type AlertDecision, actorsOf, clip, headline, highestSeverity, latest, ordered } from "./model.ts";

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

/**
 * Escapes the Markdown Teams reads in TextBlocks, for the rare place trusted and untrusted text must share one
 * (tests use it to check nothing unescaped slipped through). TextRuns need no escaping.
 */
export function escapeMarkdown(value: string): string {
  return value.replace(/[\\`*_{}[\]()#+\-.!<>~|]/g, (c) => `\\${c}`);
}

function colorFor(severity: AlertDecision["severity"]): string {
  if (severity === "critical" || severity === "high") return "Attention";
  if (severity === "medium") return "Warning";
  return "Default";
}

/** Trusted text only (the guardian's own wording). */
function textBlock(value: string, extra: Record<string, unknown> = {}): AdaptiveCardElement {
  return { type: "TextBlock", text: value, wrap: true, ...extra };
}

interface Run {
  text: string;
  weight?: "Bolder";
  fontType?: "Monospace";
  color?: string;
  isSubtle?: boolean;
}

const label = (value: string): Run => ({ text: value, weight: "Bolder" });
/** An untrusted value: plain text (TextRuns are never Markdown), monospace like code in Slack. */
const value = (v: string, max = 300): Run => ({ text: clip(v, max), fontType: "Monospace" });
const plain = (v: string, max = 1000): Run => ({ text: clip(v, max) });

function rich(runs: readonly Run[], extra: Record<string, unknown> = {}): AdaptiveCardElement {
  return { type: "RichTextBlock", inlines: runs.map((r) => ({ type: "TextRun", ...r })), ...extra };
}

/** One `Label: value` line. */
function line(name: string, ...values: Run[]): AdaptiveCardElement {
  return rich([label(`${name}: `), ...values], { spacing: "None" });
}

const KIND_LABEL: Record<AlertDecision["kind"], string> = {
  remediated: "REMEDIATED",
  "dry-run": "DRY RUN",
  alerted: "ALERT",
  approved: "APPROVED",
  rejected: "REJECTED",
  held: "HELD",
  exempt: "EXEMPT",
  failed: "FAILED",
};

function header(list: readonly AlertDecision[]): AdaptiveCardElement[] {
  const last = latest(list);
  const place = last.cloud === "azure" ? "Subscription" : "Account";
  const rows: AdaptiveCardElement[] = [
    line("Resource", value(last.resourceName, 200), plain(` (${last.resourceType})`, 200)),
    line(place, value(last.account, 100)),
  ];
  if (last.region) rows.push(line("Region", value(last.region, 60)));
  if (last.resourceGroup) rows.push(line("Resource group", value(last.resourceGroup, 100)));
  const tags = Object.entries(last.tags).slice(0, 10);
  if (tags.length > 0) rows.push(line("Tags", value(tags.map(([k, v]) => `${k}=${v}`).join(", "), 600)));
  const actors = actorsOf(list);
  rows.push(line("Who", value(actors.slice(0, 5).join(", "), 600)));
  const actor = list[0]?.actor;
  const identity = [actor?.principalType, actor?.principalId ? `id ${actor.principalId}` : undefined]
    .filter((x): x is string => x !== undefined)
    .join(", ");
  if (identity) rows.push(line("Identity", value(identity, 300)));
  if (actor?.appId && actor.appId !== actor.name) rows.push(line("App or role", value(actor.appId, 300)));
  const ips = [...new Set(list.flatMap((d) => (d.actor.sourceIp ? [d.actor.sourceIp] : [])))];
  if (ips.length > 0) rows.push(line("Source IP", value(ips.slice(0, 5).join(", "), 200)));
  const times = list.map((d) => d.changedAt).sort();
  rows.push(
    line(
      "When",
      value(
        times.length > 1 && times[0] !== times.at(-1) ? `${times[0]} to ${times.at(-1)}` : (times[0] ?? ""),
        100,
      ),
    ),
  );
  rows.push(
    line("Operation", value([...new Set(list.map((d) => d.operationName))].slice(0, 3).join(", "), 400)),
  );
  return rows;
}

function decisionContainer(d: AlertDecision): AdaptiveCardElement {
  const items: AdaptiveCardElement[] = [
    rich([
      {
        text: `${KIND_LABEL[d.kind]} · ${d.severity.toUpperCase()}`,
        weight: "Bolder",
        color: colorFor(d.severity),
      },
      plain(` · policy entry `),
      { text: d.policyEntry, weight: "Bolder" },
      plain(` (rule ${d.ruleId})${d.controls.length > 0 ? ` · ${clip(d.controls.join(", "), 200)}` : ""}`),
    ]),
    rich([plain(d.message)], { spacing: "Small" }),
  ];
  if (d.matched.length > 0) {
    items.push(rich([label("Matched:")], { spacing: "Small" }));
    for (const m of d.matched) items.push(rich([plain("• "), value(m, 400)], { spacing: "None" }));
  }
  if (d.change?.before !== undefined || d.change?.after !== undefined) {
    items.push(line("Before", value(d.change?.before ?? "?", 400)));
    items.push(line("After", value(d.change?.after ?? "?", 400)));
  }
  items.push(
    rich(
      [
        {
          text: `${d.kind === "dry-run" ? "Would do" : "Done"}: `,
          weight: "Bolder",
          ...(d.kind === "failed"
            ? { color: "Attention" }
            : d.kind === "dry-run"
              ? { color: "Warning" }
              : {}),
        },
        plain(d.done, 600),
      ],
      { spacing: "Small" },
    ),
  );
  items.push(rich([label("Why: "), plain(d.reason, 400)], { spacing: "None" }));
  if (d.undo?.command) {
    items.push(rich([label("Undo:")], { spacing: "Small" }));
    items.push(rich([value(d.undo.command, 3000)], { spacing: "None" }));
  }
  if (d.undo?.portal) items.push(line("Undo in the portal", plain(d.undo.portal, 600)));
  return { type: "Container", separator: true, spacing: "Medium", items };
}

function bytes(v: unknown): number {
  return Buffer.byteLength(JSON.stringify(v), "utf8");
}

/** Renders the decisions about one resource as a Workflows webhook body carrying one Adaptive Card. */
export function renderTeams(
  decisions: readonly AlertDecision[],
  maxBytes: number = TEAMS_MAX_BYTES,
): TeamsWebhookBody {
  const list = ordered(decisions);
  const last = latest(list);
  const heading = headline(list);
  // The headline holds a resource name: a RichTextBlock, not a Markdown TextBlock.
  const body: AdaptiveCardElement[] = [
    {
      type: "RichTextBlock",
      inlines: [
        {
          type: "TextRun",
          text: clip(heading, 300),
          weight: "Bolder",
          size: "Large",
          color: colorFor(highestSeverity(list)),
        },
      ],
    },
  ];
  if (list.some((d) => d.dryRun)) {
    body.push(
      textBlock("DRY RUN: the guardian is in dry-run mode; nothing was changed.", {
        weight: "Bolder",
        color: "Warning",
      }),
    );
  }
  body.push(...header(list));
  const events = [...new Set(list.map((d) => d.eventId))];
  const footer = rich(
    [
      {
        text: clip(
          `${list.length} decision${list.length === 1 ? "" : "s"} from ${events.length} event${events.length === 1 ? "" : "s"}: ${events.slice(0, 5).join(", ")}${events.length > 5 ? ` and ${events.length - 5} more` : ""} · ${last.resourceId}`,
          1500,
        ),
        isSubtle: true,
      },
    ],
    { separator: true },
  );
  const actions: AdaptiveCardElement[] = /^https?:\/\//i.test(last.consoleUrl)
    ? [
        {
          type: "Action.OpenUrl",
          title: last.cloud === "azure" ? "Open in Azure portal" : "Open in AWS console",
          url: last.consoleUrl,
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
  const markerFor = (left: number) =>
    textBlock(
      `… ${left} more decisions not shown: the card would exceed Teams' message size; every decision is in the audit log`,
      { weight: "Bolder", separator: true },
    );
  // Reserve room for the footer and a marker with a worst-case count, then add decisions while they fit.
  let used = bytes(message) + bytes(footer) + bytes(markerFor(list.length)) + 2;
  let shown = 0;
  for (const d of list) {
    const container = decisionContainer(d);
    const size = bytes(container) + 1;
    if (used + size > maxBytes) break;
    body.push(container);
    used += size;
    shown++;
  }
  if (shown < list.length) body.push(markerFor(list.length - shown));
  body.push(footer);
  return message;
}
