// NSG shapes: test/fixtures/azure/nsg/README.md (Azure REST spec 2024-07-01 examples and the live GET shape).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { InputError } from "../../../shared/errors.ts";
import { intersect, type PortSet, portSet, subtract, union } from "../../../shared/rules/nsg/ports.ts";
import { nsgInboundExposure } from "../../../shared/rules/nsg-inbound-exposure.ts";
import type { Violation } from "../../../shared/rules/types.ts";
import {
  loadFixture,
  NSG_ID,
  nsgWith,
  type RuleSpec,
  rulesOf,
  snapshotOf,
} from "../../fixtures/azure/nsg/nsg.ts";

function evaluate(resource: unknown, options: unknown = {}, trustedSources: string[] = []): Violation[] {
  const parsed = nsgInboundExposure.options.parse(options);
  return nsgInboundExposure.evaluate(snapshotOf(resource as Record<string, unknown>), parsed, {
    trustedSources,
  });
}

/** The matched entries of every finding (one per kind of source), keyed by security rule name. */
function matched(
  resource: unknown,
  options: unknown = {},
  trusted: string[] = [],
): Record<string, Record<string, unknown>> {
  const violations = evaluate(resource, options, trusted);
  const out: Record<string, Record<string, unknown>> = {};
  for (const m of violations.flatMap((v) => v.matched)) {
    const name = String(m.securityRule);
    const prev = out[name];
    out[name] = prev ? { ...m, sources: [...(prev.sources as string[]), ...(m.sources as string[])] } : m;
  }
  return out;
}

const ssh = { ports: [22] };
const allowSsh = (source: RuleSpec["source"], extra: Partial<RuleSpec> = {}): RuleSpec => ({
  name: "allow-ssh",
  priority: 200,
  source,
  ports: "22",
  ...extra,
});

describe("nsg-inbound-exposure: the spec example", () => {
  const nsg = loadFixture("NetworkSecurityGroupGet.json");

  it("reports rule1 (protocol *, port 80, source *) as HTTP from the Internet", () => {
    const [violation] = evaluate(nsg, { ports: [80, 443] });
    expect(violation?.matched).toEqual([
      {
        securityRule: "rule1",
        id: `${String(nsg.id)}/securityRules/rule1`,
        priority: 130,
        protocol: "*",
        sources: ["*"],
        ports: ["80"],
        protocols: ["Tcp"],
        direction: "Inbound",
      },
    ]);
    expect(violation?.message).toBe("Security rule rule1 (priority 130) allows Tcp 80 from *");
    expect(violation?.controls).toEqual(["CIS Azure v2.0.0 6.4", "CIS Azure v3.0.0 7.4"]);
  });

  it("is silent when the protected port is not the one rule1 opens", () => {
    expect(evaluate(nsg, ssh)).toEqual([]);
  });

  it("never reports the default rules, even with every port and protocol protected", () => {
    const onlyDefaults = nsgWith([]);
    expect(evaluate(onlyDefaults, { protocols: ["Tcp", "Udp", "Icmp", "Esp", "Ah"] })).toEqual([]);
  });
});

describe("nsg-inbound-exposure: every spelling of anywhere", () => {
  for (const source of ["*", "Internet", "internet", "Any", "ANY", "0.0.0.0/0", "::/0"]) {
    it(`reports SSH from ${source}`, () => {
      const m = matched(nsgWith([allowSsh(source)]), ssh);
      expect(m["allow-ssh"]).toMatchObject({ sources: [source], ports: ["22"], protocols: ["Tcp"] });
    });
  }

  // The CIS audit (v2.0.0 6.1-6.4) names a source of `0.0.0.0` beside `*`, `<nw>/0`, Internet and Any.
  it("reports SSH from a bare length (`/0`, also in the CIS audit's list) as a prefix it cannot read", () => {
    const [violation, ...rest] = evaluate(nsgWith([allowSsh("/0")]), ssh);
    expect(rest).toEqual([]);
    expect(violation).toMatchObject({ kind: "malformed-prefix", maxMode: "alert" });
  });

  it("reports SSH from a bare 0.0.0.0 as world-open, failing the CIS SSH control", () => {
    const [violation, ...rest] = evaluate(nsgWith([allowSsh("0.0.0.0")]), ssh);
    expect(rest).toEqual([]);
    expect(violation).toMatchObject({ kind: "world-open", matched: [{ sources: ["0.0.0.0"] }] });
    expect(violation?.maxMode).toBeUndefined();
    expect(violation?.controls).toEqual(["CIS Azure v2.0.0 6.2", "CIS Azure v3.0.0 7.2"]);
  });

  it("reports a plural source list with one bad prefix among good ones, naming only the bad one", () => {
    const m = matched(loadFixture("nsg-mixed.json"), { ports: [3389] });
    expect(Object.keys(m)).toEqual(["allow-rdp-partners"]);
    expect(m["allow-rdp-partners"]).toMatchObject({ sources: ["0.0.0.0/0"], ports: ["3389"] });
  });
});

