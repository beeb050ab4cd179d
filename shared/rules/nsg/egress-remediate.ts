// What the two egress remediations share: re-check each offending outbound Allow of a finding against the snapshot,
// fix one per write (delete or narrow it, or set it to Deny), then add the missing Deny to the Internet at a free
// priority. Each write is one security rule, guarded: an edit carries the rule's etag, a new rule If-None-Match.
import * as z from "zod";
import { matchedOf, type UndoStep } from "../../remediation/types.ts";
import { shellQuote } from "../../shell.ts";
import type { Finding, PlannedChange, Snapshot } from "../../types.ts";
import { denyRuleName, freeOutboundPriority } from "./egress.ts";
import {
  destinationPrefixesOf,
  PROTOCOLS,
  type Protocol,
  protocolMatches,
  type RuleExposure,
  ruleExposure,
} from "./exposure.ts";
import { formatPorts, parsePortList } from "./ports.ts";
import { DESTINATION_PAIR, deleteChange, putBody, putChange, ruleWith, withPair } from "./remediate.ts";
import { nsgOf, type ParsedNsg, type RawSecurityRule, type SecurityRule } from "./schema.ts";
import { shadowedBelow } from "./shadow.ts";
import { undoSecurityRule } from "./undo.ts";

const AllowPart = z.looseObject({
  securityRule: z.string().min(1),
  destinations: z.array(z.string()),
  ports: z.array(z.string()),
  protocols: z.array(z.string()).optional(),
  direction: z.literal("Outbound"),
});

const MissingDenyPart = z.looseObject({
  missingDeny: z.literal(true),
  priority: z.number().int().optional(),
});

const sameToken = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

interface OpenAllow {
  rule: SecurityRule;
  raw: RawSecurityRule;
  exposure: RuleExposure;
}

function protocolsOf(rule: SecurityRule, listed: readonly string[] | undefined): Protocol[] {
  const known = (listed ?? []).flatMap((l) => PROTOCOLS.filter((p) => p.toLowerCase() === l.toLowerCase()));
  return known.length > 0 ? known : PROTOCOLS.filter((p) => protocolMatches(rule.properties.protocol, p));
}

/** The finding's outbound Allows that still open an offending destination in this snapshot, in the finding's order. */
function stillOpen(nsg: ParsedNsg, matched: readonly unknown[]): OpenAllow[] {
  const out: OpenAllow[] = [];
  for (const entry of matched) {
    const part = AllowPart.safeParse(entry);
    if (!part.success) continue;
    const m = part.data;
    let index = nsg.securityRules.findIndex((r) => r.name === m.securityRule);
    if (index < 0) index = nsg.securityRules.findIndex((r) => sameToken(r.name, m.securityRule));
    const rule = nsg.securityRules[index];
    const raw = nsg.rawSecurityRules[index];
    if (!rule || !raw) continue;
    const exposure = ruleExposure(nsg, rule, {
      direction: "Outbound",
      ports: parsePortList(m.ports),
      protocols: protocolsOf(rule, m.protocols),
      isOffendingSource: (token) => m.destinations.some((d) => sameToken(d, token)),
    });
    if (exposure) out.push({ rule, raw, exposure });
  }
  return out;
}

function missingDeny(matched: readonly unknown[]): z.infer<typeof MissingDenyPart> | undefined {
  for (const entry of matched) {
    const part = MissingDenyPart.safeParse(entry);
    if (part.success) return part.data;
  }
  return undefined;
}

const opens = (e: RuleExposure) =>
  `${e.protocols.join("/")} ${formatPorts(e.ports).join(", ")} to ${e.sources.join(", ")}`;

