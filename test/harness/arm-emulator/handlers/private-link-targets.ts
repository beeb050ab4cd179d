// Private Link targets beyond Storage and Key Vault: Azure SQL logical servers and Cosmos DB accounts, with their
// `privateEndpointConnections` (served by ./private-link.ts's connection routes, whose PROVIDERS table holds each
// provider's differences). Only what a Private Link target needs is modelled: the resource's GET with its connections
// inline, PUT (create / update), DELETE, the two lists.
//
// - SQL servers: Azure/azure-rest-api-specs Microsoft.Sql stable/2023-08-01 Servers.json (`Server`, `ServerProperties`)
//   and examples/ServerGet.json, ServerCreate.json. No etag, no provisioningState (the server says `state: Ready`),
//   `kind: v12.0`; `administratorLoginPassword` is write-only (x-ms-secret) and never returned. Inline connections
//   are `ServerPrivateEndpointConnection`s: `{id, properties}` only. PUT is long-running: 201 / 200, with a Location
//   when asynchronous.
// - Cosmos DB accounts: Microsoft.DocumentDB stable/2024-11-15 cosmos-db.json (`DatabaseAccountGetResults`,
//   `DatabaseAccountGetProperties`) and examples/CosmosDBDatabaseAccountGet.json, CosmosDBDatabaseAccountCreateMin.json.
//   No etag; `locations` (required on create, with `databaseAccountOfferType`) become `writeLocations`,
//   `readLocations`, `locations` and `failoverPolicies` as the Get example shows them (id `<account>-<region>`,
//   documentEndpoint, failoverPriority). PUT answers 200 with a Location while its operation runs.
//
// Not modelled: SQL's administrator login rules, Cosmos DB capabilities, consistency and backup validation, keys,
// databases and their data planes.

import { badRequest, resourceNotFound } from "../errors.ts";
import { clone, isObject, type JsonObject, objectArray, propsOf } from "../json.ts";
import type { ItemRoute, LroStyle, RequestContext, Route } from "../router.ts";
import {
  absentDelete,
  bodyObject,
  param,
  RG_SCOPE,
  requireLocation,
  tagsFrom,
  trackedCollections,
  trackedResourceId,
} from "./common.ts";
import {
  COSMOS_DB_ACCOUNT_TYPE,
  completeSqlConnections,
  connectionRoutes,
  connectionsOf,
  outcome,
  restampTarget,
  SQL_SERVER_TYPE,
  stored,
} from "./private-link.ts";

const READ_ONLY = new Set([
  "privateEndpointConnections",
  "provisioningState",
  "state",
  "fullyQualifiedDomainName",
]);

interface TargetSpec {
  type: string;
  nameParam: string;
  lro: LroStyle;
  /** What a PUT that creates answers: SQL's spec has 201, Cosmos DB's only 200. */
  createdStatus: 200 | 201;
  /** The stored resource from a create/update body (validated unless seeding), keeping the current connections. */
  build(body: JsonObject, current: JsonObject | undefined, id: string, validate: boolean): JsonObject;
  /** The resource as a GET answers it. */
  present(resource: JsonObject): JsonObject;
}

function target(spec: TargetSpec): Route[] {
  const { type, nameParam } = spec;
  const idOf = (ctx: RequestContext) => trackedResourceId(ctx, type, nameParam);
  const item: ItemRoute = {
    kind: "item",
    pattern: `${RG_SCOPE}/providers/${type}/{${nameParam}}`,
    resourceType: type,
    longRunning: true,
    lro: spec.lro,
    trackedId: (ctx) => idOf(ctx).toLowerCase(),
    notFound: (ctx) => resourceNotFound(type, param(ctx, nameParam), param(ctx, "resourceGroupName")),
    read: (ctx) => {
      const r = stored(ctx.state, idOf(ctx), type);
      return r ? spec.present(r) : undefined;
    },
    put(ctx) {
      const current = stored(ctx.state, idOf(ctx), type);
      const id = current ? String(current.id) : idOf(ctx);
      const r = spec.build(bodyObject(ctx), current, id, true);
      ctx.state.putTracked(r);
      restampTarget(ctx.state, r);
      // Only a resource with a provisioningState shows Updating while its operation runs (a SQL server has none).
      const touched = isObject(r.properties) && "provisioningState" in r.properties ? [r] : [];
      return {
        ...outcome(current ? 200 : spec.createdStatus, r, touched),
        ...(current ? {} : { created: true }),
      };
    },
    delete(ctx) {
      const current = stored(ctx.state, idOf(ctx), type);
      if (!current) return absentDelete(idOf(ctx));
      ctx.state.deleteTracked(String(current.id));
      return { ...outcome(202, current, []), trackedDeleted: true };
    },
    seed(ctx, resource) {
      const current = stored(ctx.state, idOf(ctx), type);
      const id = typeof resource.id === "string" ? resource.id : idOf(ctx);
      const r = spec.build(resource, current, id, false);
      // A seed may bring connections (requests that arrived before the test began).
      if (isObject(resource.properties) && Array.isArray(resource.properties.privateEndpointConnections)) {
        propsOf(r).privateEndpointConnections = clone(resource.properties.privateEndpointConnections);
      }
      ctx.state.putTracked(r);
      restampTarget(ctx.state, r);
    },
  };
  return [
    ...trackedCollections(type, (_s, r) => spec.present(r)),
    ...connectionRoutes(type, nameParam),
    item,
  ];
}

