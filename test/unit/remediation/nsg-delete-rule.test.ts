// NSG shapes: test/fixtures/azure/nsg/README.md (Azure REST spec 2024-07-01 examples and the live GET shape).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deleteRule } from "../../../shared/remediation/delete-rule.ts";
import { denyRule } from "../../../shared/remediation/deny-rule.ts";
import { restrictSource } from "../../../shared/remediation/restrict-source.ts";
import type { Remediation } from "../../../shared/remediation/types.ts";
import type { Finding } from "../../../shared/types.ts";
import {
  afterProperties,
  applyChange,
  ETAG,
  findingOf,
  loadFixture,
  NSG_ID,
  nsgWith,
  type RuleSpec,
  rulesOf,
  securityRule,
  snapshotOf,
} from "../../fixtures/azure/nsg/nsg.ts";

const ctx = { trustedSources: [] };

function ruleNamed(resource: unknown, name: string): Record<string, unknown> {
  const rule = rulesOf(resource).find((r) => r.name === name);
  if (!rule) throw new Error(`no rule ${name}`);
  return rule;
}

function mustFind(resource: Record<string, unknown>, options: unknown, trusted: string[] = []): Finding {
  const finding = findingOf(resource, options, trusted);
  if (!finding) throw new Error("expected a finding");
  return finding;
}

describe("delete-rule: delete", () => {
  it("deletes a rule whose only source and only port offend, guarded by the rule's etag", () => {
    const nsg = loadFixture("nsg-mixed.json");
    const finding = mustFind(nsg, { ports: [22] });
    expect(finding.matched[0]?.securityRule).toBe("allow-ssh-any");
    const change = deleteRule.plan(snapshotOf(nsg), finding, ctx);
    expect(change).toEqual({
      remediation: "delete-rule",
      resourceId: NSG_ID,
      summary: "delete security rule allow-ssh-any (it allowed Tcp 22 from *)",
      operation: { kind: "delete-security-rule", nsgId: NSG_ID, ruleName: "allow-ssh-any", ifMatch: ETAG },
      before: ruleNamed(nsg, "allow-ssh-any"),
      after: null,
      // Other rules of the same finding still offend: each needs a write of its own.
      complete: false,
    });
  });

  it("falls back to the NSG's etag, and to none, when the rule carries no etag (the spec example)", () => {
    const nsg = loadFixture("NetworkSecurityGroupGet.json");
    const finding = mustFind(nsg, { ports: [80] });
    const withEtag = deleteRule.plan(
      snapshotOf(nsg, 'W/"00000000-0000-0000-0000-00000000abcd"'),
      finding,
      ctx,
    );
    expect(withEtag?.operation).toEqual({
      kind: "delete-security-rule",
      nsgId: String(nsg.id),
      ruleName: "rule1",
      ifMatch: 'W/"00000000-0000-0000-0000-00000000abcd"',
    });
    expect(deleteRule.plan(snapshotOf(nsg, undefined), finding, ctx)?.operation.ifMatch).toBeUndefined();
  });
});

