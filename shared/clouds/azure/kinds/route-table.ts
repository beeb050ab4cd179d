// Route tables (Microsoft.Network/routeTables) and their routes. A route table is not judged on its own: a write to
// it or to one of its routes re-evaluates the subnets that use it, found through the read-only `subnets`
// back-references of its GET body. Shapes: Azure/azure-rest-api-specs, Microsoft.Network stable, routeTable.json.

import { azurePortalUrl, parseArmResourceId } from "../ids.ts";
import { ROUTE_TABLE_TYPE, SUBNET_API_VERSION, SUBNET_TYPE } from "./subnet.ts";
import type { AzureKind } from "./types.ts";

export { ROUTE_TABLE_TYPE };

export const routeTable = {
  id: "route-table",
  cloud: "azure",
  type: ROUTE_TABLE_TYPE,
  armType: "Microsoft.Network/routeTables",
  label: "route table",
  childTypes: [`${ROUTE_TABLE_TYPE}/routes`],
  // RouteTablePropertiesFormat and RoutePropertiesFormat.
  booleanPaths: ["disableBgpRoutePropagation", "routes.*.properties.hasBgpOverride"],
  read: {
    client: "@azure/arm-network NetworkManagementClient",
    call: "routeTables.get",
    apiVersion: SUBNET_API_VERSION,
    get: (clients, id, options) =>
      clients.client(id.subscriptionId).routeTables.get(id.resourceGroup, id.name, options),
  },
  list: { apiVersion: SUBNET_API_VERSION, scopes: ["subscription", "resourceGroup"] },
  writes: [],
  readPermissions: ["Microsoft.Network/routeTables/read"],
  consoleUrl: azurePortalUrl,
  fanOut(snapshot) {
    const resource = snapshot.resource as { properties?: { subnets?: unknown } } | undefined;
    const refs = Array.isArray(resource?.properties?.subnets) ? resource.properties.subnets : [];
    return refs.flatMap((ref: unknown) => {
      const id = typeof ref === "object" && ref !== null ? (ref as { id?: unknown }).id : undefined;
      if (typeof id !== "string" || parseArmResourceId(id)?.type !== SUBNET_TYPE) return [];
      return [{ resourceId: id, resourceType: SUBNET_TYPE }];
    });
  },
} as const satisfies AzureKind;
