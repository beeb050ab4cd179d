// Pieces every resource handler needs: ids, body and location checks, tags.

import { ArmError, badRequest, invalidRequestFormat } from "../errors.ts";
import { isObject, type JsonObject } from "../json.ts";
import type { CollectionRoute, RequestContext, WriteOutcome } from "../router.ts";
import type { EmulatorState } from "../state.ts";

export const RG_SCOPE = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}";
export const SUB_SCOPE = "/subscriptions/{subscriptionId}";

export function param(ctx: RequestContext, name: string): string {
  const value = ctx.params[name];
  if (value === undefined) throw new Error(`route has no {${name}} segment`);
  return value;
}

export function trackedResourceId(ctx: RequestContext, type: string, nameParam: string): string {
  return (
    `/subscriptions/${param(ctx, "subscriptionId")}/resourceGroups/${param(ctx, "resourceGroupName")}` +
    `/providers/${type}/${param(ctx, nameParam)}`
  );
}

export function bodyObject(ctx: RequestContext): JsonObject {
  if (!isObject(ctx.body)) throw invalidRequestFormat("The request body must be a JSON object. Path ''.");
  return ctx.body;
}

/** ARM-level location rules: required on create, and a resource cannot move by PUT. */
export function requireLocation(body: JsonObject, current: JsonObject | undefined, id: string): string {
  const location = body.location;
  if (typeof location !== "string" || location.trim() === "") {
    if (current && typeof current.location === "string") return current.location;
    throw badRequest("LocationRequired", "The location property is required for this definition.");
  }
  if (current && typeof current.location === "string") {
    const norm = (s: string) => s.replace(/\s+/g, "").toLowerCase();
    if (norm(current.location) !== norm(location)) {
      throw new ArmError(
        400,
        "InvalidResourceLocation",
        `The resource '${id.split("/").pop()}' already exists in location '${current.location}'. ` +
          `A resource with the same name cannot be created in location '${location}'. Please select a new resource name.`,
      );
    }
    return current.location;
  }
  return location.replace(/\s+/g, "").toLowerCase();
}

export function tagsFrom(value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value) || Object.values(value).some((v) => typeof v !== "string")) {
    throw invalidRequestFormat("Error converting value to type 'Dictionary<String,String>'. Path 'tags'.");
  }
  return value as Record<string, string>;
}

export function nameOf(resource: JsonObject): string {
  return typeof resource.name === "string" ? resource.name : "";
}

/**
 * The two list operations every tracked type has: all of its resources in a subscription, and in a resource group
 * (ARM's `.../providers/<type>` collections). `present` shapes each stored resource as a GET would return it.
 */
export function trackedCollections(
  type: string,
  present: (state: EmulatorState, resource: JsonObject) => JsonObject,
): CollectionRoute[] {
  // The members of a collection, kept while no resource is added or removed: a client paging through N resources
  // asks for N / pageSize pages, and finding the members afresh for each would make the listing quadratic. Edits in
  // place need no refresh (the members are the stored objects; `present` copies them when a page is served).
  const members = new WeakMap<EmulatorState, Map<string, { membership: number; items: JsonObject[] }>>();
  const stored = (ctx: RequestContext, prefix: string) => {
    const lower = prefix.toLowerCase();
    let cache = members.get(ctx.state);
    if (!cache) {
      cache = new Map();
      members.set(ctx.state, cache);
    }
    const hit = cache.get(lower);
    if (hit && hit.membership === ctx.state.membership) return hit.items;
    const items: JsonObject[] = [];
    for (const [id, r] of ctx.state.trackedOfType(type)) if (id.startsWith(lower)) items.push(r);
    cache.set(lower, { membership: ctx.state.membership, items });
    return items;
  };
  const routes = (pattern: string, prefix: (ctx: RequestContext) => string): CollectionRoute => ({
    kind: "collection",
    pattern,
    list: (ctx) => stored(ctx, prefix(ctx)).map((r) => present(ctx.state, r)),
    slice: (ctx, from, size) => {
      const all = stored(ctx, prefix(ctx));
      return { items: all.slice(from, from + size).map((r) => present(ctx.state, r)), total: all.length };
    },
  });
  return [
    routes(`${SUB_SCOPE}/providers/${type}`, (ctx) => `/subscriptions/${param(ctx, "subscriptionId")}/`),
    routes(
      `${RG_SCOPE}/providers/${type}`,
      (ctx) =>
        `/subscriptions/${param(ctx, "subscriptionId")}/resourceGroups/${param(ctx, "resourceGroupName")}/`,
    ),
  ];
}

/** `<Type>_UpdateTags`: only the tags change, synchronously, with a new etag. */
export function updateTagsOnly(ctx: RequestContext, resource: JsonObject): void {
  const tags = tagsFrom(bodyObject(ctx).tags);
  if (tags !== undefined) resource.tags = tags;
  ctx.state.restamp(resource);
}

/** ARM answers a DELETE of a resource that does not exist with 204 and changes nothing. */
export function absentDelete(id: string): WriteOutcome {
  return { status: 204, tracked: undefined, trackedId: id.toLowerCase(), location: "", touched: [] };
}
