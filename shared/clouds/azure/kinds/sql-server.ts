// Azure SQL logical servers (Microsoft.Sql/servers): evaluated for their private endpoint connections (groupId
// `sqlServer`). The project has no typed SQL SDK, so the server is read by one generic ARM GET through the same
// pipeline. Shapes: Azure/azure-rest-api-specs, Microsoft.Sql stable/2023-08-01, Servers.json (ServerProperties,
// ServerPrivateEndpointConnection) and PrivateEndpointConnections.json: a connection's state spells
// `actionsRequired`, its `groupIds` is a read-only array, its provisioningState is Approving | Ready | Dropping |
// Failed | Rejecting, it carries no etag (the writer re-reads and compares), and its PUT is long-running (200 or
// 202 Accepted).

import { azurePortalUrl } from "../ids.ts";
import { armGet, armPath } from "../private-link/arm-get.ts";
import { endpointsWithoutGroupIds } from "../private-link/requesters.ts";
import type { AzureKind } from "./types.ts";

export const SQL_SERVER_TYPE = "microsoft.sql/servers";
/** The latest stable Microsoft.Sql REST spec the guardian follows (Servers_Get, PrivateEndpointConnections_*). */
export const SQL_API_VERSION = "2023-08-01";

export const sqlServer = {
  id: "sql-server",
  cloud: "azure",
  type: SQL_SERVER_TYPE,
  armType: "Microsoft.Sql/servers",
  label: "SQL server",
  // A connection request or decision is a write of this child: it re-evaluates the server's connections. The
  // server's other children (databases, firewall rules) do not change them, so they stay out of the event filter.
  childTypes: [`${SQL_SERVER_TYPE}/privateendpointconnections`],
  // ServerProperties and the models under it: the one property typed boolean (publicNetworkAccess, isIPv6Enabled
  // and restrictOutboundNetworkAccess are Enabled/Disabled strings there).
  booleanPaths: ["administrators.azureADOnlyAuthentication"],
  read: {
    client: "generic ARM GET (AzureNetwork.send)",
    call: "Servers_Get",
    apiVersion: SQL_API_VERSION,
    get: (clients, id, options) =>
      armGet(clients, id.subscriptionId, armPath("Microsoft.Sql/servers", id), SQL_API_VERSION, options),
  },
  // Servers_List / Servers_ListByResourceGroup page with nextLink; each item carries its connections inline.
  list: { apiVersion: SQL_API_VERSION, scopes: ["subscription", "resourceGroup"] },
  writes: ["put-private-endpoint-connection"],
  readPermissions: ["Microsoft.Sql/servers/read"],
  consoleUrl: azurePortalUrl,
  // A connection that does not record its sub-resource (the Get example's inline one): its requesting endpoint, read
  // only for an allow entry by groupIds (private-endpoint-connections).
  related: endpointsWithoutGroupIds,
} as const satisfies AzureKind;
