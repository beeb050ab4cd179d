// Channel-neutral wording of an alert, shared by the Slack and Teams renderers so both say the same thing.
import type { ActionResult, Actor, Matched, Severity } from "../types.ts";
import type { Alert } from "./types.ts";

const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

export function severityLabel(severity: Severity): string {
  return severity.toUpperCase();
}

/** Results ordered most severe first (stable), so truncation drops the least important ones. */
export function orderedResults(alert: Alert): ActionResult[] {
  return [...alert.results].sort(
    (a, b) => SEVERITY_RANK[b.finding.severity] - SEVERITY_RANK[a.finding.severity],
  );
}

export function highestSeverity(results: readonly ActionResult[]): Severity | undefined {
  let best: Severity | undefined;
  for (const r of results) {
    if (best === undefined || SEVERITY_RANK[r.finding.severity] > SEVERITY_RANK[best])
      best = r.finding.severity;
  }
  return best;
}

/** The last segment of an ARM id (`.../networkSecurityGroups/nsg-bastion`) or an AWS ARN (`...:security-group/sg-1`). */
export function resourceName(resourceId: string): string {
  const trimmed = resourceId.replace(/\/+$/, "");
  const afterSlash = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  const name = afterSlash.includes(":") ? afterSlash.slice(afterSlash.lastIndexOf(":") + 1) : afterSlash;
  return name || resourceId;
}

/**
 * What the guardian did overall, worst first: a failure or a lost race needs a human more than a fix does.
 * Used as the headline verb.
 */
export function headline(alert: Alert): string {
  const outcomes = new Set(alert.results.map((r) => r.outcome));
  if (outcomes.has("dead-lettered")) return "NOT HANDLED (dead-lettered)";
  if (outcomes.has("failed")) return "Remediation FAILED";
  if (outcomes.has("conflict")) return "Not remediated (resource changed meanwhile)";
  if (outcomes.has("applied")) return "Remediated";
  if (outcomes.has("rejected")) return "Rejected";
  if (outcomes.has("held")) return "Held for review";
  if (outcomes.has("approved")) return "Approved";
  if (outcomes.has("dry-run")) return "DRY RUN, would remediate";
  if (alert.results.length === 0) return "No findings";
  if (alert.results.every((r) => r.outcome === "already-compliant")) return "Already compliant";
  if (alert.results.every((r) => r.outcome === "skipped-exempt")) return "Exempt finding";
  if (alert.results.every((r) => r.outcome === "warning")) return "Warning";
  return "Violation";
}

/** The one-line summary used as Slack header, Slack notification fallback and Teams title. */
export function title(alert: Alert): string {
  const severity = highestSeverity(alert.results);
  const prefix = severity ? `${severityLabel(severity)} · ` : "";
  const first = orderedResults(alert)[0];
  const what =
    alert.results.length === 1 && first
      ? first.finding.message
      : alert.results.length > 1
        ? `${alert.results.length} findings`
        : "";
  const name = resourceName(alert.resourceId);
  // A message that already names the resource (an AWS group's message names its id) is not told it again.
  const subject = what ? (what.includes(name) ? what : `${what} on ${name}`) : name;
  return `${prefix}${headline(alert)}: ${subject}`;
}

/** Who made the change, in one line; says so when the event carried no identity rather than leaving a blank. */
export function describeActor(actor: Actor): string {
  const name = actor.name ?? actor.appId ?? actor.principalId;
  if (!name) return "unknown (the event carried no caller identity)";
  return name;
}

export interface ActorFacts {
  who: string;
  principalType?: string;
  principalId?: string;
  appId?: string;
  sourceIp?: string;
}

export function actorFacts(actor: Actor): ActorFacts {
  const facts: ActorFacts = { who: describeActor(actor) };
  if (actor.principalType) facts.principalType = actor.principalType;
  if (actor.principalId && actor.principalId !== facts.who) facts.principalId = actor.principalId;
  if (actor.appId && actor.appId !== facts.who) facts.appId = actor.appId;
  if (actor.sourceIp) facts.sourceIp = actor.sourceIp;
  return facts;
}

