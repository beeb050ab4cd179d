// Taking exactly the offending (source, port) pairs out of one Allow rule, and nothing else.
//
// A rule allows sources × ports. When its offending sources S also reach ports that are not offending (P_rest: the
// rule's ports minus the offending ones), the rest of the rule (its other sources on every port, and S on P_rest) is
// two rectangles, so it needs two rules: the guardian first adds a rule that allows S on P_rest exactly as the
// offending rule does (same protocol, source ports, destinations), at a free priority placed so that no decision of
// any other rule changes, and then removes S from the offending rule. Each step is one guarded write; the first
// changes nothing the NSG decides (the new rule allows only what the old one already did, in the same place in the
// order), the second removes exactly the offending pairs.
//
// Placement: a new Allow at priority q for a rule at priority p changes no decision when every rule strictly between
// p and q either is an Allow (a packet it takes was allowed before and still is) or is a Deny that provably matches
// nothing the new rule matches. The nearest free priority in each direction is tried; all priorities between p and
// that one are then taken, so no rule can be slipped in between by someone else afterwards.
import { InputError } from "../../errors.ts";
import { type Prefix, parsePrefix, prefixWithin } from "../../net/ip.ts";
import type { PlannedChange, Snapshot } from "../../types.ts";
import { isAnywhereTag } from "../common/sources.ts";
import {
  destinationPortSpecsOf,
  destinationPrefixesOf,
  isAllow,
  isInbound,
  portsOf,
  ruleProtocolOf,
  sourcePortsOf,
  sourcePrefixesOf,
} from "./exposure.ts";
import { formatPorts, intersect, isEmpty, type PortSet, parsePortSpec, subtract } from "./ports.ts";
import {
  createChange,
  DESCRIPTION_MAX,
  DESTINATION_PORT_PAIR,
  deleteChange,
  exposureText,
  isOffendingToken,
  type Offending,
  putChange,
  ruleWith,
  SOURCE_PAIR,
  withPair,
} from "./remediate.ts";
import type { ParsedNsg, RawSecurityRule, SecurityRule, SecurityRuleProperties } from "./schema.ts";

export const MIN_PRIORITY = 100;
export const MAX_PRIORITY = 4096;

/** What a new rule would match, in the terms placement needs. */
export interface MatchShape {
  protocol: string;
  sources: readonly string[];
  sourcePorts: PortSet;
  destinations: readonly string[];
  destinationAsgs: readonly string[];
  ports: PortSet;
}

function asgIds(
  p: SecurityRuleProperties,
  which: "sourceApplicationSecurityGroups" | "destinationApplicationSecurityGroups",
): string[] {
  return (p[which] ?? []).flatMap((r) => (typeof r.id === "string" ? [r.id.toLowerCase()] : []));
}

/** The shape of `rule` with other sources and ports (what a split-off rule for those sources matches). */
export function shapeOf(rule: SecurityRule, sources: readonly string[], ports: PortSet): MatchShape {
  const p = rule.properties;
  return {
    protocol: p.protocol,
    sources,
    sourcePorts: sourcePortsOf(p, true),
    destinations: destinationPrefixesOf(p),
    destinationAsgs: asgIds(p, "destinationApplicationSecurityGroups"),
    ports,
  };
}

function disjointPrefixes(a: Prefix, b: Prefix): boolean {
  return a.family !== b.family || (!prefixWithin(a, b) && !prefixWithin(b, a));
}

/** True when every token of `a` is provably disjoint from every token of `b` (both plain prefixes). */
function disjointTokens(a: readonly string[], b: readonly string[]): boolean {
  if (a.length === 0 || b.length === 0) return false;
  return a.every((x) => {
    const px = isAnywhereTag(x) ? undefined : parsePrefix(x);
    return b.every((y) => {
      const py = isAnywhereTag(y) ? undefined : parsePrefix(y);
      return px !== undefined && py !== undefined && disjointPrefixes(px, py);
    });
  });
}

/**
 * True when no packet can match both the Deny `deny` and a rule of `shape`. Conservative: service tags and
 * application security groups may hold any address, an unreadable port spec any port.
 */
