// Service endpoint policies (Microsoft.Network/serviceEndpointPolicies) and their definitions, which list the
// storage accounts, resource groups or subscriptions a subnet's storage service endpoint may reach. A definition is a
// child resource: its writes re-evaluate the policy. Shapes: Azure/azure-rest-api-specs, Microsoft.Network stable,
// serviceEndpointPolicy.json.

import { azurePortalUrl } from "../ids.ts";
import { SUBNET_API_VERSION } from "./subnet.ts";
import type { AzureKind } from "./types.ts";

export const SEP_TYPE = "microsoft.network/serviceendpointpolicies";

export const serviceEndpointPolicy = {
  id: "service-endpoint-policy",
  cloud: "azure",
  type: SEP_TYPE,
  armType: "Microsoft.Network/serviceEndpointPolicies",
  label: "service endpoint policy",
  childTypes: [`${SEP_TYPE}/serviceendpointpolicydefinitions`],
  // ServiceEndpointPolicyPropertiesFormat has no boolean property.
  booleanPaths: [],
  read: {
    client: "@azure/arm-network NetworkManagementClient",
    call: "serviceEndpointPolicies.get",
    apiVersion: SUBNET_API_VERSION,
    get: (clients, id, options) =>
      clients.client(id.subscriptionId).serviceEndpointPolicies.get(id.resourceGroup, id.name, options),
  },
  list: { apiVersion: SUBNET_API_VERSION, scopes: ["subscription", "resourceGroup"] },
  writes: ["put-service-endpoint-policy-definition"],
  readPermissions: ["Microsoft.Network/serviceEndpointPolicies/read"],
  consoleUrl: azurePortalUrl,
} as const satisfies AzureKind;
