// nsg-egress-lockdown over NSGs in the live ARM shape (nsg-empty.json's default rules, etags), and its two
// remediations: precedence, plural fields, protocols, both address families, service tags, the missing Deny.
import { describe, expect, it } from "vitest";
import { evaluatePolicy } from "../../../shared/policy/evaluate.ts";
import { parsePolicy } from "../../../shared/policy/load.ts";
import { nsgEgressDelete } from "../../../shared/remediation/nsg-egress-delete.ts";
import { nsgEgressDeny } from "../../../shared/remediation/nsg-egress-deny.ts";
import type { Finding } from "../../../shared/types.ts";
import {
  afterProperties,
  NSG_ID,
  nsgWith,
  type RuleSpec,
  securityRule,
  snapshotOf,
} from "../../fixtures/azure/nsg/nsg.ts";

const out = (spec: Omit<RuleSpec, "direction">): RuleSpec => ({
  source: "*",
  direction: "Outbound",
  ...spec,
});
const storage = out({ name: "allow-storage", priority: 100, destination: "Storage", ports: "443" });
const monitor = out({ name: "allow-monitor", priority: 110, destination: "AzureMonitor", ports: "443" });
const firewall = out({ name: "allow-firewall", priority: 120, destination: "10.0.1.4", protocol: "*" });
const denyInternet = out({
  name: "deny-internet",
  priority: 4000,
  destination: "Internet",
  access: "Deny",
  protocol: "*",
});

function policy(options = "{}") {
  return parsePolicy(`version: 1
firewalls:
  hub: { privateIp: 10.0.1.4 }
rules:
  - name: egress
    rule: nsg-egress-lockdown
    mode: remediate
    options: ${options}
`);
}

function findings(rules: RuleSpec[], options = "{ firewall: hub }"): Finding[] {
  return evaluatePolicy(policy(options), snapshotOf(nsgWith(rules))).map((e) => e.finding);
}

const ruleNames = (f: Finding | undefined) =>
  f?.matched.flatMap((m) => (m.securityRule ? [m.securityRule] : []));