describe("nsg-inbound-exposure: ports", () => {
  it("finds 22 inside a range, 3389 inside a plural list, and reports only the protected ports", () => {
    const nsg = nsgWith([
      { name: "range", priority: 100, source: "*", ports: "20-25" },
      { name: "plural", priority: 110, source: "Internet", ports: ["80", "3000-4000"] },
      { name: "beside", priority: 120, source: "*", ports: "23-25" },
    ]);
    const m = matched(nsg, { ports: [22, 3389] });
    expect(Object.keys(m).sort()).toEqual(["plural", "range"]);
    expect(m.range?.ports).toEqual(["22"]);
    expect(m.plural?.ports).toEqual(["3389"]);
  });

  it("reads `*` as every port and accepts range options", () => {
    const nsg = nsgWith([allowSsh("*", { ports: "*" })]);
    expect(matched(nsg, ssh)["allow-ssh"]?.ports).toEqual(["22"]);
    expect(matched(nsg, { ports: ["1000-2000", 22] })["allow-ssh"]?.ports).toEqual(["22", "1000-2000"]);
    expect(matched(nsg)["allow-ssh"]?.ports).toEqual(["0-65535"]);
  });
});

describe("nsg-inbound-exposure: protocols", () => {
  const nsg = nsgWith([
    { name: "any-proto", priority: 100, protocol: "*", source: "*", ports: "53" },
    { name: "udp-only", priority: 110, protocol: "Udp", source: "*", ports: "161" },
    { name: "tcp-upper", priority: 120, protocol: "TCP", source: "*", ports: "22" },
  ]);

  it("protects Tcp by default: a `*` rule allows it, a Udp rule does not, `TCP` is Tcp", () => {
    expect(Object.keys(matched(nsg)).sort()).toEqual(["any-proto", "tcp-upper"]);
  });

  it("protects Udp when asked, and maps it to the CIS UDP recommendation", () => {
    const [violation] = evaluate(nsg, { protocols: ["Udp"] });
    const m = Object.fromEntries((violation?.matched ?? []).map((x) => [String(x.securityRule), x]));
    expect(Object.keys(m).sort()).toEqual(["any-proto", "udp-only"]);
    expect(m["any-proto"]).toMatchObject({ protocol: "*", protocols: ["Udp"], ports: ["53"] });
    expect(violation?.controls).toEqual(["CIS Azure v2.0.0 6.3", "CIS Azure v3.0.0 7.3"]);
  });

  // The portal shows `*` as "Any", and Azure Virtual Network Manager's admin rules write it so
  // (SecurityConfigurationRuleProtocol: Tcp, Udp, Icmp, Esp, Any, Ah); an export or a hand-made fixture may too.
  it("reads `Any` (any case) as every protocol, on an Allow and on a Deny above it", () => {
    for (const protocol of ["Any", "ANY", " any "]) {
      const allow = nsgWith([{ name: "any", priority: 100, protocol, source: "*", ports: "22" }]);
      expect(matched(allow, { ...ssh, protocols: ["Tcp", "Udp"] }).any, protocol).toMatchObject({
        protocols: ["Tcp", "Udp"],
      });
      const denied = nsgWith([
        { name: "deny", priority: 90, access: "Deny", protocol, source: "*", ports: "22" },
        { name: "allow", priority: 100, source: "*", ports: "22" },
      ]);
      expect(evaluate(denied, ssh), protocol).toEqual([]);
    }
  });

  it("reads a protocol it does not know as every protocol on an Allow and as none on a Deny: unsure means report", () => {
    const allow = nsgWith([{ name: "odd", priority: 100, protocol: "All", source: "*", ports: "22" }]);
    expect(matched(allow, ssh).odd).toMatchObject({ protocols: ["Tcp"], ports: ["22"] });
    const denied = nsgWith([
      { name: "deny", priority: 90, access: "Deny", protocol: "All", source: "*", ports: "22" },
      { name: "allow", priority: 100, source: "*", ports: "22" },
    ]);
    expect(Object.keys(matched(denied, ssh))).toEqual(["allow"]);
  });
});

