// What the three NSG remediations share: re-checking a finding against the (possibly newer) snapshot,
// editing one security rule's fields the way ARM expects, and shaping the writer's operation.
import * as z from "zod";
import { matchedOf, type RemediationContext } from "../../remediation/types.ts";
import type { Finding, PlannedChange, Snapshot } from "../../types.ts";
import { PROTOCOLS, type Protocol, protocolMatches, type RuleExposure, ruleExposure } from "./exposure.ts";
import { formatPorts, parsePortList } from "./ports.ts";
import { nsgOf, type ParsedNsg, type RawSecurityRule, type SecurityRule } from "./schema.ts";

export const SECURITY_RULE_WRITE = "Microsoft.Network/networkSecurityGroups/securityRules/write";
export const SECURITY_RULE_DELETE = "Microsoft.Network/networkSecurityGroups/securityRules/delete";
// ARM checks this linked access on every PUT of a rule that names an application security group.
export const ASG_JOIN_RULE = "Microsoft.Network/applicationSecurityGroups/joinNetworkSecurityRule/action";
// SecurityRulePropertiesFormat.description: "A description for this rule. Restricted to 140 chars."
export const DESCRIPTION_MAX = 140;

const MatchedRule = z.looseObject({
  securityRule: z.string().min(1),
  sources: z.array(z.string()),
  ports: z.array(z.string()),
  protocols: z.array(z.string()).optional(),
});

export interface Offending {
  nsg: ParsedNsg;
  /** The validated rule, for reading. */
  rule: SecurityRule;
  /** The same rule as the snapshot holds it, for editing. */
  raw: RawSecurityRule;
  /** The exposure as it is now, which may be narrower than the finding's. */
  exposure: RuleExposure;
  /** Whether other rules of the finding still offend too (each needs a write of its own). */
  othersRemaining: boolean;
}