export function provablyDisjoint(deny: SecurityRule, shape: MatchShape): boolean {
  const p = deny.properties;
  // An unreadable protocol may be any protocol: never provably disjoint from another.
  const a = ruleProtocolOf(p.protocol);
  const b = ruleProtocolOf(shape.protocol);
  if (a !== undefined && b !== undefined && a !== "*" && b !== "*" && a !== b) return true;
  if (isEmpty(intersect(portsOf(p, true), shape.ports))) return true;
  if (isEmpty(intersect(sourcePortsOf(p, true), shape.sourcePorts))) return true;
  if (
    asgIds(p, "sourceApplicationSecurityGroups").length === 0 &&
    disjointTokens(sourcePrefixesOf(p), shape.sources)
  ) {
    return true;
  }
  const denyAsgs = asgIds(p, "destinationApplicationSecurityGroups");
  return (
    denyAsgs.length === 0 &&
    shape.destinationAsgs.length === 0 &&
    disjointTokens(destinationPrefixesOf(p), shape.destinations)
  );
}

function inboundUserRules(nsg: ParsedNsg): SecurityRule[] {
  return nsg.securityRules.filter(isInbound);
}

/** Whether a rule of `shape` at `priority` decides nothing differently from `anchor` (see the header). */
export function placementKeepsDecisions(
  nsg: ParsedNsg,
  anchor: SecurityRule,
  priority: number,
  shape: MatchShape,
  except?: SecurityRule,
): boolean {
  const lo = Math.min(anchor.properties.priority, priority);
  const hi = Math.max(anchor.properties.priority, priority);
  return inboundUserRules(nsg).every((r) => {
    if (r === anchor || r === except) return true;
    const q = r.properties.priority;
    if (q <= lo || q >= hi) return true;
    return isAllow(r) || provablyDisjoint(r, shape);
  });
}

/**
 * The nearest free inbound priority where a new Allow of `shape` keeps every decision `anchor` made (below it
 * first on a tie: there, the new rule only ever sees what the anchor let through), or undefined when none.
 */
export function freePriorityNear(
  nsg: ParsedNsg,
  anchor: SecurityRule,
  shape: MatchShape,
): number | undefined {
  const taken = new Map(inboundUserRules(nsg).map((r) => [r.properties.priority, r] as const));
  const start = anchor.properties.priority;
  const scan = (step: 1 | -1): number | undefined => {
    for (let q = start + step; q >= MIN_PRIORITY && q <= MAX_PRIORITY; q += step) {
      const there = taken.get(q);
      if (!there) return q;
      // A Deny that may match the new rule's traffic stands between: nothing beyond it keeps the decisions.
      if (!isAllow(there) && !provablyDisjoint(there, shape)) return undefined;
    }
    return undefined;
  };
  const below = scan(1);
  const above = scan(-1);
  if (below === undefined) return above;
  if (above === undefined) return below;
  return below - start <= start - above ? below : above;
}