function fixAllow(
  id: string,
  how: "delete" | "deny",
  snapshot: Snapshot,
  nsg: ParsedNsg,
  open: OpenAllow,
): PlannedChange {
  const { rule, raw, exposure } = open;
  const kept = destinationPrefixesOf(rule.properties).filter(
    (t) => !exposure.sources.some((s) => sameToken(s, t)),
  );
  // A Deny where the Allow stands refuses every destination it names, and whatever a rule below lets out to them
  // (AllowVnetOutBound under a `*`, an allowed Storage rule under the Internet): flipped only when it refuses nothing
  // but the offending destinations, else the offending destinations are taken away as the delete path does.
  const flips =
    kept.length === 0 &&
    (rule.properties.destinationApplicationSecurityGroups?.length ?? 0) === 0 &&
    shadowedBelow(nsg, rule, exposure, "Outbound") === undefined;
  if (how === "deny" && flips) {
    const properties: Record<string, unknown> = { ...raw.properties, access: "Deny" };
    return putChange(
      id,
      snapshot,
      raw,
      ruleWith(raw, properties),
      `set outbound security rule ${rule.name} to Deny (it allowed ${opens(exposure)})`,
    );
  }
  if (kept.length > 0) {
    return putChange(
      id,
      snapshot,
      raw,
      ruleWith(raw, withPair(raw.properties, DESTINATION_PAIR, kept)),
      `remove destination ${exposure.sources.join(", ")} from outbound security rule ${rule.name} (it allowed ${opens(exposure)}); keeps ${kept.join(", ")}`,
    );
  }
  return deleteChange(
    id,
    snapshot,
    raw,
    `delete outbound security rule ${rule.name} (it allowed ${opens(exposure)})`,
  );
}

/** The Deny to the Internet the guardian adds: every protocol, port and source, at `priority`. */
function denyRule(nsgId: string, name: string, priority: number): RawSecurityRule {
  return {
    name,
    id: `${nsgId}/securityRules/${name}`,
    properties: {
      description: "Deny-by-default egress, restored by network-guardian",
      protocol: "*",
      sourcePortRange: "*",
      destinationPortRange: "*",
      sourceAddressPrefix: "*",
      destinationAddressPrefix: "Internet",
      access: "Deny",
      priority,
      direction: "Outbound",
    },
  };
}

/** One write of an egress finding: the first offending Allow still open, else the missing Deny. */
export function planEgress(
  id: string,
  how: "delete" | "deny",
  snapshot: Snapshot,
  finding: Finding,
): PlannedChange | undefined {
  const matched = matchedOf(finding);
  const nsg = nsgOf(snapshot);
  const open = stillOpen(nsg, matched);
  const deny = missingDeny(matched);
  const [first] = open;
  if (first)
    return { ...fixAllow(id, how, snapshot, nsg, first), complete: open.length === 1 && deny === undefined };
  if (!deny) return undefined;
  const priority = freeOutboundPriority(nsg, deny.priority);
  if (priority === undefined) return undefined;
  const rule = denyRule(snapshot.resourceId, denyRuleName(nsg), priority);
  const body = putBody(rule);
  return {
    remediation: id,
    resourceId: snapshot.resourceId,
    summary: `add outbound security rule ${rule.name}: Deny * to Internet at priority ${priority}`,
    operation: {
      kind: "put-security-rule",
      nsgId: snapshot.resourceId,
      ruleName: rule.name,
      // A new rule: refused if one of that name appeared since the read; a rule taking the priority meanwhile
      // makes ARM answer SecurityRuleConflict, and the guardian reads and plans again.
      ifNoneMatch: "*",
      rule: structuredClone(body),
    },
    before: null,
    after: body,
    complete: true,
  };
}

/** Why the missing Deny cannot be added: no outbound priority is free. */
export function egressManual(snapshot: Snapshot, finding: Finding): string | undefined {
  const matched = matchedOf(finding);
  const nsg = nsgOf(snapshot);
  if (stillOpen(nsg, matched).length > 0) return undefined;
  const deny = missingDeny(matched);
  if (!deny || freeOutboundPriority(nsg, deny.priority) !== undefined) return undefined;
  return "no outbound priority between 100 and 4096 is free for the Deny to the Internet";
}

/** Undo of an egress write: the rule as it was for an edit or a delete; deleting the Deny the guardian added. */
export function undoEgress(planned: PlannedChange): UndoStep | undefined {
  if (planned.before !== null) return undoSecurityRule(planned);
  const op = planned.operation as { ruleName?: unknown };
  const ids =
    /\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/networkSecurityGroups\/([^/]+)/i.exec(
      planned.resourceId,
    );
  if (!ids || typeof op.ruleName !== "string") return undefined;
  const [, subscription = "", group = "", nsg = ""] = ids;
  return {
    command: [
      "az network nsg rule delete",
      `--subscription ${shellQuote(subscription)}`,
      `--resource-group ${shellQuote(group)}`,
      `--nsg-name ${shellQuote(nsg)}`,
      `--name ${shellQuote(op.ruleName)}`,
    ].join(" \\\n  "),
    portal: `Azure portal: network security group ${nsg} › Outbound security rules › delete ${op.ruleName}`,
  };
}
