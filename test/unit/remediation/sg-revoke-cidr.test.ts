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

/**
 * What EC2 does with AuthorizeSecurityGroupIngress: a source joins the permission with exactly that protocol and
 * ports (a new permission when there is none), and an existing (key, source) is a duplicate, which the writer skips.
 */
function applyAuthorize(group: Record<string, unknown>, ipPermissions: Perm[]): Record<string, unknown> {
  const permissions = structuredClone(group.IpPermissions as Perm[]);
  for (const add of ipPermissions) {
    let target = permissions.find(
      (p) => p.IpProtocol === add.IpProtocol && p.FromPort === add.FromPort && p.ToPort === add.ToPort,
    );
    if (!target) {
      target = {
        IpProtocol: add.IpProtocol,
        FromPort: add.FromPort,
        ToPort: add.ToPort,
        IpRanges: [],
        Ipv6Ranges: [],
      };
      permissions.push(target);
    }
    for (const r of add.IpRanges ?? [])
      if (!target.IpRanges?.some((t) => t.CidrIp === r.CidrIp))
        target.IpRanges = [...(target.IpRanges ?? []), r];
    for (const r of add.Ipv6Ranges ?? [])
      if (!target.Ipv6Ranges?.some((t) => t.CidrIpv6 === r.CidrIpv6))
        target.Ipv6Ranges = [...(target.Ipv6Ranges ?? []), r];
  }
  return { ...group, IpPermissions: permissions };
}

const PORTED: Record<string, string> = { tcp: "tcp", "6": "tcp", udp: "udp", "17": "udp" };

