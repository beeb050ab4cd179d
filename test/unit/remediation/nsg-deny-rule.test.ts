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
  it("sets access to Deny and notes it in the description, changing nothing else", () => {
    const nsg = loadFixture("nsg-mixed.json");
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
      summary: "set security rule allow-ssh-any to Deny (it allowed Tcp 22 from *)",
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
      // Other rules of the same finding still offend: each needs a write of its own.
      complete: false,
    });
    // ARM's field order survives, so the audit diff shows only what changed.
    expect(JSON.stringify(change?.after)).toBe(JSON.stringify({ ...before, properties: putProps }));
  });

  it("adds a description when there is none, and leaves a long one alone (ARM allows 140 chars)", () => {
    const long = "x".repeat(120);
    const nsg = nsgWith([
      { name: "bare", priority: 100, source: "*", ports: "22" },
      { name: "long", priority: 110, source: "*", ports: "22", description: long },
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
