// Effective exposure of an NSG in one direction: what each Allow rule opens to offending peers (the
// sources of inbound traffic, the destinations of outbound traffic) once the Deny rules of higher
// precedence (lower priority number) have taken their share. Exact for destination ports (interval
// arithmetic); conservative elsewhere: a Deny covers an Allow's traffic only where its protocol, peers,
// source ports and local ends each take in the Allow's whole, so when it is unclear whether a Deny
// covers some traffic, it is assumed not to, and exposure is reported rather than missed. Inbound and
// outbound are the same analysis with the two ends swapped: the peer is what the policy judges, the
// local end what the rule protects. test/unit/rules/nsg-reference.test.ts checks the inbound side
// against a brute-force model of NSG precedence.
import { isMalformedAddress, type Prefix, parsePrefix, prefixWithin } from "../../net/ip.ts";
import { isAnywhereTag } from "../common/sources.ts";
import {
  ALL_PORTS,
  intersect,
  isEmpty,
  NO_PORTS,
  type PortSet,
  parsePortSpec,
  portSet,
  subtract,
  union,
} from "./ports.ts";
import type { ParsedNsg, SecurityRule, SecurityRuleProperties } from "./schema.ts";

export const PROTOCOLS = ["Tcp", "Udp", "Icmp", "Esp", "Ah"] as const;
export type Protocol = (typeof PROTOCOLS)[number];

const WHOLE_V4 = mustParse("0.0.0.0/0");
const WHOLE_V6 = mustParse("::/0");

function mustParse(text: string): Prefix {
  const p = parsePrefix(text);
  if (!p) throw new Error(`bad built-in prefix ${text}`);
  return p;
}

// ---------- reading a rule (singular and plural fields alike) ----------

function pair(single: string | null | undefined, plural: readonly string[] | null | undefined): string[] {
  const out: string[] = [];
  if (typeof single === "string" && single.trim() !== "") out.push(single);
  for (const v of plural ?? []) if (v.trim() !== "") out.push(v);
  return out;
}

/** Source address tokens as written (prefixes and service tags), singular then plural. */
export function sourcePrefixesOf(p: SecurityRuleProperties): string[] {
  return pair(p.sourceAddressPrefix, p.sourceAddressPrefixes);
}

export function destinationPrefixesOf(p: SecurityRuleProperties): string[] {
  return pair(p.destinationAddressPrefix, p.destinationAddressPrefixes);
}

/** Destination port specs as written (`*`, `22`, `20-25`). */
export function destinationPortSpecsOf(p: SecurityRuleProperties): string[] {
  return pair(p.destinationPortRange, p.destinationPortRanges);
}

/** Source port specs as written. */
export function sourcePortSpecsOf(p: SecurityRuleProperties): string[] {
  return pair(p.sourcePortRange, p.sourcePortRanges);
}

function asgIds(refs: SecurityRuleProperties["sourceApplicationSecurityGroups"]): string[] {
  return (refs ?? [])
    .map((r) => (typeof r.id === "string" ? r.id.toLowerCase() : ""))
    .filter((id) => id !== "");
}

export type Direction = "Inbound" | "Outbound";

export function isInbound(rule: SecurityRule): boolean {
  return rule.properties.direction.toLowerCase() === "inbound";
}

export function isDirection(rule: SecurityRule, direction: Direction): boolean {
  return rule.properties.direction.toLowerCase() === direction.toLowerCase();
}

export function isAllow(rule: SecurityRule): boolean {
  return rule.properties.access.toLowerCase() === "allow";
}

/**
 * The destination ports a rule matches. A spec ARM would have refused is read as every port for an
 * Allow and as no port for a Deny: unsure means report.
 */
export function portsOf(p: SecurityRuleProperties, forAllow: boolean): PortSet {
  // Every policy entry asks about every rule: work each rule's ports out once (parsed rules are never mutated).
  const cache = forAllow ? allowPorts : denyPorts;
  let ports = cache.get(p);
  if (!ports) {
    ports = portsUncached(destinationPortSpecsOf(p), forAllow);
    cache.set(p, ports);
  }
  return ports;
}