describe("nsg-inbound-exposure: trusted sources and public prefixes", () => {
  it("does not report a trusted bastion or tunnel IP (policy-wide or the entry's own)", () => {
    const nsg = nsgWith([
      allowSsh("203.0.113.10/32"),
      { name: "tunnel", priority: 210, source: "198.51.100.7", ports: "22" },
    ]);
    expect(evaluate(nsg, ssh, ["203.0.113.10/32", "198.51.100.7"])).toEqual([]);
    expect(evaluate(nsg, { ...ssh, trustedSources: ["203.0.113.0/24", "198.51.100.0/24"] })).toEqual([]);
  });

  it("still reports a source that merely contains a trusted prefix", () => {
    const nsg = nsgWith([
      allowSsh("203.0.113.0/24"),
      { name: "world", priority: 210, source: "0.0.0.0/0", ports: "22" },
    ]);
    expect(Object.keys(matched(nsg, ssh, ["203.0.113.10/32"])).sort()).toEqual(["allow-ssh", "world"]);
    // Anywhere always counts, even when someone trusts the whole space.
    expect(Object.keys(matched(nsg, ssh, ["0.0.0.0/0"]))).toEqual(["world"]);
  });

  it("reports a specific public /24 as a finding of its own, alerted at most, failing no CIS control", () => {
    const nsg = nsgWith([allowSsh("198.51.100.0/24")]);
    const [violation, ...others] = evaluate(nsg, ssh);
    expect(others).toEqual([]);
    expect(violation?.matched[0]).toMatchObject({ securityRule: "allow-ssh", sources: ["198.51.100.0/24"] });
    expect(violation?.controls).toEqual([]);
    expect(violation?.kind).toBe("public-prefix");
    expect(violation?.maxMode).toBe("alert");
    expect(violation?.message).toBe(
      "Security rule allow-ssh (priority 200) allows Tcp 22 from 198.51.100.0/24 (specific public prefixes outside trustedSources)",
    );
    expect(evaluate(nsg, { ...ssh, publicPrefixes: "remediate" })[0]?.maxMode).toBeUndefined();
    expect(evaluate(nsg, { ...ssh, publicPrefixes: true })[0]?.maxMode).toBe("alert");
    expect(evaluate(nsg, { ...ssh, publicPrefixes: "report" })[0]?.maxMode).toBe("report");
    expect(evaluate(nsg, { ...ssh, publicPrefixes: "ignore" })).toEqual([]);
    expect(evaluate(nsg, { ...ssh, publicPrefixes: false })).toEqual([]);
  });

  it("splits a rule open to 0.0.0.0/0 and an office range: the world-open finding names only 0.0.0.0/0", () => {
    const nsg = nsgWith([allowSsh(["203.0.113.0/24", "0.0.0.0/0"])]);
    const [world, office, ...none] = evaluate(nsg, ssh);
    expect(none).toEqual([]);
    expect(world).toMatchObject({
      kind: "world-open",
      controls: ["CIS Azure v2.0.0 6.2", "CIS Azure v3.0.0 7.2"],
    });
    expect(world?.maxMode).toBeUndefined();
    expect(world?.matched).toMatchObject([
      { securityRule: "allow-ssh", sources: ["0.0.0.0/0"], ports: ["22"] },
    ]);
    expect(office).toMatchObject({ kind: "public-prefix", maxMode: "alert", controls: [] });
    expect(office?.matched).toMatchObject([{ securityRule: "allow-ssh", sources: ["203.0.113.0/24"] }]);
  });

  it("reports a malformed prefix (leading zeros) as a finding of its own, never remediated, never taken for a tag", () => {
    for (const source of ["010.0.0.0/8", "203.0.113.010", "10.0.0.0/08"]) {
      const [violation, ...others] = evaluate(nsgWith([allowSsh(source)]), {
        ...ssh,
        publicPrefixes: "ignore",
      });
      expect(others, source).toEqual([]);
      expect(violation, source).toMatchObject({ kind: "malformed-prefix", maxMode: "alert", controls: [] });
      expect(violation?.matched[0]?.sources, source).toEqual([source]);
      expect(violation?.message, source).toContain("not valid address prefixes");
    }
    // Nor does a Deny of a malformed prefix cover anything.
    const nsg = nsgWith([
      { name: "deny", priority: 100, access: "Deny", source: "000.0.0.0/0", ports: "22" },
      allowSsh("0.0.0.0/0"),
    ]);
    expect(matched(nsg, ssh)["allow-ssh"]?.sources).toEqual(["0.0.0.0/0"]);
  });

  it("never counts private space, VirtualNetwork, AzureLoadBalancer, other service tags or ASGs", () => {
    const nsg = nsgWith([
      allowSsh("10.0.0.0/8"),
      { name: "vnet", priority: 210, source: "VirtualNetwork", ports: "22" },
      { name: "alb", priority: 220, source: "AzureLoadBalancer", ports: "22" },
      { name: "storage", priority: 230, source: "Storage.WestEurope", ports: "22" },
      { name: "asg", priority: 240, sourceAsgs: ["asg-jump"], ports: "22" },
      { name: "ula", priority: 250, source: ["fd00::/8", "192.168.0.0/16"], ports: "22" },
    ]);
    expect(evaluate(nsg, ssh)).toEqual([]);
  });

  it("ignores outbound rules", () => {
    const nsg = nsgWith([allowSsh("*", { direction: "Outbound", destination: "Internet" })]);
    expect(evaluate(nsg, ssh)).toEqual([]);
  });
});

