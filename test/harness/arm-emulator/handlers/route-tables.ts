// routeTables and their routes (routeTable.json: RouteTable, Route, RoutePropertiesFormat, RouteNextHopType).

import { ArmError, invalidRequestFormat } from "../errors.ts";
import { isObject, type JsonObject } from "../json.ts";
import { parentRoutes } from "./tracked-with-children.ts";

export const ROUTE_TABLE_TYPE = "Microsoft.Network/routeTables";
const NEXT_HOP_TYPES = [
  "VirtualNetworkGateway",
  "VnetLocal",
  "Internet",
  "VirtualAppliance",
  "None",
] as const;

function routeProperties(given: JsonObject, path: string): JsonObject {
  const hop = given.nextHopType;
  const nextHopType =
    typeof hop === "string" ? NEXT_HOP_TYPES.find((t) => t.toLowerCase() === hop.toLowerCase()) : undefined;
  if (nextHopType === undefined) {
    throw invalidRequestFormat(
      hop === undefined
        ? `Required property 'nextHopType' not found in JSON. Path '${path}'.`
        : `Error converting value ${JSON.stringify(hop)} to type 'RouteNextHopType'. Path '${path}.nextHopType'.`,
    );
  }
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(given)) {
    // hasBgpOverride and provisioningState are read-only: the server computes them.
    if (key !== "provisioningState" && key !== "hasBgpOverride" && value !== null && value !== undefined)
      out[key] = value;
  }
  out.nextHopType = nextHopType;
  out.hasBgpOverride = false;
  return out;
}

export const routeTableRoutes = parentRoutes({
  type: ROUTE_TABLE_TYPE,
  nameParam: "routeTableName",
  childKey: "routes",
  childSegment: "routes",
  childParam: "routeName",
  propertiesModel: "RouteTablePropertiesFormat",
  childProperties: routeProperties,
  referencedBy: (props, id) => isObject(props.routeTable) && String(props.routeTable.id).toLowerCase() === id,
  inUse: (id, subnets) =>
    new ArmError(
      400,
      "InUseRouteTableCannotBeDeleted",
      `Route table ${id} is in use and cannot be deleted. In use by ${subnets.join(", ")}.`,
    ),
  writable: ["disableBgpRoutePropagation"],
});
