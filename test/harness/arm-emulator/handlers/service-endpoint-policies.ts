// serviceEndpointPolicies and their serviceEndpointPolicyDefinitions (serviceEndpointPolicy.json).

import { ArmError, invalidRequestFormat } from "../errors.ts";
import { type JsonObject, objectArray } from "../json.ts";
import { parentRoutes } from "./tracked-with-children.ts";

export const SEP_TYPE = "Microsoft.Network/serviceEndpointPolicies";

function definitionProperties(given: JsonObject, path: string): JsonObject {
  const resources = given.serviceResources;
  if (resources !== undefined && resources !== null) {
    if (!Array.isArray(resources) || resources.some((r) => typeof r !== "string")) {
      throw invalidRequestFormat(
        `Error converting value to type 'List<String>'. Path '${path}.serviceResources'.`,
      );
    }
  }
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(given)) {
    if (key !== "provisioningState" && value !== null && value !== undefined) out[key] = value;
  }
  return out;
}

export const serviceEndpointPolicyRoutes = parentRoutes({
  type: SEP_TYPE,
  nameParam: "serviceEndpointPolicyName",
  childKey: "serviceEndpointPolicyDefinitions",
  childSegment: "serviceEndpointPolicyDefinitions",
  childParam: "serviceEndpointPolicyDefinitionName",
  propertiesModel: "ServiceEndpointPolicyPropertiesFormat",
  childProperties: definitionProperties,
  referencedBy: (props, id) =>
    objectArray(props.serviceEndpointPolicies).some((p) => String(p.id).toLowerCase() === id),
  inUse: (id, subnets) =>
    new ArmError(
      400,
      "InUseServiceEndpointPolicyCannotBeDeleted",
      `Service endpoint policy ${id} is in use by ${subnets.join(", ")} and cannot be deleted.`,
    ),
  writable: ["serviceAlias", "contextualServiceEndpointPolicies"],
});
