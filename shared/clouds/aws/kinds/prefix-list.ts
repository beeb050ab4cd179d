// Managed prefix lists: a rule that references one allows whatever the list holds, so a change of its entries is a
// change of every security group that references it. The list itself is never written by the guardian (it is shared
// by groups and route tables); the groups are re-evaluated (the AWS port's `expand`).

import { decodePrefixListCall } from "../../../events/cloudtrail/prefix-list.ts";
import type { AwsKind } from "./types.ts";

export const AWS_PREFIX_LIST_TYPE = "aws:ec2:prefix-list";

export const prefixList = {
  id: "prefix-list",
  cloud: "aws",
  type: AWS_PREFIX_LIST_TYPE,
  label: "managed prefix list",
  service: { source: "aws.ec2", eventSource: "ec2.amazonaws.com", name: "EC2" },
  events: {
    ModifyManagedPrefixList: { operation: "write" },
    RestoreManagedPrefixListVersion: { operation: "write" },
  },
  decode: decodePrefixListCall,
  read: { client: "@aws-sdk/client-ec2 EC2Client", call: "GetManagedPrefixListEntries" },
  list: {
    client: "@aws-sdk/client-ec2 EC2Client",
    call: "DescribeManagedPrefixLists",
    scope: "region",
    paginated: true,
  },
  // Never written: the guardian alerts about what comes through a list and leaves the list to its owner.
  writes: [],
  // The list and its entries, and the groups that reference it (DescribeSecurityGroups with a prefix-list filter).
  readPermissions: [
    "ec2:DescribeManagedPrefixLists",
    "ec2:GetManagedPrefixListEntries",
    "ec2:DescribeSecurityGroups",
  ],
  writeResourceTypes: [],
  consoleUrl: (region, id) => {
    const r = encodeURIComponent(region);
    return `https://${r}.console.aws.amazon.com/vpcconsole/home?region=${r}#PrefixListDetails:prefixListId=${encodeURIComponent(id)}`;
  },
  // Describe output of a prefix list is never evaluated on its own.
  fromJson: () => undefined,
} as const satisfies AwsKind;
