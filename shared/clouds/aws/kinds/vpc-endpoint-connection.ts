// Connections to our endpoint services: one consumer's interface endpoint asking for (or holding) access to one
// service. No CloudTrail event announces a request in the provider's account: the service's connection
// notifications (SNS) and the scheduled sweep find them (lambdas/on-endpoint-connection.ts,
// lambdas/sweep-endpoint-connections.ts).

import { InputError } from "../../../errors.ts";
import { connectionResourceId, parseEndpointConnection } from "../../../rules/vpce/resources.ts";
import type { Snapshot } from "../../../types.ts";
import { awsTagMap } from "../snapshot.ts";
import type { AwsKind } from "./types.ts";

export const AWS_VPC_ENDPOINT_CONNECTION_TYPE = "aws:ec2:vpc-endpoint-connection";

export interface SnapshotPlace {
  account?: string;
  region?: string;
}

/** One DescribeVpcEndpointConnections item, kept as returned; its id is `<service id>/<endpoint id>`. */
export function endpointConnectionSnapshot(
  item: unknown,
  place: SnapshotPlace = {},
  where?: string,
): Snapshot {
  const c = parseEndpointConnection(item, where);
  const snapshot: Snapshot = {
    cloud: "aws",
    resourceId: connectionResourceId(c.ServiceId, c.VpcEndpointId),
    resourceType: AWS_VPC_ENDPOINT_CONNECTION_TYPE,
    resource: item,
    tags: awsTagMap(c.Tags),
    account: place.account ?? "",
  };
  if (place.region !== undefined) snapshot.region = place.region;
  return snapshot;
}

/** `{ "VpcEndpointConnections": [...] }` as DescribeVpcEndpointConnections returns it, or its items. */
export function connectionsFromJson(list: unknown, where: string): Snapshot[] {
  if (!Array.isArray(list)) throw new InputError(`${where}: expected a list of VpcEndpointConnections items`);
  return list.map((item, i) => endpointConnectionSnapshot(item, {}, `${where}[${i}]`));
}

/** The endpoint service page, where its connections are listed. */
export function endpointServiceConsoleUrl(region: string, serviceId: string): string {
  const r = encodeURIComponent(region);
  return `https://${r}.console.aws.amazon.com/vpcconsole/home?region=${r}#EndpointServiceDetails:endpointServiceId=${encodeURIComponent(serviceId)}`;
}

export const vpcEndpointConnection = {
  id: "vpc-endpoint-connection",
  cloud: "aws",
  type: AWS_VPC_ENDPOINT_CONNECTION_TYPE,
  label: "endpoint service connection",
  service: { source: "aws.ec2", eventSource: "ec2.amazonaws.com", name: "EC2" },
  // Requests reach the provider as SNS connection notifications, not as CloudTrail events in its account.
  events: {},
  decode: (call) => ({ malformed: `${call.eventName} is not decoded as an endpoint service connection` }),
  read: { client: "@aws-sdk/client-ec2 EC2Client", call: "DescribeVpcEndpointConnections" },
  list: {
    client: "@aws-sdk/client-ec2 EC2Client",
    call: "DescribeVpcEndpointConnections",
    scope: "region",
    paginated: true,
  },
  writes: ["accept-vpc-endpoint-connections", "reject-vpc-endpoint-connections"],
  readPermissions: ["ec2:DescribeVpcEndpointConnections"],
  // Accept and Reject act on the service the connections belong to.
  writeResourceTypes: ["vpc-endpoint-service"],
  consoleUrl: (region, resourceId) =>
    endpointServiceConsoleUrl(region, resourceId.split("/")[0] ?? resourceId),
  fromJson(json) {
    if (!("VpcEndpointConnections" in json) && !("VpcEndpointOwner" in json && "VpcEndpointId" in json)) {
      return undefined;
    }
    if ("VpcEndpointConnections" in json)
      return connectionsFromJson(json.VpcEndpointConnections, "VpcEndpointConnections");
    return [endpointConnectionSnapshot(json)];
  },
} as const satisfies AwsKind;
