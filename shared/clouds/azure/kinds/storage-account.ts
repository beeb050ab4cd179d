// Storage accounts (Microsoft.Storage/storageAccounts): their network rules, trusted-service bypass and anonymous
// blob access. Shapes: Azure/azure-rest-api-specs, Microsoft.Storage stable/2025-08-01, storage.json.

import { azurePortalUrl, parseArmResourceId } from "../ids.ts";
import { endpointsWithoutGroupIds } from "../private-link/requesters.ts";
import { SUBNET_TYPE } from "./subnet.ts";
import type { AzureKind } from "./types.ts";
import { VNET_TYPE } from "./virtual-network.ts";

export const STORAGE_ACCOUNT_TYPE = "microsoft.storage/storageaccounts";

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The virtual network of a subnet id (the id up to `/subnets/<name>`, as written), or undefined for an id that is not a
 * subnet's.
 */
export function virtualNetworkOfSubnet(subnetId: string): string | undefined {
  const id = parseArmResourceId(subnetId);
  if (id?.type !== SUBNET_TYPE) return undefined;
  return `/${id.segments.slice(0, -2).join("/")}`;
}

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
  // The virtual networks of the firewall's VNet rules: a subnet carries no tags, so a subnet role that selects by tags
  // reads its network's (storage-vnet-rules `roles`). And the requesting private endpoints of its connections, which
  // do not record the sub-resource (blob, dfs) asked for: an allow entry by groupIds reads it from the endpoint.
  // Each read only for an entry whose rule says it reads that type.
  related(snapshot) {
    const props = isObject(snapshot.resource) ? snapshot.resource.properties : undefined;
    const acls = isObject(props) ? props.networkAcls : undefined;
    const rules = isObject(acls) && Array.isArray(acls.virtualNetworkRules) ? acls.virtualNetworkRules : [];
    const seen = new Map<string, string>();
    for (const rule of rules) {
      const vnet =
        isObject(rule) && typeof rule.id === "string" ? virtualNetworkOfSubnet(rule.id) : undefined;
      if (vnet !== undefined && !seen.has(vnet.toLowerCase())) seen.set(vnet.toLowerCase(), vnet);
    }
    return [
      ...[...seen.values()].map((resourceId) => ({ resourceId, resourceType: VNET_TYPE })),
      ...endpointsWithoutGroupIds(snapshot),
    ];
  },
} as const satisfies AzureKind;