/**
 * The source ports a rule matches, read as its destination ports are (unsure: every port for an Allow, none for a
 * Deny). A client picks its own source port, so an Allow limited to some source ports is still open; a Deny limited
 * to some covers only traffic from those ports and leaves the rest to the Allow below it.
 */
export function sourcePortsOf(p: SecurityRuleProperties, forAllow: boolean): PortSet {
  const cache = forAllow ? allowSourcePorts : denySourcePorts;
  let ports = cache.get(p);
  if (!ports) {
    ports = portsUncached(sourcePortSpecsOf(p), forAllow);
    cache.set(p, ports);
  }
  return ports;
}

const allowPorts = new WeakMap<SecurityRuleProperties, PortSet>();
const denyPorts = new WeakMap<SecurityRuleProperties, PortSet>();
const allowSourcePorts = new WeakMap<SecurityRuleProperties, PortSet>();
const denySourcePorts = new WeakMap<SecurityRuleProperties, PortSet>();

function portsUncached(specs: readonly string[], forAllow: boolean): PortSet {
  if (specs.length === 0) return forAllow ? ALL_PORTS : NO_PORTS;
  return portSet(
    specs.flatMap((spec) => {
      const interval = parsePortSpec(spec);
      if (interval) return [interval];
      return forAllow ? ALL_PORTS : NO_PORTS;
    }),
  );
}

/**
 * A rule's protocol in one spelling: `*` for every protocol, a lower-cased name from PROTOCOLS, or undefined when the
 * text is none of these. ARM's SecurityRuleProtocol is Tcp, Udp, Icmp, Esp, Ah or `*`; exports write `TCP`, and the
 * portal and Azure Virtual Network Manager's admin rules (SecurityConfigurationRuleProtocol) say `Any` for `*`.
 */
export function ruleProtocolOf(ruleProtocol: string): "*" | Lowercase<Protocol> | undefined {
  const p = ruleProtocol.trim().toLowerCase();
  if (p === "*" || p === "any") return "*";
  return PROTOCOL_NAMES.find((name) => name === p);
}

const PROTOCOL_NAMES = PROTOCOLS.map((p) => p.toLowerCase() as Lowercase<Protocol>);

/**
 * Whether a rule's protocol takes in `protocol`. A protocol this module cannot read matches every protocol for an
 * Allow and none for a Deny (`forAllow` false): unsure means report, as for ports.
 */
export function protocolMatches(ruleProtocol: string, protocol: Protocol, forAllow = true): boolean {
  const p = ruleProtocolOf(ruleProtocol);
  if (p === undefined) return forAllow;
  return p === "*" || p === protocol.toLowerCase();
}

// ---------- peers (sources inbound, destinations outbound) ----------

/**
 * The address spaces a peer token stands for when asking "does a Deny cover it". `*`, `Any` and
 * `Internet` span both families, so a Deny of 0.0.0.0/0 alone leaves the IPv6 part open.
 */
function peerAtoms(token: string): PeerAtom[] {
  if (isAnywhereTag(token)) return [WHOLE_V4, WHOLE_V6];
  const prefix = parsePrefix(token);
  if (prefix) return [prefix];
  // A service tag (an outbound Allow to AzureCloud) is one atom that a Deny of anywhere, or of that same tag, covers.
  if (!isMalformedAddress(token) && token.trim() !== "") return [{ tag: token.trim().toLowerCase() }];
  // A token whose addresses are unknown here (a malformed prefix an entry counts as offending) is one atom that only
  // a Deny of every source covers.
  return [UNKNOWN];
}

/** The address set of a peer token this module cannot read. */
const UNKNOWN = "unknown";
type PeerAtom = Prefix | { tag: string } | typeof UNKNOWN;

function denyPeerCovers(denyTokens: readonly string[], atom: PeerAtom): boolean {
  return denyTokens.some((token) => {
    if (isAnywhereTag(token)) return true;
    if (atom === UNKNOWN) return false;
    if ("tag" in atom) return token.trim().toLowerCase() === atom.tag;
    const prefix = parsePrefix(token);
    // Other service tags and ASGs: their address sets are not known here, so they cover nothing.
    return prefix !== undefined && prefixWithin(atom, prefix);
  });
}

// ---------- destinations ----------