/** Whether the group lets `source` in on (protocol, port): a brute-force reading of its permissions. */
function allows(group: Record<string, unknown>, protocol: string, port: number, source: string): boolean {
  return (group.IpPermissions as Perm[]).some((p) => {
    const sources = [
      ...(p.IpRanges ?? []).map((r) => r.CidrIp),
      ...(p.Ipv6Ranges ?? []).map((r) => r.CidrIpv6),
      ...(p.PrefixListIds ?? []).map((r) => r.PrefixListId),
      ...(p.UserIdGroupPairs ?? []).map((r) => r.GroupId ?? ""),
    ];
    if (!sources.includes(source)) return false;
    if (p.IpProtocol === "-1") return true;
    const named = PORTED[p.IpProtocol] ?? p.IpProtocol;
    if (named !== protocol) return false;
    if (PORTED[p.IpProtocol] === undefined) return true;
    return (p.FromPort ?? 0) <= port && port <= (p.ToPort ?? 65535);
  });
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
    expect(plan?.after).toEqual([null, null, ...((plan?.operation.authorize ?? []) as unknown[])]);
    // EC2 revokes a range whole: the ports the entry does not protect are authorized again first, and said.
    expect(plan?.operation.authorize).toEqual([
      { IpProtocol: "tcp", FromPort: 0, ToPort: 21, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
      { IpProtocol: "tcp", FromPort: 23, ToPort: 3388, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
      { IpProtocol: "tcp", FromPort: 3390, ToPort: 65535, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
      // The original rule's description is carried to the ranges that keep it.
      {
        IpProtocol: "tcp",
        FromPort: 20,
        ToPort: 21,
        Ipv6Ranges: [{ CidrIpv6: "::/0", Description: "ftp and ssh" }],
      },
      {
        IpProtocol: "tcp",
        FromPort: 23,
        ToPort: 25,
        Ipv6Ranges: [{ CidrIpv6: "::/0", Description: "ftp and ssh" }],
      },
    ]);
    expect(plan?.summary).toContain(
      "; keeps tcp 0-21, 23-3388, 3390-65535 to 0.0.0.0/0; tcp 20-21, 23-25 to ::/0 open (AuthorizeSecurityGroupIngress of those first, then the revoke: EC2 revokes a range whole)",
    );
    expect(plan?.summary).not.toContain("also closes");
  });

  const withPermissions = (...IpPermissions: Perm[]) =>
    snapshotOf({ ...groupNamed("web-public"), IpPermissions });
  const adminPorts = { ports: [22, 3389], protocols: ["tcp", "udp"] };

  it("narrows a udp range, carries each CIDR's description, and leaves the other CIDRs of the permission alone", () => {
    const snapshot = withPermissions({
      IpProtocol: "udp",
      FromPort: 0,
      ToPort: 65535,
      IpRanges: [
        { CidrIp: "0.0.0.0/0", Description: "legacy any" },
        { CidrIp: "10.0.0.0/16", Description: "office vpn" },
      ],
      Ipv6Ranges: [{ CidrIpv6: "::/0" }],
    });
    const plan = revokeCidr.plan(snapshot, findingFor(snapshot, adminPorts), noTrust);
    expect(plan?.operation.ipPermissions).toEqual([
      {
        IpProtocol: "udp",
        FromPort: 0,
        ToPort: 65535,
        IpRanges: [{ CidrIp: "0.0.0.0/0" }],
        Ipv6Ranges: [{ CidrIpv6: "::/0" }],
      },
    ]);
    const range = (FromPort: number, ToPort: number) => ({
      IpProtocol: "udp",
      FromPort,
      ToPort,
      IpRanges: [{ CidrIp: "0.0.0.0/0", Description: "legacy any" }],
      Ipv6Ranges: [{ CidrIpv6: "::/0" }],
    });
    expect(plan?.operation.authorize).toEqual([range(0, 21), range(23, 3388), range(3390, 65535)]);
  });

  it("undoes a narrowing: revokes the re-authorized ranges, then authorizes the original range back", () => {
    const snapshot = withPermissions({
      IpProtocol: "tcp",
      FromPort: 0,
      ToPort: 65535,
      IpRanges: [{ CidrIp: "0.0.0.0/0", Description: "all tcp" }],
    });
    const plan = revokeCidr.plan(snapshot, findingFor(snapshot, adminPorts), noTrust);
    if (!plan) throw new Error("expected a plan");
    const undo = revokeCidr.undo?.(plan, { account: "123456789012", region: "eu-west-1" });
    const [revoke, authorize] = (undo?.command ?? "").split("\n  --ip-permissions ").slice(1);
    expect(undo?.command).toMatch(/^aws ec2 revoke-security-group-ingress/);
    expect(JSON.parse((revoke ?? "").split("\n")[0]?.slice(1, -1) ?? "")).toEqual([
      { IpProtocol: "tcp", FromPort: 0, ToPort: 21, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
      { IpProtocol: "tcp", FromPort: 23, ToPort: 3388, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
      { IpProtocol: "tcp", FromPort: 3390, ToPort: 65535, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
    ]);
    expect(undo?.command).toContain("aws ec2 authorize-security-group-ingress");
    expect(JSON.parse((authorize ?? "").slice(1, -1))).toEqual([
      {
        IpProtocol: "tcp",
        FromPort: 0,
        ToPort: 65535,
        IpRanges: [{ CidrIp: "0.0.0.0/0", Description: "all tcp" }],
      },
    ]);
  });

  it("revokes a range equal to the protected ports plainly, and an all-traffic permission whole, said", () => {
    const exact = withPermissions({
      IpProtocol: "tcp",
      FromPort: 22,
      ToPort: 22,
      IpRanges: [{ CidrIp: "0.0.0.0/0" }],
    });
    expect(revokeCidr.plan(exact, findingFor(exact, adminPorts), noTrust)?.operation).not.toHaveProperty(
      "authorize",
    );
    const all = snapshotOf(groupNamed("all-open"));
    const plan = revokeCidr.plan(all, findingFor(all), noTrust);
    // Every other protocol (GRE, ESP, ...) would take a permission each: the whole revoke stays, and is said.
    expect(plan?.operation).not.toHaveProperty("authorize");
    expect(plan?.summary).toContain("also closes every other protocol and port");
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
      "ec2:AuthorizeSecurityGroupIngress",
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
          const authorized = applyAuthorize(current, (plan?.operation.authorize ?? []) as Perm[]);
          const after = applyRevoke(authorized, plan?.operation.ipPermissions as Perm[]);
          expect(remediable(withList(after, list), options).map((v) => v.kind)).not.toContain(kind);
          // What comes through the prefix list is never touched: its findings stay as they were.
          expect(alertOnly(withList(after, list), options)).toEqual(alertOnly(snapshot, options));
          const revoked = new Set(
            finding.matched.map((m) => `${m.protocol}:${m.fromPort}:${m.toPort} ${m.cidr}`),
          );
          // Every source that is not revoked keeps its permission (ranges authorized again come on top).
          expect(sourcesOf(after)).toEqual(
            expect.arrayContaining(sourcesOf(current).filter((s) => !revoked.has(s))),
          );
          // Brute force: what the group allows after is what it allowed before, minus the protected ports of the
          // offending (protocol, CIDR)s; all of it for an all-traffic permission, which is never split.
          const protectedPorts = options.ports.map((p) => String(p));
          const isProtected = (port: number) =>
            protectedPorts.some((spec) => {
              const [lo, hi] = spec.split("-").map(Number);
              return (lo ?? 0) <= port && port <= (hi ?? lo ?? 0);
            });
          const wholeRevoke = finding.matched.some((m) => m.protocol === "-1");
          const offending = new Set(finding.matched.map((m) => String(m.cidr)));
          const points = new Set([0, 65535]);
          for (const p of [...(current.IpPermissions as Perm[]), ...(after.IpPermissions as Perm[])])
            for (const v of [p.FromPort ?? 0, (p.ToPort ?? 65535) + 1]) points.add(Math.min(v, 65535));
          for (const spec of protectedPorts)
            for (const v of spec.split("-").map(Number)) points.add(v).add(v + 1);
          const sources = [...cidrs4, ...cidrs6, "pl-0123456789abcdef0", "sg-0a1b2c3d4e5f60706"];
          if (!wholeRevoke) {
            for (const source of sources)
              for (const protocol of ["tcp", "udp", "icmp", "50"])
                for (const port of points) {
                  const removed =
                    offending.has(source) &&
                    isProtected(port) &&
                    finding.matched.some(
                      (m) => m.cidr === source && (PORTED[String(m.protocol)] ?? m.protocol) === protocol,
                    );
                  expect(allows(after, protocol, port, source), `${protocol} ${port} ${source}`).toBe(
                    allows(current, protocol, port, source) && !removed,
                  );
                }
          }
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