function given(body: JsonObject): JsonObject {
  const out: JsonObject = {};
  const props = isObject(body.properties) ? body.properties : {};
  for (const [k, v] of Object.entries(props)) if (!READ_ONLY.has(k) && v !== null) out[k] = clone(v);
  return out;
}

function envelope(
  body: JsonObject,
  current: JsonObject | undefined,
  id: string,
  type: string,
  properties: JsonObject,
): JsonObject {
  const tags = tagsFrom(body.tags);
  return {
    id,
    name: id.split("/").pop() ?? "",
    type,
    location: requireLocation(body, current, id),
    ...(tags ? { tags } : current?.tags ? { tags: current.tags } : {}),
    properties,
  };
}

// ---- SQL servers ------------------------------------------------------------------------------------------------

const sqlServerRoutes = target({
  type: SQL_SERVER_TYPE,
  nameParam: "serverName",
  createdStatus: 201,
  // Servers_CreateOrUpdate: 200, 201, or 202 Accepted with a Location.
  lro: {
    provider: "Microsoft.Sql",
    acceptedPut: true,
    putHeaders: ["Location"],
    complete: completeSqlConnections,
  },
  build(body, current, id) {
    const was = current ? propsOf(current) : {};
    const properties: JsonObject = { ...(current ? clone(was) : {}), ...given(body) };
    // Write-only: accepted on create and update, never stored for a GET.
    delete properties.administratorLoginPassword;
    const name = id.split("/").pop() ?? "";
    properties.version ??= "12.0";
    properties.state = "Ready";
    properties.fullyQualifiedDomainName = `${name}.database.windows.net`;
    properties.privateEndpointConnections = current ? clone(connectionsOf(current)) : [];
    return { ...envelope(body, current, id, SQL_SERVER_TYPE, properties), kind: "v12.0" };
  },
  present(resource) {
    const r = clone(resource);
    // ServerPrivateEndpointConnection: the server's GET shows each connection as {id, properties} only.
    propsOf(r).privateEndpointConnections = objectArray(propsOf(r).privateEndpointConnections).map((c) => ({
      id: c.id,
      properties: c.properties,
    }));
    return r;
  },
});

// ---- Cosmos DB accounts -----------------------------------------------------------------------------------------

function cosmosLocations(name: string, given: unknown): JsonObject[] {
  const list = objectArray(given);
  if (list.length === 0) {
    throw badRequest("BadRequest", "The locations property is required for a database account.");
  }
  return list.map((l, i) => {
    const region = typeof l.locationName === "string" ? l.locationName : "";
    const slug = region.replace(/\s+/g, "").toLowerCase();
    return {
      id: `${name}-${slug}`,
      locationName: region,
      documentEndpoint: `https://${name}-${slug}.documents.azure.com:443/`,
      provisioningState: "Succeeded",
      failoverPriority: typeof l.failoverPriority === "number" ? l.failoverPriority : i,
      ...(typeof l.isZoneRedundant === "boolean" ? { isZoneRedundant: l.isZoneRedundant } : {}),
    };
  });
}

const cosmosAccountRoutes = target({
  type: COSMOS_DB_ACCOUNT_TYPE,
  nameParam: "accountName",
  createdStatus: 200,
  // DatabaseAccounts_CreateOrUpdate: 200 with the account and, while its operation runs, a Location.
  lro: { provider: "Microsoft.DocumentDB", putHeaders: ["Location"] },
  build(body, current, id, validate) {
    const was = current ? propsOf(current) : {};
    const asked = given(body);
    const name = id.split("/").pop() ?? "";
    const properties: JsonObject = { ...(current ? clone(was) : {}), ...asked };
    if (validate && !current && asked.databaseAccountOfferType === undefined) {
      throw badRequest("BadRequest", "The databaseAccountOfferType property is required.");
    }
    if (validate && !current && asked.locations === undefined) {
      throw badRequest("BadRequest", "The locations property is required for a database account.");
    }
    const locations =
      asked.locations !== undefined || !current
        ? cosmosLocations(name, asked.locations ?? [{ locationName: String(body.location ?? "") }])
        : objectArray(was.locations);
    properties.provisioningState = "Succeeded";
    properties.documentEndpoint = `https://${name}.documents.azure.com:443/`;
    properties.databaseAccountOfferType ??= "Standard";
    properties.locations = locations;
    properties.writeLocations = locations.filter((l) => l.failoverPriority === 0);
    properties.readLocations = clone(locations);
    properties.failoverPolicies = locations.map((l) => ({
      id: l.id,
      locationName: l.locationName,
      failoverPriority: l.failoverPriority,
    }));
    properties.privateEndpointConnections = current ? clone(connectionsOf(current)) : [];
    const kind = typeof body.kind === "string" ? body.kind : (current?.kind ?? "GlobalDocumentDB");
    if (validate && !["GlobalDocumentDB", "MongoDB", "Parse"].includes(String(kind))) {
      throw badRequest("BadRequest", `Invalid database account kind '${String(kind)}'.`);
    }
    return { ...envelope(body, current, id, COSMOS_DB_ACCOUNT_TYPE, properties), kind };
  },
  present: (resource) => clone(resource),
});

export const privateLinkTargetRoutes: Route[] = [...sqlServerRoutes, ...cosmosAccountRoutes];
