// The alert model: one decision per finding, carried through the outbox queue to the sender, which collapses the
// decisions about one resource into one message. Cloud-neutral, serialisable, bounded in size (the full before- and
// after-state is in the audit log; an alert carries a short before → after). The zod schema validates what comes off
// the queue and is the generic JSON webhook's documented payload (docs/alerts.md, docs/alert-payload.schema.json).
import { createHash } from "node:crypto";
import * as z from "zod";
import type { ActionResult, Actor, Severity } from "../types.ts";
import { compactValue, decided, describeMatched, pastTense } from "./format.ts";
import type { Alert } from "./types.ts";

/**
 * Every kind of decision an alert can report. `approved`, `rejected` and `held` come from decisions about requests
 * (private endpoint connections, endpoint-service connections) and from writes the guardian held back (the
 * blast-radius cap); they are defined here so every renderer already knows them.
 */
export const DECISION_KINDS = [
  "remediated",
  "dry-run",
  "alerted",
  "approved",
  "rejected",
  "held",
  "exempt",
  "failed",
] as const;
export type DecisionKind = (typeof DECISION_KINDS)[number];

/** Worst first: the order a headline picks and a message lists decisions in. */
const KIND_RANK: Record<DecisionKind, number> = {
  failed: 0,
  held: 1,
  remediated: 2,
  rejected: 3,
  approved: 4,
  "dry-run": 5,
  alerted: 6,
  exempt: 7,
};

/**
 * The pipeline's outcome → the decision kind people read. Outcomes absent here are not announced: the guardian's own
 * change, or an exposure already closed by the time it looked. Keyed by string so outcomes the capability issues add
 * (`approved`, `rejected`, `held`) map without touching this file's callers.
 */
const KIND_OF_OUTCOME: Readonly<Record<string, DecisionKind>> = {
  applied: "remediated",
  "dry-run": "dry-run",
  "skipped-mode": "alerted",
  "skipped-exempt": "exempt",
  // The write was held back: at most maxWritesPerEvent per event.
  "skipped-cap": "held",
  held: "held",
  approved: "approved",
  rejected: "rejected",
  failed: "failed",
  // Left as the last editor set it after repeated concurrent edits: the exposure may remain, a person must look.
  conflict: "failed",
  // The policy says alert only (a finding no write can fix, such as an unreadable prefix list).
  "alert-only": "alerted",
  // The change could not be handled at all (a misrouted event): kept in the dead-letter path, a person must look.
  "dead-lettered": "failed",
  // Something the guardian was asked that had no effect (an exempt tag that exempts nothing): a person should see it.
  warning: "alerted",
};

export function kindOf(result: Pick<ActionResult, "outcome" | "mode">): DecisionKind | undefined {
  if (result.mode === "report") return undefined;
  return KIND_OF_OUTCOME[result.outcome];
}

export const ALERT_PAYLOAD_VERSION = 1;

const severity = z.enum(["low", "medium", "high", "critical"]);
const text = (max: number) => z.string().max(max);

const actorSchema = z.strictObject({
  name: text(512).optional(),
  principalId: text(512).optional(),
  principalType: text(128).optional(),
  appId: text(512).optional(),
  sourceIp: text(128).optional(),
});

export const alertDecisionSchema = z
  .strictObject({
    id: z
      .string()
      .regex(/^[0-9a-f]{32}$/)
      .describe("Deterministic: the same decision always has the same id"),
    kind: z.enum(DECISION_KINDS),
    severity,
    policyEntry: text(200).describe("The policy entry's name"),
    ruleId: text(200),
    controls: z.array(text(200)).max(50),
    message: text(1000).describe("What is wrong, in one sentence"),
    cloud: z.enum(["azure", "aws"]),
    account: text(200).describe("Azure subscription id or AWS account id"),
    region: text(100).optional(),
    resourceGroup: text(200).optional(),
    resourceId: text(2000),
    resourceName: text(500),
    resourceType: text(200),
    tags: z.record(text(512), text(512)).describe("The resource's tags (owner, env, ...) when it was read"),
    actor: actorSchema,
    operationName: text(500),
    eventId: text(500),
    correlationId: text(500).optional(),
    changedAt: text(64).describe("When the change was made (the event's time)"),
    decidedAt: text(64).describe("When the guardian decided"),
    matched: z.array(text(500)).max(11).describe("The offending parts, one line each"),
    change: z
      .strictObject({
        summary: text(1000),
        before: text(1000).optional(),
        after: text(1000).optional(),
      })
      .optional()
      .describe("The planned or applied change: a short before → after"),
    done: text(1000).describe("What the guardian did, or would have done in dry-run"),
    reason: text(1000),
    undo: z
      .strictObject({ command: text(4000).optional(), portal: text(1000).optional() })
      .optional()
      .describe("How to put the change back: a command to paste, or a portal step"),
    consoleUrl: text(2000).describe("The resource in the Azure portal or the AWS console"),
    dryRun: z.boolean(),
  })
  .describe("One decision the guardian made about one finding");

