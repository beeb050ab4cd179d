// VPCs, for what they reach AWS services through: a VPC the policy marks private must have its VPC endpoints (an S3
// gateway endpoint, the services the policy names), and their endpoint policies must stay within the allow-lists.
// Announced by the calls that create, change or delete a VPC endpoint.

import { InputError } from "../../../errors.ts";
import { decodeVpcEndpointCall } from "../../../events/cloudtrail/privatelink.ts";
import { parseVpcWithEndpoints } from "../../../rules/vpce/resources.ts";
import type { Snapshot } from "../../../types.ts";
import { awsTagMap } from "../snapshot.ts";
import type { AwsKind } from "./types.ts";
import type { SnapshotPlace } from "./vpc-endpoint-connection.ts";

export const AWS_VPC_TYPE = "aws:ec2:vpc";

type Json = Record<string, unknown>;

/** `{ Vpc, VpcEndpoints }`: one DescribeVpcs item and the VPC's DescribeVpcEndpoints items. */
export function vpcSnapshot(resource: unknown, place: SnapshotPlace = {}, where?: string): Snapshot {
  const { Vpc: vpc } = parseVpcWithEndpoints(resource, where);
  const snapshot: Snapshot = {
    cloud: "aws",
    resourceId: vpc.VpcId,
    resourceType: AWS_VPC_TYPE,
    resource,
    tags: awsTagMap(vpc.Tags),
    account: vpc.OwnerId ?? place.account ?? "",
  };
  if (place.region !== undefined) snapshot.region = place.region;
  return snapshot;
}

/**
 * `{ Vpc, VpcEndpoints }`, or DescribeVpcs and DescribeVpcEndpoints outputs in one object (`{ Vpcs, VpcEndpoints }`):
 * each VPC with the endpoints whose VpcId is its own.
 */
export function vpcsFromJson(json: Json): Snapshot[] | undefined {
  const hasVpcs = "Vpcs" in json || "Vpc" in json;
  if (!hasVpcs && !("VpcEndpoints" in json)) return undefined;
  if (!hasVpcs) {
    throw new InputError(
      "VpcEndpoints without their VPCs: give the DescribeVpcs output (Vpcs) in the same object, so each VPC is evaluated with its endpoints",
    );
  }
  if (!Array.isArray(json.VpcEndpoints)) {
    throw new InputError(
      "a VPC without its endpoints: add the DescribeVpcEndpoints output (VpcEndpoints, [] when there are none) to the same object",
    );
  }
  const endpoints = json.VpcEndpoints as unknown[];
  const vpcs = "Vpc" in json ? [json.Vpc] : json.Vpcs;
  if (!Array.isArray(vpcs)) throw new InputError("Vpcs: expected a list of DescribeVpcs items");
  return vpcs.map((vpc, i) => {
    const id = typeof vpc === "object" && vpc !== null ? (vpc as Json).VpcId : undefined;
    const own = endpoints.filter((e) => typeof e === "object" && e !== null && (e as Json).VpcId === id);
    return vpcSnapshot({ Vpc: vpc, VpcEndpoints: own }, {}, "Vpc" in json ? "Vpc" : `Vpcs[${i}]`);
  });
}

export const vpc = {
  id: "vpc",
  cloud: "aws",
  type: AWS_VPC_TYPE,
  label: "VPC",
  service: { source: "aws.ec2", eventSource: "ec2.amazonaws.com", name: "EC2" },
  // Deleting an endpoint changes what its VPC reaches: a write to the VPC, never a deletion of it.
  events: {
    CreateVpcEndpoint: { operation: "write" },
    ModifyVpcEndpoint: { operation: "write" },
    DeleteVpcEndpoints: { operation: "write" },
  },
  decode: decodeVpcEndpointCall,
  read: { client: "@aws-sdk/client-ec2 EC2Client", call: "DescribeVpcs + DescribeVpcEndpoints" },
  list: {
    client: "@aws-sdk/client-ec2 EC2Client",
    call: "DescribeVpcs",
    scope: "region",
    paginated: true,
    incomplete: {
      why: "DescribeVpcs does not list a VPC's endpoints",
      // Stand-ins naming each VPC; the scan reads each one with its endpoints before any rule sees it.
      stubs: (json) => {
        const vpcs = Array.isArray(json.Vpcs) ? json.Vpcs : [];
        return vpcs.map((item, i) => vpcSnapshot({ Vpc: item, VpcEndpoints: [] }, {}, `Vpcs[${i}]`));
      },
    },
  },
  writes: [],
  readPermissions: ["ec2:DescribeVpcs", "ec2:DescribeVpcEndpoints"],
  writeResourceTypes: [],
  consoleUrl: (region, vpcId) => {
    const r = encodeURIComponent(region);
    return `https://${r}.console.aws.amazon.com/vpcconsole/home?region=${r}#Endpoints:vpcId=${encodeURIComponent(vpcId)}`;
  },
  fromJson: vpcsFromJson,
} as const satisfies AwsKind;
