// An independent, deliberately simple model of how an Azure NSG decides inbound traffic, for property tests of the
// guardian's evaluator and remediations. It shares no code with shared/: it parses addresses itself, and it decides
// one concrete packet at a time by walking the rules in priority order (the first rule that matches decides; no
// match is a deny), as docs.microsoft.com describes NSG processing. The guardian instead reasons over whole rules
// with interval arithmetic and containment; brute force over a small universe of packets checks it.
//
// What a name stands for is an assumption of this model, stated once:
// - `*`, `Any` and `Internet` (as a source) stand for every address. The guardian treats Internet as anywhere
//   too: traffic from the Internet is what matters, and a Deny of Internet does stop it.
// - `VirtualNetwork` is the VNet 10.0.0.0/16; `AzureLoadBalancer` is 168.63.129.16; any other name (service
//   tags, malformed prefixes) stands for no address the model knows.
// - Application security groups are named by id and stand for the destination addresses listed in ASG_MEMBERS.

export type Protocol = "Tcp" | "Udp" | "Icmp";
export const PROTOCOLS: readonly Protocol[] = ["Tcp", "Udp", "Icmp"];

export interface Packet {
  protocol: Protocol;
  source: string;
  sourcePort: number;
  destination: string;
  destinationPort: number;
}

/** Witness addresses: at least one in every region the generators' prefixes and names carve out. */
export const SOURCE_ADDRESSES = [
  "198.51.100.10",
  "198.51.100.20",
  "198.51.100.200",
  "203.0.113.10",
  "203.0.113.99",
  "192.0.2.1",
  "10.0.0.5",
  "10.1.2.3",
  "168.63.129.16",
  "2001:db8::1",
  "2001:db9::1",
] as const;
export const SOURCE_PORTS = [0, 1, 80, 1023, 1024, 40000, 65535] as const;
export const DESTINATION_ADDRESSES = [
  "10.0.0.4",
  "10.0.0.5",
  "10.0.0.9",
  "10.0.1.5",
  "10.0.2.7",
  "10.9.0.1",
  "20.1.2.3",
] as const;
export const DESTINATION_PORTS = [20, 21, 22, 23, 25, 80, 443, 1024, 1025, 3000, 3389, 5000] as const;

const VNET = "10.0.0.0/16";
const LOAD_BALANCER = "168.63.129.16/32";
export const ASG_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  "asg-web": ["10.0.0.4"],
  "asg-db": ["10.0.1.5"],
};

// ---------- addresses, without any library ----------

interface Net {
  v6: boolean;
  value: bigint;
  bits: number;
}

function parseV4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

function parseV6(text: string): bigint | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string | undefined) => (s === undefined || s === "" ? [] : s.split(":"));
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...Array.from({ length: halves.length === 2 ? missing : 0 }, () => "0"), ...tail];
  let value = 0n;
  for (const g of all) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    value = (value << 16n) | BigInt(Number.parseInt(g, 16));
  }
  return value;
}

/** `a.b.c.d`, `a.b.c.d/n`, IPv6 with `::`, with or without a length; undefined for anything else. */
export function parseNet(text: string): Net | undefined {
  // Brute force asks about the same few names millions of times.
  if (netCache.has(text)) return netCache.get(text);
  const net = parseNetUncached(text);
  netCache.set(text, net);
  return net;
}

const netCache = new Map<string, Net | undefined>();

function parseNetUncached(text: string): Net | undefined {
  const [address = "", length, extra] = text.trim().split("/");
  if (extra !== undefined) return undefined;
  const v6 = address.includes(":");
  const value = v6 ? parseV6(address) : parseV4(address);
  if (value === undefined) return undefined;
  const max = v6 ? 128 : 32;
  if (length !== undefined && !/^(0|[1-9]\d{0,2})$/.test(length)) return undefined;
  const bits = length === undefined ? max : Number(length);
  if (bits > max) return undefined;
  return { v6, value, bits };
}

function netContains(outer: Net, inner: Net): boolean {
  if (outer.v6 !== inner.v6 || inner.bits < outer.bits) return false;
  const width = BigInt(outer.v6 ? 128 : 32);
  const shift = width - BigInt(outer.bits);
  return outer.value >> shift === inner.value >> shift;
}

function must(text: string): Net {
  const net = parseNet(text);
  if (!net) throw new Error(`bad reference prefix ${text}`);
  return net;
}

const NON_PUBLIC = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.168.0.0/16",
  "fc00::/7",
  "fe80::/10",
].map(must);

// ---------- what a rule matches ----------

export interface ModelRule {
  name: string;
  priority: number;
  access: "Allow" | "Deny";
  direction: "Inbound" | "Outbound";
  protocol: string;
  sources: string[];
  sourcePorts: string[];
  destinations: string[];
  destinationAsgs: string[];
  destinationPorts: string[];
}

type Json = Record<string, unknown>;

function both(p: Json, single: string, plural: string): string[] {
  const out: string[] = [];
  const one = p[single];
  if (typeof one === "string" && one !== "") out.push(one);
  const many = p[plural];
  if (Array.isArray(many)) for (const v of many) if (typeof v === "string" && v !== "") out.push(v);
  return out;
}

