// Slack incoming-webhook messages in Block Kit. Limits (docs.slack.dev, Block Kit reference): 50 blocks per message,
// 3,000 characters per section text, 150 per header text. mrkdwn needs `&`, `<`, `>` escaped as HTML entities, else a
// name such as `<!channel>` would ping a whole channel or `<https://evil.example|approve>` forge a link. Values the
// guardian does not control (resource names, tags, actors, matched parts, error texts) are shown as inline code, so
// Slack neither formats them nor turns a URL in them into a link.
import { type AlertDecision, actorsOf, clip, headline, latest, ordered } from "./model.ts";

export const SLACK_MAX_BLOCKS = 50;
export const SLACK_MAX_SECTION_TEXT = 3000;
export const SLACK_MAX_HEADER_TEXT = 150;

export interface SlackBlock {
  type: string;
  [key: string]: unknown;
}

export interface SlackMessage {
  /** Notification fallback (push, screen readers); mrkdwn-escaped. */
  text: string;
  blocks: SlackBlock[];
}

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeMrkdwn(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** An untrusted value as inline code: escaped, its backticks replaced so it cannot close the code span. */
export function code(value: string, max = 300): string {
  const inner = escapeMrkdwn(clip(value, max).replace(/`/g, "ˋ").replace(/\s+/g, " "));
  return inner.trim() === "" ? "`(empty)`" : `\`${inner}\``;
}

/** `<url|label>` for an http(s) URL; the label alone otherwise (a link Slack could not open is noise). */
function link(url: string, label: string): string {
  if (!/^https?:\/\//i.test(url)) return label;
  const target = escapeMrkdwn(url).replace(/\|/g, "%7C").replace(/ /g, "%20");
  return `<${target}|${label}>`;
}

/** Drops a trailing half entity (`&am`) or half link (`<https://...`) or an open code span so a cut keeps markup whole. */
function safeCut(value: string, length: number): string {
  let cut = value.slice(0, length);
  cut = cut.replace(/&[a-z]{0,4}$/, "");
  const open = cut.lastIndexOf("<");
  if (open > cut.lastIndexOf(">")) cut = cut.slice(0, open);
  if ((cut.match(/```/g)?.length ?? 0) % 2 === 1) cut = `${cut}\n\`\`\``;
  else if ((cut.replace(/```/g, "").match(/`/g)?.length ?? 0) % 2 === 1) cut = `${cut}\``;
  return cut;
}

/**
 * Joins already-escaped lines into one section text within the limit. Whole lines are kept while they fit; the rest
 * is replaced by a visible `… (N more lines)` marker, and a single oversized line by `… (N more chars)`.
 */
export function fitSectionText(lines: readonly string[], max: number = SLACK_MAX_SECTION_TEXT): string {
  const full = lines.join("\n");
  if (full.length <= max) return full;
  const reserve = 40;
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

const KIND_LABEL: Record<AlertDecision["kind"], string> = {
  remediated: ":white_check_mark: REMEDIATED",
  "dry-run": ":eyes: DRY RUN",
  alerted: ":warning: ALERT",
  approved: ":white_check_mark: APPROVED",
  rejected: ":no_entry: REJECTED",
  held: ":pause_button: HELD",
  exempt: ":information_source: EXEMPT",
  failed: ":x: FAILED",
};

function resourceSection(last: AlertDecision): SlackBlock {
  const place = last.cloud === "azure" ? "Subscription" : "Account";
  const lines = [
    `*Resource:* ${link(last.consoleUrl, code(last.resourceName, 200))} (${code(last.resourceType, 100)})`,
    `*${place}:* ${code(last.account, 100)}${last.region ? ` · *Region:* ${code(last.region, 60)}` : ""}${
      last.resourceGroup ? ` · *Resource group:* ${code(last.resourceGroup, 100)}` : ""
    }`,
  ];
  const tags = Object.entries(last.tags);
  if (tags.length > 0) {
    lines.push(
      `*Tags:* ${tags
        .slice(0, 10)
        .map(([k, v]) => code(`${k}=${v}`, 120))
        .join(" ")}`,
    );
  }
  return section(lines);
}

function whoSection(decisions: readonly AlertDecision[]): SlackBlock {
  const actors = actorsOf(decisions);
  const first = decisions[0];
  const lines = [
    `*Who:* ${actors
      .slice(0, 5)
      .map((a) => code(a, 200))
      .join(", ")}${actors.length > 5 ? ` and ${actors.length - 5} more` : ""}`,
  ];
  const actor = first?.actor;
  const identity = [actor?.principalType, actor?.principalId ? `id ${actor.principalId}` : undefined]
    .filter((x): x is string => x !== undefined)
    .join(", ");
  if (identity) lines.push(`*Identity:* ${code(identity, 300)}`);
  if (actor?.appId && actor.appId !== actor.name) lines.push(`*App or role:* ${code(actor.appId, 300)}`);
  const ips = [...new Set(decisions.flatMap((d) => (d.actor.sourceIp ? [d.actor.sourceIp] : [])))];
  if (ips.length > 0)
    lines.push(
      `*Source IP:* ${ips
        .slice(0, 5)
        .map((ip) => code(ip, 60))
        .join(", ")}`,
    );
  const times = decisions.map((d) => d.changedAt).sort();
  const when =
    times.length > 1 && times[0] !== times.at(-1) ? `${times[0]} to ${times.at(-1)}` : (times[0] ?? "");
  lines.push(`*When:* ${code(when, 100)}`);
  const operations = [...new Set(decisions.map((d) => d.operationName))];
  lines.push(
    `*Operation:* ${operations
      .slice(0, 3)
      .map((o) => code(o, 200))
      .join(", ")}`,
  );
  return section(lines);
}

function decisionSection(d: AlertDecision): SlackBlock {
  const controls = d.controls.length > 0 ? ` · ${escapeMrkdwn(clip(d.controls.join(", "), 200))}` : "";
  const lines = [
    `*${KIND_LABEL[d.kind]}* · *${d.severity.toUpperCase()}* · policy entry *${escapeMrkdwn(d.policyEntry)}* (rule ${escapeMrkdwn(d.ruleId)})${controls}`,
    // Rule messages can quote what the resource holds: code, like every other value the guardian does not choose.
    code(d.message, 1000),
  ];
  if (d.matched.length > 0) {
    lines.push("*Matched:*");
    for (const m of d.matched) lines.push(`• ${code(m, 400)}`);
  }
  if (d.change?.before !== undefined || d.change?.after !== undefined) {
    lines.push(
      `*Before → after:* ${code(d.change?.before ?? "?", 400)} → ${code(d.change?.after ?? "?", 400)}`,
    );
  }
  lines.push(`*${d.kind === "dry-run" ? "Would do" : "Done"}:* ${code(d.done, 600)}`);
  lines.push(`*Why:* ${code(d.reason, 400)}`);
  if (d.undo?.command) {
    lines.push(`*Undo:*\n\`\`\`${escapeMrkdwn(d.undo.command.replace(/`/g, "ˋ"))}\`\`\``);
  }
  if (d.undo?.portal) lines.push(`*Undo in the portal:* ${escapeMrkdwn(d.undo.portal)}`);
  return section(lines);
}

/** Renders the decisions about one resource as one incoming-webhook message. */
export function renderSlack(decisions: readonly AlertDecision[]): SlackMessage {
  const list = ordered(decisions);
  const last = latest(list);
  const heading = headline(list);
  const blocks: SlackBlock[] = [
    { type: "header", text: { type: "plain_text", text: clip(heading, SLACK_MAX_HEADER_TEXT), emoji: true } },
    resourceSection(last),
    whoSection(list),
  ];
  if (list.some((d) => d.dryRun)) {
    blocks.push(section(["*DRY RUN:* the guardian is in dry-run mode; nothing was changed."]));
  }
  const events = [...new Set(list.map((d) => d.eventId))];
  const context: SlackBlock = {
    type: "context",
    elements: [
      {
        type: "mrkdwn",
        text: fitSectionText(
          [
            `${list.length} decision${list.length === 1 ? "" : "s"} from ${events.length} event${events.length === 1 ? "" : "s"}: ${events
              .slice(0, 5)
              .map((e) => code(e, 80))
              .join(", ")}${events.length > 5 ? ` and ${events.length - 5} more` : ""}`,
            `${last.cloud} · network-guardian`,
          ],
          SLACK_MAX_SECTION_TEXT,
        ),
      },
    ],
  };
  // The fixed blocks and the context are kept; decisions share what is left of the 50-block budget.
  const room = SLACK_MAX_BLOCKS - blocks.length - 1;
  const shown = list.length <= room ? list : list.slice(0, room - 1);
  for (const d of shown) blocks.push(decisionSection(d));
  if (shown.length < list.length) {
    blocks.push(
      section([
        `*… ${list.length - shown.length} more decisions not shown* (Slack allows ${SLACK_MAX_BLOCKS} blocks per message; every decision is in the audit log)`,
      ]),
    );
  }
  blocks.push(context);
  // The notification text is mrkdwn too: names in it are code, so a URL in one is never made a link.
  return { text: `${code(heading, 300)} by ${code(actorsOf(list).join(", "), 200)}`, blocks };
}
