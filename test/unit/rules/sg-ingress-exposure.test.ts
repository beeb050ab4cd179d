import { describe, expect, it } from "vitest";
import { InputError } from "../../../shared/errors.ts";
import { loadPolicyFile } from "../../../shared/policy/load.ts";
import type { ResolvedPrefixList } from "../../../shared/rules/sg/prefix-lists.ts";
import {
  type SgIngressExposureOptions,
  sgIngressExposure,
} from "../../../shared/rules/sg-ingress-exposure.ts";
import type { RuleContext, Violation } from "../../../shared/rules/types.ts";
import type { Snapshot } from "../../../shared/types.ts";
import { cliDocsExample, groupNamed, snapshotOf } from "../../fixtures/aws/sg/load.ts";

const noTrust: RuleContext = { trustedSources: [] };
/** The prefix list the bastion-refs fixture references on tcp 22. */
const PL = "pl-0123456789abcdef0";

function options(raw: unknown = {}): SgIngressExposureOptions {
  return sgIngressExposure.options.parse(raw);
}

function evaluate(name: string, raw: unknown = {}, context = noTrust): Violation[] {
  return sgIngressExposure.evaluate(snapshotOf(groupNamed(name)), options(raw), context);
}

function cidrsOf(violations: Violation[]): unknown[] {
  return violations.flatMap((v) => v.matched.map((m) => m.cidr));
}

describe("sg-ingress-exposure options", () => {
  it("defaults to tcp 22 and 3389, public prefixes alerted", () => {
    expect(options()).toEqual({
      ports: [22, 3389],
      protocols: ["tcp"],
      trustedSources: [],
      publicPrefixes: "alert",
    });
    expect(sgIngressExposure.options.safeParse({ publicPrefixes: "yes" }).success).toBe(false);
  });

  it("rejects unknown keys, bad ports, bad protocols and bad prefixes", () => {
    expect(sgIngressExposure.options.safeParse({ port: [22] }).success).toBe(false);
    expect(sgIngressExposure.options.safeParse({ ports: ["25-20"] }).success).toBe(false);
    expect(sgIngressExposure.options.safeParse({ ports: [70000] }).success).toBe(false);
    expect(sgIngressExposure.options.safeParse({ protocols: ["icmp"] }).success).toBe(false);
    expect(sgIngressExposure.options.safeParse({ trustedSources: ["bastion"] }).success).toBe(false);
    expect(sgIngressExposure.options.safeParse({ ports: [22, "1024-2048"] }).success).toBe(true);
  });
});