/** What was done about one finding, in words a reader acts on. Dry runs are unmistakable. */
export function describeOutcome(result: ActionResult): string {
  const summary = result.planned?.summary;
  switch (result.outcome) {
    case "applied":
      return summary ? pastTense(summary) : "Remediated";
    case "dry-run":
      return `DRY RUN — would have: ${summary ?? "remediated"}`;
    case "skipped-mode":
      return `Not remediated: policy mode is ${result.mode}`;
    case "skipped-exempt":
      return `Not remediated: exempt (${result.reason})`;
    case "warning":
      return `Warning: ${result.reason}`;
    case "skipped-self":
      return "Not remediated: the change was made by the guardian itself";
    case "conflict":
      return summary
        ? `Not remediated: the resource changed before the write (planned: ${summary})`
        : "Not remediated: the resource changed before the write";
    case "already-compliant":
      return "Nothing to do: already compliant when read";
    case "failed":
      return summary ? `Remediation FAILED (planned: ${summary})` : "Remediation FAILED";
    case "skipped-cap":
      return "Not remediated: the blast-radius cap for this run was reached";
    case "alert-only":
      return `Not remediated: ${result.reason}`;
    case "dead-lettered":
      return `Not handled, dead-lettered: ${result.reason}`;
    case "approved":
      return decided("Approved", summary);
    case "rejected":
      return decided("Rejected", summary);
    case "held":
      return `Held for review: ${result.reason}`;
    default:
      // An outcome added to the contract later still renders, rather than failing the alert.
      return `Not remediated (${String(result.outcome)})`;
  }
}

/** The verbs remediation summaries (and their clauses) start with, and what they read as once done. */
const DONE: Record<string, string> = {
  delete: "Deleted",
  remove: "Removed",
  set: "Set",
  restrict: "Restricted",
  revoke: "Revoked",
  replace: "Replaced",
  narrow: "Narrowed",
  close: "Closed",
  require: "Required",
  accept: "Accepted",
  reject: "Rejected",
  approve: "Approved",
  attach: "Attached",
  detach: "Detached",
  add: "Added",
};

/**
 * A planned change's summary ("delete security rule x (it allowed Tcp 22 from Internet)") as a sentence saying what
 * was done ("Deleted security rule x: it allowed TCP 22 from the Internet"). A summary that names its resource first
 * ("subnet a: attach NSG b; remove service endpoint c") says what changed on it ("Changed subnet a: attached NSG b;
 * removed service endpoint c"); one of settings ("visibility [...] → [...]") reads as changed too.
 */
export function pastTense(summary: string): string {
  const [verb = "", ...rest] = summary.split(" ");
  const done = DONE[verb.toLowerCase()];
  const sentence = done
    ? `${done} ${rest.join(" ")}`
    : `Changed ${summary.replace(/: (.*)$/, (_, clauses: string) => `: ${clausesDone(clauses)}`)}`;
  return humanTraffic(sentence)
    .replace(/ \(it allowed ([^)]*)\)/, ": it allowed $1")
    .replace(/; keeps /, "; it keeps ");
}

/** Each clause ("attach NSG b", "remove service endpoint c") that starts with a known verb, in the past tense. */
function clausesDone(clauses: string): string {
  return clauses.replace(/(^|; |, )([a-z]+)\b/g, (whole, sep: string, word: string) => {
    const done = DONE[word];
    return done ? `${sep}${done.toLowerCase()}` : whole;
  });
}

/**
 * An approval or rejection: a summary that is the decision itself ("approve pending connection x") read as done
 * ("Approved pending connection x"), any other after the decision's name.
 */
export function decided(decision: "Approved" | "Rejected", summary: string | undefined): string {
  if (!summary) return decision;
  const verb = summary.split(" ", 1)[0]?.toLowerCase() ?? "";
  return ["approve", "accept", "reject"].includes(verb) ? pastTense(summary) : `${decision}: ${summary}`;
}

/** Protocol names as people write them, and ARM's `Internet` service tag as the place it stands for. */
export function humanTraffic(text: string): string {
  return text
    .replace(/\b(Tcp|Udp|Icmp|Esp|Ah)\b/g, (p) => p.toUpperCase())
    .replace(/\bfrom Internet\b/g, "from the Internet");
}

/**
 * One matched part as a line a person reads: the rule, its priority, its sources and ports for an NSG rule; the
 * permission and its source for a security group. Other shapes fall back to `key: value` pairs.
 */