describe("nsg-egress-lockdown", () => {
  it("passes a locked NSG: allowed tags and the firewall above a Deny to the Internet", () => {
    expect(findings([storage, monitor, firewall, denyInternet])).toEqual([]);
    // The Fugue walkthrough's pair: Allow VirtualNetwork → Storage, Deny VirtualNetwork → Internet.
    const fugue = [
      out({ name: "allow-storage", priority: 100, source: "VirtualNetwork", destination: "Storage" }),
      out({
        name: "deny-internet",
        priority: 110,
        source: "VirtualNetwork",
        destination: "Internet",
        access: "Deny",
      }),
    ];
    expect(findings(fugue, "{ protocols: [Tcp] }")).toEqual([]);
  });

  it("a missing Deny is a finding, with the priority the Deny would take", () => {
    const [f] = findings([storage]);
    expect(f?.message).toMatch(
      /no outbound Deny to the Internet is in force: AllowInternetOutBound \(priority 65001\)/,
    );
    expect(f?.matched).toEqual([
      expect.objectContaining({ missingDeny: true, priority: 4096, defaultRule: "AllowInternetOutBound" }),
    ]);
  });

  it("a Deny that leaves some of the Internet open is not in force", () => {
    // Tcp only: Udp and the rest still leave.
    const tcp = out({
      name: "deny-tcp",
      priority: 4000,
      destination: "Internet",
      access: "Deny",
      protocol: "Tcp",
    });
    expect(findings([tcp])[0]?.matched[0]).toMatchObject({
      missingDeny: true,
      protocols: ["Udp", "Icmp", "Esp", "Ah"],
    });
    // 0.0.0.0/0 only: Internet spans IPv6 too.
    const v4 = out({
      name: "deny-v4",
      priority: 4000,
      destination: "0.0.0.0/0",
      access: "Deny",
      protocol: "*",
    });
    expect(findings([v4])[0]?.matched[0]).toMatchObject({ missingDeny: true });
    const both = out({
      name: "deny-both",
      priority: 4000,
      destination: ["0.0.0.0/0", "::/0"],
      access: "Deny",
      protocol: "*",
    });
    expect(findings([both])).toEqual([]);
    // From one subnet only: the rest of the network still leaves.
    const partial = out({
      name: "deny-some",
      priority: 4000,
      source: "10.10.1.0/24",
      destination: "*",
      access: "Deny",
      protocol: "*",
    });
    expect(findings([partial])).toHaveLength(1);
    // Below the default rule's priority? Impossible: user rules end at 4096. A Deny to * works like one to Internet.
    expect(
      findings([out({ name: "deny-all", priority: 4096, destination: "*", access: "Deny", protocol: "*" })]),
    ).toEqual([]);
  });

  it.each([
    ["Internet", "Internet"],
    ["*", "*"],
    ["0.0.0.0/0", "0.0.0.0/0"],
    ["::/0", "::/0"],
    ["a public prefix", "203.0.113.0/24"],
    ["another service tag", "AzureCloud"],
  ])("an outbound Allow to %s above the Deny is a finding", (_what, destination) => {
    const open = out({ name: "open", priority: 200, destination, ports: "443" });
    const [f] = findings([storage, open, denyInternet]);
    expect(ruleNames(f)).toEqual(["open"]);
    expect(f?.matched[0]).toMatchObject({
      destinations: [destination],
      direction: "Outbound",
      ports: ["443"],
    });
  });

  it.each([
    ["private space", "10.20.0.0/16"],
    ["VirtualNetwork", "VirtualNetwork"],
    ["a regional variant of an allowed tag", "Storage.WestEurope"],
    ["the firewall", "10.0.1.4"],
    ["a listed prefix", "198.51.100.7"],
  ])("an outbound Allow to %s is allowed", (_what, destination) => {
    const ok = out({ name: "ok", priority: 200, destination });
    expect(findings([ok, denyInternet], "{ firewall: hub, allowedPrefixes: [198.51.100.0/24] }")).toEqual([]);
  });

  it("a Deny limited to some source ports is no Deny: clients pick their own source port (the inbound rule's coverage)", () => {
    const narrow = securityRule(
      out({ name: "deny-sport", priority: 4000, destination: "Internet", access: "Deny", protocol: "*" }),
    );
    (narrow.properties as Record<string, unknown>).sourcePortRange = "1024-2048";
    const f = evaluatePolicy(policy("{}"), snapshotOf(nsgWith([narrow]))).map((e) => e.finding);
    expect(f[0]?.matched[0]).toMatchObject({ missingDeny: true });
    // The same Deny above an Allow to the Internet leaves the Allow's traffic from other source ports open.
    const open = out({ name: "open", priority: 350, destination: "Internet", ports: "443" });
    const above = securityRule(
      out({ name: "deny-sport", priority: 300, destination: "Internet", access: "Deny", protocol: "*" }),
    );
    (above.properties as Record<string, unknown>).sourcePortRange = "1024-2048";
    const g = evaluatePolicy(
      policy("{}"),
      snapshotOf(nsgWith([above, open, securityRule(denyInternet)])),
    ).map((e) => e.finding);
    expect(g[0]?.matched.map((m) => m.securityRule)).toEqual(["open"]);
  });

  it("an Allow below the Deny is shadowed; one above it opens only what the Deny does not already block", () => {
    expect(findings([denyInternet, out({ name: "late", priority: 4050, destination: "Internet" })])).toEqual(
      [],
    );
    // A Deny of Tcp above an Allow of everything: Udp still gets out through the Allow.
    const denyTcp = out({
      name: "deny-tcp",
      priority: 150,
      destination: "Internet",
      access: "Deny",
      protocol: "Tcp",
    });
    const any = out({ name: "any", priority: 200, destination: "Internet", protocol: "*" });
    const [f] = findings([denyTcp, any, denyInternet]);
    expect(f?.matched[0]).toMatchObject({ securityRule: "any", protocols: ["Udp", "Icmp", "Esp", "Ah"] });
  });

  it("reads plural destinations, and reports only the offending ones", () => {
    const mixed = out({
      name: "mixed",
      priority: 200,
      destination: ["10.20.0.0/16", "203.0.113.0/24", "198.51.100.0/24"],
    });
    const [f] = findings([mixed, denyInternet], "{ allowedPrefixes: [198.51.100.0/24] }");
    expect(f?.matched[0]).toMatchObject({ destinations: ["203.0.113.0/24"] });
  });

  it("only judges outbound rules: inbound ones are the inbound rule's business", () => {
    const inbound: RuleSpec = { name: "in", priority: 200, source: "Internet", ports: "443" };
    expect(findings([inbound, denyInternet])).toEqual([]);
  });

  it("puts the Deny at the policy's priority, or the nearest free one", () => {
    expect(findings([storage], "{ denyPriority: 300 }")[0]?.matched[0]).toMatchObject({ priority: 300 });
    const taken = out({ name: "x", priority: 300, destination: "VirtualNetwork" });
    expect(findings([storage, taken], "{ denyPriority: 300 }")[0]?.matched[0]).toMatchObject({
      priority: 301,
    });
    const top = out({ name: "top", priority: 4096, destination: "VirtualNetwork" });
    expect(findings([storage, top])[0]?.matched[0]).toMatchObject({ priority: 4095 });
  });
});

