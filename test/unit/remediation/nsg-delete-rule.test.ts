// NSG shapes: test/fixtures/azure/nsg/README.md (Azure REST spec 2024-07-01 examples and the live GET shape).
import { describe, expect, it } from "vitest";
import { InputError } from "../../../shared/errors.ts";
import { deleteRule } from "../../../shared/remediation/delete-rule.ts";
import { denyRule } from "../../../shared/remediation/deny-rule.ts";
import { restrictSource } from "../../../shared/remediation/restrict-source.ts";
import { undoSecurityRule } from "../../../shared/rules/nsg/undo.ts";
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

describe("narrowing splits when the offending sources also reach ports that do not offend", () => {
  // Internet may reach 443 on this rule; the entry protects 22 only. 10.1.0.0/16 keeps both.
  const web = (extra: Partial<RuleSpec> = {}): RuleSpec => ({
    name: "web",
    priority: 200,
    source: ["0.0.0.0/0", "10.1.0.0/16"],
    ports: ["22", "443"],
    ...extra,
  });
  const ssh = { ports: [22] };

  function steps(nsg: Record<string, unknown>, remediation = deleteRule, trusted: string[] = []) {
    const finding = mustFind(nsg, ssh);
    const first = remediation.plan(snapshotOf(nsg), finding, { trustedSources: trusted });
    if (!first) throw new Error("expected a first step");
    const middle = applyChange(nsg, first);
    const second = remediation.plan(snapshotOf(middle), finding, { trustedSources: trusted });
    if (!second) throw new Error("expected a second step");
    const after = applyChange(middle, second);
    expect(remediation.plan(snapshotOf(after), finding, { trustedSources: trusted })).toBeUndefined();
    return { first, second, after };
  }

  it("first adds a rule keeping 443 for 0.0.0.0/0 right below, created only if absent; then removes the source", () => {
    const nsg = nsgWith([web()]);
    const { first, second, after } = steps(nsg);
    const original = ruleNamed(nsg, "web");
    const props = original.properties as Record<string, unknown>;
    const { provisioningState: _, ...copied } = props;
    const createdProps = {
      ...copied,
      sourceAddressPrefix: "0.0.0.0/0",
      sourceAddressPrefixes: [],
      destinationPortRange: "443",
      destinationPortRanges: [],
      priority: 201,
      description: "split from web by network-guardian: keeps what it allowed besides the offending ports",
    };
    expect(first).toEqual({
      remediation: "delete-rule",
      resourceId: NSG_ID,
      summary:
        "add security rule web-split (priority 201) allowing 0.0.0.0/0 on 443 as web does, so that narrowing web next " +
        "removes only Tcp 22 from 0.0.0.0/0 (it allowed Tcp 22 from 0.0.0.0/0)",
      operation: {
        kind: "put-security-rule",
        nsgId: NSG_ID,
        ruleName: "web-split",
        ifNoneMatch: "*",
        rule: { name: "web-split", properties: createdProps },
      },
      before: null,
      after: { name: "web-split", properties: createdProps },
      complete: false,
    });
    expect(second.summary).toBe(
      "remove source 0.0.0.0/0 from security rule web (it allowed Tcp 22 from 0.0.0.0/0); 0.0.0.0/0 keep 443 " +
        "through security rule web-split (priority 201); keeps 10.1.0.0/16",
    );
    // The rule the guardian added is undone by deleting it.
    expect(undoSecurityRule(first)?.command).toMatch(/^az network nsg rule delete .*--name 'web-split'$/s);
    expect(second.operation).toMatchObject({ kind: "put-security-rule", ruleName: "web", ifMatch: ETAG });
    expect(second.complete).toBe(true);
    const rules = Object.fromEntries(
      rulesOf(after).map((r) => [r.name, r.properties as Record<string, unknown>]),
    );
    expect(rules.web).toMatchObject({
      sourceAddressPrefix: "10.1.0.0/16",
      destinationPortRanges: ["22", "443"],
    });
    expect(rules["web-split"]).toMatchObject({
      sourceAddressPrefix: "0.0.0.0/0",
      destinationPortRange: "443",
    });
  });

  it("skips taken priorities held by Allows or by Denies that match nothing of the new rule", () => {
    const nsg = nsgWith([
      web(),
      { name: "allow-vnet", priority: 201, source: "VirtualNetwork", ports: "8080" },
      { name: "deny-udp", priority: 202, access: "Deny", protocol: "Udp", source: "*", ports: "443" },
      { name: "deny-other-port", priority: 203, access: "Deny", source: "*", ports: "3389" },
      {
        name: "deny-other-dest",
        priority: 199,
        access: "Deny",
        source: "*",
        ports: "443",
        destination: "10.0.0.4",
      },
    ]);
    const { first } = steps(nsg);
    // Above, 199 holds a Deny that may match the new rule's traffic (the rule's destination is *, the Deny's a host).
    expect(first.operation.ruleName).toBe("web-split");
    expect((first.after as { properties: { priority: number } }).properties.priority).toBe(204);
  });

  it("goes above the rule when a Deny below could match the new rule's traffic", () => {
    const nsg = nsgWith([
      web(),
      { name: "deny-443", priority: 201, access: "Deny", source: "198.51.100.0/24", ports: "443" },
      { name: "allow-above", priority: 199, source: "10.2.0.0/16", ports: "*" },
    ]);
    const { first } = steps(nsg);
    expect((first.after as { properties: { priority: number } }).properties.priority).toBe(198);
  });

  it("refuses, changing nothing, when no priority keeps every other rule's decisions", () => {
    const nsg = nsgWith([
      web(),
      { name: "deny-below", priority: 201, access: "Deny", source: "*", ports: "443" },
      { name: "deny-above", priority: 199, access: "Deny", source: "0.0.0.0/0", ports: "443" },
    ]);
    const plan = () => deleteRule.plan(snapshotOf(nsg), mustFind(nsg, ssh), ctx);
    expect(plan).toThrow(InputError);
    expect(plan).toThrow(/cannot narrow security rule web without removing traffic that is not offending/);
  });

  it("uses a rule that already keeps those ports (a person's), and picks a free name", () => {
    const kept = nsgWith([
      web(),
      { name: "internet-https", priority: 250, source: "0.0.0.0/0", ports: ["443", "80"] },
    ]);
    const direct = deleteRule.plan(snapshotOf(kept), mustFind(kept, ssh), ctx);
    expect(direct?.operation).toMatchObject({ kind: "put-security-rule", ruleName: "web" });
    expect(direct?.summary).toContain(
      "0.0.0.0/0 keep 443 through security rule internet-https (priority 250)",
    );

    const taken = nsgWith([web(), { name: "web-split", priority: 300, source: "10.9.0.0/16", ports: "443" }]);
    expect(deleteRule.plan(snapshotOf(taken), mustFind(taken, ssh), ctx)?.operation.ruleName).toBe(
      "web-split2",
    );
  });

  it("a `*` rule loses the offending ports for every protocol, and says so", () => {
    const nsg = nsgWith([web({ protocol: "*" })]);
    const { second } = steps(nsg);
    expect(second.summary).toContain("; removes any protocol 22 from 0.0.0.0/0;");
  });

  it("deny-rule narrows a rule with an allow-listed source instead of denying the source with it", () => {
    const nsg = nsgWith([
      { name: "ssh", priority: 200, source: ["203.0.113.0/24", "0.0.0.0/0"], ports: "22" },
    ]);
    const change = denyRule.plan(snapshotOf(nsg), mustFind(nsg, ssh), ctx);
    expect(change?.operation).toMatchObject({ kind: "put-security-rule", ruleName: "ssh" });
    expect(afterProperties(change)).toMatchObject({ access: "Allow", sourceAddressPrefix: "203.0.113.0/24" });
    // A rule that allows nothing but the offending pairs is still flipped, in place, when a Deny there refuses
    // nothing a rule below lets in (a Deny of 0.0.0.0/0 would refuse what AllowVnetInBound lets in: deleted instead).
    const only = nsgWith([{ name: "ssh", priority: 200, source: "Internet", ports: "22" }]);
    expect(afterProperties(denyRule.plan(snapshotOf(only), mustFind(only, ssh), ctx)).access).toBe("Deny");
  });

  it("restrict-source keeps the offending sources' other ports through a split, then replaces them", () => {
    const nsg = nsgWith([web()]);
    const { first, second, after } = steps(nsg, restrictSource, ["203.0.113.10/32"]);
    expect(first.operation).toMatchObject({ ruleName: "web-split", ifNoneMatch: "*" });
    expect(second.summary).toMatch(
      /^restrict security rule web to 10\.1\.0\.0\/16, 203\.0\.113\.10\/32 in place of 0\.0\.0\.0\/0/,
    );
    const rules = Object.fromEntries(
      rulesOf(after).map((r) => [r.name, r.properties as Record<string, unknown>]),
    );
    expect(rules.web?.sourceAddressPrefixes).toEqual(["10.1.0.0/16", "203.0.113.10/32"]);
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
