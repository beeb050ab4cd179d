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
const OCTET = "(?:0|[1-9]\\d{0,2})";
const STRICT_V4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}(?:/(?:0|[1-9]\\d?))?$`);
/** IPv6: an embedded IPv4 part and the length, when present, without leading zeros (`::ffff:010.0.0.1`, `::/00`). */
const STRICT_V6_LENGTH = new RegExp(`^[^/.]*(?::${OCTET}(?:\\.${OCTET}){3})?(?:/(?:0|[1-9]\\d{0,2}))?$`);
const cache = new Map<string, Prefix | undefined>();

function parseUncached(text: string): Prefix | undefined {
  const trimmed = text.trim();
  // Choose the family up front: ipaddr.js's generic parsers try IPv6 first and throw for every IPv4 text.
  const v6 = trimmed.includes(":");
  // IPv4 as four decimal parts only, and no part (nor the length) with a leading zero: ipaddr.js reads "10/8", and
  // reads "010.0.0.0/8" as octal (8.0.0.0/8), while other tools read it as 10.0.0.0/8. Either way the range trusted
  // or reported would not be the one its author meant, so such text is not a prefix at all (as a host already isn't).
  if (!v6 && !STRICT_V4.test(trimmed)) return undefined;
  if (v6 && !STRICT_V6_LENGTH.test(trimmed)) return undefined;
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

/**
 * True for text written as an IP address or prefix that does not parse strictly (`010.0.0.0/8`, `10.0.0.300`,
 * `10.0.0.0/33`, `2001:db8::/129`): what it stands for cannot be told, so a rule must report it rather than take it
 * for a service tag. Service tags (`Internet`, `Storage.WestEurope`) and `*` are not address-like.
 */
export function isMalformedAddress(text: string): boolean {
  const trimmed = text.trim();
  if (!ADDRESS_LIKE.test(trimmed) || !/\d/.test(trimmed)) return false;
  return parsePrefix(trimmed) === undefined;
}

// Digits, dots and a length (IPv4 and the short forms), or hex digits and colons (IPv6, also with an embedded IPv4); a
// length alone (`/0`, which the CIS Azure audit lists among the spellings of the Internet) is address-like too.
const ADDRESS_LIKE = /^(?:[\d.]*|[\da-f:.]*:[\da-f:.]*)(?:\/\d*)?$/i;