function sameToken(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

function containsPorts(outer: PortSet, inner: PortSet): boolean {
  return isEmpty(subtract(inner, outer));
}

/**
 * Another inbound Allow that already lets `sources` in on `ports` exactly as `rule` does (same or wider protocol,
 * source ports and destinations), placed so that no decision changes: the rule a split created, or one a person
 * made. When there is one, the offending sources can leave `rule` without taking those ports with them.
 */
export function homeFor(
  nsg: ParsedNsg,
  rule: SecurityRule,
  sources: readonly string[],
  ports: PortSet,
): SecurityRule | undefined {
  const p = rule.properties;
  const shape = shapeOf(rule, sources, ports);
  return inboundUserRules(nsg).find((x) => {
    if (x === rule || !isAllow(x)) return false;
    const xp = x.properties;
    // Read strictly: a protocol that cannot be read takes in no other rule's traffic.
    const protocol = ruleProtocolOf(xp.protocol);
    const own = ruleProtocolOf(p.protocol);
    if (protocol === undefined || own === undefined) return false;
    if (protocol !== "*" && protocol !== own) return false;
    const xSources = sourcePrefixesOf(xp);
    if (!sources.every((s) => xSources.some((t) => sameToken(s, t)))) return false;
    if (!containsPorts(sourcePortsOf(xp, false), shape.sourcePorts)) return false;
    // Read strictly: a spec the rule cannot be sure of does not count as covered.
    if (!containsPorts(portsOf(xp, false), ports)) return false;
    const xDest = destinationPrefixesOf(xp);
    const anywhere = xDest.some((d) => d.trim() === "*" || d.trim().toLowerCase() === "any");
    if (!anywhere && !shape.destinations.every((d) => xDest.some((t) => sameToken(d, t)))) return false;
    const xAsgs = asgIds(xp, "destinationApplicationSecurityGroups");
    if (!anywhere && !shape.destinationAsgs.every((id) => xAsgs.includes(id))) return false;
    return placementKeepsDecisions(nsg, rule, xp.priority, shape, x);
  });
}

// ARM: 1-80 characters, letters, digits, underscores, periods and hyphens; starts with a letter or digit and ends with
// a letter, digit or underscore (networkSecurityGroup.json has no pattern; the portal and the RP enforce this).
const NAME_MAX = 80;

/** A name for the split-off rule that no rule of the NSG has (ARM names are case-insensitive). */
export function splitName(nsg: ParsedNsg, base: string): string {
  const taken = new Set([...nsg.securityRules, ...nsg.defaultSecurityRules].map((r) => r.name.toLowerCase()));
  for (let n = 1; ; n++) {
    const suffix = n === 1 ? "-split" : `-split${n}`;
    const name = `${base.slice(0, NAME_MAX - suffix.length)}${suffix}`;
    if (!taken.has(name.toLowerCase())) return name;
  }
}

// ---------- the plan ----------

export interface NarrowOptions {
  /** The remediation's id, for the planned change. */
  id: string;
  /** Sources put in place of the offending ones (restrict-source's trusted prefixes); none for delete-rule. */
  replacement?: readonly string[];
  /** Words for the planned change when the offending sources are replaced (restrict-source). */
  verb?: "remove" | "restrict";
}

/** Each port spec minus the offending ports, split where needed; undefined if a spec is unreadable. */
export function remainingPortSpecs(specs: readonly string[], offending: PortSet): string[] | undefined {
  const out: string[] = [];
  for (const spec of specs) {
    const interval = parsePortSpec(spec);
    if (!interval) return undefined;
    const left = subtract([interval], offending);
    // An untouched spec keeps its spelling (`*` stays `*`, not 0-65535).
    const pieces =
      left.length === 1 && left[0]?.[0] === interval[0] && left[0]?.[1] === interval[1]
        ? [spec]
        : formatPorts(left);
    for (const piece of pieces) if (!out.includes(piece)) out.push(piece);
  }
  return out;
}

/** "22 from Internet, for every protocol the rule allows (*)": the pairs a narrowing takes away. */
function removedText(p: SecurityRuleProperties, sources: readonly string[], ports: PortSet): string {
  const protocol = ruleProtocolOf(p.protocol) === "*" ? "any protocol" : p.protocol;
  return `${protocol} ${formatPorts(ports).join(", ")} from ${sources.join(", ")}`;
}

/**
 * The next write that takes exactly the offending (source, port) pairs out of the offending rule, or replaces its
 * offending sources (restrict-source), leaving every other pair it allowed: the whole change when one write can do
 * it, else the first of two (adding the rule that keeps the offending sources' other ports; `complete: false`).
 * Throws InputError when the offending sources reach other ports and no priority can hold a rule for those without
 * changing another rule's decisions: then nothing is written and a person decides.
 */
export function planNarrowing(found: Offending, snapshot: Snapshot, options: NarrowOptions): PlannedChange {
  const { nsg, rule, raw, exposure } = found;
  const p = rule.properties;
  const what = exposureText(exposure);
  const sources = sourcePrefixesOf(p);
  const offending = sources.filter((token) => isOffendingToken(exposure, token));
  const kept = sources.filter((token) => !isOffendingToken(exposure, token));
  const next = [...kept];
  for (const t of options.replacement ?? []) if (!next.some((s) => sameToken(s, t))) next.push(t);
  const asgCount = p.sourceApplicationSecurityGroups?.length ?? 0;
  // The ports the offending sources reach through this rule besides the offending ones.
  const rest = subtract(portsOf(p, true), exposure.ports);
  // What goes, said only where it is more than the exposure itself (a `*` rule loses the ports for every protocol).
  const taken = removedText(p, offending, exposure.ports);
  const removes = taken === what ? "" : `; removes ${taken}`;

  const withoutOffending = (note: string): PlannedChange => {
    const after = ruleWith(raw, withPair(raw.properties, SOURCE_PAIR, next));
    const keeps =
      kept.length > 0
        ? `; keeps ${kept.join(", ")}`
        : asgCount > 0
          ? "; keeps its application security groups"
          : "";
    const summary =
      options.verb === "restrict"
        ? `restrict security rule ${rule.name} to ${next.join(", ")} in place of ${offending.join(", ")} (it allowed ${what})${removes}${note}`
        : `remove source ${offending.join(", ")} from security rule ${rule.name} (it allowed ${what})${removes}${note}${keeps}`;
    return putChange(options.id, snapshot, raw, after, summary);
  };

  if (isEmpty(rest)) {
    // The offending sources reach nothing else through this rule: they go, and the rule with them if nothing is left.
    if (next.length > 0 || asgCount > 0) return withoutOffending("");
    return deleteChange(options.id, snapshot, raw, `delete security rule ${rule.name} (it allowed ${what})`);
  }
  if (next.length === 0 && asgCount === 0) {
    // Every source offends: take the offending ports away from all of them.
    const remaining = remainingPortSpecs(destinationPortSpecsOf(p), exposure.ports);
    if (remaining && remaining.length > 0) {
      const after = ruleWith(raw, withPair(raw.properties, DESTINATION_PORT_PAIR, remaining));
      return putChange(
        options.id,
        snapshot,
        raw,
        after,
        `remove port ${formatPorts(exposure.ports).join(", ")} from security rule ${rule.name} (it allowed ${what})${removes}; keeps ${remaining.join(", ")}`,
      );
    }
  }
  // The offending sources also reach other ports and the rule keeps other sources: split.
  const home = homeFor(nsg, rule, offending, rest);
  if (home) {
    return withoutOffending(
      `; ${offending.join(", ")} keep ${formatPorts(rest).join(", ")} through security rule ${home.name} (priority ${home.properties.priority})`,
    );
  }
  const shape = shapeOf(rule, offending, rest);
  const priority = freePriorityNear(nsg, rule, shape);
  if (priority === undefined) {
    throw new InputError(
      `cannot narrow security rule ${rule.name} without removing traffic that is not offending: ${offending.join(", ")} ` +
        `also reach ${formatPorts(rest).join(", ")}, and no free priority next to priority ${p.priority} keeps every other ` +
        "rule's decisions for a rule that would keep them; nothing was changed",
    );
  }
  const name = splitName(nsg, rule.name);
  const created = splitRule(raw, name, priority, offending, rest);
  const next2 = options.verb === "restrict" ? "restricting" : "narrowing";
  return {
    ...createChange(
      options.id,
      snapshot,
      created,
      `add security rule ${name} (priority ${priority}) allowing ${offending.join(", ")} on ${formatPorts(rest).join(", ")} as ${rule.name} does, ` +
        `so that ${next2} ${rule.name} next removes only ${taken} (it allowed ${what})`,
    ),
    complete: false,
  };
}

/** The split-off rule: the offending rule's body (unknown fields included) with the offending sources and other ports. */
function splitRule(
  raw: RawSecurityRule,
  name: string,
  priority: number,
  sources: readonly string[],
  ports: PortSet,
): RawSecurityRule {
  const withSources = withPair(raw.properties, SOURCE_PAIR, sources);
  const properties = withPair(withSources, DESTINATION_PORT_PAIR, formatPorts(ports));
  // Read-only on the rule it came from; ARM sets it on the new one.
  delete properties.provisioningState;
  properties.priority = priority;
  properties.description = truncateDescription(
    `split from ${raw.name} by network-guardian: keeps what it allowed besides the offending ports`,
  );
  return { name, properties: structuredClone(properties) };
}

function truncateDescription(text: string): string {
  return text.length <= DESCRIPTION_MAX ? text : text.slice(0, DESCRIPTION_MAX);
}