export type AlertDecision = z.infer<typeof alertDecisionSchema>;

/** The generic JSON webhook's body: one message per resource, listing every decision collapsed into it. */
export const alertPayloadSchema = z
  .strictObject({
    schema: z.literal("network-guardian.alert"),
    version: z.literal(ALERT_PAYLOAD_VERSION),
    id: z.string().describe("Deterministic id of this message (the same decisions give the same id)"),
    headline: z.string(),
    severity,
    kinds: z.array(z.enum(DECISION_KINDS)).describe("The kinds of decision in this message, worst first"),
    resource: z.strictObject({
      cloud: z.enum(["azure", "aws"]),
      account: z.string(),
      region: z.string().optional(),
      resourceGroup: z.string().optional(),
      id: z.string(),
      name: z.string(),
      type: z.string(),
      tags: z.record(z.string(), z.string()),
      consoleUrl: z.string(),
    }),
    decisions: z.array(alertDecisionSchema).min(1),
    omitted: z.int().min(0).describe("Decisions left out to keep the body within the size limit"),
  })
  .describe("network-guardian alert for a generic JSON webhook (SIEM, PagerDuty through its own endpoint)");

export type AlertPayload = z.infer<typeof alertPayloadSchema>;

// ---------------------------------------------------------------------------------------------------------------

/** Cuts to `max` characters with a visible marker counting what was cut. */
export function clip(value: string, max: number): string {
  if (value.length <= max) return value;
  const marker = (cut: number) => `… (+${cut} chars)`;
  let keep = Math.max(0, max - marker(value.length).length);
  // Do not split a surrogate pair.
  const code = value.charCodeAt(keep - 1);
  if (code >= 0xd800 && code <= 0xdbff) keep--;
  return `${value.slice(0, keep)}${marker(value.length - keep)}`;
}

/** The last segment of an ARM id (`.../networkSecurityGroups/nsg-bastion`) or an AWS ARN (`...:security-group/sg-1`). */
export function resourceName(resourceId: string): string {
  const trimmed = resourceId.replace(/\/+$/, "");
  const afterSlash = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  const name = afterSlash.includes(":") ? afterSlash.slice(afterSlash.lastIndexOf(":") + 1) : afterSlash;
  return name || resourceId;
}

const MAX_MATCHED = 10;

function matchedLines(matched: readonly Record<string, unknown>[]): string[] {
  // A line a person reads (rule, priority, ports, sources), key: value pairs only for shapes it does not know.
  const lines = matched.slice(0, MAX_MATCHED).map((m) => clip(describeMatched(m), 500));
  if (matched.length > MAX_MATCHED) lines.push(`… (${matched.length - MAX_MATCHED} more)`);
  return lines;
}

/** A short, one-line rendering of a before or after state (the full one is in the audit log). */
function shortState(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (value === null) return "(none)";
  return clip(stateText(value), 1000);
}

function stateText(value: unknown): string {
  if (Array.isArray(value)) return value.map(stateText).join(" | ");
  if (typeof value !== "object" || value === null) return compactValue(value);
  const record = value as Record<string, unknown>;
  // An ARM security rule: its name and the properties that say what it allows.
  if (
    typeof record.name === "string" &&
    typeof record.properties === "object" &&
    record.properties !== null
  ) {
    const p = record.properties as Record<string, unknown>;
    const pick = (a: string, b: string) => {
      const plural = p[b];
      return Array.isArray(plural) && plural.length > 0 ? plural.join(",") : compactValue(p[a]);
    };
    return `${record.name}: ${compactValue(p.access)} ${compactValue(p.direction)} ${compactValue(p.protocol)} from ${pick("sourceAddressPrefix", "sourceAddressPrefixes")} to port ${pick("destinationPortRange", "destinationPortRanges")} (priority ${compactValue(p.priority)})`;
  }
  // An EC2 IpPermission.
  if (typeof record.IpProtocol === "string") {
    const protocol = record.IpProtocol === "-1" ? "all traffic" : record.IpProtocol;
    const ports =
      record.FromPort === undefined
        ? ""
        : record.FromPort === record.ToPort
          ? ` ${compactValue(record.FromPort)}`
          : ` ${compactValue(record.FromPort)}-${compactValue(record.ToPort)}`;
    const ranges = (key: string, field: string) =>
      Array.isArray(record[key])
        ? (record[key] as Record<string, unknown>[]).map((r) => compactValue(r[field]))
        : [];
    const sources = [
      ...ranges("IpRanges", "CidrIp"),
      ...ranges("Ipv6Ranges", "CidrIpv6"),
      ...ranges("PrefixListIds", "PrefixListId"),
      ...ranges("UserIdGroupPairs", "GroupId"),
    ];
    return `${protocol}${ports} from ${sources.length > 0 ? sources.join(", ") : "(nothing)"}`;
  }
  return compactValue(value);
}