describe("delete-rule: narrowing", () => {
  it("removes only the offending source from a plural list, leaving the plural field", () => {
    const nsg = loadFixture("nsg-mixed.json");
    const finding = mustFind(nsg, { ports: [3389] });
    const change = deleteRule.plan(snapshotOf(nsg), finding, ctx);
    const before = ruleNamed(nsg, "allow-rdp-partners");
    const beforeProps = before.properties as Record<string, unknown>;
    const { provisioningState: _readOnly, ...kept } = beforeProps;
    const afterProps = { ...kept, sourceAddressPrefixes: ["10.20.0.0/16", "192.168.10.0/24"] };
    expect(change).toEqual({
      remediation: "delete-rule",
      resourceId: NSG_ID,
      summary:
        "remove source 0.0.0.0/0 from security rule allow-rdp-partners (it allowed Tcp 3389 from 0.0.0.0/0); keeps 10.20.0.0/16, 192.168.10.0/24",
      operation: {
        kind: "put-security-rule",
        nsgId: NSG_ID,
        ruleName: "allow-rdp-partners",
        ifMatch: ETAG,
        // The rule's full body as read (id, name, etag, ...), edited: what is sent is what the audit shows.
        rule: { ...before, properties: afterProps },
      },
      before,
      after: { ...before, properties: afterProps },
      complete: true,
    });
    // The PUT body carries no read-only provisioningState.
    const body = change?.operation.rule as { properties: object } | undefined;
    expect(body && "provisioningState" in body.properties).toBe(false);
  });

  it("collapses to the singular field with an empty plural array when one source remains", () => {
    const nsg = nsgWith([{ name: "mixed", priority: 100, source: ["10.0.0.0/8", "Internet"], ports: "22" }]);
    const change = deleteRule.plan(snapshotOf(nsg), mustFind(nsg, { ports: [22] }), ctx);
    const props = afterProperties(change);
    expect(props.sourceAddressPrefix).toBe("10.0.0.0/8");
    expect(props.sourceAddressPrefixes).toEqual([]);
  });

  it("splits a range around the protected port", () => {
    const nsg = loadFixture("nsg-mixed.json");
    const finding = mustFind(nsg, { ports: [22] });
    const onlyAdmin = {
      ...finding,
      matched: finding.matched.filter((m) => m.securityRule === "allow-admin-range"),
    };
    const change = deleteRule.plan(snapshotOf(nsg), onlyAdmin, ctx);
    const before = ruleNamed(nsg, "allow-admin-range");
    const {
      destinationPortRange: _,
      provisioningState: _readOnly,
      ...rest
    } = before.properties as Record<string, unknown>;
    expect(change?.after).toEqual({
      ...before,
      properties: { ...rest, destinationPortRanges: ["20-21", "23-25"] },
    });
    expect(change?.summary).toBe(
      "remove port 22 from security rule allow-admin-range (it allowed Tcp 22 from Any); keeps 20-21, 23-25",
    );
  });

  it("splits `*` and keeps untouched specs as written", () => {
    const nsg = nsgWith([
      { name: "all", priority: 100, source: "*", ports: "*" },
      { name: "web", priority: 110, source: "Internet", ports: ["80", "443", "8000-8100"] },
    ]);
    const all = deleteRule.plan(snapshotOf(nsg), mustFind(nsg, { ports: [22] }), ctx);
    expect(afterProperties(all).destinationPortRanges).toEqual(["0-21", "23-65535"]);
    const webFinding = mustFind(nsg, { ports: [443, 8080] });
    const web = deleteRule.plan(
      snapshotOf(nsg),
      { ...webFinding, matched: webFinding.matched.slice(1) },
      ctx,
    );
    expect(afterProperties(web).destinationPortRanges).toEqual(["80", "8000-8079", "8081-8100"]);
  });

  it("collapses to the singular port field when one port remains", () => {
    const nsg = nsgWith([{ name: "web", priority: 100, source: "Internet", ports: ["80", "443"] }]);
    const change = deleteRule.plan(snapshotOf(nsg), mustFind(nsg, { ports: [443] }), ctx);
    const props = afterProperties(change);
    expect(props.destinationPortRange).toBe("80");
    expect(props.destinationPortRanges).toEqual([]);
  });

  it("removes only the ports still open when a Deny above shadows part of them", () => {
    const nsg = nsgWith([
      { name: "deny-ssh", priority: 100, access: "Deny", protocol: "*", source: "*", ports: "22" },
      { name: "admin", priority: 200, source: "*", ports: "20-25" },
    ]);
    const change = deleteRule.plan(snapshotOf(nsg), mustFind(nsg, { ports: [22, 23] }), ctx);
    expect(afterProperties(change).destinationPortRanges).toEqual(["20-22", "24-25"]);
  });

  it("leaves every other rule of the NSG byte-identical", () => {
    const nsg = loadFixture("nsg-mixed.json");
    const change = deleteRule.plan(snapshotOf(nsg), mustFind(nsg, { ports: [3389] }), ctx);
    if (!change) throw new Error("expected a plan");
    const after = applyChange(nsg, change);
    const others = (r: Record<string, unknown>[]) =>
      r.filter((x) => x.name !== "allow-rdp-partners").map((x) => JSON.stringify(x));
    expect(others(rulesOf(after))).toEqual(others(rulesOf(nsg)));
    expect(JSON.stringify((after.properties as { defaultSecurityRules: unknown }).defaultSecurityRules)).toBe(
      JSON.stringify((nsg.properties as { defaultSecurityRules: unknown }).defaultSecurityRules),
    );
  });
});

