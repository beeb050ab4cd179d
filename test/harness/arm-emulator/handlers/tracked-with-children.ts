// A tracked resource that embeds one kind of child in a `properties` array, as ARM returns route tables (routes) and
// service endpoint policies (definitions): PUT/PATCH-tags/DELETE of the parent, GET/PUT/DELETE of a child, the two
// list routes, the parent's read-only `subnets` back-references computed from the subnets that point at it, and a
// 400 for deleting a parent still in use. Each family supplies its type names and how a child is validated.

import { type ArmError, childNotFound, invalidRequestFormat, resourceNotFound } from "../errors.ts";
import { clone, isObject, type JsonObject, objectArray, propsOf, sameText } from "../json.ts";
import type { ItemRoute, RequestContext, Route, WriteOutcome } from "../router.ts";
import { type EmulatorState, embeddedChildren } from "../state.ts";
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

export interface ParentSpec {
  /** `Microsoft.Network/routeTables` */
  type: string;
  /** Path parameter of the parent's name: `routeTableName`. */
  nameParam: string;
  /** `properties` key of the children: `routes`. */
  childKey: string;
  /** Path segment of a child: `routes`. */
  childSegment: string;
  /** Path parameter of a child's name: `routeName`. */
  childParam: string;
  /** The model name in Network RP's deserialisation errors: `RouteTablePropertiesFormat`. */
  propertiesModel: string;
  /** Validates a child's properties (as given) into what is stored; `path` locates it for error messages. */
  childProperties(given: JsonObject, path: string): JsonObject;
  /** Whether a subnet's properties point at the parent with this (lower-cased) id. */
  referencedBy(subnetProperties: JsonObject, id: string): boolean;
  /** The error for deleting a parent subnets still use. */
  inUse(id: string, subnets: string[]): ArmError;
  /** Parent properties (besides the children) the caller may set; others the server owns. */
  writable: readonly string[];
}

/** Subnets (in any VNet) that point at the parent `id`. */
export function referencingSubnets(state: EmulatorState, spec: ParentSpec, id: string): JsonObject[] {
  const refs: JsonObject[] = [];
  const lower = id.toLowerCase();
  // Subnets live in virtual networks only: reading that type alone keeps a list page of N parents linear in N.
  for (const resource of state.trackedOfType("Microsoft.Network/virtualNetworks").values()) {
    for (const child of embeddedChildren(resource)) {
      if (isObject(child.properties) && spec.referencedBy(child.properties, lower)) refs.push(child);
    }
  }
  return refs;
}

