// Network security groups (Microsoft.Network/networkSecurityGroups) and their security rules.
// Shapes: Azure/azure-rest-api-specs, Microsoft.Network stable, networkSecurityGroup.json.

import { azurePortalUrl } from "../ids.ts";
import type { AzureKind } from "./types.ts";

export const NSG_TYPE = "microsoft.network/networksecuritygroups";

export const networkSecurityGroup = {
  id: "network-security-group",
  cloud: "azure",
  type: NSG_TYPE,
  armType: "Microsoft.Network/networkSecurityGroups",
  label: "network security group",
  childTypes: [`${NSG_TYPE}/securityrules`],
  // NetworkSecurityGroupPropertiesFormat; security rules have no boolean property.
  booleanPaths: ["flushConnection"],
  read: {
    client: "@azure/arm-network NetworkManagementClient",
    call: "networkSecurityGroups.get",
    apiVersion: "2026-01-01",
    get: (clients, id, options) =>
      clients.client(id.subscriptionId).networkSecurityGroups.get(id.resourceGroup, id.name, options),
  },
  list: { apiVersion: "2026-01-01", scopes: ["subscription", "resourceGroup"] },
  writes: ["delete-security-rule", "put-security-rule"],
  readPermissions: ["Microsoft.Network/networkSecurityGroups/read"],
  consoleUrl: azurePortalUrl,
} as const satisfies AzureKind;
