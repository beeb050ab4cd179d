// EC2 security groups: announced by the EC2 calls that create, delete or change a group's rules.

import { decodeSecurityGroupCall } from "../../../events/cloudtrail/security-group.ts";
import { securityGroupsFromDescribe } from "../../../rules/sg/security-group.ts";
import type { Snapshot } from "../../../types.ts";
import { awsConsoleUrl } from "../console.ts";
import { awsTagMap } from "../snapshot.ts";
import type { AwsKind } from "./types.ts";

export const AWS_SECURITY_GROUP_TYPE = "aws:ec2:security-group";

interface GroupLike {
  GroupId?: unknown;
  OwnerId?: unknown;
  Tags?: unknown;
}

/** A snapshot of one DescribeSecurityGroups item, kept exactly as the API returned it. No SDK needed. */
export function awsSecurityGroupSnapshot(
  item: unknown,
  fallback: { resourceId?: string; account?: string; region?: string } = {},
): Snapshot {
  // Anything but an object reads as a group without fields: the rules then refuse it with an InputError.
  const group: GroupLike = typeof item === "object" && item !== null ? item : {};
  const snapshot: Snapshot = {
    cloud: "aws",
    resourceId: typeof group.GroupId === "string" ? group.GroupId : (fallback.resourceId ?? ""),
    resourceType: AWS_SECURITY_GROUP_TYPE,
    resource: item,
    tags: awsTagMap(group.Tags),
    account: typeof group.OwnerId === "string" ? group.OwnerId : (fallback.account ?? ""),
  };
  if (fallback.region !== undefined) snapshot.region = fallback.region;
  return snapshot;
}

const ingress = { direction: "ingress" } as const;
const egress = { direction: "egress" } as const;

export const securityGroup = {
  id: "security-group",
  cloud: "aws",
  type: AWS_SECURITY_GROUP_TYPE,
  label: "security group",
  service: { source: "aws.ec2", eventSource: "ec2.amazonaws.com", name: "EC2" },
  // The calls that create a group, delete it, or add, remove or rewrite its rules (a description update rewrites
  // the rule in place).
  events: {
    CreateSecurityGroup: { operation: "write" },
    DeleteSecurityGroup: { operation: "delete" },
    AuthorizeSecurityGroupIngress: { operation: "write", facts: ingress },
    AuthorizeSecurityGroupEgress: { operation: "write", facts: egress },
    RevokeSecurityGroupIngress: { operation: "write", facts: ingress },
    RevokeSecurityGroupEgress: { operation: "write", facts: egress },
    ModifySecurityGroupRules: { operation: "write" },
    UpdateSecurityGroupRuleDescriptionsIngress: { operation: "write", facts: ingress },
    UpdateSecurityGroupRuleDescriptionsEgress: { operation: "write", facts: egress },
    // Tags can add or remove an exemption: every security group the call tagged is evaluated again.
    CreateTags: { operation: "write" },
    DeleteTags: { operation: "write" },
  },
  decode: decodeSecurityGroupCall,
  read: { client: "@aws-sdk/client-ec2 EC2Client", call: "DescribeSecurityGroups" },
  list: {
    client: "@aws-sdk/client-ec2 EC2Client",
    call: "DescribeSecurityGroups",
    scope: "region",
    paginated: true,
  },
  writes: ["revoke-security-group-ingress", "revoke-security-group-rules"],
  // The reader also resolves the managed prefix lists a group's rules reference, so rules can judge their entries.
  readPermissions: [
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeManagedPrefixLists",
    "ec2:GetManagedPrefixListEntries",
  ],
  writeResourceTypes: ["security-group", "security-group-rule"],
  consoleUrl: awsConsoleUrl,
  fromJson(json) {
    if (!("SecurityGroups" in json) && !("GroupId" in json)) return undefined;
    return securityGroupsFromDescribe(json).map((group) => awsSecurityGroupSnapshot(group));
  },
} as const satisfies AwsKind;
