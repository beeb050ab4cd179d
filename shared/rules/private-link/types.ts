// The resource types whose private endpoint connections the guardian decides: every registered Azure kind with a
// `privateEndpointConnections` child. A new provider (SQL servers, Cosmos DB accounts) is a kind module and one line
// here; the connection writer takes its api-version from the kind.

import { KEY_VAULT_TYPE } from "../../clouds/azure/kinds/key-vault.ts";
import { PRIVATE_ENDPOINT_TYPE } from "../../clouds/azure/kinds/private-endpoint.ts";
import { PRIVATE_LINK_SERVICE_TYPE } from "../../clouds/azure/kinds/private-link-service.ts";
import { STORAGE_ACCOUNT_TYPE } from "../../clouds/azure/kinds/storage-account.ts";

export const CONNECTION_TARGET_TYPES: readonly string[] = [
  STORAGE_ACCOUNT_TYPE,
  KEY_VAULT_TYPE,
  PRIVATE_LINK_SERVICE_TYPE,
];

export { PRIVATE_ENDPOINT_TYPE, PRIVATE_LINK_SERVICE_TYPE };