describe("nsg-inbound-exposure: precedence", () => {
  const deny = (name: string, priority: number, extra: Partial<RuleSpec>): RuleSpec => ({
    name,
    priority,
    access: "Deny",
    protocol: "*",
    source: "*",
    ...extra,
  });

  it("a higher-precedence Deny shadows the Allow entirely", () => {
    const nsg = nsgWith([deny("deny-ssh", 100, { ports: "22" }), allowSsh("Internet")]);
    expect(evaluate(nsg, ssh)).toEqual([]);
  });

  it("two Denies that split the range shadow it together", () => {
    const nsg = nsgWith([
      deny("deny-low", 100, { ports: "20-22" }),
      deny("deny-high", 110, { source: "Internet", ports: ["23", "24-25"] }),
      allowSsh("Internet", { ports: "20-25", priority: 300 }),
    ]);
    expect(evaluate(nsg)).toEqual([]);
  });

  it("a partial Deny leaves exactly the rest of the range", () => {
    const nsg = nsgWith([deny("deny-ssh", 100, { ports: "22" }), allowSsh("*", { ports: "20-25" })]);
    expect(matched(nsg)["allow-ssh"]?.ports).toEqual(["20-21", "23-25"]);
    expect(matched(nsg, { ports: [22, 3389, "20-21"] })["allow-ssh"]?.ports).toEqual(["20-21"]);
    expect(evaluate(nsg, { ports: [22, 3389] })).toEqual([]);
  });

  it("a lower-precedence Deny does not shadow", () => {
    const nsg = nsgWith([allowSsh("*", { priority: 100 }), deny("deny-ssh", 200, { ports: "22" })]);
    expect(matched(nsg, ssh)["allow-ssh"]?.ports).toEqual(["22"]);
  });

  it("a Deny covers a source within its prefix, and 0.0.0.0/0 alone leaves `*` open over IPv6", () => {
    const covered = nsgWith([
      deny("deny-net", 100, { source: "198.51.100.0/24", ports: "22" }),
      allowSsh("198.51.100.0/25"),
    ]);
    expect(evaluate(covered, ssh)).toEqual([]);

    const v4only = nsgWith([deny("deny-v4", 100, { source: "0.0.0.0/0", ports: "22" }), allowSsh("*")]);
    expect(matched(v4only, ssh)["allow-ssh"]?.sources).toEqual(["*"]);

    const both = nsgWith([
      deny("deny-v4", 100, { source: "0.0.0.0/0", ports: "22" }),
      deny("deny-v6", 110, { source: "::/0", ports: "22" }),
      allowSsh("*"),
    ]);
    expect(evaluate(both, ssh)).toEqual([]);
  });

  it("a Deny shadows only its protocol, its destinations and public sources it covers", () => {
    const udpDeny = nsgWith([deny("deny-udp", 100, { protocol: "Udp", ports: "22" }), allowSsh("*")]);
    expect(Object.keys(matched(udpDeny, ssh))).toEqual(["allow-ssh"]);

    const narrowDest = nsgWith([
      deny("deny-host", 100, { destination: "10.0.0.4", ports: "22" }),
      allowSsh("*"),
    ]);
    expect(Object.keys(matched(narrowDest, ssh))).toEqual(["allow-ssh"]);

    const wideDest = nsgWith([
      deny("deny-subnet", 100, { destination: "10.0.0.0/24", ports: "22" }),
      allowSsh("*", { destination: ["10.0.0.4", "10.0.0.5"] }),
    ]);
    expect(evaluate(wideDest, ssh)).toEqual([]);

    const tagSource = nsgWith([
      deny("deny-vnet", 100, { source: "VirtualNetwork", ports: "22" }),
      allowSsh("*"),
    ]);
    expect(Object.keys(matched(tagSource, ssh))).toEqual(["allow-ssh"]);
  });
});

