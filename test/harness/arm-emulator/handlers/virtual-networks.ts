// virtualNetworks and their subnets (virtualNetwork.json). Subnets live in the VNet's `properties.subnets` and share
// its etag, as ARM returns them.

import { ArmError, childNotFound, invalidRequestFormat, resourceNotFound } from "../errors.ts";
import { clone, isObject, type JsonObject, objectArray, propsOf, sameText } from "../json.ts";
import type { ItemRoute, RequestContext, Route, WriteOutcome } from "../router.ts";
import type { EmulatorState } from "../state.ts";
import {
  absentDelete,
  bodyObject,
  nameOf,
  param,
  RG_SCOPE,
  requireLocation,
  tagsFrom,
  trackedCollections,
  trackedResourceId,
  updateTagsOnly,
} from "./common.ts";

export const VNET_TYPE = "Microsoft.Network/virtualNetworks";
export const SUBNET_TYPE = "Microsoft.Network/virtualNetworks/subnets";
const VNET_PATH = `${RG_SCOPE}/providers/${VNET_TYPE}/{virtualNetworkName}`;

/** Fields the server owns; whatever the caller sent for them is ignored. */
const READ_ONLY = new Set(["provisioningState", "resourceGuid", "ipConfigurations", "privateEndpoints"]);

function vnetId(ctx: RequestContext): string {
  return trackedResourceId(ctx, VNET_TYPE, "virtualNetworkName");
}

function storedVnet(ctx: RequestContext): JsonObject | undefined {
  const vnet = ctx.state.getTracked(vnetId(ctx));
  return vnet && sameText(vnet.type, VNET_TYPE) ? vnet : undefined;
}

function requireVnet(ctx: RequestContext): JsonObject {
  const vnet = storedVnet(ctx);
  if (!vnet)
    throw resourceNotFound(VNET_TYPE, param(ctx, "virtualNetworkName"), param(ctx, "resourceGroupName"));
  return vnet;
}

function subnetsOf(vnet: JsonObject): JsonObject[] {
  return objectArray(propsOf(vnet).subnets);
}

/** ARM's answer to a subnet that references a resource that does not exist. */
function missingReference(refId: string, id: string): ArmError {
  return new ArmError(
    400,
    "InvalidResourceReference",
    `Resource ${refId} referenced by resource ${id} was not found. Please make sure that the referenced ` +
      "resource exists, and that both resources are in the same region.",
  );
}

/** Checks a `{ id }` reference of a subnet (an NSG, a route table, a service endpoint policy) and that it exists. */
function checkReference(state: EmulatorState, ref: unknown, id: string, at: string, model: string): void {
  if (ref === undefined || ref === null) return;
  if (!isObject(ref) || typeof ref.id !== "string") {
    throw invalidRequestFormat(`Error converting value to type '${model}'. Path '${at}'.`);
  }
  if (!state.getTracked(ref.id)) throw missingReference(ref.id, id);
}

