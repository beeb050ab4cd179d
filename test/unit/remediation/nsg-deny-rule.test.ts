// NSG shapes: test/fixtures/azure/nsg/README.md (Azure REST spec 2024-07-01 examples and the live GET shape).
import { describe, expect, it } from "vitest";
import { denyRule } from "../../../shared/remediation/deny-rule.ts";
import type { Finding } from "../../../shared/types.ts";
import {
  afterProperties,
  applyChange,
  ETAG,
  findingOf,
  loadFixture,
  NSG_ID,
  nsgWith,
  rulesOf,
  snapshotOf,
} from "../../fixtures/azure/nsg/nsg.ts";

const ctx = { trustedSources: [] };

function mustFind(resource: Record<string, unknown>, options: unknown): Finding {
  const finding = findingOf(resource, options);
  if (!finding) throw new Error("expected a finding");
  return finding;
}

describe("deny-rule", () => {
  /**
   * nsg-mixed.json with allow-ssh-any open to the Internet only, the bastion's own rule above it and the admin range
   * off port 22: no rule below lets in what a Deny in its place would refuse.
   */
  function internetOnly(): Record<string, unknown> {
    const nsg = loadFixture("nsg-mixed.json");
    for (const rule of rulesOf(nsg)) {
      const props = rule.properties as Record<string, unknown>;
      if (rule.name === "allow-ssh-any") props.sourceAddressPrefix = "Internet";
      if (rule.name === "allow-bastion-ssh") props.priority = 108;
      if (rule.name === "allow-admin-range") props.destinationPortRange = "20-21";
    }
    return nsg;
  }

  it("sets access to Deny and notes it in the description, changing nothing else", () => {
    const nsg = internetOnly();
    const change = denyRule.plan(snapshotOf(nsg), mustFind(nsg, { ports: [22] }), ctx);
    const before = rulesOf(nsg).find((r) => r.name === "allow-ssh-any");
    if (!before) throw new Error("fixture changed");
    const props = before.properties as Record<string, unknown>;
    const afterProps: Record<string, unknown> = {
      ...props,
      access: "Deny",
      description: "Temporary SSH for debugging (denied by network-guardian)",
    };
    const { provisioningState: _, ...putProps } = afterProps;
    expect(change).toEqual({
      remediation: "deny-rule",
      resourceId: NSG_ID,
      summary: "set security rule allow-ssh-any to Deny (it allowed Tcp 22 from Internet)",
      operation: {
        kind: "put-security-rule",
        nsgId: NSG_ID,
        ruleName: "allow-ssh-any",
        ifMatch: ETAG,
        rule: { ...before, properties: putProps },
      },
      before,
      // Exactly the body sent: the rule as read, edited, without the read-only provisioningState.
      after: { ...before, properties: putProps },
      // No other rule of the finding offends any more.
      complete: true,
    });
    // ARM's field order survives, so the audit diff shows only what changed.
    expect(JSON.stringify(change?.after)).toBe(JSON.stringify({ ...before, properties: putProps }));
  });

  it("adds a description when there is none, and leaves a long one alone (ARM allows 140 chars)", () => {
    const long = "x".repeat(120);
    const nsg = nsgWith([
      { name: "bare", priority: 100, source: "Internet", ports: "22" },
      { name: "long", priority: 110, source: "Internet", ports: "22", description: long },
    ]);
    const finding = mustFind(nsg, { ports: [22] });
    const bare = denyRule.plan(snapshotOf(nsg), finding, ctx);
    expect(afterProperties(bare).description).toBe("denied by network-guardian");
    const onlyLong = { ...finding, matched: finding.matched.slice(1) };
    const longPlan = denyRule.plan(snapshotOf(nsg), onlyLong, ctx);
    const props = afterProperties(longPlan);
    expect(props.access).toBe("Deny");
    expect(props.description).toBe(long);
  });

  // A Deny in the Allow's place is decided before every rule below it, the platform's AllowVnetInBound included.
  it("deletes instead when a Deny would take traffic from a rule below: the bastion's, the network's own", () => {
    const nsg = loadFixture("nsg-mixed.json");
    // allow-ssh-any (110) opens 22 to `*`; below it allow-bastion-ssh (140, 203.0.113.10/32, trusted here),
    // allow-vnet-all (160) and AllowVnetInBound (65000) let SSH in from the bastion and from inside the network.
    const trusted = { trustedSources: ["203.0.113.10/32"] };
    const finding = findingOf(nsg, { ports: [22] }, ["203.0.113.10/32"]);
    if (!finding) throw new Error("expected a finding");
    const change = denyRule.plan(snapshotOf(nsg), finding, trusted);
    expect(change?.operation).toMatchObject({ kind: "delete-security-rule", ruleName: "allow-ssh-any" });
    expect(change?.summary).toBe("delete security rule allow-ssh-any (it allowed Tcp 22 from *)");
    const after = applyChange(nsg, change as NonNullable<typeof change>);
    const names = rulesOf(after).map((r) => r.name);
    expect(names).toContain("allow-bastion-ssh");
    expect(names).not.toContain("allow-ssh-any");
  });

  it("flips only when nothing below it lets in what it matches, counting the default rules when the read left them out", () => {
    const flipped = (rules: Parameters<typeof nsgWith>[0], strip = false) => {
      const nsg = nsgWith(rules);
      if (strip) delete (nsg.properties as Record<string, unknown>).defaultSecurityRules;
      return denyRule.plan(snapshotOf(nsg), mustFind(nsg, { ports: [22] }), ctx)?.operation.kind;
    };
    const ssh = (source: string) => ({ name: "ssh", priority: 100, source, ports: "22" });
    // `*`, Any and 0.0.0.0/0 take in the network's own addresses, which AllowVnetInBound lets in.
    for (const source of ["*", "Any", "0.0.0.0/0"]) {
      expect(flipped([ssh(source)]), source).toBe("delete-security-rule");
      expect(flipped([ssh(source)], true), `${source}, no default rules read`).toBe("delete-security-rule");
    }
    // The Internet tag is the space outside the network: a Deny of it leaves VirtualNetwork and AzureLoadBalancer.
    expect(flipped([ssh("Internet")])).toBe("put-security-rule");
    expect(flipped([ssh("Internet")], true)).toBe("put-security-rule");
    // An office range lets itself in on 22 below: a Deny of the Internet above it would shut it out.
    const office = { name: "office", priority: 200, source: "198.51.100.0/24", ports: "22" };
    expect(flipped([ssh("Internet"), office])).toBe("delete-security-rule");
    // Private space is not the Internet's: a Deny of the Internet leaves a private range's rule below alone.
    expect(flipped([ssh("Internet"), { ...office, source: "10.20.0.0/16" }])).toBe("put-security-rule");
    // A second Allow of the Internet below loses only offending traffic to the Deny.
    expect(
      flipped([ssh("Internet"), { name: "ssh-2", priority: 200, source: "internet", ports: "22" }]),
    ).toBe("put-security-rule");
    // A rule below on other ports, or above, is untouched by the Deny.
    expect(flipped([ssh("Internet"), { ...office, ports: "443" }])).toBe("put-security-rule");
    expect(flipped([ssh("Internet"), { ...office, priority: 90 }])).toBe("put-security-rule");
  });

  it("keeps the rule in place: the re-evaluated NSG has no finding and the same rule count", () => {
    const nsg = nsgWith([{ name: "ssh", priority: 100, source: "Internet", ports: "22" }]);
    const change = denyRule.plan(snapshotOf(nsg), mustFind(nsg, { ports: [22] }), ctx);
    if (!change) throw new Error("expected a plan");
    const after = applyChange(nsg, change);
    expect(rulesOf(after)).toHaveLength(1);
    expect(findingOf(after, { ports: [22] })).toBeUndefined();
  });

  it("returns undefined when the rule was already denied or removed", () => {
    const nsg = nsgWith([{ name: "ssh", priority: 100, source: "Internet", ports: "22" }]);
    const finding = mustFind(nsg, { ports: [22] });
    const denied = nsgWith([{ name: "ssh", priority: 100, access: "Deny", source: "Internet", ports: "22" }]);
    expect(denyRule.plan(snapshotOf(denied), finding, ctx)).toBeUndefined();
    expect(denyRule.plan(snapshotOf(nsgWith([])), finding, ctx)).toBeUndefined();
  });

  it("declares the write permission", () => {
    expect(denyRule.id).toBe("deny-rule");
    expect(denyRule.permissions).toContain("Microsoft.Network/networkSecurityGroups/securityRules/write");
  });
});