describe("nsg-inbound-exposure: a Deny covers only traffic it matches in every field", () => {
  const deny = (extra: Partial<RuleSpec>): RuleSpec => ({
    name: "deny-above",
    priority: 100,
    access: "Deny",
    protocol: "*",
    source: "*",
    ports: "22",
    ...extra,
  });
  const exposed = (denySpec: RuleSpec, allow: RuleSpec = allowSsh("Internet")) =>
    evaluate(nsgWith([denySpec, allow]), ssh).length > 0;

  it("a Deny limited to some source ports covers nothing of an Allow from any source port", () => {
    for (const sourcePorts of ["1", "0-1023", "1024-65535", ["1", "2"], ["0-1023", "1025-65535"]]) {
      expect(exposed(deny({ sourcePorts })), JSON.stringify(sourcePorts)).toBe(true);
    }
  });

  it("a Deny of every source port covers, however it spells them", () => {
    for (const sourcePorts of ["*", "0-65535", ["0-65535"], ["0-1023", "1024-65535"]]) {
      expect(exposed(deny({ sourcePorts })), JSON.stringify(sourcePorts)).toBe(false);
    }
  });

  it("a Deny naming no source port at all covers nothing", () => {
    const nsg = nsgWith([deny({}), allowSsh("Internet")]);
    const props = (rulesOf(nsg)[0] as { properties: Record<string, unknown> }).properties;
    delete props.sourcePortRange;
    props.sourcePortRanges = [];
    expect(evaluate(nsg, ssh)).toHaveLength(1);
  });

  it("an Allow limited to some source ports is covered by a Deny of those (or more), not of fewer", () => {
    const allow = allowSsh("Internet", { sourcePorts: "1024-65535" });
    expect(exposed(deny({ sourcePorts: "1024-65535" }), allow)).toBe(false);
    expect(exposed(deny({ sourcePorts: "1000-65535" }), allow)).toBe(false);
    expect(exposed(deny({ sourcePorts: "1024-2000" }), allow)).toBe(true);
    // A client picks its source port: an Allow of source port 1024-65535 is still open to the Internet.
    expect(evaluate(nsgWith([allow]), ssh)).toHaveLength(1);
  });

  it("a Deny to some destinations covers only an Allow to those (or fewer)", () => {
    const cases: [RuleSpec["destination"], RuleSpec["destination"], boolean][] = [
      ["10.0.0.4", "*", true],
      ["10.0.0.0/24", "*", true],
      ["10.0.0.0/24", "10.0.0.0/16", true],
      ["10.0.0.0/24", ["10.0.0.4", "10.1.0.4"], true],
      ["VirtualNetwork", "*", true],
      ["VirtualNetwork", "10.0.0.4", true],
      ["0.0.0.0/0", "*", true],
      ["10.0.0.0/24", "10.0.0.4", false],
      [["10.0.0.4", "10.0.0.5"], ["10.0.0.5", "10.0.0.4"], false],
      ["*", "10.0.0.0/16", false],
      ["Any", "*", false],
      ["VirtualNetwork", "VirtualNetwork", false],
    ];
    for (const [denyTo, allowTo, open] of cases) {
      const what = `Deny to ${JSON.stringify(denyTo)} above Allow to ${JSON.stringify(allowTo)}`;
      expect(
        exposed(deny({ destination: denyTo }), allowSsh("Internet", { destination: allowTo })),
        what,
      ).toBe(open);
    }
  });

  it("a Deny covers only its protocols", () => {
    expect(exposed(deny({ protocol: "Udp" }))).toBe(true);
    expect(exposed(deny({ protocol: "Icmp" }))).toBe(true);
    expect(exposed(deny({ protocol: "Tcp" }))).toBe(false);
    expect(exposed(deny({ protocol: "TCP" }))).toBe(false);
    // A `*` Allow protected for Tcp and Udp: a Tcp Deny leaves the Udp part.
    const nsg = nsgWith([deny({ protocol: "Tcp" }), allowSsh("*", { protocol: "*" })]);
    expect(matched(nsg, { ...ssh, protocols: ["Tcp", "Udp"] })["allow-ssh"]?.protocols).toEqual(["Udp"]);
  });

  it("a Deny of one source port, one destination or one protocol above an Allow from the Internet hides nothing", () => {
    const nsg = nsgWith([
      deny({ name: "deny-sport", priority: 100, sourcePorts: "1" }),
      deny({ name: "deny-dest", priority: 101, destination: "10.0.0.4" }),
      deny({ name: "deny-udp", priority: 102, protocol: "Udp" }),
      allowSsh("Internet", { priority: 200 }),
    ]);
    expect(matched(nsg, ssh)["allow-ssh"]).toMatchObject({
      sources: ["Internet"],
      ports: ["22"],
      protocols: ["Tcp"],
    });
  });
});

