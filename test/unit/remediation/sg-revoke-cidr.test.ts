import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { revokeCidr } from "../../../shared/remediation/revoke-cidr.ts";
import {
  type SgIngressExposureOptions,
  sgIngressExposure,
} from "../../../shared/rules/sg-ingress-exposure.ts";
import type { RuleContext } from "../../../shared/rules/types.ts";
import type { Finding, Snapshot } from "../../../shared/types.ts";
import { groupNamed, snapshotOf } from "../../fixtures/aws/sg/load.ts";

const noTrust: RuleContext = { trustedSources: [] };

function findingFor(snapshot: Snapshot, raw: unknown = {}, context = noTrust, kind?: string): Finding {
  const violations = sgIngressExposure.evaluate(snapshot, sgIngressExposure.options.parse(raw), context);
  const violation = kind === undefined ? violations[0] : violations.find((v) => v.kind === kind);
  if (!violation) throw new Error("expected a violation");
  return {
    policyRule: "no-admin-ports-from-world",
    ruleId: "sg-ingress-exposure",
    resourceId: snapshot.resourceId,
    resourceType: snapshot.resourceType,
    severity: "high",
    message: violation.message,
    controls: violation.controls ?? [],
    matched: violation.matched,
    ...(violation.kind === undefined ? {} : { kind: violation.kind }),
  };
}

interface Perm {
  IpProtocol: string;
  FromPort?: number;
  ToPort?: number;
  IpRanges?: { CidrIp: string; Description?: string }[];
  Ipv6Ranges?: { CidrIpv6: string; Description?: string }[];
  PrefixListIds?: { PrefixListId: string }[];
  UserIdGroupPairs?: { GroupId?: string; UserId?: string }[];
}

/**
 * What EC2 does with RevokeSecurityGroupIngress by IpPermissions: per entry, find the rule with exactly that
 * protocol and ports, drop exactly the listed sources, and drop a permission left without sources.
 */
function applyRevoke(group: Record<string, unknown>, ipPermissions: Perm[]): Record<string, unknown> {
  let permissions = structuredClone(group.IpPermissions as Perm[]);
  for (const revoke of ipPermissions) {
    const target = permissions.find(
      (p) =>
        p.IpProtocol === revoke.IpProtocol && p.FromPort === revoke.FromPort && p.ToPort === revoke.ToPort,
    );
    if (!target) throw new Error(`unknown permission ${JSON.stringify(revoke)}`);
    const v4 = (revoke.IpRanges ?? []).map((r) => r.CidrIp);
    const v6 = (revoke.Ipv6Ranges ?? []).map((r) => r.CidrIpv6);
    for (const cidr of v4)
      if (!target.IpRanges?.some((r) => r.CidrIp === cidr)) throw new Error(`unknown ${cidr}`);
    target.IpRanges = (target.IpRanges ?? []).filter((r) => !v4.includes(r.CidrIp));
    target.Ipv6Ranges = (target.Ipv6Ranges ?? []).filter((r) => !v6.includes(r.CidrIpv6));
    permissions = permissions.filter(
      (p) =>
        (p.IpRanges?.length ?? 0) +
          (p.Ipv6Ranges?.length ?? 0) +
          (p.PrefixListIds?.length ?? 0) +
          (p.UserIdGroupPairs?.length ?? 0) >
        0,
    );
  }
  return { ...group, IpPermissions: permissions };
}

/** Every (permission key, source) of a group's ingress, as comparable strings. */
function sourcesOf(group: Record<string, unknown>): string[] {
  return (group.IpPermissions as Perm[]).flatMap((p) => {
    const key = `${p.IpProtocol}:${p.FromPort}:${p.ToPort}`;
    return [
      ...(p.IpRanges ?? []).map((r) => `${key} ${r.CidrIp}`),
      ...(p.Ipv6Ranges ?? []).map((r) => `${key} ${r.CidrIpv6}`),
      ...(p.PrefixListIds ?? []).map((r) => `${key} ${r.PrefixListId}`),
      ...(p.UserIdGroupPairs ?? []).map((r) => `${key} ${r.GroupId}`),
    ];
  });
}

