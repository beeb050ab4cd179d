import { describe, expect, it } from "vitest";
import { sgDefaultNoRules } from "../../../shared/rules/sg-default-no-rules.ts";
import { groupNamed, snapshotOf } from "../../fixtures/aws/sg/load.ts";

const context = { trustedSources: [] };
const evaluate = (group: Record<string, unknown>) =>
  sgDefaultNoRules.evaluate(snapshotOf(group), {}, context);

describe("sg-default-no-rules", () => {
  it("reports each source of a default group's standard rules, inbound and outbound", () => {
    const [violation, ...rest] = evaluate(groupNamed("default", "vpc-0c1d2e3f4a5b6c7d8"));
    expect(rest).toEqual([]);
    expect(violation?.matched).toEqual([
      { direction: "ingress", protocol: "-1", groupId: "sg-0a1b2c3d4e5f60710", userId: "123456789012" },
      { direction: "egress", protocol: "-1", cidr: "0.0.0.0/0" },
    ]);
    expect(violation?.message).toBe(
      "Default security group sg-0a1b2c3d4e5f60710 of vpc-0c1d2e3f4a5b6c7d8 has 1 inbound and 1 outbound rule(s): " +
        "ingress all traffic from sg-0a1b2c3d4e5f60710 (itself); egress all traffic to 0.0.0.0/0",
    );
    expect(violation?.controls).toEqual(["Security Hub EC2.2", "CIS AWS v3.0.0 5.4", "CIS AWS v5.0.0 5.5"]);
  });

  it("accepts an emptied default group", () => {
    expect(evaluate(groupNamed("default", "vpc-0f9e8d7c6b5a49382"))).toEqual([]);
  });

  it("ignores groups that are not default, however open", () => {
    expect(evaluate(groupNamed("all-open"))).toEqual([]);
  });

  it("lists CIDRs, IPv6 ranges, prefix lists and group references with their ports", () => {
    const group = {
      ...groupNamed("default", "vpc-0c1d2e3f4a5b6c7d8"),
      IpPermissions: groupNamed("mixed-sources").IpPermissions,
    };
    const [violation] = evaluate(group);
    expect(violation?.matched.filter((m) => m.direction === "ingress")).toEqual([
      { direction: "ingress", protocol: "tcp", fromPort: 22, toPort: 22, cidr: "10.0.0.0/16" },
      { direction: "ingress", protocol: "tcp", fromPort: 22, toPort: 22, cidr: "0.0.0.0/0" },
      { direction: "ingress", protocol: "tcp", fromPort: 22, toPort: 22, cidr: "::/0" },
      {
        direction: "ingress",
        protocol: "tcp",
        fromPort: 22,
        toPort: 22,
        prefixListId: "pl-0123456789abcdef0",
      },
      {
        direction: "ingress",
        protocol: "tcp",
        fromPort: 22,
        toPort: 22,
        groupId: "sg-0a1b2c3d4e5f60706",
        userId: "123456789012",
      },
      { direction: "ingress", protocol: "tcp", fromPort: 443, toPort: 443, cidr: "0.0.0.0/0" },
    ]);
    expect(violation?.message).toContain("ingress tcp 22 from pl-0123456789abcdef0");
  });

  it("has strict, empty options", () => {
    expect(sgDefaultNoRules.options.safeParse({}).success).toBe(true);
    expect(sgDefaultNoRules.options.safeParse({ ports: [22] }).success).toBe(false);
    expect(sgDefaultNoRules.remediations).toEqual(["revoke-all"]);
  });
});
