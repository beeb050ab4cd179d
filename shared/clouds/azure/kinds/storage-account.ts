// Storage accounts (Microsoft.Storage/storageAccounts): their network rules, trusted-service bypass and anonymous
// blob access. Shapes: Azure/azure-rest-api-specs, Microsoft.Storage stable/2025-08-01, storage.json.

import { azurePortalUrl } from "../ids.ts";
import type { AzureKind } from "./types.ts";

export const STORAGE_ACCOUNT_TYPE = "microsoft.storage/storageaccounts";

/** The api-version the guardian reads and writes storage accounts with: the latest stable REST spec it follows. */
export const STORAGE_API_VERSION = "2025-08-01";

export const storageAccount = {
  id: "storage-account",
  cloud: "azure",
  type: STORAGE_ACCOUNT_TYPE,
  armType: "Microsoft.Storage/storageAccounts",
  label: "storage account",
  // Network settings are properties of the account itself; its children (blob services, containers) do not change
  // them. A private endpoint connection's write (a request, a decision) re-evaluates the account's connections.
  childTypes: [`${STORAGE_ACCOUNT_TYPE}/privateendpointconnections`],
  // storage.json StorageAccountProperties and the models under it: every property typed boolean.
  booleanPaths: [
    "supportsHttpsTrafficOnly",
    "isSftpEnabled",
    "isLocalUserEnabled",
    "enableExtendedGroups",
    "isHnsEnabled",
    "failoverInProgress",
    "allowBlobPublicAccess",
    "allowSharedKeyAccess",
    "isNfsV3Enabled",
    "allowCrossTenantReplication",
    "defaultToOAuthAuthentication",
    "isSkuConversionBlocked",
    "accountMigrationInProgress",
    "allowCrossTenantDelegationSas",
    "encryption.requireInfrastructureEncryption",
    "encryption.services.*.enabled",
    "routingPreference.publishMicrosoftEndpoints",
    "routingPreference.publishInternetEndpoints",
    "immutableStorageWithVersioning.enabled",
    "immutableStorageWithVersioning.immutabilityPolicy.allowProtectedAppendWrites",
    "geoReplicationStats.canFailover",
    "geoReplicationStats.canPlannedFailover",
    "geoPriorityReplicationStatus.isBlobEnabled",
    "allowSharedKeyAccessForServices.*.enabled",
  ],
  read: {
    client: "@azure/arm-storage StorageManagementClient",
    call: "storageAccounts.getProperties",
    apiVersion: STORAGE_API_VERSION,
    get: (clients, id, options) =>
      clients.storage(id.subscriptionId).storageAccounts.getProperties(id.resourceGroup, id.name, options),
  },
  list: { apiVersion: STORAGE_API_VERSION, scopes: ["subscription", "resourceGroup"] },
  writes: ["patch-storage-network", "put-private-endpoint-connection"],
  readPermissions: ["Microsoft.Storage/storageAccounts/read"],
  consoleUrl: azurePortalUrl,
} as const satisfies AzureKind;