function sameToken(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

/**
 * The first rule in `finding.matched` that still offends in this snapshot, re-checked with the
 * finding's own sources, ports and protocols (the finding does not carry the entry's options).
 * Undefined when every matched rule is gone, changed, or now shadowed.
 */
export function firstStillOffending(snapshot: Snapshot, finding: Finding): Offending | undefined {
  const nsg = nsgOf(snapshot);
  const [first, second] = stillOffending(nsg, finding);
  return first ? { ...first, othersRemaining: second !== undefined } : undefined;
}

/** The matched rules that still offend, in the finding's order; stops after `limit`. */
function stillOffending(nsg: ParsedNsg, finding: Finding, limit = 2): Omit<Offending, "othersRemaining">[] {
  const found: Omit<Offending, "othersRemaining">[] = [];
  for (const entry of matchedOf(finding)) {
    if (found.length >= limit) break;
    const parsed = MatchedRule.safeParse(entry);
    if (!parsed.success) continue;
    const m = parsed.data;
    // ARM resource names are case-insensitive; prefer an exact match.
    let index = nsg.securityRules.findIndex((r) => r.name === m.securityRule);
    if (index < 0)
      index = nsg.securityRules.findIndex((r) => r.name.toLowerCase() === m.securityRule.toLowerCase());
    const rule = nsg.securityRules[index];
    const raw = nsg.rawSecurityRules[index];
    if (!rule || !raw) continue;
    const ports = parsePortList(m.ports);
    const exposure = ruleExposure(nsg, rule, {
      ports,
      protocols: protocolsFor(rule, m.protocols),
      isOffendingSource: (token) => m.sources.some((s) => sameToken(s, token)),
    });
    if (exposure) found.push({ nsg, rule, raw, exposure });
  }
  return found;
}

/**
 * Shapes an NSG remediation's `plan`: finds the first matched rule that still offends, lets `build` edit it, and
 * marks the change complete when no other matched rule still offends (the pipeline then needs no verifying read).
 */
export function planFirstOffending(
  build: (found: Offending, snapshot: Snapshot, context: RemediationContext) => PlannedChange,
): (snapshot: Snapshot, finding: Finding, context: RemediationContext) => PlannedChange | undefined {
  return (snapshot, finding, context) => {
    const found = firstStillOffending(snapshot, finding);
    if (!found) return undefined;
    const built = build(found, snapshot, context);
    // A first step of two (a split) leaves the finding open whatever else remains.
    return { ...built, complete: built.complete !== false && !found.othersRemaining };
  };
}

function protocolsFor(rule: SecurityRule, listed: readonly string[] | undefined): Protocol[] {
  const known = (listed ?? []).flatMap((l) => PROTOCOLS.filter((p) => p.toLowerCase() === l.toLowerCase()));
  if (known.length > 0) return known;
  // A finding without protocols: whatever the rule itself opens.
  return PROTOCOLS.filter((p) => protocolMatches(rule.properties.protocol, p));
}

/** True when `token` is one of the exposure's offending sources. */
export function isOffendingToken(exposure: RuleExposure, token: string): boolean {
  return exposure.sources.some((s) => sameToken(s, token));
}

type PairKey =
  | ["sourceAddressPrefix", "sourceAddressPrefixes"]
  | ["destinationAddressPrefix", "destinationAddressPrefixes"]
  | ["destinationPortRange", "destinationPortRanges"];

export const SOURCE_PAIR: PairKey = ["sourceAddressPrefix", "sourceAddressPrefixes"];
export const DESTINATION_PAIR: PairKey = ["destinationAddressPrefix", "destinationAddressPrefixes"];
export const DESTINATION_PORT_PAIR: PairKey = ["destinationPortRange", "destinationPortRanges"];

/**
 * Writes a singular/plural field pair as ARM stores it: one value in the singular field with an empty
 * plural array; several in the plural array with no singular field (ARM refuses both at once).
 */
export function withPair(
  props: Readonly<Record<string, unknown>>,
  [single, plural]: PairKey,
  values: readonly string[],
): Record<string, unknown> {
  const next: Record<string, unknown> = { ...props };
  const [only] = values;
  if (values.length === 1 && only !== undefined) {
    next[single] = only;
    next[plural] = [];
  } else {
    delete next[single];
    next[plural] = [...values];
  }
  return next;
}

/** The rule with new properties, everything else (name, id, etag, unknown fields) as it was. */
export function ruleWith(
  rule: RawSecurityRule,
  properties: Readonly<Record<string, unknown>>,
): RawSecurityRule {
  return { ...structuredClone(rule), properties: structuredClone({ ...properties }) };
}

/**
 * The body of `PUT .../securityRules/{name}`: the rule's full ARM body as read (id, name, type, etag and every
 * property, those the guardian does not know included), edited, without the read-only provisioningState, which
 * describes the last operation rather than the rule. The writer sends it as it is.
 */
export function putBody(rule: RawSecurityRule): RawSecurityRule {
  const { provisioningState: _readOnly, ...properties } = structuredClone(rule.properties);
  return { ...structuredClone(rule), properties };
}

function ifMatch(snapshot: Snapshot, rule: RawSecurityRule): string | undefined {
  return rule.etag ?? snapshot.etag;
}

export function deleteChange(
  remediation: string,
  snapshot: Snapshot,
  rule: RawSecurityRule,
  summary: string,
): PlannedChange {
  return {
    remediation,
    resourceId: snapshot.resourceId,
    summary,
    operation: {
      kind: "delete-security-rule",
      nsgId: snapshot.resourceId,
      ruleName: rule.name,
      ifMatch: ifMatch(snapshot, rule),
    },
    before: structuredClone(rule),
    after: null,
  };
}

export function putChange(
  remediation: string,
  snapshot: Snapshot,
  before: RawSecurityRule,
  edited: RawSecurityRule,
  summary: string,
): PlannedChange {
  // The audit's after-state is exactly the body the writer sends.
  const after = putBody(edited);
  return {
    remediation,
    resourceId: snapshot.resourceId,
    summary,
    operation: {
      kind: "put-security-rule",
      nsgId: snapshot.resourceId,
      ruleName: before.name,
      ifMatch: ifMatch(snapshot, before),
      rule: structuredClone(after),
    },
    before: structuredClone(before),
    after,
  };
}

/**
 * The body of a new rule, created with `If-None-Match: *` so that a rule of the same name made meanwhile is never
 * overwritten (the write then fails as a conflict, and the guardian re-reads).
 */
export function createChange(
  remediation: string,
  snapshot: Snapshot,
  created: RawSecurityRule,
  summary: string,
): PlannedChange {
  // As for an edit, the audit's after-state is exactly the body the writer sends.
  const after = putBody(created);
  return {
    remediation,
    resourceId: snapshot.resourceId,
    summary,
    operation: {
      kind: "put-security-rule",
      nsgId: snapshot.resourceId,
      ruleName: created.name,
      ifNoneMatch: "*",
      rule: structuredClone(after),
    },
    before: null,
    after,
  };
}

/** "Tcp 22, 3389 from Internet" for summaries. */
export function exposureText(exposure: RuleExposure): string {
  return `${exposure.protocols.join("/")} ${formatPorts(exposure.ports).join(", ")} from ${exposure.sources.join(", ")}`;
}
