// How `guardian evaluate` and `guardian explain` read to a person: findings grouped by resource, each resource named
// by its kind and name with its full id on a line of its own, and no text cut.
import { awsKindOf } from "../shared/clouds/aws/kinds/index.ts";
import { azureKindOf } from "../shared/clouds/azure/kinds/index.ts";
import type { ChangeView, ExplainResult, FindingView } from "../shared/usecases/offline.ts";
import { renderTable, terminalWidth } from "./table.ts";

/** `1 rule`, `3 rules`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** `network security group nsg-web`, `security group sg-0123`: the kind in words (its registry label) and the name. */
export function resourceLabel(resourceType: string, resourceId: string): string {
  const kind =
    azureKindOf(resourceType.toLowerCase())?.label ?? awsKindOf(resourceType)?.label ?? resourceType;
  const name = resourceId.replace(/\/+$/, "").split("/").at(-1) ?? resourceId;
  return `${kind} ${name}`;
}

/** The full id on a line of its own, unless the label already is the id (an AWS group id). */
function idLine(label: string, resourceId: string, indent: string): string[] {
  return label.endsWith(` ${resourceId}`) ? [] : [`${indent}id: ${resourceId}`];
}

/** A finding's message with each matched part on its own line (the rules join them with "; "). */
function messageLines(f: FindingView): string {
  const text = f.message.split("; ").join("\n");
  return f.exempt ? `${text}\n(exempt: ${f.exempt}; not counted)` : text;
}

function findingRows(findings: readonly FindingView[]): string[][] {
  return findings.map((f) => [
    f.exempt ? `exempt (${f.severity})` : f.severity,
    f.policyRule,
    messageLines(f),
  ]);
}

/** Findings grouped by resource: a heading naming the resource, its id on its own line, then one row per finding. */
export function renderFindings(findings: readonly FindingView[]): string {
  const byResource = new Map<string, FindingView[]>();
  for (const f of findings) {
    const list = byResource.get(f.resourceId);
    if (list) list.push(f);
    else byResource.set(f.resourceId, [f]);
  }
  const blocks: string[] = [];
  for (const [resourceId, list] of byResource) {
    const label = resourceLabel(list[0]?.resourceType ?? "", resourceId);
    blocks.push(
      [
        label,
        ...idLine(label, resourceId, "  "),
        renderTable(undefined, findingRows(list), terminalWidth(), "  "),
      ].join("\n"),
    );
  }
  return blocks.join("\n\n");
}

/** One block per change of an explained event: what happened, who did it, what was evaluated, what it would do. */
export function renderExplanation(result: ExplainResult): string {
  const blocks: string[] = [];
  result.changes.forEach((change, index) => {
    blocks.push(renderChange(change, index, result));
  });
  return blocks.join("\n\n");
}

function renderChange(change: ChangeView, index: number, result: ExplainResult): string {
  const from = change.source ? ` (${change.source})` : "";
  if ("skipped" in change) {
    return `Skipped event${change.eventId ? ` ${change.eventId}` : ""}${from}: ${change.detail} [${change.skipped}]`;
  }
  const label = resourceLabel(change.resourceType, change.resourceId);
  const lines = [
    `${change.operationName} on ${label}, by ${change.actor.name ?? "an unnamed caller (the event carries no identity)"}`,
    `  event ${change.eventId}${from}`,
    ...idLine(label, change.resourceId, "  "),
  ];
  if (change.subjectId) lines.push(`  changed: ${change.subjectId}`);
  if (change.note) lines.push(`  ${change.evaluated ? "" : "not evaluated: "}${change.note}`);
  const findings = result.findings.filter((f) => f.change === index);
  const actions = result.actions.filter((a) => a.change === index);
  if (change.evaluated && findings.length === 0) lines.push("  compliant: no finding");
  if (findings.length > 0) {
    lines.push("  findings:", renderTable(undefined, findingRows(findings), terminalWidth(), "    "));
  }
  if (actions.length > 0) {
    lines.push(
      "  the guardian would:",
      renderTable(
        undefined,
        actions.map((a) => [a.policyRule, a.mode, a.wouldDo]),
        terminalWidth(),
        "    ",
      ),
    );
  }
  return lines.join("\n");
}
