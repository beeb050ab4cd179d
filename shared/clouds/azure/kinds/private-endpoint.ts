// Private endpoints (Microsoft.Network/privateEndpoints): the consumer side. Each endpoint of ours names the resource
// or Private Link Service alias it connects to, in `privateLinkServiceConnections` (approved automatically when the
// requester may approve) or `manualPrivateLinkServiceConnections` (a request the provider decides). Shapes:
// Azure/azure-rest-api-specs, Microsoft.Network stable, privateEndpoint.json.

import { azurePortalUrl } from "../ids.ts";
import { NETWORK_API_VERSION } from "./private-link-service.ts";
import type { AzureKind } from "./types.ts";

export const PRIVATE_ENDPOINT_TYPE = "microsoft.network/privateendpoints";

export const privateEndpoint = {
  id: "private-endpoint",
  cloud: "azure",
  type: PRIVATE_ENDPOINT_TYPE,
  armType: "Microsoft.Network/privateEndpoints",
  label: "private endpoint",
  childTypes: [],
  // PrivateEndpointProperties: no property is typed boolean.
  booleanPaths: [],
  read: {
    client: "@azure/arm-network NetworkManagementClient",
    call: "privateEndpoints.get",
    apiVersion: NETWORK_API_VERSION,
    get: (clients, id, options) =>
      clients.client(id.subscriptionId).privateEndpoints.get(id.resourceGroup, id.name, options),
  },
  list: { apiVersion: NETWORK_API_VERSION, scopes: ["subscription", "resourceGroup"] },
  writes: ["delete-private-endpoint"],
  readPermissions: ["Microsoft.Network/privateEndpoints/read"],
  consoleUrl: azurePortalUrl,
} as const satisfies AzureKind;
