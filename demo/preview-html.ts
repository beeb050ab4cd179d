// A static HTML page that shows delivered Slack and Teams payloads roughly as the apps draw them, so a person can
// judge an alert without a workspace. Every payload text is HTML-escaped before the little markup is applied.

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Slack mrkdwn (already entity-escaped by the renderer) → HTML: code blocks, code, links, bold. */
function mrkdwn(text: string): string {
  // Slack's own entities back to characters, then everything escaped once for HTML.
  const raw = text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  const parts: string[] = [];
  const pattern = /```([\s\S]*?)```|`([^`]*)`|<(https?:\/\/[^|>]+)\|([^>]*)>|\*([^*\n]+)\*/g;
  let last = 0;
  for (const m of raw.matchAll(pattern)) {
    parts.push(esc(raw.slice(last, m.index)));
    if (m[1] !== undefined) parts.push(`<pre>${esc(m[1])}</pre>`);
    else if (m[2] !== undefined) parts.push(`<code>${esc(m[2])}</code>`);
    else if (m[3] !== undefined) parts.push(`<a href="${esc(m[3])}">${mrkdwn(m[4] ?? "")}</a>`);
    else if (m[5] !== undefined) parts.push(`<b>${esc(m[5])}</b>`);
    last = (m.index ?? 0) + m[0].length;
  }
  parts.push(esc(raw.slice(last)));
  return parts.join("").replace(/\n/g, "<br>");
}

interface Block {
  type: string;
  text?: { type?: string; text?: string };
  elements?: { text?: string }[];
}

export function slackHtml(body: unknown): string {
  const blocks = ((body as { blocks?: Block[] })?.blocks ?? []).map((b) => {
    if (b.type === "header") return `<h3>${esc(b.text?.text ?? "")}</h3>`;
    if (b.type === "context")
      return `<p class="ctx">${(b.elements ?? []).map((e) => mrkdwn(e.text ?? "")).join(" ")}</p>`;
    return `<p>${mrkdwn(b.text?.text ?? "")}</p>`;
  });
  return `<div class="slack">${blocks.join("\n")}</div>`;
}

interface CardElement {
  type: string;
  text?: string;
  weight?: string;
  fontType?: string;
  color?: string;
  isSubtle?: boolean;
  items?: CardElement[];
  inlines?: CardElement[];
  title?: string;
  url?: string;
}

function run(r: CardElement): string {
  let html = esc(r.text ?? "");
  if (r.fontType === "Monospace") html = `<code>${html}</code>`;
  if (r.weight === "Bolder") html = `<b>${html}</b>`;
  const color = r.color === "Attention" ? "#c4314b" : r.color === "Warning" ? "#b7791f" : undefined;
  return color ? `<span style="color:${color}">${html}</span>` : html;
}

function element(e: CardElement): string {
  switch (e.type) {
    case "RichTextBlock":
      return `<p>${(e.inlines ?? []).map(run).join("")}</p>`;
    // TextBlocks hold only the guardian's own words; shown as text, not interpreted.
    case "TextBlock":
      return `<p>${run(e)}</p>`;
    case "Container":
      return `<div class="container">${(e.items ?? []).map(element).join("\n")}</div>`;
    default:
      return "";
  }
}

export function teamsHtml(body: unknown): string {
  const card = (body as { attachments?: { content?: { body?: CardElement[]; actions?: CardElement[] } }[] })
    ?.attachments?.[0]?.content;
  const actions = (card?.actions ?? [])
    .filter((a) => a.type === "Action.OpenUrl" && /^https?:/.test(a.url ?? ""))
    .map((a) => `<a class="button" href="${esc(a.url ?? "")}">${esc(a.title ?? "")}</a>`)
    .join(" ");
  return `<div class="teams">${(card?.body ?? []).map(element).join("\n")}${actions ? `<p>${actions}</p>` : ""}</div>`;
}

export interface PreviewItem {
  title: string;
  slack?: unknown;
  teams?: unknown;
  files: string[];
}

export function previewPage(items: readonly PreviewItem[]): string {
  const sections = items.map(
    (item) => `<section><h2>${esc(item.title)}</h2>
<p class="files">${item.files.map((f) => `<a href="${esc(f)}">${esc(f)}</a>`).join(" · ")}</p>
<div class="pair"><div><h4>Slack</h4>${item.slack ? slackHtml(item.slack) : "<p>(not sent)</p>"}</div>
<div><h4>Teams</h4>${item.teams ? teamsHtml(item.teams) : "<p>(not sent)</p>"}</div></div></section>`,
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>network-guardian alert preview</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em;background:#f5f5f5;color:#1d1c1d}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1.5em}
.slack{background:#fff;border-left:4px solid #4a154b;padding:.5em 1em;border-radius:4px}
.teams{background:#fff;border-top:4px solid #6264a7;padding:.5em 1em;border-radius:4px}
.container{border-top:1px solid #ddd;margin-top:.6em;padding-top:.4em}
code{background:#f0f0f0;padding:0 .2em;border-radius:3px;font-size:90%}
pre{background:#f8f8f8;border:1px solid #ddd;padding:.5em;white-space:pre-wrap}
.ctx{color:#616061;font-size:12px}.files{font-size:12px}
.button{display:inline-block;border:1px solid #6264a7;padding:.2em .6em;border-radius:4px;text-decoration:none}
</style></head><body>
<h1>network-guardian: alerts as delivered</h1>
<p>The Slack (Block Kit) and Teams (Adaptive Card) payloads the webhook sink received, drawn roughly as the apps draw
them. The JSON files beside this page are the exact bodies.</p>
${sections.join("\n")}
</body></html>
`;
}
