// Azure Cosmos DB accounts (Microsoft.DocumentDB/databaseAccounts): evaluated for their private endpoint connections
// (groupId `Sql`, `MongoDB`, `Cassandra`, `Gremlin`, `Table`, ... by API). No typed Cosmos DB SDK in the project: one
// generic ARM GET through the same pipeline. Shapes: Azure/azure-rest-api-specs, Microsoft.DocumentDB
// stable/2024-11-15, cosmos-db.json (DatabaseAccountGetProperties) and privateEndpointConnection.json: a
// connection's sub-resource is the singular string `groupId` (not `groupIds`), its state spells `actionsRequired`,
// its provisioningState is a free string, it carries no etag (the writer re-reads and compares), and its PUT is
// long-running (200, or 202 Accepted with a Location to poll).

import { azurePortalUrl } from "../ids.ts";
import { armGet, armPath } from "../private-link/arm-get.ts";
import { endpointsWithoutGroupIds } from "../private-link/requesters.ts";
import type { AzureKind } from "./types.ts";

export const COSMOS_DB_ACCOUNT_TYPE = "microsoft.documentdb/databaseaccounts";
/** The Microsoft.DocumentDB stable REST spec the guardian follows (DatabaseAccounts_Get, PrivateEndpointConnections_*). */
export const COSMOS_DB_API_VERSION = "2024-11-15";

export const cosmosDbAccount = {
  id: "cosmos-db-account",
  cloud: "azure",
  type: COSMOS_DB_ACCOUNT_TYPE,
  armType: "Microsoft.DocumentDB/databaseAccounts",
  label: "Cosmos DB account",
  // A connection request or decision is a write of this child. Databases, containers and throughput settings are
  // children too, but they do not change the account's connections, so they stay out of the event filter.
  childTypes: [`${COSMOS_DB_ACCOUNT_TYPE}/privateendpointconnections`],
  // DatabaseAccountGetProperties and Location (writeLocations, readLocations, locations): every property typed boolean.
  booleanPaths: [
    "isVirtualNetworkFilterEnabled",
    "enableAutomaticFailover",
    "enableMultipleWriteLocations",
    "enableCassandraConnector",
    "disableKeyBasedMetadataWriteAccess",
    "enableFreeTier",
    "enableAnalyticalStorage",
    "disableLocalAuth",
    "enablePartitionMerge",
    "enableBurstCapacity",
    "enablePerRegionPerPartitionAutoscale",
    "writeLocations.*.isZoneRedundant",
    "readLocations.*.isZoneRedundant",
    "locations.*.isZoneRedundant",
  ],
  read: {
    client: "generic ARM GET (AzureNetwork.send)",
    call: "DatabaseAccounts_Get",
    apiVersion: COSMOS_DB_API_VERSION,
    get: (clients, id, options) =>
      armGet(
        clients,
        id.subscriptionId,
        armPath("Microsoft.DocumentDB/databaseAccounts", id),
        COSMOS_DB_API_VERSION,
        options,
      ),
  },
  // DatabaseAccounts_List / _ListByResourceGroup answer one page (the spec declares no nextLink); the lister still
  // follows one if it comes. Each account carries its connections inline.
  list: { apiVersion: COSMOS_DB_API_VERSION, scopes: ["subscription", "resourceGroup"] },
  writes: ["put-private-endpoint-connection"],
  readPermissions: ["Microsoft.DocumentDB/databaseAccounts/read"],
  consoleUrl: azurePortalUrl,
  // A connection that does not record its sub-resource (the Get example's inline one): its requesting endpoint, read
  // only for an allow entry by groupIds (private-endpoint-connections).
  related: endpointsWithoutGroupIds,
} as const satisfies AzureKind;
