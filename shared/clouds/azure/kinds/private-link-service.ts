// Private Link Services (Microsoft.Network/privateLinkServices): their private endpoint connections, and the
// `autoApproval` and `visibility` subscription lists that decide who may see the service and who is approved without
// anyone deciding. Shapes: Azure/azure-rest-api-specs, Microsoft.Network stable, privateLinkService.json.

import { azurePortalUrl } from "../ids.ts";
import { endpointsWithoutGroupIds } from "../private-link/requesters.ts";
import type { AzureKind } from "./types.ts";

export const PRIVATE_LINK_SERVICE_TYPE = "microsoft.network/privatelinkservices";

/** The api-version @azure/arm-network 39 sends for every Network operation. */
export const NETWORK_API_VERSION = "2026-01-01";

export const privateLinkService = {
  id: "private-link-service",
  cloud: "azure",
  type: PRIVATE_LINK_SERVICE_TYPE,
  armType: "Microsoft.Network/privateLinkServices",
  label: "private link service",
  childTypes: [`${PRIVATE_LINK_SERVICE_TYPE}/privateendpointconnections`],
  // PrivateLinkServiceProperties and its ip configurations: every property typed boolean.
  booleanPaths: ["enableProxyProtocol", "ipConfigurations.*.properties.primary"],
  read: {
    client: "@azure/arm-network NetworkManagementClient",
    call: "privateLinkServices.get",
    apiVersion: NETWORK_API_VERSION,
    get: (clients, id, options) =>
      clients.client(id.subscriptionId).privateLinkServices.get(id.resourceGroup, id.name, options),
  },
  list: { apiVersion: NETWORK_API_VERSION, scopes: ["subscription", "resourceGroup"] },
  writes: ["put-private-endpoint-connection", "put-private-link-service"],
  readPermissions: ["Microsoft.Network/privateLinkServices/read"],
  consoleUrl: azurePortalUrl,
  // The requesting private endpoints of connections that do not record their sub-resource: read only for an allow
  // entry by groupIds (private-endpoint-connections).
  related: endpointsWithoutGroupIds,
} as const satisfies AzureKind;