type Destination =
  | { kind: "anywhere" }
  | { kind: "prefix"; prefix: Prefix }
  | { kind: "tag"; name: string }
  | { kind: "asg"; id: string };

/**
 * The local end of a rule (the destinations of inbound traffic, the sources of outbound traffic) as
 * endpoints. A rule without any such field (ARM requires one) is read as anywhere for an Allow,
 * nowhere for a Deny.
 */
function localEndsOf(p: SecurityRuleProperties, direction: Direction, forAllow: boolean): Destination[] {
  const tokens = direction === "Inbound" ? destinationPrefixesOf(p) : sourcePrefixesOf(p);
  const asgs =
    direction === "Inbound" ? p.destinationApplicationSecurityGroups : p.sourceApplicationSecurityGroups;
  const out: Destination[] = tokens.map((token): Destination => {
    if (token.trim() === "*" || token.trim().toLowerCase() === "any") return { kind: "anywhere" };
    const prefix = parsePrefix(token);
    if (prefix) return { kind: "prefix", prefix };
    return { kind: "tag", name: token.trim().toLowerCase() };
  });
  for (const id of asgIds(asgs)) out.push({ kind: "asg", id });
  if (out.length > 0) return out;
  return forAllow ? [{ kind: "anywhere" }] : [];
}

/** The peer end of a rule as written: the sources of inbound traffic, the destinations of outbound traffic. */
export function peerTokensOf(p: SecurityRuleProperties, direction: Direction): string[] {
  return direction === "Inbound" ? sourcePrefixesOf(p) : destinationPrefixesOf(p);
}

function destinationCovers(deny: Destination, allow: Destination, direction: Direction = "Inbound"): boolean {
  // Outbound traffic an NSG filters leaves a NIC of the network the NSG sits in: whatever an Allow names as its
  // source, the traffic's source is an address of VirtualNetwork, so a Deny from VirtualNetwork covers it.
  if (direction === "Outbound" && deny.kind === "tag" && deny.name === "virtualnetwork") return true;
  switch (deny.kind) {
    case "anywhere":
      return true;
    case "prefix":
      return allow.kind === "prefix" && prefixWithin(allow.prefix, deny.prefix);
    case "tag":
      return allow.kind === "tag" && allow.name === deny.name;
    case "asg":
      return allow.kind === "asg" && allow.id === deny.id;
  }
}

// ---------- the analysis ----------

export interface ExposureQuery {
  /** Inbound (the default): offending sources; Outbound: offending destinations. */
  direction?: Direction;
  /** The protected destination ports. */
  ports: PortSet;
  /** The protected protocols. */
  protocols: readonly Protocol[];
  /** Whether a peer token (as written in the rule: a source inbound, a destination outbound) is one the policy forbids. */
  isOffendingSource(token: string): boolean;
}

export interface RuleExposure {
  rule: SecurityRule;
  /** Offending peer tokens as written (sources inbound, destinations outbound), in the rule's order. */
  sources: string[];
  /** Protected protocols this rule still opens to them. */
  protocols: Protocol[];
  /** Protected ports this rule still opens to them, after higher-precedence Denies. */
  ports: PortSet;
  /** The same, per offending source and protocol (what a control mapping needs). */
  parts: ExposurePart[];
}

export interface ExposurePart {
  source: string;
  protocol: Protocol;
  ports: PortSet;
}

interface DenyView {
  priority: number;
  protocol: string;
  /** Its peer tokens: sources inbound, destinations outbound. */
  peers: string[];
  /** The source ports it matches: it covers an Allow's traffic only where these contain the Allow's. */
  sourcePorts: PortSet;
  /** Its local ends: destinations inbound, sources outbound. */
  locals: Destination[];
  ports: PortSet;
}

/** The NSG's Denies of one direction in precedence order, once per parsed NSG (every rule and entry asks). */
function denies(nsg: ParsedNsg, direction: Direction): readonly DenyView[] {
  const cache = direction === "Inbound" ? inboundDenyCache : outboundDenyCache;
  let views = cache.get(nsg);
  if (!views) {
    views = [...nsg.securityRules, ...nsg.defaultSecurityRules]
      .filter((r) => isDirection(r, direction) && !isAllow(r))
      .map((r) => ({
        priority: r.properties.priority,
        protocol: r.properties.protocol,
        peers: peerTokensOf(r.properties, direction),
        sourcePorts: sourcePortsOf(r.properties, false),
        locals: localEndsOf(r.properties, direction, false),
        ports: portsOf(r.properties, false),
      }))
      .sort((a, b) => a.priority - b.priority);
    cache.set(nsg, views);
  }
  return views;
}

