import { describe, expect, it } from "vitest";
import { InputError } from "../../../shared/errors.ts";
import { revokeAll } from "../../../shared/remediation/revoke-all.ts";
import { sgDefaultNoRules } from "../../../shared/rules/sg-default-no-rules.ts";
import type { Finding, Snapshot } from "../../../shared/types.ts";
import { groupNamed, snapshotOf } from "../../fixtures/aws/sg/load.ts";

const context = { trustedSources: [] };

function findingFor(snapshot: Snapshot): Finding {
  const [violation] = sgDefaultNoRules.evaluate(snapshot, {}, context);
  return {
    policyRule: "default-security-groups-closed",
    ruleId: "sg-default-no-rules",
    resourceId: snapshot.resourceId,
    resourceType: snapshot.resourceType,
    severity: "high",
    message: violation?.message ?? "",
    controls: violation?.controls ?? [],
    matched: violation?.matched ?? [],
  };
}

describe("revoke-all", () => {
  it("revokes the default group's standard rules, inbound and outbound, in exact request form", () => {
    const group = groupNamed("default", "vpc-0c1d2e3f4a5b6c7d8");
    const snapshot = snapshotOf(group);
    const plan = revokeAll.plan(snapshot, findingFor(snapshot), context);
    expect(plan?.operation).toEqual({
      kind: "revoke-security-group-rules",
      groupId: "sg-0a1b2c3d4e5f60710",
      ingress: [
        { IpProtocol: "-1", UserIdGroupPairs: [{ GroupId: "sg-0a1b2c3d4e5f60710", UserId: "123456789012" }] },
      ],
      egress: [{ IpProtocol: "-1", IpRanges: [{ CidrIp: "0.0.0.0/0" }] }],
    });
    expect(plan?.before).toEqual({
      IpPermissions: group.IpPermissions,
      IpPermissionsEgress: group.IpPermissionsEgress,
    });
    expect(plan?.after).toEqual({ IpPermissions: [], IpPermissionsEgress: [] });
    expect(plan?.summary).toBe(
      "revoke all 1 inbound and 1 outbound permission(s) of default security group sg-0a1b2c3d4e5f60710 (vpc-0c1d2e3f4a5b6c7d8)",
    );
  });

  it("drops descriptions and output-only fields but keeps every source and exact ports", () => {
    const group = {
      ...groupNamed("default", "vpc-0c1d2e3f4a5b6c7d8"),
      IpPermissions: groupNamed("mixed-sources").IpPermissions,
    };
    const plan = revokeAll.plan(snapshotOf(group), findingFor(snapshotOf(group)), context);
    expect(plan?.operation.ingress).toEqual([
      {
        IpProtocol: "tcp",
        FromPort: 22,
        ToPort: 22,
        IpRanges: [{ CidrIp: "10.0.0.0/16" }, { CidrIp: "0.0.0.0/0" }],
        Ipv6Ranges: [{ CidrIpv6: "::/0" }],
        PrefixListIds: [{ PrefixListId: "pl-0123456789abcdef0" }],
        UserIdGroupPairs: [{ GroupId: "sg-0a1b2c3d4e5f60706", UserId: "123456789012" }],
      },
      { IpProtocol: "tcp", FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
    ]);
  });

  it("returns undefined when the default group is already empty", () => {
    const empty = snapshotOf(groupNamed("default", "vpc-0f9e8d7c6b5a49382"));
    const finding = findingFor(snapshotOf(groupNamed("default", "vpc-0c1d2e3f4a5b6c7d8")));
    expect(revokeAll.plan(empty, finding, context)).toBeUndefined();
  });

  it("refuses to empty a group that is not a default group", () => {
    const snapshot = snapshotOf(groupNamed("web-public"));
    const finding = findingFor(snapshotOf(groupNamed("default", "vpc-0c1d2e3f4a5b6c7d8")));
    expect(() => revokeAll.plan(snapshot, finding, context)).toThrow(InputError);
  });

  it("declares both revoke permissions", () => {
    expect(revokeAll.permissions).toEqual([
      "ec2:RevokeSecurityGroupIngress",
      "ec2:RevokeSecurityGroupEgress",
      "ec2:DescribeSecurityGroupRules",
    ]);
  });
});
