import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { InputError } from "../../../shared/errors.ts";
import { exposureControls } from "../../../shared/rules/sg/controls.ts";
import { permissionPorts } from "../../../shared/rules/sg/ports.ts";
import {
  ipPermissionSchema,
  normaliseProtocol,
  parseSecurityGroup,
  securityGroupsFromDescribe,
} from "../../../shared/rules/sg/security-group.ts";
import { cliDocsExample } from "../../fixtures/aws/sg/load.ts";

const response = JSON.parse(
  readFileSync(new URL("../../fixtures/aws/sg/describe-security-groups.json", import.meta.url), "utf8"),
) as { SecurityGroups: unknown[] };

describe("securityGroupsFromDescribe", () => {
  it("returns the items of a whole DescribeSecurityGroups response, unchanged", () => {
    const groups = securityGroupsFromDescribe(response);
    expect(groups).toHaveLength(11);
    expect(groups[0]).toBe(response.SecurityGroups[0]);
  });

  it("accepts the SDK output (with $metadata), a bare array and a single group", () => {
    const sdk = { $metadata: { httpStatusCode: 200, attempts: 1 }, ...(cliDocsExample() as object) };
    expect(securityGroupsFromDescribe(sdk)).toHaveLength(1);
    expect(securityGroupsFromDescribe(response.SecurityGroups)).toHaveLength(11);
    const one = response.SecurityGroups[2];
    expect(securityGroupsFromDescribe(one)).toEqual([one]);
  });

  it("accepts an empty response", () => {
    expect(securityGroupsFromDescribe({ SecurityGroups: [] })).toEqual([]);
  });

  it("names the bad item and field", () => {
    const bad = { SecurityGroups: [response.SecurityGroups[0], { GroupId: "sg-1", IpPermissions: "none" }] };
    expect(() => securityGroupsFromDescribe(bad)).toThrow(InputError);
    expect(() => securityGroupsFromDescribe(bad)).toThrow(/SecurityGroups\[1\]\.IpPermissions/);
    expect(() => securityGroupsFromDescribe({ Reservations: [] })).toThrow(/DescribeSecurityGroups response/);
    expect(() => securityGroupsFromDescribe({ SecurityGroups: {} })).toThrow(/not an array/);
  });
});

describe("security group parsing", () => {
  it("fills absent lists with empty ones and keeps unknown fields", () => {
    const group = parseSecurityGroup({ GroupId: "sg-903004f8", SecurityGroupArn: "arn:x", NewField: 1 });
    expect(group.IpPermissions).toEqual([]);
    expect(group.IpPermissionsEgress).toEqual([]);
    expect((group as Record<string, unknown>).NewField).toBe(1);
  });

  it("normalises protocol names and numbers", () => {
    expect(["tcp", "6", "udp", "17", "-1", "icmp", "1", "icmpv6", "58", "50"].map(normaliseProtocol)).toEqual(
      ["tcp", "tcp", "udp", "udp", "all", "icmp", "icmp", "icmpv6", "icmpv6", "other"],
    );
  });

  it("reads ports: ranges for tcp/udp, everything for -1 and port-less protocols, all for a -1 tcp range", () => {
    const perm = (p: object) => ipPermissionSchema.parse(p);
    expect(permissionPorts(perm({ IpProtocol: "tcp", FromPort: 20, ToPort: 25 }))).toEqual([20, 25]);
    expect(permissionPorts(perm({ IpProtocol: "-1" }))).toEqual([0, 65535]);
    expect(permissionPorts(perm({ IpProtocol: "50" }))).toEqual([0, 65535]);
    expect(permissionPorts(perm({ IpProtocol: "tcp", FromPort: -1, ToPort: -1 }))).toEqual([0, 65535]);
  });
});

describe("exposure controls", () => {
  const perm = (p: object) => ipPermissionSchema.parse(p);

  it("maps tcp 3389 from 0.0.0.0/0 to EC2.14 and the IPv4 admin-port controls", () => {
    expect(exposureControls(perm({ IpProtocol: "tcp", FromPort: 3389, ToPort: 3389 }), "ipv4", true)).toEqual(
      [
        "Security Hub EC2.14",
        "Security Hub EC2.18",
        "Security Hub EC2.19",
        "Security Hub EC2.53",
        "CIS AWS v3.0.0 5.2",
        "CIS AWS v5.0.0 5.3",
      ],
    );
  });

  it("leaves EC2.18 out for 443 alone (authorized by Security Hub's default) and names nothing for a /24", () => {
    expect(exposureControls(perm({ IpProtocol: "tcp", FromPort: 443, ToPort: 443 }), "ipv4", true)).toEqual(
      [],
    );
    expect(exposureControls(perm({ IpProtocol: "tcp", FromPort: 22, ToPort: 22 }), "ipv4", false)).toEqual(
      [],
    );
  });

  it("names nothing for ICMP", () => {
    expect(exposureControls(perm({ IpProtocol: "icmp", FromPort: 8, ToPort: -1 }), "ipv4", true)).toEqual([]);
  });
});
