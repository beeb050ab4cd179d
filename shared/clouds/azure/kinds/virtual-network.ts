// Virtual networks (Microsoft.Network/virtualNetworks). A write to a network can change any of its subnets (a
// template deploys them all in one PUT), so the network is read once and each subnet in its body is evaluated as a
// subnet. Shapes: Azure/azure-rest-api-specs, Microsoft.Network stable, virtualNetwork.json.

import { azurePortalUrl } from "../ids.ts";
import { SUBNET_API_VERSION, SUBNET_TYPE, subnetSnapshots } from "./subnet.ts";
import type { AzureKind } from "./types.ts";

export const VNET_TYPE = "microsoft.network/virtualnetworks";

export const virtualNetwork = {
  id: "virtual-network",
  cloud: "azure",
  type: VNET_TYPE,
  armType: "Microsoft.Network/virtualNetworks",
  label: "virtual network",
  // Subnets are a kind of their own (their writes are evaluated as subnets); peerings change no subnet.
  childTypes: [],
  // VirtualNetworkPropertiesFormat and the subnets it embeds.
  booleanPaths: ["enableDdosProtection", "enableVmProtection", "subnets.*.properties.defaultOutboundAccess"],
  read: {
    client: "@azure/arm-network NetworkManagementClient",
    call: "virtualNetworks.get",
    apiVersion: SUBNET_API_VERSION,
    get: (clients, id, options) =>
      clients.client(id.subscriptionId).virtualNetworks.get(id.resourceGroup, id.name, options),
  },
  list: { apiVersion: SUBNET_API_VERSION, scopes: ["subscription", "resourceGroup"] },
  writes: [],
  readPermissions: ["Microsoft.Network/virtualNetworks/read"],
  consoleUrl: azurePortalUrl,
  // A scan lists networks for their subnets.
  covers: [SUBNET_TYPE],
  fanOut: (snapshot) =>
    subnetSnapshots(snapshot.resource).map((s) => ({
      resourceId: s.resourceId,
      resourceType: SUBNET_TYPE,
      // What an event carried is no read: the subnets keep its origin, so a write reads them afresh.
      snapshot: snapshot.origin === "event" ? { ...s, origin: "event" as const } : s,
    })),
} as const satisfies AzureKind;
