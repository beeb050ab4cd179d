import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  isMalformedAddress,
  parsePrefix,
  prefixWithin,
  reachesPublicSpace,
  withinAny,
} from "../../../shared/net/ip.ts";

describe("parsePrefix", () => {
  it("reads CIDRs and hosts of both families", () => {
    expect(parsePrefix("10.0.0.0/8")).toMatchObject({ family: "ipv4", bits: 8, text: "10.0.0.0/8" });
    expect(parsePrefix(" 203.0.113.10 ")).toMatchObject({ family: "ipv4", bits: 32 });
    expect(parsePrefix("::/0")).toMatchObject({ family: "ipv6", bits: 0 });
    expect(parsePrefix("2001:db8::/32")).toMatchObject({ family: "ipv6", bits: 32 });
  });

  it("refuses service tags, garbage and the short or octal IPv4 forms that would trust the wrong range", () => {
    for (const text of [
      "Internet",
      "*",
      "VirtualNetwork",
      "10/8",
      "10.1/16",
      "0x0a.0.0.0/8",
      "10.0.0.0/33",
      "",
      "1.2.3",
    ]) {
      expect(parsePrefix(text), text).toBeUndefined();
    }
  });

  it("refuses leading zeros in a CIDR as in a host: 010.0.0.0/8 is neither 8.0.0.0/8 (octal) nor 10.0.0.0/8", () => {
    for (const text of [
      "010.0.0.0/8",
      "10.0.0.010/32",
      "010.0.0.1",
      "10.0.0.0/08",
      "0.0.0.0/00",
      "::ffff:010.0.0.1",
      "2001:db8::/032",
      "::/00",
    ]) {
      expect(parsePrefix(text), text).toBeUndefined();
      expect(isMalformedAddress(text), text).toBe(true);
    }
    // Zero itself, and IPv6's own leading zeros within a hextet, are fine.
    expect(parsePrefix("0.0.0.0/0")).toMatchObject({ bits: 0 });
    expect(parsePrefix("10.0.0.0/8")?.address.toString()).toBe("10.0.0.0");
    expect(parsePrefix("2001:0db8::/32")).toMatchObject({ family: "ipv6", bits: 32 });
    expect(parsePrefix("::ffff:10.0.0.0/104")).toMatchObject({ family: "ipv6", bits: 104 });
  });

  it("tells malformed addresses from service tags, `*` and good prefixes", () => {
    for (const text of ["10/8", "1.2.3", "10.0.0.300", "10.0.0.0/33", "dead:beef::/200", "/0", " /8 "]) {
      expect(isMalformedAddress(text), text).toBe(true);
    }
    for (const text of [
      "*",
      "Internet",
      "VirtualNetwork",
      "Storage.WestEurope",
      "AzureCloud.EastUS2",
      "10.0.0.0/8",
      "::/0",
    ]) {
      expect(isMalformedAddress(text), text).toBe(false);
    }
  });

  it("returns the same answer from its cache as from a fresh parse", () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (address, bits) => {
        const text = `${address}/${bits}`;
        const first = parsePrefix(text);
        const again = parsePrefix(text);
        expect(again).toBe(first);
        expect(first?.bits).toBe(bits);
      }),
    );
  });
});

describe("containment and public space", () => {
  const p = (t: string) => {
    const parsed = parsePrefix(t);
    if (!parsed) throw new Error(t);
    return parsed;
  };
  it("knows a prefix within another, per family", () => {
    expect(prefixWithin(p("10.1.2.0/24"), p("10.0.0.0/8"))).toBe(true);
    expect(prefixWithin(p("10.0.0.0/8"), p("10.1.2.0/24"))).toBe(false);
    expect(prefixWithin(p("::1/128"), p("0.0.0.0/0"))).toBe(false);
    expect(withinAny(p("203.0.113.10/32"), [p("198.51.100.0/24"), p("203.0.113.0/24")])).toBe(true);
  });

  it("treats private, loopback and link-local space as not public, and any span of public space as public", () => {
    for (const t of [
      "10.0.0.0/8",
      "172.16.5.0/24",
      "192.168.0.0/16",
      "127.0.0.1",
      "169.254.0.0/16",
      "fc00::/7",
    ]) {
      expect(reachesPublicSpace(p(t)), t).toBe(false);
    }
    for (const t of ["0.0.0.0/0", "::/0", "8.0.0.0/7", "203.0.113.0/24", "0.0.0.0/1"]) {
      expect(reachesPublicSpace(p(t)), t).toBe(true);
    }
  });
});