export function parentRoutes(spec: ParentSpec): Route[] {
  const path = `${RG_SCOPE}/providers/${spec.type}/{${spec.nameParam}}`;
  const childType = `${spec.type}/${spec.childSegment}`;
  const idOf = (ctx: RequestContext) => trackedResourceId(ctx, spec.type, spec.nameParam);
  const stored = (ctx: RequestContext) => {
    const r = ctx.state.getTracked(idOf(ctx));
    return r && sameText(r.type, spec.type) ? r : undefined;
  };
  const required = (ctx: RequestContext) => {
    const r = stored(ctx);
    if (!r) throw resourceNotFound(spec.type, param(ctx, spec.nameParam), param(ctx, "resourceGroupName"));
    return r;
  };
  const childrenOf = (r: JsonObject) => objectArray(propsOf(r)[spec.childKey]);

  /** What GET returns: the stored resource plus the back-references ARM computes. */
  const present = (state: EmulatorState, r: JsonObject): JsonObject => {
    const out = clone(r);
    const subnets = referencingSubnets(state, spec, String(r.id));
    if (subnets.length > 0) propsOf(out).subnets = subnets.map((s) => ({ id: s.id }));
    return out;
  };

  const buildChild = (input: unknown, id: string, name: string, etag: string, at: string): JsonObject => {
    if (!isObject(input))
      throw invalidRequestFormat(`Error converting value to type '${childType}'. Path '${at}'.`);
    const given = isObject(input.properties) ? input.properties : {};
    const properties = {
      provisioningState: "Succeeded",
      ...spec.childProperties(given, `${at ? `${at}.` : ""}properties`),
    };
    return { name, id, etag, type: childType, properties };
  };

  const build = (
    ctx: RequestContext,
    body: JsonObject,
    current: JsonObject | undefined,
    validate: boolean,
  ) => {
    const id = current ? String(current.id) : typeof body.id === "string" && !validate ? body.id : idOf(ctx);
    const location = requireLocation(body, current, id);
    const tags = tagsFrom(body.tags);
    if (body.properties !== undefined && !isObject(body.properties)) {
      throw invalidRequestFormat(
        `Error converting value to type '${spec.propertiesModel}'. Path 'properties'.`,
      );
    }
    const given = isObject(body.properties) ? body.properties : {};
    const etag = ctx.state.newEtag();
    const listIn: unknown[] = Array.isArray(given[spec.childKey]) ? (given[spec.childKey] as unknown[]) : [];
    const children = listIn.map((raw, i) => {
      const name = isObject(raw) && typeof raw.name === "string" ? raw.name : undefined;
      if (!name) {
        throw invalidRequestFormat(
          `Required property 'name' not found in JSON. Path 'properties.${spec.childKey}[${i}]'.`,
        );
      }
      const childId = `${id}/${spec.childSegment}/${name}`;
      if (!validate && isObject(raw)) return { ...clone(raw), name, id: childId, etag, type: childType };
      return buildChild(raw, childId, name, etag, `properties.${spec.childKey}[${i}]`);
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
    };
    for (const key of spec.writable)
      if (given[key] !== undefined && given[key] !== null) properties[key] = clone(given[key]);
    properties[spec.childKey] = children;
    return {
      name: current ? current.name : id.split("/").pop(),
      id,
      etag,
      type: spec.type,
      location,
      ...(tags === undefined ? {} : { tags }),
      properties,
    };
  };

  const outcome = (status: number, r: JsonObject, touched: JsonObject[]): WriteOutcome => ({
    status,
    tracked: r,
    trackedId: String(r.id).toLowerCase(),
    location: String(r.location ?? ""),
    touched,
  });

  const findChild = (r: JsonObject, name: string) => {
    const list = childrenOf(r);
    const index = list.findIndex((c) => sameText(c.name, name));
    const child = list[index];
    return child ? { child, index } : undefined;
  };

  const item: ItemRoute = {
    kind: "item",
    pattern: path,
    resourceType: spec.type,
    longRunning: true,
    trackedId: (ctx) => idOf(ctx).toLowerCase(),
    notFound: (ctx) =>
      resourceNotFound(spec.type, param(ctx, spec.nameParam), param(ctx, "resourceGroupName")),
    read(ctx) {
      const r = stored(ctx);
      return r ? present(ctx.state, r) : undefined;
    },
    put(ctx) {
      const current = stored(ctx);
      const r = build(ctx, bodyObject(ctx), current, true);
      ctx.state.putTracked(r);
      ctx.state.restamp(r);
      return outcome(current ? 200 : 201, r, [r]);
    },
    patch(ctx) {
      const r = required(ctx);
      updateTagsOnly(ctx, r);
      return outcome(200, r, []);
    },
    delete(ctx) {
      const r = stored(ctx);
      if (!r) return absentDelete(idOf(ctx));
      const inUse = referencingSubnets(ctx.state, spec, String(r.id));
      if (inUse.length > 0)
        throw spec.inUse(
          String(r.id),
          inUse.map((s) => String(s.id)),
        );
      ctx.state.deleteTracked(String(r.id));
      return { ...outcome(202, r, []), trackedDeleted: true };
    },
    seed(ctx, resource) {
      const r = build(ctx, resource, stored(ctx), false);
      if (typeof resource.etag === "string") r.etag = resource.etag;
      for (const c of childrenOf(r)) c.etag = r.etag;
      ctx.state.putTracked(r);
    },
  };

  const childItem: ItemRoute = {
    kind: "item",
    pattern: `${path}/${spec.childSegment}/{${spec.childParam}}`,
    resourceType: childType,
    longRunning: true,
    trackedId: (ctx) => idOf(ctx).toLowerCase(),
    notFound: (ctx) => childNotFound(`${idOf(ctx)}/${spec.childSegment}/${param(ctx, spec.childParam)}`),
    read(ctx) {
      const found = findChild(required(ctx), param(ctx, spec.childParam));
      return found ? clone(found.child) : undefined;
    },
    put(ctx) {
      const r = required(ctx);
      const name = param(ctx, spec.childParam);
      const existing = findChild(r, name);
      const id = existing ? String(existing.child.id) : `${String(r.id)}/${spec.childSegment}/${name}`;
      const child = buildChild(
        bodyObject(ctx),
        id,
        existing ? nameOf(existing.child) : name,
        String(r.etag),
        "",
      );
      const list = childrenOf(r);
      if (existing) list[existing.index] = child;
      else list.push(child);
      propsOf(r)[spec.childKey] = list;
      ctx.state.restamp(r);
      return outcome(existing ? 200 : 201, r, [r, child]);
    },
    delete(ctx) {
      const r = required(ctx);
      const existing = findChild(r, param(ctx, spec.childParam));
      if (!existing) return outcome(204, r, []);
      const list = childrenOf(r);
      list.splice(existing.index, 1);
      propsOf(r)[spec.childKey] = list;
      ctx.state.restamp(r);
      return outcome(202, r, [r]);
    },
    seed(ctx, resource) {
      const r = required(ctx);
      const name = param(ctx, spec.childParam);
      const existing = findChild(r, name);
      const child = { ...clone(resource), name: existing ? nameOf(existing.child) : name, type: childType };
      const list = childrenOf(r);
      if (existing) list[existing.index] = child;
      else list.push(child);
      propsOf(r)[spec.childKey] = list;
      ctx.state.restamp(r);
    },
  };

  return [
    ...trackedCollections(spec.type, present),
    item,
    {
      kind: "collection",
      pattern: `${path}/${spec.childSegment}`,
      list: (ctx) => clone(childrenOf(required(ctx))),
    },
    childItem,
  ];
}
