// NSG shapes: test/fixtures/azure/nsg/README.md (Azure REST spec 2024-07-01 examples and the live GET shape).
import { describe, expect, it } from "vitest";
import { InputError } from "../../../shared/errors.ts";
import { restrictSource } from "../../../shared/remediation/restrict-source.ts";
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

function mustFind(resource: Record<string, unknown>, options: unknown, trusted: string[] = []): Finding {
  const finding = findingOf(resource, options, trusted);
  if (!finding) throw new Error("expected a finding");
  return finding;
}

const bastion = "203.0.113.10/32";

describe("restrict-source", () => {
  it("replaces a sole offending source with the trusted prefix (singular field)", () => {
    const nsg = loadFixture("nsg-mixed.json");
    const change = restrictSource.plan(snapshotOf(nsg), mustFind(nsg, { ports: [22] }), {
      trustedSources: [bastion],
    });
    const before = rulesOf(nsg).find((r) => r.name === "allow-ssh-any");
    if (!before) throw new Error("fixture changed");
    const afterProps: Record<string, unknown> = {
      ...(before.properties as Record<string, unknown>),
      sourceAddressPrefix: bastion,
      sourceAddressPrefixes: [],
    };
    const { provisioningState: _, ...putProps } = afterProps;
    expect(change).toEqual({
      remediation: "restrict-source",
      resourceId: NSG_ID,
      summary: `restrict security rule allow-ssh-any to ${bastion} in place of * (it allowed Tcp 22 from *)`,
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
  });

  it("keeps the non-offending sources and adds each trusted prefix once (plural field)", () => {
    const nsg = loadFixture("nsg-mixed.json");
    const change = restrictSource.plan(snapshotOf(nsg), mustFind(nsg, { ports: [3389] }), {
      trustedSources: ["192.168.10.0/24", bastion],
    });
    const props = afterProperties(change);
    expect(props.sourceAddressPrefixes).toEqual(["10.20.0.0/16", "192.168.10.0/24", bastion]);
    expect("sourceAddressPrefix" in props).toBe(false);
    expect(props.destinationPortRange).toBe("3389");
  });

  it("leaves the NSG without exposure for the same policy", () => {
    const nsg = nsgWith([{ name: "rdp", priority: 100, source: ["Internet", "::/0"], ports: "3389" }]);
    const finding = mustFind(nsg, { ports: [3389] }, [bastion]);
    const change = restrictSource.plan(snapshotOf(nsg), finding, { trustedSources: [bastion] });
    if (!change) throw new Error("expected a plan");
    expect(findingOf(applyChange(nsg, change), { ports: [3389] }, [bastion])).toBeUndefined();
  });

  it("throws InputError without trusted prefixes", () => {
    const nsg = loadFixture("nsg-mixed.json");
    const finding = mustFind(nsg, { ports: [22] });
    expect(() => restrictSource.plan(snapshotOf(nsg), finding, { trustedSources: [] })).toThrow(InputError);
    expect(() => restrictSource.plan(snapshotOf(nsg), finding, { trustedSources: ["bastion"] })).toThrow(
      /restrict-source needs trustedSources/,
    );
  });

  it("returns undefined when a newer snapshot already restricted the rule", () => {
    const old = nsgWith([{ name: "ssh", priority: 100, source: "*", ports: "22" }]);
    const finding = mustFind(old, { ports: [22] });
    const newer = nsgWith([{ name: "ssh", priority: 100, source: bastion, ports: "22" }]);
    expect(restrictSource.plan(snapshotOf(newer), finding, { trustedSources: [bastion] })).toBeUndefined();
  });
});