describe("nsg-inbound-exposure: the whole mixed NSG", () => {
  it("lists every world-open rule in one violation, in precedence order, and the public prefix in another", () => {
    const nsg = loadFixture("nsg-mixed.json");
    const violations = evaluate(nsg, { ports: [22, 23, 80, 443, 3389] });
    expect(violations).toHaveLength(2);
    const [v, prefixes] = violations;
    expect(v?.matched.map((m) => [m.securityRule, m.sources, m.ports])).toEqual([
      ["allow-https-internet", ["Internet"], ["80", "443"]],
      ["allow-ssh-any", ["*"], ["22"]],
      ["allow-rdp-partners", ["0.0.0.0/0"], ["3389"]],
      // 23 is denied by deny-telnet at 105.
      ["allow-admin-range", ["Any"], ["22"]],
    ]);
    expect(prefixes?.kind).toBe("public-prefix");
    expect(prefixes?.matched.map((m) => [m.securityRule, m.sources, m.ports])).toEqual([
      ["allow-bastion-ssh", ["203.0.113.10/32"], ["22"]],
    ]);
    expect(v?.matched[1]).toEqual({
      securityRule: "allow-ssh-any",
      id: `${NSG_ID}/securityRules/allow-ssh-any`,
      priority: 110,
      protocol: "Tcp",
      sources: ["*"],
      ports: ["22"],
      protocols: ["Tcp"],
      direction: "Inbound",
    });
    expect(v?.message).toContain("Security rule allow-ssh-any (priority 110) allows Tcp 22 from *");
    expect(v?.message).toContain(
      "Security rule allow-https-internet (priority 100) allows Tcp 80, 443 from Internet",
    );
    expect(v?.controls).toEqual([
      "CIS Azure v2.0.0 6.1",
      "CIS Azure v3.0.0 7.1",
      "CIS Azure v2.0.0 6.2",
      "CIS Azure v3.0.0 7.2",
      "CIS Azure v2.0.0 6.4",
      "CIS Azure v3.0.0 7.4",
    ]);
  });
});