const inboundDenyCache = new WeakMap<ParsedNsg, readonly DenyView[]>();
const outboundDenyCache = new WeakMap<ParsedNsg, readonly DenyView[]>();

/**
 * What one rule opens to offending peers, or undefined when nothing (not of the query's direction,
 * not an Allow, no protected protocol or port, no offending peer, or fully shadowed by Denies above it).
 */
export function ruleExposure(
  nsg: ParsedNsg,
  rule: SecurityRule,
  query: ExposureQuery,
): RuleExposure | undefined {
  const direction = query.direction ?? "Inbound";
  if (!isDirection(rule, direction) || !isAllow(rule)) return undefined;
  const p = rule.properties;
  const opened = intersect(portsOf(p, true), query.ports);
  if (isEmpty(opened)) return undefined;
  const protocols = query.protocols.filter((proto) => protocolMatches(p.protocol, proto));
  if (protocols.length === 0) return undefined;
  const offending = peerTokensOf(p, direction).filter((token) => query.isOffendingSource(token));
  if (offending.length === 0) return undefined;

  // Only Denies above the rule whose source ports take in all of the rule's can cover any of its traffic: a Deny of
  // source port 1 above an Allow of any source port leaves every other source port open.
  const allowSourcePorts = sourcePortsOf(p, true);
  const above: DenyView[] = [];
  for (const deny of denies(nsg, direction)) {
    if (deny.priority >= p.priority) break;
    if (isEmpty(subtract(allowSourcePorts, deny.sourcePorts))) above.push(deny);
  }
  const destinations = localEndsOf(p, direction, true);
  const sources: string[] = [];
  const openProtocols: Protocol[] = [];
  const parts: ExposurePart[] = [];
  let ports: PortSet = NO_PORTS;

  for (const token of offending) {
    let tokenOpen = false;
    for (const proto of protocols) {
      let remaining: PortSet = NO_PORTS;
      // A token is open wherever any of its atoms, towards any local end, keeps a port.
      for (const atom of peerAtoms(token)) {
        for (const dest of destinations) {
          let left = opened;
          for (const deny of above) {
            if (!protocolMatches(deny.protocol, proto, false)) continue;
            if (!denyPeerCovers(deny.peers, atom)) continue;
            if (!deny.locals.some((d) => destinationCovers(d, dest, direction))) continue;
            left = subtract(left, deny.ports);
            if (isEmpty(left)) break;
          }
          remaining = union(remaining, left);
        }
      }
      if (!isEmpty(remaining)) {
        tokenOpen = true;
        parts.push({ source: token, protocol: proto, ports: remaining });
        ports = union(ports, remaining);
        if (!openProtocols.includes(proto)) openProtocols.push(proto);
      }
    }
    if (tokenOpen) sources.push(token);
  }
  if (sources.length === 0) return undefined;
  return {
    rule,
    sources,
    protocols: PROTOCOLS.filter((proto) => openProtocols.includes(proto)),
    ports,
    parts,
  };
}

/** Every user rule's exposure, in precedence order. Default rules are never offending themselves. */
export function nsgExposures(nsg: ParsedNsg, query: ExposureQuery): RuleExposure[] {
  const out: RuleExposure[] = [];
  for (const rule of byPrecedence(nsg)) {
    const exposure = ruleExposure(nsg, rule, query);
    if (exposure) out.push(exposure);
  }
  return out;
}

function byPrecedence(nsg: ParsedNsg): readonly SecurityRule[] {
  let sorted = sortedRules.get(nsg);
  if (!sorted) {
    sorted = [...nsg.securityRules].sort((a, b) => a.properties.priority - b.properties.priority);
    sortedRules.set(nsg, sorted);
  }
  return sorted;
}

const sortedRules = new WeakMap<ParsedNsg, readonly SecurityRule[]>();