/** A security rule of an ARM NSG body (user or default) as the model reads it. */
export function modelRule(rule: Json): ModelRule {
  const p = rule.properties as Json;
  const asgs = Array.isArray(p.destinationApplicationSecurityGroups)
    ? (p.destinationApplicationSecurityGroups as { id?: string }[]).map(
        (a) => String(a.id).split("/").at(-1) ?? "",
      )
    : [];
  return {
    name: String(rule.name),
    priority: Number(p.priority),
    access: String(p.access).toLowerCase() === "allow" ? "Allow" : "Deny",
    direction: String(p.direction).toLowerCase() === "inbound" ? "Inbound" : "Outbound",
    protocol: String(p.protocol),
    sources: both(p, "sourceAddressPrefix", "sourceAddressPrefixes"),
    sourcePorts: both(p, "sourcePortRange", "sourcePortRanges"),
    destinations: both(p, "destinationAddressPrefix", "destinationAddressPrefixes"),
    destinationAsgs: asgs,
    destinationPorts: both(p, "destinationPortRange", "destinationPortRanges"),
  };
}

/** Every inbound rule of an NSG body, user and default, in the order the platform applies them. */
export function inboundRules(nsg: Json): ModelRule[] {
  const props = nsg.properties as Json;
  const all = [
    ...((props.securityRules as Json[] | undefined) ?? []),
    ...((props.defaultSecurityRules as Json[] | undefined) ?? []),
  ].map(modelRule);
  return all.filter((r) => r.direction === "Inbound").sort((a, b) => a.priority - b.priority);
}

/** Whether an address-or-name token stands for the address. */
export function nameContains(token: string, address: string, asSource: boolean): boolean {
  const t = token.trim().toLowerCase();
  if (t === "*" || t === "any") return true;
  if (t === "internet") return asSource;
  const a = must(address);
  if (t === "virtualnetwork") return netContains(must(VNET), a);
  if (t === "azureloadbalancer") return netContains(must(LOAD_BALANCER), a);
  const net = parseNet(token);
  return net !== undefined && netContains(net, a);
}

function portMatches(specs: readonly string[], port: number): boolean {
  return specs.some((spec) => {
    if (spec.trim() === "*") return true;
    const m = /^(\d+)(?:-(\d+))?$/.exec(spec.trim());
    if (!m) return false;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    return lo <= port && port <= hi;
  });
}

export function matches(rule: ModelRule, packet: Packet): boolean {
  const protocol = rule.protocol.trim().toLowerCase();
  if (protocol !== "*" && protocol !== packet.protocol.toLowerCase()) return false;
  if (!rule.sources.some((s) => nameContains(s, packet.source, true))) return false;
  if (!portMatches(rule.sourcePorts, packet.sourcePort)) return false;
  const toAsg = rule.destinationAsgs.some((id) => (ASG_MEMBERS[id] ?? []).includes(packet.destination));
  if (!toAsg && !rule.destinations.some((d) => nameContains(d, packet.destination, false))) return false;
  return portMatches(rule.destinationPorts, packet.destinationPort);
}

/** The rule that decides the packet (first match by priority), or undefined (then the packet is dropped). */
export function decidingRule(rules: readonly ModelRule[], packet: Packet): ModelRule | undefined {
  return rules.find((r) => matches(r, packet));
}

export function allows(rules: readonly ModelRule[], packet: Packet): boolean {
  return decidingRule(rules, packet)?.access === "Allow";
}

/** Whether `rule` lets the packet in as far as the rules above it go: it matches, and no Deny above matches. */
export function ruleOpens(rules: readonly ModelRule[], rule: ModelRule, packet: Packet): boolean {
  if (!matches(rule, packet)) return false;
  return !rules.some((r) => r.priority < rule.priority && r.access === "Deny" && matches(r, packet));
}

/** Every packet of the universe for these protocols and destination ports, whose source lies in `token` if given. */
export function* packets(
  protocols: readonly Protocol[],
  destinationPorts: readonly number[],
  sourceToken?: string,
): Generator<Packet> {
  for (const source of SOURCE_ADDRESSES) {
    if (sourceToken !== undefined && !nameContains(sourceToken, source, true)) continue;
    for (const protocol of protocols)
      for (const sourcePort of SOURCE_PORTS)
        for (const destination of DESTINATION_ADDRESSES)
          for (const destinationPort of destinationPorts)
            yield { protocol, source, sourcePort, destination, destinationPort };
  }
}

// ---------- what the policy forbids ----------

export interface SourcePolicy {
  trusted: readonly string[];
  publicPrefixes: boolean;
}

/** Whether a source token, as written in an Allow, is one the policy forbids (re-stated from the README). */
export function offendingToken(token: string, policy: SourcePolicy): boolean {
  const t = token.trim().toLowerCase();
  if (t === "*" || t === "any" || t === "internet") return true;
  const net = parseNet(token);
  // Written as an address but not one (leading zeros, a bad length): what it covers cannot be told, so it offends.
  if (!net) return /^[\d./]+$/.test(t) || t.includes(":");
  if (net.bits === 0) return true;
  if (!policy.publicPrefixes) return false;
  if (policy.trusted.some((tr) => netContains(must(tr), net))) return false;
  return !NON_PUBLIC.some((range) => netContains(range, net));
}

/** Whether a port spec list (an entry's `ports`) holds the port. */
export function protectedPort(ports: readonly (number | string)[] | undefined, port: number): boolean {
  if (ports === undefined) return true;
  return ports.some((p) => portMatches([String(p)], port));
}