describe("delete-rule: re-check against a newer snapshot", () => {
  const old = nsgWith([
    { name: "ssh", priority: 100, source: "*", ports: "22" },
    { name: "rdp", priority: 110, source: "Internet", ports: "3389" },
  ]);
  const finding = mustFind(old, { ports: [22, 3389] });

  it("returns undefined when every matched rule was fixed meanwhile", () => {
    const newer = nsgWith([
      { name: "ssh", priority: 100, source: "10.0.0.0/8", ports: "22" },
      { name: "deny-rdp", priority: 105, access: "Deny", source: "Internet", ports: "3389" },
      { name: "rdp", priority: 110, source: "Internet", ports: "3389" },
    ]);
    expect(deleteRule.plan(snapshotOf(newer), finding, ctx)).toBeUndefined();
    expect(deleteRule.plan(snapshotOf(nsgWith([])), finding, ctx)).toBeUndefined();
  });

  it("plans the first rule that still offends, from the newer state", () => {
    const newer = nsgWith([
      { name: "ssh", priority: 100, source: "10.0.0.0/8", ports: "22" },
      { name: "rdp", priority: 110, source: ["Internet", "10.1.0.0/16"], ports: "3389", etag: 'W/"newer"' },
    ]);
    const change = deleteRule.plan(snapshotOf(newer), finding, ctx);
    expect(change?.operation).toMatchObject({
      kind: "put-security-rule",
      ruleName: "rdp",
      ifMatch: 'W/"newer"',
    });
    expect(afterProperties(change).sourceAddressPrefix).toBe("10.1.0.0/16");
  });
});

// ---------- properties ----------

const SOURCES = [
  "*",
  "Internet",
  "Any",
  "0.0.0.0/0",
  "::/0",
  "198.51.100.0/24",
  "203.0.113.10/32",
  "10.0.0.0/8",
  "VirtualNetwork",
  "AzureLoadBalancer",
];
const PORTS = ["*", "22", "20-25", "3389", "80", "443", "3000-4000", "1-1024"];

const ruleArb = fc.record({
  access: fc.constantFrom<"Allow" | "Deny">("Allow", "Allow", "Deny"),
  protocol: fc.constantFrom("Tcp", "Udp", "*", "Icmp"),
  source: fc.oneof(
    fc.constantFrom(...SOURCES),
    fc.uniqueArray(fc.constantFrom(...SOURCES), { minLength: 2, maxLength: 3 }),
  ),
  ports: fc.oneof(
    fc.constantFrom(...PORTS),
    fc.uniqueArray(fc.constantFrom(...PORTS), { minLength: 2, maxLength: 3 }),
  ),
  destination: fc.constantFrom("*", "10.0.0.4", "10.0.0.0/24", "VirtualNetwork"),
});

const nsgArb = fc
  .tuple(
    fc.array(ruleArb, { minLength: 1, maxLength: 6 }),
    fc.uniqueArray(fc.integer({ min: 100, max: 4096 }), { minLength: 6, maxLength: 6 }),
  )
  .map(([rules, priorities]) =>
    nsgWith(rules.map((r, i): RuleSpec => ({ ...r, name: `rule-${i}`, priority: priorities[i] ?? 100 + i }))),
  );

const optionsArb = fc.record(
  {
    ports: fc.uniqueArray(fc.constantFrom<number | string>(22, 3389, 80, 443, "20-25", "3000-3500"), {
      minLength: 1,
      maxLength: 3,
    }),
    protocols: fc.uniqueArray(fc.constantFrom("Tcp", "Udp", "Icmp"), { minLength: 1, maxLength: 3 }),
    publicPrefixes: fc.boolean(),
  },
  { requiredKeys: ["protocols", "publicPrefixes"] },
);