describe("nsg-egress-delete and nsg-egress-deny", () => {
  const ctx = { trustedSources: [] };

  it("deletes the offending Allow first, then adds the missing Deny (If-None-Match)", () => {
    const open = out({ name: "open", priority: 200, destination: "Internet" });
    const nsg = nsgWith([storage, open]);
    const [f] = evaluatePolicy(policy(), snapshotOf(nsg)).map((e) => e.finding);
    const first = nsgEgressDelete.plan(snapshotOf(nsg), f as Finding, ctx);
    expect(first?.operation).toMatchObject({ kind: "delete-security-rule", ruleName: "open" });
    expect(first?.complete).toBe(false);

    const fixed = nsgWith([storage]);
    const [g] = evaluatePolicy(policy(), snapshotOf(fixed)).map((e) => e.finding);
    const second = nsgEgressDelete.plan(snapshotOf(fixed), g as Finding, ctx);
    expect(second?.operation).toEqual({
      kind: "put-security-rule",
      nsgId: NSG_ID,
      ruleName: "guardian-deny-internet-outbound",
      ifNoneMatch: "*",
      rule: {
        name: "guardian-deny-internet-outbound",
        id: `${NSG_ID}/securityRules/guardian-deny-internet-outbound`,
        properties: {
          description: "Deny-by-default egress, restored by network-guardian",
          protocol: "*",
          sourcePortRange: "*",
          destinationPortRange: "*",
          sourceAddressPrefix: "*",
          destinationAddressPrefix: "Internet",
          access: "Deny",
          priority: 4096,
          direction: "Outbound",
        },
      },
    });
    expect(second?.complete).toBe(true);
    // Undo: the deleted Allow re-created; the added Deny deleted.
    expect(first && nsgEgressDelete.undo?.(first)?.command).toMatch(
      /az network nsg rule create[\s\S]*--name 'open'/,
    );
    expect(second && nsgEgressDelete.undo?.(second)?.command).toMatch(
      /az network nsg rule delete[\s\S]*--name 'guardian-deny-internet-outbound'/,
    );
  });

  it("keeps an Allow's allowed destinations and removes only the offending one", () => {
    const mixed = out({ name: "mixed", priority: 200, destination: ["10.20.0.0/16", "203.0.113.0/24"] });
    const nsg = nsgWith([mixed, denyInternet]);
    const [f] = evaluatePolicy(policy(), snapshotOf(nsg)).map((e) => e.finding);
    const change = nsgEgressDelete.plan(snapshotOf(nsg), f as Finding, ctx);
    expect(afterProperties(change)).toMatchObject({
      destinationAddressPrefix: "10.20.0.0/16",
      destinationAddressPrefixes: [],
    });
    expect(change?.summary).toMatch(
      /remove destination 203\.0\.113\.0\/24 from outbound security rule mixed/,
    );
  });

  // A Deny where the Allow stands is decided before the rules below it, the platform's own included.
  it("nsg-egress-deny takes away only the offending destinations where a Deny would refuse allowed traffic", () => {
    const plan = (rules: RuleSpec[]) => {
      const nsg = nsgWith([...rules, denyInternet]);
      const [f] = evaluatePolicy(policy(), snapshotOf(nsg)).map((e) => e.finding);
      return nsgEgressDeny.plan(snapshotOf(nsg), f as Finding, ctx);
    };
    // `*` takes in VirtualNetwork: a Deny of it would cut the network off from itself (AllowVnetOutBound).
    const anywhere = plan([out({ name: "open", priority: 200, destination: "*", protocol: "*" })]);
    expect(anywhere?.operation).toMatchObject({ kind: "delete-security-rule", ruleName: "open" });
    // An allowed Storage rule below an Allow of the Internet: a Deny of the Internet would refuse Storage too.
    const below = plan([
      out({ name: "open", priority: 200, destination: "Internet", ports: "443" }),
      { ...storage, priority: 300 },
    ]);
    expect(below?.operation).toMatchObject({ kind: "delete-security-rule", ruleName: "open" });
    // An Allow that also names an allowed destination keeps it, as an Allow.
    const mixed = plan([
      out({ name: "open", priority: 200, destination: ["Internet", "Storage"], ports: "443" }),
    ]);
    expect(afterProperties(mixed)).toMatchObject({
      access: "Allow",
      destinationAddressPrefix: "Storage",
      destinationAddressPrefixes: [],
    });
  });

  it("nsg-egress-deny sets the Allow to Deny where it stands", () => {
    const open = out({ name: "open", priority: 200, destination: "Internet", ports: "443" });
    const nsg = nsgWith([open, denyInternet]);
    const [f] = evaluatePolicy(policy(), snapshotOf(nsg)).map((e) => e.finding);
    const change = nsgEgressDeny.plan(snapshotOf(nsg), f as Finding, ctx);
    expect(afterProperties(change)).toMatchObject({
      access: "Deny",
      priority: 200,
      destinationAddressPrefix: "Internet",
    });
    expect(change?.operation).toMatchObject({
      kind: "put-security-rule",
      ruleName: "open",
      ifMatch: expect.any(String),
    });
  });

  it("names the Deny anew when the name is taken, and says when no priority is free", () => {
    const squatter = out({
      name: "guardian-deny-internet-outbound",
      priority: 300,
      destination: "VirtualNetwork",
    });
    const nsg = nsgWith([squatter]);
    const [f] = evaluatePolicy(policy(), snapshotOf(nsg)).map((e) => e.finding);
    expect(nsgEgressDelete.plan(snapshotOf(nsg), f as Finding, ctx)?.operation).toMatchObject({
      ruleName: "guardian-deny-internet-outbound-2",
    });
    const full = nsgWith(
      Array.from({ length: 3997 }, (_, i) =>
        out({ name: `r${i}`, priority: 100 + i, destination: "VirtualNetwork" }),
      ),
    );
    const [g] = evaluatePolicy(policy(), snapshotOf(full)).map((e) => e.finding);
    expect(nsgEgressDelete.plan(snapshotOf(full), g as Finding, ctx)).toBeUndefined();
    expect(nsgEgressDelete.manual?.(snapshotOf(full), g as Finding)).toBe(
      "no outbound priority between 100 and 4096 is free for the Deny to the Internet",
    );
  });
});