/** What the guardian did about one finding, in words a reader acts on. Dry runs are unmistakable. */
export function describeDone(kind: DecisionKind, result: ActionResult): string {
  const summary = result.planned?.summary;
  switch (kind) {
    case "remediated":
      return summary ? pastTense(summary) : "Remediated";
    case "dry-run":
      return `DRY RUN, nothing changed. Would have: ${summary ?? "remediated"}`;
    case "alerted":
      // Not a finding's exposure but something that had no effect (an exempt tag that exempts nothing).
      if (result.outcome === "warning") return `Warning: ${result.reason}`;
      return `Not remediated: policy entry mode is ${result.mode}`;
    case "exempt":
      return "Not remediated: the resource is exempt";
    case "held":
      // A request left for a person (a private endpoint connection), or a write held back by the blast-radius cap.
      if (result.outcome === "held") return `Held for review: ${result.reason}`;
      return summary ? `Held back, not applied: ${summary}` : "Held back, not applied";
    case "approved":
      return decided("Approved", summary);
    case "rejected":
      return decided("Rejected", summary);
    case "failed":
      if (result.outcome === "dead-lettered") return `Not handled, dead-lettered: ${result.reason}`;
      return result.outcome === "conflict"
        ? `Not remediated: the resource kept changing concurrently${summary ? ` (planned: ${summary})` : ""}`
        : `Remediation FAILED${summary ? ` (planned: ${summary})` : ""}`;
  }
}

/** A deterministic id: the same decision (a redelivered event, a retried invocation) always hashes the same. */
export function decisionId(parts: readonly string[]): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 32);
}

/** Where an undo step comes from: the remediation that planned the change, given the resource's coordinates. */
export type UndoFor = (
  result: ActionResult,
  where: { region?: string; resourceGroup?: string; account: string },
) => AlertDecision["undo"];

