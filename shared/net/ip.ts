import ipaddr from "ipaddr.js";

export interface Prefix {
  family: "ipv4" | "ipv6";
  address: ipaddr.IPv4 | ipaddr.IPv6;
  bits: number;
  /** The prefix as written, for messages and exact-part remediation. */
  text: string;
}

/** Parses `10.0.0.0/8`, `10.0.0.1` (a host), `::/0`. Undefined for service tags and garbage. */
export function parsePrefix(text: string): Prefix | undefined {
  // Rules name the same few prefixes over and over: parse each once. Prefix objects are never mutated.
  const cached = cache.get(text);
  if (cached !== undefined || cache.has(text)) return cached;
  const parsed = parseUncached(text);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(text, parsed);
  return parsed;
}

const CACHE_LIMIT = 10_000;
const cache = new Map<string, Prefix | undefined>();

function parseUncached(text: string): Prefix | undefined {
  const trimmed = text.trim();
  // Choose the family up front: ipaddr.js's generic parsers try IPv6 first and throw for every IPv4 text.
  const v6 = trimmed.includes(":");
  // IPv4 as four decimal parts only: ipaddr.js also reads "10/8" or octal forms, which would trust the wrong range.
  if (!v6 && !/^\d{1,3}(\.\d{1,3}){3}(\/\d{1,2})?$/.test(trimmed)) return undefined;
  try {
    const slash = trimmed.indexOf("/");
    if (slash >= 0) {
      const [address, bits] = v6 ? ipaddr.IPv6.parseCIDR(trimmed) : ipaddr.IPv4.parseCIDR(trimmed);
      return { family: address.kind(), address, bits, text: trimmed };
    }
    if (v6 ? !ipaddr.IPv6.isValid(trimmed) : !ipaddr.IPv4.isValidFourPartDecimal(trimmed)) return undefined;
    const address = v6 ? ipaddr.IPv6.parse(trimmed) : ipaddr.IPv4.parse(trimmed);
    return { family: address.kind(), address, bits: v6 ? 128 : 32, text: trimmed };
  } catch {
    return undefined;
  }
}

/** True when `inner` lies entirely within `outer` (same family). */
export function prefixWithin(inner: Prefix, outer: Prefix): boolean {
  if (inner.family !== outer.family || inner.bits < outer.bits) return false;
  if (inner.address.kind() === "ipv4" && outer.address.kind() === "ipv4") {
    return inner.address.match(outer.address, outer.bits);
  }
  if (inner.address.kind() === "ipv6" && outer.address.kind() === "ipv6") {
    return inner.address.match(outer.address, outer.bits);
  }
  return false;
}

/** True when the prefix is the whole address space of its family (0.0.0.0/0, ::/0). */
export function isWholeSpace(prefix: Prefix): boolean {
  return prefix.bits === 0;
}

/**
 * True when any address of the prefix is publicly routable. A prefix that spans public space
 * (0.0.0.0/1, 8.0.0.0/7) is public even though it starts at a private or reserved address.
 */
export function reachesPublicSpace(prefix: Prefix): boolean {
  if (prefix.bits === 0) return true;
  const nonPublic = prefix.family === "ipv4" ? NON_PUBLIC_V4 : NON_PUBLIC_V6;
  return !nonPublic.some((range) => prefixWithin(prefix, range));
}

/** True when every address of `prefix` lies in one of `trusted` (strings that fail to parse are ignored). */
export function withinAny(prefix: Prefix, trusted: readonly Prefix[]): boolean {
  return trusted.some((t) => prefixWithin(prefix, t));
}

export function parsePrefixes(texts: readonly string[]): Prefix[] {
  return texts.map(parsePrefix).filter((p): p is Prefix => p !== undefined);
}

function ranges(texts: string[]): Prefix[] {
  return texts.map((t) => {
    const p = parsePrefix(t);
    if (!p) throw new Error(`bad built-in range ${t}`);
    return p;
  });
}

// RFC 6890 special-purpose space that is not reachable from the Internet.
const NON_PUBLIC_V4 = ranges([
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "224.0.0.0/4",
  "240.0.0.0/4",
]);
const NON_PUBLIC_V6 = ranges(["::1/128", "fc00::/7", "fe80::/10", "ff00::/8"]);
