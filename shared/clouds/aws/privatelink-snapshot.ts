// Snapshots of the PrivateLink resources, kept exactly as the EC2 API returned them. No SDK needed (the CLI builds
// them from JSON files too).

import {
  AWS_VPC_ENDPOINT_CONNECTION_TYPE,
  AWS_VPC_ENDPOINT_SERVICE_TYPE,
  AWS_VPC_TYPE,
  connectionResourceId,
  parseEndpointConnection,
  parseEndpointService,
  parseVpcWithEndpoints,
} from "../../rules/vpce/resources.ts";
import type { Snapshot } from "../../types.ts";
import { awsTagMap } from "./snapshot.ts";

export interface SnapshotPlace {
  account?: string;
  region?: string;
}

function placed(snapshot: Snapshot, place: SnapshotPlace): Snapshot {
  if (place.region !== undefined) snapshot.region = place.region;
  return snapshot;
}

/** `{ ServiceConfiguration, AllowedPrincipals? }` (validated: InputError naming the bad field otherwise). */
export function endpointServiceSnapshot(
  resource: unknown,
  place: SnapshotPlace = {},
  where?: string,
): Snapshot {
  const service = parseEndpointService(resource, where);
  return placed(
    {
      cloud: "aws",
      resourceId: service.ServiceConfiguration.ServiceId,
      resourceType: AWS_VPC_ENDPOINT_SERVICE_TYPE,
      resource,
      tags: awsTagMap(service.ServiceConfiguration.Tags),
      account: place.account ?? "",
    },
    place,
  );
}

/** One DescribeVpcEndpointConnections item; its id is `<service id>/<endpoint id>`. */
export function endpointConnectionSnapshot(
  item: unknown,
  place: SnapshotPlace = {},
  where?: string,
): Snapshot {
  const c = parseEndpointConnection(item, where);
  return placed(
    {
      cloud: "aws",
      resourceId: connectionResourceId(c.ServiceId, c.VpcEndpointId),
      resourceType: AWS_VPC_ENDPOINT_CONNECTION_TYPE,
      resource: item,
      tags: awsTagMap(c.Tags),
      account: place.account ?? "",
    },
    place,
  );
}

/** `{ Vpc, VpcEndpoints }`: one DescribeVpcs item and the VPC's endpoints. */
export function vpcSnapshot(resource: unknown, place: SnapshotPlace = {}, where?: string): Snapshot {
  const { Vpc: vpc } = parseVpcWithEndpoints(resource, where);
  return placed(
    {
      cloud: "aws",
      resourceId: vpc.VpcId,
      resourceType: AWS_VPC_TYPE,
      resource,
      tags: awsTagMap(vpc.Tags),
      account: vpc.OwnerId ?? place.account ?? "",
    },
    place,
  );
}