const trustedArb = fc.uniqueArray(fc.constantFrom("203.0.113.10/32", "198.51.100.0/24"), { maxLength: 2 });

function checkFixes(remediation: Remediation, needsTrusted: boolean) {
  fc.assert(
    fc.property(nsgArb, optionsArb, trustedArb, (nsg, options, trusted) => {
      const finding = findingOf(nsg, options, trusted);
      fc.pre(finding !== undefined && (!needsTrusted || trusted.length > 0));
      if (!finding) return;
      const change = remediation.plan(snapshotOf(nsg), finding, { trustedSources: trusted });
      const target = finding.matched[0]?.securityRule;
      expect(change?.operation.ruleName).toBe(target);
      if (!change) return;
      // Byte-identical, field order included: the audit shows the rule as ARM returned it.
      expect(JSON.stringify(change.before)).toBe(JSON.stringify(ruleNamed(nsg, String(target))));
      const after = applyChange(nsg, change);
      const again = findingOf(after, options, trusted, finding.kind);
      expect((again?.matched ?? []).map((m) => m.securityRule)).not.toContain(target);
      const untouched = (rules: Record<string, unknown>[]) =>
        rules.filter((r) => r.name !== target).map((r) => JSON.stringify(r));
      expect(untouched(rulesOf(after))).toEqual(untouched(rulesOf(nsg)));
    }),
    { numRuns: 300 },
  );
}

describe("NSG remediations: properties", () => {
  it("delete-rule: the planned rule no longer offends and every other rule is byte-identical", () => {
    checkFixes(deleteRule, false);
  });

  it("deny-rule: the same holds", () => {
    checkFixes(denyRule, false);
  });

  it("restrict-source: the same holds with trusted prefixes", () => {
    checkFixes(restrictSource, true);
  });

  it("delete-rule never widens: the PUT keeps a subset of the rule's sources and ports", () => {
    fc.assert(
      fc.property(nsgArb, optionsArb, (nsg, options) => {
        const finding = findingOf(nsg, options);
        fc.pre(finding !== undefined);
        if (!finding) return;
        const change = deleteRule.plan(snapshotOf(nsg), finding, ctx);
        if (!change || change.after === null) return;
        const before = (change.before as { properties: Record<string, unknown> }).properties;
        const after = (change.after as { properties: Record<string, unknown> }).properties;
        const list = (p: Record<string, unknown>, one: string, many: string) =>
          [p[one], ...((p[many] as string[] | undefined) ?? [])].filter(
            (v): v is string => typeof v === "string",
          );
        for (const s of list(after, "sourceAddressPrefix", "sourceAddressPrefixes")) {
          expect(list(before, "sourceAddressPrefix", "sourceAddressPrefixes")).toContain(s);
        }
        // Every field but the edited pair is unchanged.
        const rest = (p: Record<string, unknown>) => {
          const {
            sourceAddressPrefix: _a,
            sourceAddressPrefixes: _b,
            destinationPortRange: _c,
            destinationPortRanges: _d,
            // Read-only: the PUT body leaves it out.
            provisioningState: _e,
            ...others
          } = p;
          return others;
        };
        expect(rest(after)).toEqual(rest(before));
      }),
      { numRuns: 200 },
    );
  });
});

describe("delete-rule: definition", () => {
  it("declares what the writer needs", () => {
    expect(deleteRule.id).toBe("delete-rule");
    expect(deleteRule.resourceTypes).toEqual(["microsoft.network/networksecuritygroups"]);
    expect(deleteRule.permissions).toContain("Microsoft.Network/networkSecurityGroups/securityRules/delete");
    expect(deleteRule.permissions).toContain("Microsoft.Network/networkSecurityGroups/securityRules/write");
  });

  it("builds rules in the same shape as the fixture", () => {
    const fromFixture = ruleNamed(loadFixture("nsg-mixed.json"), "allow-ssh-any");
    const built = securityRule({
      name: "allow-ssh-any",
      priority: 110,
      source: "*",
      ports: "22",
      description: "Temporary SSH for debugging",
    });
    expect(JSON.stringify(built)).toBe(JSON.stringify(fromFixture));
  });
});
