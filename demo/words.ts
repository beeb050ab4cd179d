// How the demo says what happened: decisions in the past tense, rules and permissions as one line each, the state
// before a change, after it, and after the guardian. The alert texts come from shared/notify, as delivered.
import type { IpPermission } from "@aws-sdk/client-ec2";
import { describeOutcome, humanTraffic, pastTense } from "../shared/notify/format.ts";
import type { ActionResult, AuditRecord } from "../shared/types.ts";

export interface DemoIO {
  print(text: string): void;
  /** Request counters and the checklist of expected outcomes; without it only failures are listed. */
  verbose: boolean;
}

export interface Check {
  name: string;
  ok: boolean;
}

/**
 * The guardian's decisions about one change, one line each: what it did (or why it did not), and which policy entries
 * said so. Entries fixed by one write planned together (a storage account's firewall) share their line.
 */
export function decisionLines(actions: readonly ActionResult[]): string[] {
  const lines: { text: string; entries: string[] }[] = [];
  for (const action of actions) {
    const entry = `${action.finding.policyRule}, ${action.finding.severity}`;
    const text =
      action.outcome === "skipped-mode"
        ? `Left it and alerted: ${humanTraffic(action.finding.message)} (mode ${action.mode})`
        : describeOutcome(action);
    const same = lines.find((l) => l.text === text && action.planned !== undefined);
    if (same) same.entries.push(entry);
    else lines.push({ text, entries: [entry] });
  }
  return lines.map((l) => `${l.text} (${l.entries.join("; ")})`);
}

/**
 * One audited decision (a `guardian.decision` log line, all a Lambda leaves behind) as the other decision lines read:
 * what was done in the past tense, or why nothing was, then the policy entry.
 */
export function auditLine(record: Readonly<Record<string, unknown>>): string {
  const field = (name: keyof AuditRecord) => (typeof record[name] === "string" ? record[name] : "");
  const [outcome, reason, summary] = [field("outcome"), field("reason"), field("summary")];
  const text =
    summary && (outcome === "applied" || outcome === "approved" || outcome === "rejected")
      ? pastTense(summary)
      : outcome === "held"
        ? `Held for review: ${reason}`
        : `${outcome}: ${reason}`;
  return `${text} (${field("policyRule")}, ${field("severity")})`;
}

interface NsgRule {
  name: string;
  properties: Record<string, unknown>;
}

/** `allow-ssh (priority 110): Allow TCP 22 from the Internet`. */
export function nsgRuleLine(rule: NsgRule): string {
  const p = rule.properties;
  const plural = (many: unknown, one: unknown) =>
    Array.isArray(many) && many.length > 0 ? many.join(", ") : String(one ?? "");
  const protocol = p.protocol === "*" ? "any protocol" : String(p.protocol);
  const ports = plural(p.destinationPortRanges, p.destinationPortRange).replace(/^\*$/, "all ports");
  const sources = plural(p.sourceAddressPrefixes, p.sourceAddressPrefix);
  return humanTraffic(
    `${rule.name} (priority ${String(p.priority)}): ${String(p.access)} ${protocol} ${ports} from ${sources}`,
  );
}

/** The inbound rules of an NSG as ARM returns it, one line each, by priority. */
export function inboundLines(nsg: unknown): string[] {
  const rules = ((nsg as { properties?: { securityRules?: NsgRule[] } } | undefined)?.properties
    ?.securityRules ?? []) as NsgRule[];
  return rules
    .filter((r) => String(r.properties.direction).toLowerCase() === "inbound")
    .sort((a, b) => Number(a.properties.priority) - Number(b.properties.priority))
    .map(nsgRuleLine);
}

/** A storage account's firewall (ARM `networkAcls`) as lines: the default action, then what it lets through. */
export function storageFirewallLines(acls: {
  defaultAction?: string;
  bypass?: string;
  ipRules?: { value?: string }[];
  virtualNetworkRules?: { id?: string }[];
}): string[] {
  const all = acls.defaultAction === "Allow";
  return [
    all
      ? "public network access: all networks (Allow)"
      : "public network access: selected networks only (Deny)",
    `IP rules: ${(acls.ipRules ?? []).map((r) => r.value).join(", ") || "none"}`,
    // network/subnet: which network a rule reaches into is what the role by network tags judges.
    `VNet rules: ${
      (acls.virtualNetworkRules ?? [])
        .map((v) =>
          (v.id ?? "")
            .split("/")
            .filter((_, i, all) => i === all.length - 3 || i === all.length - 1)
            .join("/"),
        )
        .join(", ") || "none"
    }`,
    `trusted services: ${acls.bypass ?? "None"}`,
  ];
}

/** `TCP 22 from 10.20.1.0/24, 10.20.2.0/24, 0.0.0.0/0`. */
export function permissionLine(p: IpPermission): string {
  const traffic =
    p.IpProtocol === "-1"
      ? "all traffic"
      : `${String(p.IpProtocol).toUpperCase()} ${p.FromPort === p.ToPort ? p.FromPort : `${p.FromPort}-${p.ToPort}`}`;
  const sources = [
    ...(p.IpRanges ?? []).map((r) => r.CidrIp),
    ...(p.Ipv6Ranges ?? []).map((r) => r.CidrIpv6),
    ...(p.UserIdGroupPairs ?? []).map((g) => g.GroupId),
    ...(p.PrefixListIds ?? []).map((l) => l.PrefixListId),
  ];
  return `${traffic} from ${sources.join(", ")}`;
}

/** A labelled list: the label on the first line, the others aligned under it; `(none)` for an empty list. */
export function stateBlock(label: string, lines: readonly string[], width = 20): string {
  const shown = lines.length > 0 ? lines : ["(none)"];
  return shown.map((line, i) => `  ${(i === 0 ? label : "").padEnd(width)}${line}`).join("\n");
}

/** A delivered Block Kit message as a person would read it in Slack (mrkdwn left as is). */
export function slackLines(body: unknown): string[] {
  const blocks = (
    body as
      | { blocks?: { type: string; text?: { text?: string }; elements?: { text?: string }[] }[] }
      | undefined
  )?.blocks;
  if (!blocks) return [];
  const lines = ["  ┌─ the Slack alert as delivered ─"];
  for (const b of blocks) {
    const text = b.text?.text ?? b.elements?.map((e) => e.text ?? "").join("  ");
    if (text) for (const line of text.split("\n")) lines.push(`  │ ${line}`);
  }
  lines.push("  └─");
  return lines;
}
