// Subnets (Microsoft.Network/virtualNetworks/subnets): their service endpoints, service endpoint policies, network
// security group and route table. Shapes: Azure/azure-rest-api-specs, Microsoft.Network stable, virtualNetwork.json
// (Subnet, SubnetPropertiesFormat).
//
// A subnet is read through its virtual network's GET: ARM returns every subnet in full (with its etag, which is the
// network's) in that body, and subnets carry no tags of their own, so the network's tags stand in for them (scope,
// exemptions, roles). One read serves one subnet event and a whole network's worth of subnets alike.

import type { Snapshot } from "../../../types.ts";
import { azurePortalUrl, parseArmResourceId } from "../ids.ts";
import { azureSnapshot } from "../snapshot.ts";
import type { AzureKind } from "./types.ts";

export const SUBNET_TYPE = "microsoft.network/virtualnetworks/subnets";
export const ROUTE_TABLE_TYPE = "microsoft.network/routetables";

/** The api-version of virtual network reads and subnet writes (the SDK's VirtualNetworks_Get / Subnets_CreateOrUpdate). */
export const SUBNET_API_VERSION = "2026-01-01";

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function subnetsIn(vnet: unknown): Json[] {
  const props = isObject(vnet) && isObject(vnet.properties) ? vnet.properties : undefined;
  return Array.isArray(props?.subnets) ? props.subnets.filter(isObject) : [];
}

/** A subnet of a virtual network's GET body as a snapshot: the subnet's JSON and etag, the network's tags and region. */
export function subnetSnapshot(vnet: unknown, subnet: Json): Snapshot | undefined {
  const snapshot = azureSnapshot(subnet, SUBNET_TYPE);
  if (!snapshot || !isObject(vnet)) return snapshot;
  const tags: Record<string, string> = {};
  if (isObject(vnet.tags))
    for (const [k, v] of Object.entries(vnet.tags)) if (typeof v === "string") tags[k] = v;
  return {
    ...snapshot,
    tags,
    region: typeof vnet.location === "string" ? vnet.location : snapshot.region,
    origin: "read",
  };
}

/** Every subnet of a virtual network's GET body, as snapshots. */
export function subnetSnapshots(vnet: unknown): Snapshot[] {
  return subnetsIn(vnet).flatMap((s) => subnetSnapshot(vnet, s) ?? []);
}

export const subnet = {
  id: "subnet",
  cloud: "azure",
  type: SUBNET_TYPE,
  armType: "Microsoft.Network/virtualNetworks/subnets",
  label: "subnet",
  childTypes: [],
  // SubnetPropertiesFormat: defaultOutboundAccess is its one boolean.
  booleanPaths: ["defaultOutboundAccess"],
  read: {
    client: "@azure/arm-network NetworkManagementClient",
    call: "virtualNetworks.get",
    apiVersion: SUBNET_API_VERSION,
    get: (clients, id, options) =>
      clients.client(id.subscriptionId).virtualNetworks.get(id.resourceGroup, id.parents[0] ?? "", options),
    select(vnet, id) {
      const found = subnetsIn(vnet).find(
        (s) => typeof s.name === "string" && s.name.toLowerCase() === id.name.toLowerCase(),
      );
      return found && subnetSnapshot(vnet, found);
    },
  },
  // Subnets are listed through their networks (a scan lists virtual networks and fans out).
  list: { apiVersion: SUBNET_API_VERSION, scopes: [] },
  writes: ["put-subnet"],
  readPermissions: ["Microsoft.Network/virtualNetworks/read"],
  consoleUrl: azurePortalUrl,
  related(snapshot) {
    const props = isObject(snapshot.resource) ? snapshot.resource.properties : undefined;
    const table = isObject(props) && isObject(props.routeTable) ? props.routeTable.id : undefined;
    if (typeof table !== "string" || parseArmResourceId(table)?.type !== ROUTE_TABLE_TYPE) return [];
    return [{ resourceId: table, resourceType: ROUTE_TABLE_TYPE }];
  },
  // A Resource Notifications payload of a subnet lacks its network's tags, which roles and exemptions read.
  carriedByEvents: false,
} as const satisfies AzureKind;
