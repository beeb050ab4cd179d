// Our VPC endpoint services (AWS PrivateLink, provider side): a service in front of an internal Network Load
// Balancer, whether it requires acceptance, and whom it lets connect. Announced by the calls that create the
// service, change its configuration, or change its permissions.

import { InputError } from "../../../errors.ts";
import { decodeEndpointServiceCall } from "../../../events/cloudtrail/privatelink.ts";
import { parseEndpointService } from "../../../rules/vpce/resources.ts";
import type { Snapshot } from "../../../types.ts";
import { awsTagMap } from "../snapshot.ts";
import type { AwsKind } from "./types.ts";
import {
  connectionsFromJson,
  endpointServiceConsoleUrl,
  type SnapshotPlace,
} from "./vpc-endpoint-connection.ts";

export const AWS_VPC_ENDPOINT_SERVICE_TYPE = "aws:ec2:vpc-endpoint-service";

type Json = Record<string, unknown>;

/** `{ ServiceConfiguration, AllowedPrincipals? }` (InputError naming the bad field otherwise). */
export function endpointServiceSnapshot(
  resource: unknown,
  place: SnapshotPlace = {},
  where?: string,
): Snapshot {
  const service = parseEndpointService(resource, where);
  const snapshot: Snapshot = {
    cloud: "aws",
    resourceId: service.ServiceConfiguration.ServiceId,
    resourceType: AWS_VPC_ENDPOINT_SERVICE_TYPE,
    resource,
    tags: awsTagMap(service.ServiceConfiguration.Tags),
    account: place.account ?? "",
  };
  if (place.region !== undefined) snapshot.region = place.region;
  return snapshot;
}

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** A DescribeVpcEndpointServiceConfigurations item (not a connection item, which also has a ServiceId). */
function isServiceItem(json: Json): boolean {
  return (
    typeof json.ServiceId === "string" &&
    !("VpcEndpointId" in json) &&
    ("ServiceName" in json || "ServiceType" in json || "AcceptanceRequired" in json)
  );
}

/**
 * The services of a JSON object holding any of: `ServiceConfigurations` (DescribeVpcEndpointServiceConfigurations),
 * `ServiceConfiguration` (one item), `AllowedPrincipals` (DescribeVpcEndpointServicePermissions) and
 * `VpcEndpointConnections` (DescribeVpcEndpointConnections). Principals go to the service their `ServiceId` names,
 * or to the only service; a service no principal names was not given its permissions (reported as not evaluated).
 * Connections become connection snapshots.
 */
export function endpointServicesFromJson(json: Json): Snapshot[] | undefined {
  let items: unknown[];
  if (Array.isArray(json.ServiceConfigurations)) items = json.ServiceConfigurations;
  else if (isObject(json.ServiceConfiguration)) items = [json.ServiceConfiguration];
  else if (isServiceItem(json)) items = [json];
  else return undefined;
  const where = Array.isArray(json.ServiceConfigurations) ? "ServiceConfigurations" : "ServiceConfiguration";
  const configs = items.map((item, i) => {
    if (!isObject(item) || typeof item.ServiceId !== "string") {
      throw new InputError(`${where}[${i}]: not an endpoint service configuration (no ServiceId)`);
    }
    return item;
  });
  const principals = new Map<string, unknown[]>();
  if (json.AllowedPrincipals !== undefined) {
    if (!Array.isArray(json.AllowedPrincipals)) throw new InputError("AllowedPrincipals: expected a list");
    json.AllowedPrincipals.forEach((p, i) => {
      const named = isObject(p) && typeof p.ServiceId === "string" ? p.ServiceId : undefined;
      const only = configs.length === 1 ? (configs[0]?.ServiceId as string) : undefined;
      const serviceId = named ?? only;
      if (serviceId === undefined) {
        throw new InputError(
          `AllowedPrincipals[${i}] names no ServiceId and ${configs.length} services were given: add each principal's ServiceId, or give one service per object`,
        );
      }
      principals.set(serviceId, [...(principals.get(serviceId) ?? []), p]);
    });
    // One service and an empty permissions list: the service allows nobody, which is an answer.
    if (configs.length === 1 && json.AllowedPrincipals.length === 0)
      principals.set(configs[0]?.ServiceId as string, []);
  }
  const services = configs.map((config, i) => {
    const given = principals.get(config.ServiceId as string);
    return endpointServiceSnapshot(
      given === undefined
        ? { ServiceConfiguration: config }
        : { ServiceConfiguration: config, AllowedPrincipals: given },
      {},
      `${where}[${i}]`,
    );
  });
  const connections =
    json.VpcEndpointConnections === undefined
      ? []
      : connectionsFromJson(json.VpcEndpointConnections, "VpcEndpointConnections");
  return [...services, ...connections];
}

export const vpcEndpointService = {
  id: "vpc-endpoint-service",
  cloud: "aws",
  type: AWS_VPC_ENDPOINT_SERVICE_TYPE,
  label: "endpoint service",
  service: { source: "aws.ec2", eventSource: "ec2.amazonaws.com", name: "EC2" },
  events: {
    CreateVpcEndpointServiceConfiguration: { operation: "write" },
    ModifyVpcEndpointServiceConfiguration: { operation: "write" },
    ModifyVpcEndpointServicePermissions: { operation: "write" },
  },
  decode: decodeEndpointServiceCall,
  read: {
    client: "@aws-sdk/client-ec2 EC2Client",
    call: "DescribeVpcEndpointServiceConfigurations + DescribeVpcEndpointServicePermissions",
  },
  list: {
    client: "@aws-sdk/client-ec2 EC2Client",
    call: "DescribeVpcEndpointServiceConfigurations",
    scope: "region",
    paginated: true,
    incomplete: {
      why: "DescribeVpcEndpointServiceConfigurations does not list a service's allowed principals",
      // The configurations alone; the scan reads each service with its permissions before any rule sees it.
      stubs: (json) => endpointServicesFromJson(json) ?? [],
    },
  },
  writes: ["modify-vpc-endpoint-service-configuration", "modify-vpc-endpoint-service-permissions"],
  readPermissions: [
    "ec2:DescribeVpcEndpointServiceConfigurations",
    "ec2:DescribeVpcEndpointServicePermissions",
  ],
  writeResourceTypes: ["vpc-endpoint-service"],
  consoleUrl: endpointServiceConsoleUrl,
  fromJson: endpointServicesFromJson,
} as const satisfies AwsKind;
