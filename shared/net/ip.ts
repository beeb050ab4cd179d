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
  const trimmed = text.trim();
  try {
    if (trimmed.includes("/")) {
      const [address, bits] = ipaddr.parseCIDR(trimmed);
      return { family: address.kind(), address, bits, text: trimmed };
    }
    if (!ipaddr.isValid(trimmed)) return undefined;
    const address = ipaddr.parse(trimmed);
    return { family: address.kind(), address, bits: address.kind() === "ipv4" ? 32 : 128, text: trimmed };
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