describe("nsg-inbound-exposure: input validation", () => {
  it("rejects option typos and bad ports", () => {
    const schema = nsgInboundExposure.options;
    expect(schema.safeParse({ port: [22] }).success).toBe(false);
    expect(schema.safeParse({ ports: [70000] }).success).toBe(false);
    expect(schema.safeParse({ ports: ["25-20"] }).success).toBe(false);
    expect(schema.safeParse({ ports: ["ssh"] }).success).toBe(false);
    expect(schema.safeParse({ protocols: ["Gre"] }).success).toBe(false);
    expect(schema.safeParse({ trustedSources: ["bastion"] }).success).toBe(false);
    expect(schema.parse({})).toEqual({ protocols: ["Tcp"], trustedSources: [], publicPrefixes: "alert" });
    expect(schema.safeParse({ publicPrefixes: "sometimes" }).success).toBe(false);
  });

  it("rejects a resource that is not an NSG with a message naming the field", () => {
    const storage = {
      type: "Microsoft.Storage/storageAccounts",
      properties: { networkAcls: { defaultAction: "Allow" } },
    };
    expect(() => evaluate(storage)).toThrow(InputError);
    expect(() => evaluate(storage)).toThrow(/not a network security group.*type.*properties\.securityRules/s);
    const badRule = nsgWith([
      { name: "x", properties: { protocol: "Tcp", access: "Maybe", priority: 100, direction: "Inbound" } },
    ]);
    expect(() => evaluate(badRule)).toThrow(
      /properties\.securityRules\.0\.properties\.access: expected Allow or Deny/,
    );
  });

  it("tolerates fields ARM adds", () => {
    const nsg = nsgWith([allowSsh("*")]);
    (nsg.properties as Record<string, unknown>).flushConnection = false;
    expect(matched(nsg, ssh)["allow-ssh"]?.ports).toEqual(["22"]);
  });
});

describe("nsg-inbound-exposure: definition", () => {
  it("declares its id, permission, remediations and a valid example", () => {
    expect(nsgInboundExposure.id).toBe("nsg-inbound-exposure");
    expect(nsgInboundExposure.resourceTypes).toEqual(["microsoft.network/networksecuritygroups"]);
    expect(nsgInboundExposure.permissions).toEqual(["Microsoft.Network/networkSecurityGroups/read"]);
    expect(nsgInboundExposure.remediations[0]).toBe("delete-rule");
    const [entry] = parseYaml(nsgInboundExposure.example) as [{ rule: string; options: unknown }];
    expect(entry.rule).toBe("nsg-inbound-exposure");
    expect(nsgInboundExposure.options.parse(entry.options)).toMatchObject({
      ports: [22],
      protocols: ["Tcp"],
    });
  });
});

describe("nsg port arithmetic", () => {
  const intervals = fc.array(
    fc
      .tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 60 }))
      .map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const),
    { maxLength: 5 },
  );
  const members = (set: PortSet) => {
    const out = new Set<number>();
    for (const [lo, hi] of set) for (let p = lo; p <= hi; p++) out.add(p);
    return out;
  };
  const canonical = (set: PortSet) =>
    set.every(([lo, hi], i) => lo <= hi && (i === 0 || lo > (set[i - 1]?.[1] ?? -2) + 1));

  it("union, intersection and difference agree with plain sets and stay canonical", () => {
    fc.assert(
      fc.property(intervals, intervals, (a, b) => {
        const A = members(portSet(a));
        const B = members(portSet(b));
        const u = union(portSet(a), portSet(b));
        const n = intersect(portSet(a), portSet(b));
        const d = subtract(portSet(a), portSet(b));
        expect(members(u)).toEqual(new Set([...A, ...B]));
        expect(members(n)).toEqual(new Set([...A].filter((x) => B.has(x))));
        expect(members(d)).toEqual(new Set([...A].filter((x) => !B.has(x))));
        expect([u, n, d].every(canonical)).toBe(true);
      }),
    );
  });
});
