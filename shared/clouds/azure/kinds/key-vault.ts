// Key Vaults (Microsoft.KeyVault/vaults): evaluated for their private endpoint connections. The project has no typed
// Key Vault SDK, so the vault is read by one generic ARM GET through the same pipeline. Shapes: Azure/azure-rest-api-specs,
// Microsoft.KeyVault stable/2024-11-01, keyvault.json and common.json (VaultProperties, PrivateEndpointConnectionItem).

import { azurePortalUrl } from "../ids.ts";
import { armGet, armPath } from "../private-link/arm-get.ts";
import { endpointsWithoutGroupIds } from "../private-link/requesters.ts";
import type { AzureKind } from "./types.ts";

export const KEY_VAULT_TYPE = "microsoft.keyvault/vaults";
export const KEY_VAULT_API_VERSION = "2024-11-01";

export const keyVault = {
  id: "key-vault",
  cloud: "azure",
  type: KEY_VAULT_TYPE,
  armType: "Microsoft.KeyVault/vaults",
  label: "key vault",
  // A connection request or decision is a write of this child: it re-evaluates the vault's connections.
  childTypes: [`${KEY_VAULT_TYPE}/privateendpointconnections`],
  // VaultProperties: every property typed boolean.
  booleanPaths: [
    "enabledForDeployment",
    "enabledForDiskEncryption",
    "enabledForTemplateDeployment",
    "enableSoftDelete",
    "enableRbacAuthorization",
    "enablePurgeProtection",
  ],
  read: {
    client: "generic ARM GET (AzureNetwork.send)",
    call: "Vaults_Get",
    apiVersion: KEY_VAULT_API_VERSION,
    get: (clients, id, options) =>
      armGet(
        clients,
        id.subscriptionId,
        armPath("Microsoft.KeyVault/vaults", id),
        KEY_VAULT_API_VERSION,
        options,
      ),
  },
  list: { apiVersion: KEY_VAULT_API_VERSION, scopes: ["subscription", "resourceGroup"] },
  writes: ["put-private-endpoint-connection"],
  readPermissions: ["Microsoft.KeyVault/vaults/read"],
  consoleUrl: azurePortalUrl,
  // The requesting private endpoints of connections that do not record their sub-resource: read only for an allow
  // entry by groupIds (private-endpoint-connections).
  related: endpointsWithoutGroupIds,
} as const satisfies AzureKind;