function buildSubnet(
  state: EmulatorState,
  input: unknown,
  id: string,
  name: string,
  etag: string,
  path: string,
  validate: boolean,
  location: string,
): JsonObject {
  if (!isObject(input))
    throw invalidRequestFormat(`Error converting value to type 'Subnet'. Path '${path}'.`);
  const given = isObject(input.properties) ? input.properties : {};
  const at = (key: string) => `${path ? `${path}.` : ""}properties.${key}`;
  if (validate) {
    checkReference(state, given.networkSecurityGroup, id, at("networkSecurityGroup"), "NetworkSecurityGroup");
    checkReference(state, given.routeTable, id, at("routeTable"), "RouteTable");
    const policies = given.serviceEndpointPolicies;
    if (policies !== undefined && policies !== null) {
      if (!Array.isArray(policies)) {
        throw invalidRequestFormat(
          `Error converting value to type 'List<ServiceEndpointPolicy>'. Path '${at("serviceEndpointPolicies")}'.`,
        );
      }
      policies.forEach((p, i) => {
        checkReference(state, p, id, `${at("serviceEndpointPolicies")}[${i}]`, "ServiceEndpointPolicy");
      });
    }
  }
  const properties: JsonObject = { provisioningState: "Succeeded" };
  for (const [key, value] of Object.entries(given)) {
    if (!READ_ONLY.has(key) && value !== null && value !== undefined) properties[key] = clone(value);
  }
  if (Array.isArray(properties.serviceEndpoints)) {
    properties.serviceEndpoints = objectArray(properties.serviceEndpoints).map((se) => ({
      ...se,
      // ARM fills in where the endpoint applies when the caller names none: the VNet's region, or every region
      // for a cross-region (.Global) service.
      ...(Array.isArray(se.locations) && se.locations.length > 0
        ? {}
        : {
            locations: typeof se.service === "string" && /\.global$/i.test(se.service) ? ["*"] : [location],
          }),
      provisioningState: "Succeeded",
    }));
  }
  properties.delegations ??= [];
  properties.privateEndpointNetworkPolicies ??= "Disabled";
  properties.privateLinkServiceNetworkPolicies ??= "Enabled";
  return { name, id, etag, properties, type: SUBNET_TYPE };
}

function buildVnet(
  ctx: RequestContext,
  body: JsonObject,
  current: JsonObject | undefined,
  validate: boolean,
): JsonObject {
  const id = current ? String(current.id) : typeof body.id === "string" && !validate ? body.id : vnetId(ctx);
  const location = requireLocation(body, current, id);
  const tags = tagsFrom(body.tags);
  if (body.properties !== undefined && !isObject(body.properties)) {
    throw invalidRequestFormat(
      "Error converting value to type 'VirtualNetworkPropertiesFormat'. Path 'properties'.",
    );
  }
  const given = isObject(body.properties) ? body.properties : {};
  const etag = ctx.state.newEtag();
  const subnetsIn: unknown[] = Array.isArray(given.subnets) ? given.subnets : [];
  const subnets = subnetsIn.map((raw, i) => {
    const name = isObject(raw) && typeof raw.name === "string" ? raw.name : undefined;
    if (!name)
      throw invalidRequestFormat(
        `Required property 'name' not found in JSON. Path 'properties.subnets[${i}]'.`,
      );
    return buildSubnet(
      ctx.state,
      raw,
      `${id}/subnets/${name}`,
      name,
      etag,
      `properties.subnets[${i}]`,
      validate,
      location,
    );
  });
  const currentProps = current && isObject(current.properties) ? current.properties : {};
  const properties: JsonObject = {
    provisioningState: "Succeeded",
    resourceGuid:
      typeof currentProps.resourceGuid === "string"
        ? currentProps.resourceGuid
        : typeof given.resourceGuid === "string" && !validate
          ? given.resourceGuid
          : ctx.state.newGuid(),
    addressSpace: isObject(given.addressSpace) ? clone(given.addressSpace) : { addressPrefixes: [] },
  };
  for (const [key, value] of Object.entries(given)) {
    if (
      !READ_ONLY.has(key) &&
      !(key in properties) &&
      key !== "subnets" &&
      value !== undefined &&
      value !== null
    ) {
      properties[key] = clone(value);
    }
  }
  properties.subnets = subnets;
  properties.virtualNetworkPeerings ??= [];
  properties.enableDdosProtection ??= false;
  return {
    name: current ? current.name : id.split("/").pop(),
    id,
    etag,
    type: VNET_TYPE,
    location,
    ...(tags === undefined ? {} : { tags }),
    properties,
  };
}

function outcome(status: number, vnet: JsonObject, touched: JsonObject[]): WriteOutcome {
  return {
    status,
    tracked: vnet,
    trackedId: String(vnet.id).toLowerCase(),
    location: String(vnet.location ?? ""),
    touched,
  };
}