describe("revoke-cidr", () => {
  it("revokes exactly 0.0.0.0/0 and ::/0 of a mixed permission in one call, neighbours untouched", () => {
    const group = groupNamed("mixed-sources");
    const snapshot = snapshotOf(group);
    const plan = revokeCidr.plan(snapshot, findingFor(snapshot), noTrust);
    expect(plan?.operation).toEqual({
      kind: "revoke-security-group-ingress",
      groupId: "sg-0a1b2c3d4e5f60705",
      ipPermissions: [
        {
          IpProtocol: "tcp",
          FromPort: 22,
          ToPort: 22,
          IpRanges: [{ CidrIp: "0.0.0.0/0" }],
          Ipv6Ranges: [{ CidrIpv6: "::/0" }],
        },
      ],
    });
    const before = (group.IpPermissions as Perm[])[0];
    expect(plan?.before).toEqual([before]);
    expect(plan?.after).toEqual([
      {
        ...before,
        IpRanges: [{ CidrIp: "10.0.0.0/16", Description: "office vpn" }],
        Ipv6Ranges: [],
      },
    ]);
    expect(plan?.summary).toBe(
      "revoke ingress tcp 22 from 0.0.0.0/0, tcp 22 from ::/0 on sg-0a1b2c3d4e5f60705 " +
        "(2 CIDRs in one RevokeSecurityGroupIngress call); other sources stay",
    );
    expect(plan?.remediation).toBe("revoke-cidr");
    expect(plan?.resourceId).toBe("sg-0a1b2c3d4e5f60705");
  });

  it("revokes several permissions in one call and reports a permission left empty as null after", () => {
    const snapshot = snapshotOf(groupNamed("wide-ranges"));
    const plan = revokeCidr.plan(snapshot, findingFor(snapshot), noTrust);
    expect(plan?.operation.ipPermissions).toEqual([
      { IpProtocol: "tcp", FromPort: 0, ToPort: 65535, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
      { IpProtocol: "tcp", FromPort: 20, ToPort: 25, Ipv6Ranges: [{ CidrIpv6: "::/0" }] },
    ]);
    expect(plan?.after).toEqual([null, null]);
    // EC2 revokes a range whole: the alert and the audit say what goes beyond the protected ports.
    expect(plan?.summary).toContain(
      "; also closes tcp 0-21, 23-3388, 3390-65535 to 0.0.0.0/0; tcp 20-21, 23-25 to ::/0, which the entry does not protect",
    );
  });

  it("says an all-traffic permission loses every protocol, and says nothing more for an exact port", () => {
    const all = snapshotOf(groupNamed("all-open"));
    expect(revokeCidr.plan(all, findingFor(all), noTrust)?.summary).toContain(
      "; also closes every other protocol and port to 0.0.0.0/0, which the entry does not protect",
    );
    const exact = snapshotOf(groupNamed("mixed-sources"));
    expect(revokeCidr.plan(exact, findingFor(exact), noTrust)?.summary).not.toContain("also closes");
  });

  it("keeps -1 without ports and numeric protocols exactly as the group holds them", () => {
    const all = snapshotOf(groupNamed("all-open"));
    expect(revokeCidr.plan(all, findingFor(all), noTrust)?.operation.ipPermissions).toEqual([
      { IpProtocol: "-1", IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
    ]);
    const numeric = snapshotOf(groupNamed("numeric-protocols"));
    expect(revokeCidr.plan(numeric, findingFor(numeric), noTrust)?.operation.ipPermissions).toEqual([
      { IpProtocol: "6", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
    ]);
  });

  it("re-checks the snapshot: only CIDRs still present are revoked, none left gives undefined", () => {
    const group = groupNamed("mixed-sources");
    const finding = findingFor(snapshotOf(group));
    const permissions = group.IpPermissions as Perm[];
    const first = permissions[0];
    if (!first) throw new Error("fixture");
    first.Ipv6Ranges = [];
    const newer = snapshotOf(group);
    expect(revokeCidr.plan(newer, finding, noTrust)?.operation.ipPermissions).toEqual([
      { IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
    ]);
    first.IpRanges = [{ CidrIp: "10.0.0.0/16" }];
    expect(revokeCidr.plan(snapshotOf(group), finding, noTrust)).toBeUndefined();
    // The same CIDR on a different port range is a different rule: not the one the finding named.
    first.FromPort = 2222;
    first.ToPort = 2222;
    first.IpRanges = [{ CidrIp: "0.0.0.0/0" }];
    expect(revokeCidr.plan(snapshotOf(group), finding, noTrust)).toBeUndefined();
  });

  it("revokes by content, never by the rule ids the event recorded or the finding carries", () => {
    // A rule id survives ModifySecurityGroupRules: revoking by id could delete what the owner rewrote it into.
    const snapshot = snapshotOf(groupNamed("mixed-sources"));
    const finding = findingFor(snapshot);
    const plain = revokeCidr.plan(snapshot, finding, noTrust);
    const ruleSet = [
      {
        SecurityGroupRuleId: "sgr-00000000000000004",
        IsEgress: false,
        IpProtocol: "tcp",
        FromPort: 22,
        ToPort: 22,
        CidrIpv4: "0.0.0.0/0",
      },
      {
        SecurityGroupRuleId: "sgr-00000000000000006",
        IsEgress: false,
        IpProtocol: "tcp",
        FromPort: 22,
        ToPort: 22,
        CidrIpv6: "::/0",
      },
    ];
    const withIds = {
      ...finding,
      matched: finding.matched.map((m, i) => ({ ...m, ruleId: `sgr-0123456789abcdef${i}` })),
    };
    for (const plan of [
      revokeCidr.plan(snapshot, finding, { ...noTrust, eventDetails: { ruleSet } }),
      revokeCidr.plan(snapshot, withIds, noTrust),
    ]) {
      expect(plan?.operation).toEqual(plain?.operation);
      expect(plan?.operation).not.toHaveProperty("securityGroupRuleIds");
      expect(plan?.operation.ipPermissions).toEqual([
        {
          IpProtocol: "tcp",
          FromPort: 22,
          ToPort: 22,
          IpRanges: [{ CidrIp: "0.0.0.0/0" }],
          Ipv6Ranges: [{ CidrIpv6: "::/0" }],
        },
      ]);
    }
  });

  it("never plans a CIDR that comes from a prefix list, even when the group holds the same CIDR itself", () => {
    const snapshot = snapshotOf(groupNamed("mixed-sources"));
    const finding = findingFor(snapshot);
    const viaList = {
      ...finding,
      matched: finding.matched.map((m) => ({ ...m, prefixListId: "pl-0123456789abcdef0" })),
    };
    expect(revokeCidr.plan(snapshot, viaList, noTrust)).toBeUndefined();
  });

  it("ignores matched entries that are not ingress exposures", () => {
    const snapshot = snapshotOf(groupNamed("mixed-sources"));
    const finding = {
      ...findingFor(snapshot),
      matched: [{ direction: "egress", protocol: "-1", cidr: "0.0.0.0/0" }, { securityRule: "allow-ssh" }],
    };
    expect(revokeCidr.plan(snapshot, finding, noTrust)).toBeUndefined();
  });

  it("declares the write permission it needs", () => {
    expect(revokeCidr.permissions).toEqual([
      "ec2:RevokeSecurityGroupIngress",
      "ec2:DescribeSecurityGroupRules",
    ]);
    expect(revokeCidr.resourceTypes).toEqual(["aws:ec2:security-group"]);
  });
});

// Property: for any group and policy, applying the plan and re-evaluating finds nothing, and every source the
// finding did not name (other CIDRs, prefix lists, group references) is still there.
const cidrs4 = [
  "0.0.0.0/0",
  "10.0.0.0/16",
  "192.168.1.0/24",
  "198.51.100.0/24",
  "203.0.113.7/32",
  "0.0.0.0/1",
];
const cidrs6 = ["::/0", "fd00::/8", "2001:db8::/32", "2001:db8:1::/48"];
const protocols = ["tcp", "udp", "-1", "6", "17", "icmp", "50"];

const permissionArb = fc
  .record({
    protocol: fc.constantFrom(...protocols),
    from: fc.integer({ min: 0, max: 4000 }),
    width: fc.constantFrom(0, 0, 3, 100, 65535),
    v4: fc.subarray(cidrs4),
    v6: fc.subarray(cidrs6),
    prefixList: fc.boolean(),
    groupRef: fc.boolean(),
  })
  .map(({ protocol, from, width, v4, v6, prefixList, groupRef }): Perm => {
    const ported = ["tcp", "udp", "6", "17"].includes(protocol);
    const ports = ported
      ? { FromPort: from, ToPort: Math.min(from + width, 65535) }
      : protocol === "icmp"
        ? { FromPort: 8, ToPort: -1 }
        : {};
    return {
      IpProtocol: protocol,
      ...ports,
      IpRanges: v4.map((CidrIp) => ({ CidrIp })),
      Ipv6Ranges: v6.map((CidrIpv6) => ({ CidrIpv6 })),
      PrefixListIds: prefixList ? [{ PrefixListId: "pl-0123456789abcdef0" }] : [],
      UserIdGroupPairs: groupRef ? [{ GroupId: "sg-0a1b2c3d4e5f60706", UserId: "123456789012" }] : [],
    };
  });

// EC2 merges rules with the same protocol and ports into one permission, so keys are unique in a group.
const groupArb = fc
  .uniqueArray(permissionArb, { selector: (p) => `${p.IpProtocol}:${p.FromPort}:${p.ToPort}`, maxLength: 6 })
  .map((IpPermissions): Record<string, unknown> => ({ ...groupNamed("web-public"), IpPermissions }));

const optionsArb = fc.record({
  ports: fc.constantFrom<(number | string)[]>([22, 3389], [22], ["0-65535"], [443, "3000-3100"]),
  protocols: fc.constantFrom<("tcp" | "udp")[]>(["tcp"], ["udp"], ["tcp", "udp"]),
  publicPrefixes: fc.constantFrom(true, false, "alert", "remediate", "ignore"),
  trustedSources: fc.constantFrom([], ["203.0.113.0/24"], ["198.51.100.0/24", "2001:db8::/32"]),
});

// What the reader resolves the fixture's prefix list to: AWS-managed, private entries, or the whole world.
const listArb = fc.constantFrom<Record<string, unknown>>(
  { state: "aws-managed", id: "pl-0123456789abcdef0", ownerId: "AWS" },
  { state: "customer-managed", id: "pl-0123456789abcdef0", entries: [{ Cidr: "10.0.0.0/8" }] },
  { state: "customer-managed", id: "pl-0123456789abcdef0", entries: [{ Cidr: "0.0.0.0/0" }] },
  { state: "unreadable", id: "pl-0123456789abcdef0", reason: "AccessDenied" },
);

describe("revoke-cidr property", () => {
  it("each finding's revoke leaves that finding gone and every other source in place", () => {
    let exercised = 0;
    const withList = (group: Record<string, unknown>, list: Record<string, unknown>): Snapshot => ({
      ...snapshotOf(group),
      related: { prefixLists: { "pl-0123456789abcdef0": list } },
    });
    // Findings through a prefix list are alert-only: the remediation never touches them, and they stay.
    const remediable = (snapshot: Snapshot, options: SgIngressExposureOptions) =>
      sgIngressExposure.evaluate(snapshot, options, noTrust).filter((v) => v.alertOnly === undefined);
    const alertOnly = (snapshot: Snapshot, options: SgIngressExposureOptions) =>
      sgIngressExposure.evaluate(snapshot, options, noTrust).filter((v) => v.alertOnly !== undefined);
    fc.assert(
      fc.property(groupArb, optionsArb, listArb, (group, raw, list) => {
        const options = sgIngressExposure.options.parse(raw);
        const kinds = remediable(withList(group, list), options).map((v) => v.kind);
        if (kinds.length === 0) return;
        exercised++;
        let current = group;
        for (const kind of kinds) {
          const snapshot = withList(current, list);
          const finding = findingFor(snapshot, raw, noTrust, kind);
          const plan = revokeCidr.plan(snapshot, finding, noTrust);
          expect(plan).toBeDefined();
          const after = applyRevoke(current, plan?.operation.ipPermissions as Perm[]);
          expect(remediable(withList(after, list), options).map((v) => v.kind)).not.toContain(kind);
          // What comes through the prefix list is never touched: its findings stay as they were.
          expect(alertOnly(withList(after, list), options)).toEqual(alertOnly(snapshot, options));
          const revoked = new Set(
            finding.matched.map((m) => `${m.protocol}:${m.fromPort}:${m.toPort} ${m.cidr}`),
          );
          expect(sourcesOf(after)).toEqual(sourcesOf(current).filter((s) => !revoked.has(s)));
          // Remediating world-open sources never takes a specific prefix (an allow-listed office range) with them.
          if (kind === "world-open") {
            expect([...revoked].every((s) => / (0\.0\.0\.0|::)\/0$/.test(s))).toBe(true);
          }
          // The other groups' fields are untouched by construction; the egress too.
          expect(after.IpPermissionsEgress).toEqual(current.IpPermissionsEgress);
          current = after;
        }
        expect(remediable(withList(current, list), options)).toEqual([]);
      }),
      { numRuns: 300 },
    );
    // Guards the generator: most groups it builds must actually offend, or the property proves little.
    expect(exercised).toBeGreaterThan(100);
  });
});
