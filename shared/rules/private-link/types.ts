// The resource types whose private endpoint connections the guardian decides: every registered Azure kind with a
// `privateEndpointConnections` child (storage accounts, Key Vaults, SQL servers, Cosmos DB accounts, Private Link
// Services). A new provider is a kind module and its registry line, nothing here; the connection writer takes its
// api-version from the kind.

import { azureKinds } from "../../clouds/azure/kinds/index.ts";
import { PRIVATE_ENDPOINT_TYPE } from "../../clouds/azure/kinds/private-endpoint.ts";
import { PRIVATE_LINK_SERVICE_TYPE } from "../../clouds/azure/kinds/private-link-service.ts";

export const CONNECTION_TARGET_TYPES: readonly string[] = Object.freeze(
  azureKinds.filter((k) => k.childTypes.includes(`${k.type}/privateendpointconnections`)).map((k) => k.type),
);

export { PRIVATE_ENDPOINT_TYPE, PRIVATE_LINK_SERVICE_TYPE };