const vnetItem: ItemRoute = {
  kind: "item",
  pattern: VNET_PATH,
  resourceType: VNET_TYPE,
  longRunning: true,
  trackedId: (ctx) => vnetId(ctx).toLowerCase(),
  notFound: (ctx) =>
    resourceNotFound(VNET_TYPE, param(ctx, "virtualNetworkName"), param(ctx, "resourceGroupName")),
  read(ctx) {
    const vnet = storedVnet(ctx);
    return vnet ? clone(vnet) : undefined;
  },
  put(ctx) {
    const current = storedVnet(ctx);
    const vnet = buildVnet(ctx, bodyObject(ctx), current, true);
    ctx.state.putTracked(vnet);
    ctx.state.restamp(vnet);
    return outcome(current ? 200 : 201, vnet, [vnet]);
  },
  patch(ctx) {
    // VirtualNetworks_UpdateTags: only tags change, synchronously.
    const vnet = requireVnet(ctx);
    updateTagsOnly(ctx, vnet);
    return outcome(200, vnet, []);
  },
  delete(ctx) {
    const vnet = storedVnet(ctx);
    if (!vnet) return absentDelete(vnetId(ctx));
    ctx.state.deleteTracked(String(vnet.id));
    return { ...outcome(202, vnet, []), trackedDeleted: true };
  },
  seed(ctx, resource) {
    const vnet = buildVnet(ctx, resource, storedVnet(ctx), false);
    if (typeof resource.etag === "string") vnet.etag = resource.etag;
    for (const subnet of subnetsOf(vnet)) subnet.etag = vnet.etag;
    ctx.state.putTracked(vnet);
  },
};

function findSubnet(vnet: JsonObject, name: string): { subnet: JsonObject; index: number } | undefined {
  const subnets = subnetsOf(vnet);
  const index = subnets.findIndex((s) => sameText(s.name, name));
  const subnet = subnets[index];
  return subnet ? { subnet, index } : undefined;
}

function putSubnet(ctx: RequestContext, input: JsonObject, validate: boolean): WriteOutcome {
  const vnet = requireVnet(ctx);
  const name = param(ctx, "subnetName");
  const existing = findSubnet(vnet, name);
  const id = existing ? String(existing.subnet.id) : `${String(vnet.id)}/subnets/${name}`;
  const subnet = buildSubnet(
    ctx.state,
    input,
    id,
    existing ? nameOf(existing.subnet) : name,
    String(vnet.etag),
    "",
    validate,
    String(vnet.location ?? ""),
  );
  const subnets = subnetsOf(vnet);
  if (existing) subnets[existing.index] = subnet;
  else subnets.push(subnet);
  propsOf(vnet).subnets = subnets;
  ctx.state.restamp(vnet);
  return outcome(existing ? 200 : 201, vnet, [vnet, subnet]);
}

const subnetItem: ItemRoute = {
  kind: "item",
  pattern: `${VNET_PATH}/subnets/{subnetName}`,
  resourceType: SUBNET_TYPE,
  longRunning: true,
  trackedId: (ctx) => vnetId(ctx).toLowerCase(),
  notFound: (ctx) => childNotFound(`${vnetId(ctx)}/subnets/${param(ctx, "subnetName")}`),
  read(ctx) {
    const found = findSubnet(requireVnet(ctx), param(ctx, "subnetName"));
    return found ? clone(found.subnet) : undefined;
  },
  put: (ctx) => putSubnet(ctx, bodyObject(ctx), true),
  delete(ctx) {
    const vnet = requireVnet(ctx);
    const existing = findSubnet(vnet, param(ctx, "subnetName"));
    if (!existing) return outcome(204, vnet, []);
    const subnets = subnetsOf(vnet);
    subnets.splice(existing.index, 1);
    propsOf(vnet).subnets = subnets;
    ctx.state.restamp(vnet);
    return outcome(202, vnet, [vnet]);
  },
  seed(ctx, resource) {
    putSubnet(ctx, resource, false);
  },
};

export const virtualNetworkRoutes: Route[] = [
  ...trackedCollections(VNET_TYPE, (_state, r) => clone(r)),
  vnetItem,
  { kind: "collection", pattern: `${VNET_PATH}/subnets`, list: (ctx) => clone(subnetsOf(requireVnet(ctx))) },
  subnetItem,
];
