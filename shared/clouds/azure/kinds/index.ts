// The Azure kind registry: one line per kind of resource the guardian evaluates. Everything that needs to know the
// Azure kinds (the event tables, the reader and writer dispatch, `guardian evaluate`, the infra generator, the scan)
// derives it from here; nothing else switches on an ARM type string. See docs/kinds.md.

import { cosmosDbAccount } from "./cosmos-db-account.ts";
import { keyVault } from "./key-vault.ts";
import { networkSecurityGroup } from "./network-security-group.ts";
import { privateEndpoint } from "./private-endpoint.ts";
import { privateLinkService } from "./private-link-service.ts";
import { routeTable } from "./route-table.ts";
import { serviceEndpointPolicy } from "./service-endpoint-policy.ts";
import { sqlServer } from "./sql-server.ts";
import { storageAccount } from "./storage-account.ts";
import { subnet } from "./subnet.ts";
import type { AzureKind } from "./types.ts";
import { virtualNetwork } from "./virtual-network.ts";

export type { AzureKind } from "./types.ts";

/** Every Azure kind, keyed by id (= file name). */
export const azureKindRegistry = {
  "network-security-group": networkSecurityGroup,
  "storage-account": storageAccount,
  "key-vault": keyVault,
  "sql-server": sqlServer,
  "cosmos-db-account": cosmosDbAccount,
  "private-link-service": privateLinkService,
  "private-endpoint": privateEndpoint,
  "virtual-network": virtualNetwork,
  subnet: subnet,
  "route-table": routeTable,
  "service-endpoint-policy": serviceEndpointPolicy,
} as const satisfies Record<string, AzureKind>;

export const azureKinds: readonly AzureKind[] = Object.freeze(Object.values(azureKindRegistry));

const byType = new Map<string, AzureKind>(azureKinds.map((k) => [k.type, k]));

/** The kind of a lower-cased ARM type; undefined when the guardian does not evaluate that type. */
export function azureKindOf(type: string): AzureKind | undefined {
  return byType.get(type);
}

/** The kind whose child types include this lower-cased ARM type (a security rule → the NSG kind). */
export function azureParentKindOf(childType: string): AzureKind | undefined {
  return azureKinds.find((k) => k.childTypes.includes(childType));
}