describe("sg-ingress-exposure", () => {
  it("reports tcp 22 from 0.0.0.0/0 with EC2.13, EC2.53 and CIS, and ignores 443 from the world", () => {
    const [violation, ...rest] = evaluate("web-public");
    expect(rest).toEqual([]);
    expect(violation?.matched).toEqual([
      {
        protocol: "tcp",
        fromPort: 22,
        toPort: 22,
        cidr: "0.0.0.0/0",
        family: "ipv4",
        ports: ["22"],
        controls: [
          "Security Hub EC2.13",
          "Security Hub EC2.18",
          "Security Hub EC2.19",
          "Security Hub EC2.53",
          "CIS AWS v3.0.0 5.2",
          "CIS AWS v5.0.0 5.3",
        ],
      },
    ]);
    expect(violation?.message).toBe(
      "Security group web-public (sg-0a1b2c3d4e5f60701) allows tcp 22 from 0.0.0.0/0",
    );
    expect(violation?.controls).toEqual(violation?.matched[0]?.controls);
  });

  it("reports tcp 22 from ::/0 as IPv6 with EC2.54 and the IPv6 CIS controls, not EC2.53", () => {
    const [violation] = evaluate("ssh-ipv6");
    expect(violation?.matched).toMatchObject([{ cidr: "::/0", family: "ipv6", ports: ["22"] }]);
    expect(violation?.controls).toEqual([
      "Security Hub EC2.13",
      "Security Hub EC2.18",
      "Security Hub EC2.19",
      "Security Hub EC2.54",
      "CIS AWS v3.0.0 5.3",
      "CIS AWS v5.0.0 5.4",
    ]);
  });

  it("treats -1 as every protocol and every port, without ports in matched", () => {
    const [violation] = evaluate("all-open");
    const [match] = violation?.matched ?? [];
    expect(match).toEqual({
      protocol: "-1",
      cidr: "0.0.0.0/0",
      family: "ipv4",
      ports: ["22", "3389"],
      controls: expect.arrayContaining(["Security Hub EC2.13", "Security Hub EC2.14", "Security Hub EC2.53"]),
    });
    expect(match).not.toHaveProperty("fromPort");
    expect(violation?.message).toContain("all traffic (ports 22, 3389 among it) from 0.0.0.0/0");
    // -1 also opens every port to udp, so a udp-only policy still sees it.
    expect(cidrsOf(evaluate("all-open", { protocols: ["udp"] }))).toEqual(["0.0.0.0/0"]);
  });

  it("finds protected ports inside ranges (0-65535, 20-25) and skips ranges without one", () => {
    const [violation] = evaluate("wide-ranges");
    expect(violation?.matched.map((m) => [m.fromPort, m.toPort, m.cidr, m.ports])).toEqual([
      [0, 65535, "0.0.0.0/0", ["22", "3389"]],
      [20, 25, "::/0", ["22"]],
    ]);
    expect(violation?.message).toContain("tcp 22, 3389 (rule opens 0-65535) from 0.0.0.0/0");
    expect(violation?.message).toContain("tcp 22 (rule opens 20-25) from ::/0");
    // 20-25 to the world includes 22 but not 3389: EC2.14 belongs to the 0-65535 part only.
    expect(violation?.matched[1]?.controls).not.toContain("Security Hub EC2.14");
    expect(violation?.matched[0]?.controls).toContain("Security Hub EC2.14");
  });

  it("accepts port ranges in options and matches a range overlapping the permission", () => {
    const [violation] = evaluate("wide-ranges", { ports: ["8050-8060"] });
    expect(violation?.matched.map((m) => [m.fromPort, m.ports])).toEqual([
      [0, ["8050-8060"]],
      [8000, ["8050-8060"]],
    ]);
  });

  it("names only the offending CIDRs of a permission with mixed sources", () => {
    const [violation] = evaluate("mixed-sources");
    expect(violation?.matched.map((m) => `${m.protocol} ${m.fromPort}-${m.toPort} ${m.cidr}`)).toEqual([
      "tcp 22-22 0.0.0.0/0",
      "tcp 22-22 ::/0",
    ]);
  });

  it("never reports security group references, nor an AWS-managed or a private customer-managed prefix list", () => {
    const snapshot = snapshotOf(groupNamed("bastion-refs"));
    const withList = (list: ResolvedPrefixList): Snapshot => ({
      ...snapshot,
      related: { prefixLists: { [PL]: list } },
    });
    const s3 = withList({ state: "aws-managed", id: PL, name: "com.amazonaws.us-east-1.s3", ownerId: "AWS" });
    expect(sgIngressExposure.evaluate(s3, options(), noTrust)).toEqual([]);
    const corp = withList({
      state: "customer-managed",
      id: PL,
      name: "corp",
      ownerId: "123456789012",
      entries: [{ Cidr: "10.0.0.0/8" }, { Cidr: "fd00::/8", Description: "ula" }],
    });
    expect(sgIngressExposure.evaluate(corp, options(), noTrust)).toEqual([]);
  });

  it("judges a customer-managed prefix list's entries as CIDRs, alert-only: the list is shared", () => {
    const snapshot: Snapshot = {
      ...snapshotOf(groupNamed("bastion-refs")),
      related: {
        prefixLists: {
          [PL]: {
            state: "customer-managed",
            id: PL,
            name: "partner-ranges",
            ownerId: "123456789012",
            entries: [
              { Cidr: "10.0.0.0/8" },
              { Cidr: "0.0.0.0/0", Description: "temporary" },
              { Cidr: "::/0" },
            ],
          },
        },
      },
    };
    const [violation, ...rest] = sgIngressExposure.evaluate(snapshot, options(), noTrust);
    expect(rest).toEqual([]);
    expect(violation?.matched.map((m) => [m.cidr, m.family, m.prefixListId, m.ports])).toEqual([
      ["0.0.0.0/0", "ipv4", PL, ["22"]],
      ["::/0", "ipv6", PL, ["22"]],
    ]);
    expect(violation?.message).toContain(`tcp 22 from 0.0.0.0/0 (in prefix list ${PL} (partner-ranges))`);
    expect(violation?.alertOnly).toMatch(/does not edit prefix lists/);
    expect(violation?.controls).toContain("Security Hub EC2.13");
    // The group's own sources are judged as before: the list adds a finding, it hides none.
    const direct = structuredClone(groupNamed("bastion-refs"));
    const ssh = (direct.IpPermissions as { IpRanges: { CidrIp: string }[] }[])[0];
    ssh?.IpRanges.push({ CidrIp: "0.0.0.0/0" });
    const both = sgIngressExposure.evaluate({ ...snapshot, resource: direct }, options(), noTrust);
    expect(both.map((v) => [v.alertOnly === undefined, v.matched.length])).toEqual([
      [true, 1],
      [false, 2],
    ]);
  });

  it("reports a prefix list that could not be read, or was never resolved, as a finding of its own", () => {
    const snapshot = snapshotOf(groupNamed("bastion-refs"));
    const unresolved = sgIngressExposure.evaluate(snapshot, options(), noTrust);
    expect(unresolved).toHaveLength(1);
    expect(unresolved[0]?.matched).toEqual([
      expect.objectContaining({ protocol: "tcp", fromPort: 22, prefixListId: PL, ports: ["22"] }),
    ]);
    expect(unresolved[0]?.message).toContain("could not be read (its entries were not resolved");
    expect(unresolved[0]?.controls).toEqual([]);
    expect(unresolved[0]?.alertOnly).toBeDefined();

    const denied: Snapshot = {
      ...snapshot,
      related: {
        prefixLists: { [PL]: { state: "unreadable", id: PL, reason: "UnauthorizedOperation: denied" } },
      },
    };
    const [violation] = sgIngressExposure.evaluate(denied, options(), noTrust);
    expect(violation?.message).toContain("UnauthorizedOperation: denied");
    expect(violation?.message).toContain("it may hold 0.0.0.0/0");
    // Malformed resolved data is not trusted either.
    const garbled: Snapshot = {
      ...snapshot,
      related: { prefixLists: { [PL]: { state: "customer-managed" } } },
    };
    expect(sgIngressExposure.evaluate(garbled, options(), noTrust)[0]?.message).toContain("malformed");
    // A list on a port the policy does not protect is not evaluated at all.
    expect(sgIngressExposure.evaluate(snapshot, options({ ports: [443] }), noTrust)).toEqual([]);
  });

  it("does not report a trusted source, and reports a public /24 as an alert-only finding of its own", () => {
    const trusted = { trustedSources: ["203.0.113.10/32"] };
    expect(cidrsOf(evaluate("partners", {}, trusted))).toEqual(["198.51.100.0/24"]);
    expect(cidrsOf(evaluate("partners", {}, noTrust))).toEqual(["203.0.113.10/32", "198.51.100.0/24"]);
    expect(cidrsOf(evaluate("partners", { trustedSources: ["203.0.113.0/24"] }))).toEqual([
      "198.51.100.0/24",
    ]);
    expect(evaluate("partners", { publicPrefixes: false })).toEqual([]);
    expect(evaluate("partners", { publicPrefixes: "ignore" })).toEqual([]);
    // A specific public prefix fails no Security Hub control: those are about 0.0.0.0/0 and ::/0.
    const [violation, ...others] = evaluate("partners", {}, trusted);
    expect(others).toEqual([]);
    expect(violation?.controls).toEqual([]);
    expect(violation?.matched[0]?.controls).toEqual([]);
    expect(violation).toMatchObject({ kind: "public-prefix", maxMode: "alert" });
    expect(violation?.message).toContain("(specific public prefixes outside trustedSources)");
    // Opting in lifts the ceiling: the entry's own mode applies.
    expect(evaluate("partners", { publicPrefixes: "remediate" }, trusted)[0]?.maxMode).toBeUndefined();
    expect(evaluate("partners", { publicPrefixes: "report" }, trusted)[0]?.maxMode).toBe("report");
  });

  it("reports 0.0.0.0/0 added beside an office range apart from it: only the /0 carries the world-open controls", () => {
    const group = {
      ...groupNamed("web-public"),
      IpPermissions: [
        {
          IpProtocol: "tcp",
          FromPort: 22,
          ToPort: 22,
          IpRanges: [{ CidrIp: "203.0.113.0/24", Description: "office" }, { CidrIp: "0.0.0.0/0" }],
          Ipv6Ranges: [],
          PrefixListIds: [],
          UserIdGroupPairs: [],
        },
      ],
    };
    const [world, office, ...none] = sgIngressExposure.evaluate(snapshotOf(group), options(), noTrust);
    expect(none).toEqual([]);
    expect(world?.kind).toBe("world-open");
    expect(world?.maxMode).toBeUndefined();
    expect(world?.matched.map((m) => m.cidr)).toEqual(["0.0.0.0/0"]);
    expect(world?.controls).toContain("Security Hub EC2.13");
    expect(office).toMatchObject({ kind: "public-prefix", maxMode: "alert", controls: [] });
    expect(office?.matched.map((m) => m.cidr)).toEqual(["203.0.113.0/24"]);
  });

  it("reports a CIDR that does not parse (leading zeros) as malformed, never as private space", () => {
    const group = {
      ...groupNamed("web-public"),
      IpPermissions: [
        {
          IpProtocol: "tcp",
          FromPort: 22,
          ToPort: 22,
          IpRanges: [{ CidrIp: "010.0.0.0/8" }, { CidrIp: "10.0.0.0/8" }],
          Ipv6Ranges: [],
          PrefixListIds: [],
          UserIdGroupPairs: [],
        },
      ],
    };
    const violations = sgIngressExposure.evaluate(
      snapshotOf(group),
      options({ publicPrefixes: "ignore" }),
      noTrust,
    );
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({ kind: "malformed-prefix", maxMode: "alert", controls: [] });
    expect(violations[0]?.matched.map((m) => m.cidr)).toEqual(["010.0.0.0/8"]);
  });

  it("still reports 0.0.0.0/0 when a policy lists it as trusted", () => {
    expect(cidrsOf(evaluate("web-public", { trustedSources: ["0.0.0.0/0"] }))).toEqual(["0.0.0.0/0"]);
  });

  it("separates udp rules from a tcp policy", () => {
    expect(evaluate("udp-services")).toEqual([]);
    const [violation] = evaluate("udp-services", { protocols: ["udp"] });
    expect(violation?.matched).toMatchObject([{ protocol: "udp", fromPort: 3389, cidr: "0.0.0.0/0" }]);
    // UDP 3389 fails the admin-port controls (TCP, UDP or all) but not the TCP-only EC2.14 and EC2.19.
    expect(violation?.controls).toEqual([
      "Security Hub EC2.18",
      "Security Hub EC2.53",
      "CIS AWS v3.0.0 5.2",
      "CIS AWS v5.0.0 5.3",
    ]);
  });

  // EC2.53/EC2.54 and CIS AWS 5.2/5.3, which the baseline entry names, concern TCP, UDP or all protocols.
  it("the baseline's admin-port entry reports UDP 3389 from the world", async () => {
    const policy = await loadPolicyFile("policies/baseline.yaml");
    const entry = policy.rules.find((r) => r.name === "aws-no-admin-ports-from-world");
    const [violation] = sgIngressExposure.evaluate(
      snapshotOf(groupNamed("udp-services")),
      options(entry?.options),
      noTrust,
    );
    expect(violation?.matched).toMatchObject([{ protocol: "udp", fromPort: 3389, cidr: "0.0.0.0/0" }]);
    expect(violation?.controls).toContain("Security Hub EC2.53");
  });

  it("reads numeric protocols 6 and 17 as tcp and udp, and ignores icmp and other protocols", () => {
    expect(evaluate("numeric-protocols")[0]?.matched).toMatchObject([{ protocol: "6", fromPort: 22 }]);
    expect(evaluate("numeric-protocols", { protocols: ["tcp", "udp"] })[0]?.matched).toMatchObject([
      { protocol: "6", fromPort: 22 },
      { protocol: "17", fromPort: 3389 },
    ]);
    // ICMP type 8 in FromPort is not port 8; protocol 50 (ESP) has no ports.
    expect(
      evaluate("numeric-protocols", { ports: [8, "0-65535"] })[0]?.matched.map((m) => m.protocol),
    ).toEqual(["6"]);
  });

  it("evaluates the AWS CLI documentation example (a public /24 on 22, a self reference)", () => {
    const [group] = (cliDocsExample() as { SecurityGroups: Record<string, unknown>[] }).SecurityGroups;
    if (!group) throw new Error("fixture is empty");
    const [violation] = sgIngressExposure.evaluate(snapshotOf(group), options(), noTrust);
    expect(violation?.matched).toEqual([
      {
        protocol: "tcp",
        fromPort: 22,
        toPort: 22,
        cidr: "203.0.113.0/24",
        family: "ipv4",
        ports: ["22"],
        controls: [],
      },
    ]);
  });

  it("rejects a resource that is not a security group with an InputError naming the field", () => {
    const snapshot = snapshotOf({ GroupId: "sg-0a1b2c3d4e5f60701", IpPermissions: [{ FromPort: 22 }] });
    expect(() => sgIngressExposure.evaluate(snapshot, options(), noTrust)).toThrow(InputError);
    expect(() => sgIngressExposure.evaluate(snapshot, options(), noTrust)).toThrow(
      /IpPermissions\.0\.IpProtocol/,
    );
  });

  it("tolerates fields it does not know and null lists", () => {
    const group: Record<string, unknown> = { ...groupNamed("web-public"), SomethingNew: { a: 1 } };
    const permissions = group.IpPermissions as Record<string, unknown>[];
    group.IpPermissions = permissions.map((p) => ({ ...p, PrefixListIds: null, Extra: true }));
    expect(cidrsOf(sgIngressExposure.evaluate(snapshotOf(group), options(), noTrust))).toEqual(["0.0.0.0/0"]);
  });

  it("declares its contract: id, strict options, permissions, remediations", () => {
    expect(sgIngressExposure.id).toBe("sg-ingress-exposure");
    expect(sgIngressExposure.resourceTypes).toEqual(["aws:ec2:security-group"]);
    expect(sgIngressExposure.permissions).toEqual(["ec2:DescribeSecurityGroups"]);
    expect(sgIngressExposure.remediations[0]).toBe("revoke-cidr");
    expect(sgIngressExposure.example).toContain("rule: sg-ingress-exposure");
  });
});