/** The decisions of one alert (one change about one resource), each bounded in size and validated. */
export function decisionsOf(alert: Alert, decidedAt: Date, undoFor?: UndoFor): AlertDecision[] {
  const decisions: AlertDecision[] = [];
  for (const result of alert.results) {
    const kind = kindOf(result);
    if (kind === undefined) continue;
    const f = result.finding;
    const where = {
      account: alert.account,
      ...(alert.region !== undefined ? { region: alert.region } : {}),
      ...(alert.resourceGroup !== undefined ? { resourceGroup: alert.resourceGroup } : {}),
    };
    const undo = kind === "remediated" ? undoFor?.(result, where) : undefined;
    const planned = result.planned;
    const decision: AlertDecision = {
      id: decisionId([
        alert.eventId,
        alert.cloud,
        f.resourceId.toLowerCase(),
        f.policyRule,
        kind,
        planned?.summary ?? "",
      ]),
      kind,
      // An exempt finding is announced at a lower level: a person should see it, no pager should ring.
      severity: kind === "exempt" ? "low" : f.severity,
      policyEntry: clip(f.policyRule, 200),
      ruleId: clip(f.ruleId, 200),
      controls: f.controls.slice(0, 50).map((c) => clip(c, 200)),
      message: clip(f.message, 1000),
      cloud: alert.cloud,
      account: clip(alert.account, 200),
      ...(alert.region ? { region: clip(alert.region, 100) } : {}),
      ...(alert.resourceGroup ? { resourceGroup: clip(alert.resourceGroup, 200) } : {}),
      resourceId: clip(alert.resourceId, 2000),
      resourceName: clip(alert.resourceName ?? resourceName(alert.resourceId), 500),
      resourceType: clip(alert.resourceType, 200),
      tags: boundedTags(alert.tags ?? {}),
      actor: boundedActor(alert.actor),
      operationName: clip(alert.operationName, 500),
      eventId: clip(alert.eventId, 500),
      ...(alert.correlationId ? { correlationId: clip(alert.correlationId, 500) } : {}),
      changedAt: clip(alert.time, 64),
      decidedAt: decidedAt.toISOString(),
      matched: matchedLines(f.matched),
      ...(planned
        ? {
            change: {
              summary: clip(planned.summary, 1000),
              ...optional("before", shortState(planned.before)),
              ...optional("after", shortState(planned.after)),
            },
          }
        : {}),
      done: clip(describeDone(kind, result), 1000),
      reason: clip(result.reason, 1000),
      ...(undo ? { undo } : {}),
      consoleUrl: clip(alert.consoleUrl, 2000),
      dryRun: alert.dryRun,
    };
    decisions.push(decision);
  }
  return decisions;
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

function boundedTags(tags: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  // Own keys only, at most 50 (Azure's and AWS's own limit per resource).
  for (const key of Object.keys(tags).slice(0, 50)) {
    const value = Object.hasOwn(tags, key) ? tags[key] : undefined;
    if (typeof value === "string") out[clip(key, 512)] = clip(value, 512);
  }
  return out;
}

function boundedActor(actor: Actor): AlertDecision["actor"] {
  const out: AlertDecision["actor"] = {};
  if (actor.name) out.name = clip(actor.name, 512);
  if (actor.principalId) out.principalId = clip(actor.principalId, 512);
  if (actor.principalType) out.principalType = clip(actor.principalType, 128);
  if (actor.appId) out.appId = clip(actor.appId, 512);
  if (actor.sourceIp) out.sourceIp = clip(actor.sourceIp, 128);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Groups: the decisions about one resource that the sender collapses into one message.

/** The key decisions about the same resource share, whatever event or invocation made them. */
export function groupKey(decision: Pick<AlertDecision, "cloud" | "resourceId">): string {
  return `${decision.cloud}|${decision.resourceId.toLowerCase()}`;
}

const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

/** Decisions worst kind first, then most severe, then oldest (stable), so truncation drops the least important. */
export function ordered(decisions: readonly AlertDecision[]): AlertDecision[] {
  return [...decisions].sort(
    (a, b) =>
      KIND_RANK[a.kind] - KIND_RANK[b.kind] ||
      SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
      a.decidedAt.localeCompare(b.decidedAt),
  );
}

export function highestSeverity(decisions: readonly AlertDecision[]): Severity {
  let best: Severity = "low";
  for (const d of decisions) if (SEVERITY_RANK[d.severity] > SEVERITY_RANK[best]) best = d.severity;
  return best;
}

export function kindsOf(decisions: readonly AlertDecision[]): DecisionKind[] {
  return DECISION_KINDS.filter((k) => decisions.some((d) => d.kind === k)).sort(
    (a, b) => KIND_RANK[a] - KIND_RANK[b],
  );
}

const HEADLINE: Record<DecisionKind, string> = {
  failed: "Remediation FAILED",
  held: "Held",
  remediated: "Remediated",
  rejected: "Rejected",
  approved: "Approved",
  "dry-run": "DRY RUN, would remediate",
  alerted: "Violation",
  exempt: "Exempt finding",
};

/** The one-line summary: Slack header, notification text and Teams title. Plain text, not yet escaped. */
export function headline(decisions: readonly AlertDecision[]): string {
  const list = ordered(decisions);
  const first = list[0];
  if (!first) return "No decisions";
  const what = list.length === 1 ? first.message : `${list.length} decisions`;
  // A change the guardian could not handle at all (a misrouted event) is not a failed remediation: say so.
  const verb = first.done.startsWith("Not handled, dead-lettered")
    ? "NOT HANDLED (dead-lettered)"
    : HEADLINE[first.kind];
  // A message that already names the resource (an AWS group's names its id) is not told it again, as in format.ts.
  const subject = what.includes(first.resourceName) ? what : `${what} on ${first.resourceName}`;
  return `${highestSeverity(list).toUpperCase()} · ${verb}: ${subject}`;
}

/** The latest decision's view of the resource (tags and names can change between decisions). */
export function latest(decisions: readonly AlertDecision[]): AlertDecision {
  const sorted = [...decisions].sort((a, b) => a.decidedAt.localeCompare(b.decidedAt));
  const last = sorted.at(-1);
  if (!last) throw new Error("an alert group needs at least one decision");
  return last;
}

/** The id of a message made of these decisions: the same set always gives the same id. */
export function messageId(decisions: readonly AlertDecision[], destination: string): string {
  return decisionId([destination, ...decisions.map((d) => d.id).sort()]);
}

/** Who made the change, in one line; says so when the event carried no identity rather than leaving a blank. */
export function who(actor: AlertDecision["actor"]): string {
  return actor.name ?? actor.appId ?? actor.principalId ?? "unknown (the event carried no caller identity)";
}

/** Distinct actors of a group, in order of appearance. */
export function actorsOf(decisions: readonly AlertDecision[]): string[] {
  return [...new Set(decisions.map((d) => who(d.actor)))];
}