export function describeMatched(matched: Matched): string {
  const m = matched as Record<string, unknown>;
  const list = (v: unknown) =>
    Array.isArray(v) ? v.map(String).join(", ") : v === undefined ? "" : String(v);
  if (typeof m.why === "string") {
    // A part its rule explained itself (a subnet's missing policy, a policy entry beyond the allow-list).
    const subject =
      typeof m.definition === "string" && typeof m.resource === "string"
        ? `${m.definition}: ${m.resource}: `
        : "";
    return `${subject}${m.why}`;
  }
  if (typeof m.securityRule === "string") {
    // The rule's own findings carry `sources` and `ports` (`destinations` for an outbound rule); a finding built
    // from the ARM rule carries its fields.
    const sources = m.sources ?? m.sourceAddressPrefixes ?? m.sourceAddressPrefix;
    const ports = m.ports ?? m.destinationPortRanges ?? m.destinationPortRange;
    const protocol = m.protocol === "*" ? "any protocol" : m.protocol;
    const traffic = [
      protocol === undefined ? "" : String(protocol),
      ports === undefined ? "" : `port ${list(ports)}`,
      m.destinations !== undefined
        ? `to ${list(m.destinations)}`
        : sources === undefined
          ? ""
          : `from ${list(sources)}`,
    ].filter(Boolean);
    const priority = typeof m.priority === "number" ? ` (priority ${m.priority})` : "";
    return humanTraffic(`rule ${m.securityRule}${priority}${traffic.length ? `: ${traffic.join(" ")}` : ""}`);
  }
  if (
    typeof m.protocol === "string" &&
    (typeof m.cidr === "string" || typeof m.groupId === "string" || typeof m.prefixListId === "string")
  ) {
    const all = m.protocol === "-1";
    const ports =
      all || m.fromPort === undefined
        ? ""
        : ` ${m.fromPort === m.toPort ? String(m.fromPort) : `${String(m.fromPort)}-${String(m.toPort)}`}`;
    const traffic = all ? "all traffic" : `${m.protocol.toUpperCase()}${ports}`;
    const peer = m.cidr ?? m.groupId ?? m.prefixListId;
    const direction = m.direction === "egress" ? "to" : "from";
    const protectedPorts =
      Array.isArray(m.ports) && (all || m.fromPort !== m.toPort) ? ` (covers ${list(m.ports)})` : "";
    return `${m.direction === "egress" ? "outbound " : m.direction === "ingress" ? "inbound " : ""}${traffic} ${direction} ${String(peer)}${protectedPorts}`;
  }
  if (typeof m.part === "string") {
    // A setting of the resource (a storage account's firewall): the setting, its value, then what else was noted.
    const value = m.value === null || m.value === undefined ? "not set" : compactValue(m.value);
    const rest = Object.entries(m).filter(([k]) => k !== "part" && k !== "value");
    const extra = rest.length > 0 ? ` (${rest.map(([k, v]) => `${k}: ${compactValue(v)}`).join("; ")})` : "";
    return `${m.part} is ${value}${extra}`;
  }
  return compactMatched(matched);
}

const MAX_VALUE_CHARS = 200;

/** A value as short text: scalars as they are, lists of scalars joined, anything else as JSON. */
export function compactValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === "string" || typeof v === "number")) {
    return value.join(", ");
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** One matched part as `key: value; key: value`, each value capped so one huge property cannot eat the message. */
export function compactMatched(matched: Matched): string {
  return Object.entries(matched)
    .map(([key, value]) => `${key}: ${truncate(compactValue(value), MAX_VALUE_CHARS)}`)
    .join("; ");
}

/** Cuts `text` to at most `max` characters, ending with a visible marker counting what was cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let keep = max;
  // The marker's length depends on the count it reports; shrink `keep` until the two agree.
  for (;;) {
    const marker = `… (${text.length - keep} more chars)`;
    const next = Math.max(0, max - marker.length);
    if (next >= keep) return `${text.slice(0, keep)}${marker}`;
    keep = next;
  }
}

/** A list of items capped at `max`, with a line saying how many were left out. */
export function capList(items: readonly string[], max: number): string[] {
  if (items.length <= max) return [...items];
  return [...items.slice(0, max), `… (${items.length - max} more)`];
}
