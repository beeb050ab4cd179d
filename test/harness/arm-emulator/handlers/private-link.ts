// Private Link: private endpoints (privateEndpoint.json), Private Link Services (privateLinkService.json), Key Vaults
// (Microsoft.KeyVault keyvault.json, as the generic provider) and the `privateEndpointConnections` children of every
// target (Network, Key Vault and Storage spell them alike; Storage's state says `actionRequired`, the others
// `actionsRequired`). SQL servers and Cosmos DB accounts (./private-link-targets.ts) add their own differences, all
// in PROVIDERS below: no etag, sub-resources as `groupIds` (SQL) or `groupId` (Cosmos DB), SQL's provisioning states
// (Ready, Approving, Rejecting), and a long-running decision PUT (202 Accepted).
//
// The lifecycle: a consumer PUTs a private endpoint naming a target (a resource id, or a Private Link Service alias);
// a connection appears on the target, named `<endpoint name>.<guid>` with `privateEndpoint.id` = the endpoint's id.
// It is Pending unless approved at once: a PLS whose `autoApproval.subscriptions` lists the endpoint's subscription
// (or `*`), or an automatic (`privateLinkServiceConnections`) request to a target in the endpoint's own subscription
// (standing in for a requester who holds the approval permission). The provider PUTs the connection's state
// Approved or Rejected; a Rejected connection never becomes Approved again (400, as Azure answers: the requester
// must create a new endpoint). The endpoint's own connection mirrors the provider's state. The connection's creation
// raises a write event in the target's subscription unless connection events are off (ArmEmulator.connectionEvents).

import { ArmError, badRequest, childNotFound, resourceNotFound } from "../errors.ts";
import { clone, isObject, type JsonObject, objectArray, propsOf, sameText } from "../json.ts";
import type { ItemRoute, LroStyle, RequestContext, Route, WriteOutcome } from "../router.ts";
import type { EmulatorState } from "../state.ts";
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

export const PRIVATE_ENDPOINT_TYPE = "Microsoft.Network/privateEndpoints";
export const PRIVATE_LINK_SERVICE_TYPE = "Microsoft.Network/privateLinkServices";
export const KEY_VAULT_TYPE = "Microsoft.KeyVault/vaults";
export const STORAGE_ACCOUNT_TYPE = "Microsoft.Storage/storageAccounts";
export const SQL_SERVER_TYPE = "Microsoft.Sql/servers";
export const COSMOS_DB_ACCOUNT_TYPE = "Microsoft.DocumentDB/databaseAccounts";

/** How one provider's connections differ. */
interface Provider {
  /** The state's last field: Storage `actionRequired`, the others `actionsRequired`. */
  actionField: "actionsRequired" | "actionRequired";
  /** Whether the target and its connections carry etags. */
  etag: boolean;
  /** How a connection records the sub-resources requested: SQL's read-only `groupIds`, Cosmos DB's `groupId`. */
  groups?: "groupIds" | "groupId";
  /** A connection's provisioningState at rest (default Succeeded) and while a decision is applied (SQL). */
  provisioning?: { ready: string; deciding?: Readonly<Record<string, string>> };
  /** A new connection's name is `<endpoint><separator><guid>` (default `.`). */
  nameSeparator?: string;
  /** The statuses a decision PUT may set, and the error code for another (SQL's IncorrectPrivateLink...Status). */
  decisions?: { statuses: readonly string[]; code: string; message: string };
  /** The decision PUT is long-running, this way; absent: synchronous 200. */
  lro?: LroStyle;
}

/** A SQL server's connections after their operation: Approving / Rejecting settle to Ready. */
export function completeSqlConnections(server: JsonObject): void {
  for (const c of connectionsOf(server)) {
    const p = propsOf(c);
    if (p.provisioningState === "Approving" || p.provisioningState === "Rejecting")
      p.provisioningState = "Ready";
  }
}

/** Targets whose connections this module serves, and how each provider differs. */
const PROVIDERS: Record<string, Provider> = {
  [PRIVATE_LINK_SERVICE_TYPE.toLowerCase()]: { actionField: "actionsRequired", etag: true },
  [KEY_VAULT_TYPE.toLowerCase()]: { actionField: "actionsRequired", etag: true },
  [STORAGE_ACCOUNT_TYPE.toLowerCase()]: { actionField: "actionRequired", etag: false },
  // Microsoft.Sql stable/2023-08-01 PrivateEndpointConnections.json: no etag, read-only groupIds, provisioningState
  // Approving | Ready | Dropping | Failed | Rejecting, PUT 200 or 202 (x-ms-long-running-operation; the spec names
  // no headers, the emulator gives Azure-AsyncOperation and Location), status Approved or Rejected only.
  [SQL_SERVER_TYPE.toLowerCase()]: {
    actionField: "actionsRequired",
    etag: false,
    groups: "groupIds",
    provisioning: { ready: "Ready", deciding: { Approved: "Approving", Rejected: "Rejecting" } },
    // ServerGet.json's connection: `private-endpoint-name-00000000-1111-...`.
    nameSeparator: "-",
    decisions: {
      statuses: ["Approved", "Rejected"],
      code: "IncorrectPrivateLinkServiceConnectionStateStatus",
      message: 'Private Link Service Connection State Status must be "Approved" or "Rejected"',
    },
    lro: {
      provider: "Microsoft.Sql",
      acceptedPut: true,
      putHeaders: ["Azure-AsyncOperation", "Location"],
      complete: completeSqlConnections,
    },
  },
  // Microsoft.DocumentDB stable/2024-11-15 privateEndpointConnection.json (and the TypeSpec's
  // ArmAcceptedLroResponse with ArmLroLocationHeader + RetryAfterHeader): no etag, singular groupId, PUT 200 or 202
  // with Location, whose URL answers the connection once done.
  [COSMOS_DB_ACCOUNT_TYPE.toLowerCase()]: {
    actionField: "actionsRequired",
    etag: false,
    groups: "groupId",
    lro: { provider: "Microsoft.DocumentDB", acceptedPut: true, putHeaders: ["Location"] },
  },
};

const READ_ONLY = new Set(["provisioningState", "privateEndpointConnections", "alias", "networkInterfaces"]);

export function outcome(
  status: number,
  tracked: JsonObject,
  touched: JsonObject[],
  extra: Partial<WriteOutcome> = {},
) {
  return {
    status,
    tracked,
    trackedId: String(tracked.id).toLowerCase(),
    location: typeof tracked.location === "string" ? tracked.location : "",
    touched,
    ...extra,
  } satisfies WriteOutcome;
}

export function stored(state: EmulatorState, id: string, type: string): JsonObject | undefined {
  const r = state.getTracked(id);
  return r && sameText(r.type, type) ? r : undefined;
}

export function connectionsOf(target: JsonObject): JsonObject[] {
  return objectArray(propsOf(target).privateEndpointConnections);
}

/** Restamps a target; Storage connections carry no etag of their own. */
export function restampTarget(state: EmulatorState, target: JsonObject): void {
  state.restamp(target);
  const provider = PROVIDERS[String(target.type).toLowerCase()];
  if (provider && !provider.etag) {
    for (const c of connectionsOf(target)) delete c.etag;
    delete target.etag;
  }
}

// ---- tracked resources: Key Vaults and Private Link Services -----------------------------------------------------

function trackedItem(
  type: string,
  nameParam: string,
  build: (ctx: RequestContext, body: JsonObject, current: JsonObject | undefined, id: string) => JsonObject,
  longRunning: boolean,
): ItemRoute {
  const idOf = (ctx: RequestContext) => trackedResourceId(ctx, type, nameParam);
  return {
    kind: "item",
    pattern: `${RG_SCOPE}/providers/${type}/{${nameParam}}`,
    resourceType: type,
    longRunning,
    trackedId: (ctx) => idOf(ctx).toLowerCase(),
    notFound: (ctx) => resourceNotFound(type, param(ctx, nameParam), param(ctx, "resourceGroupName")),
    read: (ctx) => {
      const r = stored(ctx.state, idOf(ctx), type);
      return r ? clone(r) : undefined;
    },
    put(ctx) {
      const current = stored(ctx.state, idOf(ctx), type);
      const id = current ? String(current.id) : idOf(ctx);
      const r = build(ctx, bodyObject(ctx), current, id);
      ctx.state.putTracked(r);
      restampTarget(ctx.state, r);
      return outcome(current ? 200 : 201, r, [r]);
    },
    delete(ctx) {
      const current = stored(ctx.state, idOf(ctx), type);
      if (!current) return absentDelete(idOf(ctx));
      ctx.state.deleteTracked(String(current.id));
      return { ...outcome(longRunning ? 202 : 200, current, []), trackedDeleted: true };
    },
    seed(ctx, resource) {
      const current = stored(ctx.state, idOf(ctx), type);
      const id = typeof resource.id === "string" ? resource.id : idOf(ctx);
      const r = build(ctx, resource, current, id);
      // A seed may bring connections (a request that arrived before the test began).
      if (isObject(resource.properties) && Array.isArray(resource.properties.privateEndpointConnections)) {
        propsOf(r).privateEndpointConnections = clone(resource.properties.privateEndpointConnections);
      }
      ctx.state.putTracked(r);
      restampTarget(ctx.state, r);
      if (typeof resource.etag === "string") r.etag = resource.etag;
    },
  };
}

function baseResource(
  ctx: RequestContext,
  body: JsonObject,
  current: JsonObject | undefined,
  id: string,
  type: string,
) {
  const location = requireLocation(body, current, id);
  const given = isObject(body.properties) ? body.properties : {};
  const properties: JsonObject = {};
  for (const [k, v] of Object.entries(given)) if (!READ_ONLY.has(k) && v !== null) properties[k] = clone(v);
  properties.provisioningState = "Succeeded";
  properties.privateEndpointConnections = current ? clone(connectionsOf(current)) : [];
  const tags = tagsFrom(body.tags);
  return {
    id,
    name: id.split("/").pop() ?? "",
    type,
    location,
    ...(tags ? { tags } : current?.tags ? { tags: current.tags } : {}),
    properties,
    ...(ctx ? {} : {}),
  } as JsonObject;
}

const vaultItem = trackedItem(
  KEY_VAULT_TYPE,
  "vaultName",
  (ctx, body, current, id) => {
    const r = baseResource(ctx, body, current, id, KEY_VAULT_TYPE);
    const p = propsOf(r);
    if (!isObject(p.sku)) p.sku = { family: "A", name: "standard" };
    p.vaultUri ??= `https://${String(r.name)}.vault.azure.net/`;
    return r;
  },
  false,
);

const plsItem = trackedItem(
  PRIVATE_LINK_SERVICE_TYPE,
  "serviceName",
  (ctx, body, current, id) => {
    const r = baseResource(ctx, body, current, id, PRIVATE_LINK_SERVICE_TYPE);
    const p = propsOf(r);
    const was = current ? propsOf(current) : {};
    // The alias is the service's own: `<name>.<guid>.<location>.azure.privatelinkservice`, kept across updates.
    p.alias =
      typeof was.alias === "string"
        ? was.alias
        : isObject(body.properties) && typeof body.properties.alias === "string"
          ? body.properties.alias
          : `${String(r.name)}.${ctx.state.newGuid()}.${String(r.location)}.azure.privatelinkservice`;
    p.visibility = isObject(p.visibility) ? p.visibility : { subscriptions: [] };
    p.autoApproval = isObject(p.autoApproval) ? p.autoApproval : { subscriptions: [] };
    return r;
  },
  true,
);

// ---- connections on targets --------------------------------------------------------------------------------------

export function connectionRoutes(type: string, nameParam: string): Route[] {
  const provider = PROVIDERS[type.toLowerCase()];
  if (!provider) throw new Error(`no Private Link provider entry for ${type}`);
  const parentPattern = `${RG_SCOPE}/providers/${type}/{${nameParam}}`;
  const parentId = (ctx: RequestContext) => trackedResourceId(ctx, type, nameParam);
  const requireParent = (ctx: RequestContext) => {
    const p = stored(ctx.state, parentId(ctx), type);
    if (!p) throw resourceNotFound(type, param(ctx, nameParam), param(ctx, "resourceGroupName"));
    return p;
  };
  const find = (parent: JsonObject, name: string) =>
    connectionsOf(parent).find((c) => sameText(c.name, name));
  const item: ItemRoute = {
    kind: "item",
    pattern: `${parentPattern}/privateEndpointConnections/{connectionName}`,
    resourceType: `${type}/privateEndpointConnections`,
    longRunning: provider.lro !== undefined,
    ...(provider.lro ? { lro: provider.lro } : {}),
    trackedId: (ctx) => parentId(ctx).toLowerCase(),
    notFound: (ctx) =>
      childNotFound(`${parentId(ctx)}/privateEndpointConnections/${param(ctx, "connectionName")}`),
    read(ctx) {
      const c = find(requireParent(ctx), param(ctx, "connectionName"));
      return c ? clone(c) : undefined;
    },
    put(ctx, current) {
      const parent = requireParent(ctx);
      const c = find(parent, param(ctx, "connectionName"));
      if (!c || !current) throw item.notFound(ctx);
      const body = bodyObject(ctx);
      const given = isObject(body.properties) ? body.properties.privateLinkServiceConnectionState : undefined;
      if (!isObject(given) || typeof given.status !== "string") {
        throw badRequest("InvalidRequestFormat", "privateLinkServiceConnectionState.status is required.");
      }
      const state = propsOf(c).privateLinkServiceConnectionState as JsonObject;
      const from = String(state.status);
      const to = given.status;
      if (!["Approved", "Rejected", "Pending", "Disconnected"].some((s) => s === to)) {
        throw badRequest("InvalidRequestFormat", `Invalid status '${to}'.`);
      }
      if (provider.decisions && !provider.decisions.statuses.includes(to)) {
        throw badRequest(provider.decisions.code, provider.decisions.message);
      }
      if (sameText(from, "Rejected") && !sameText(to, "Rejected")) {
        throw badRequest(
          "PrivateEndpointConnectionStateTransitionNotAllowed",
          `Private endpoint connection ${String(c.name)} is Rejected and cannot be set to ${to}; the requester must create a new private endpoint.`,
        );
      }
      if (!sameText(from, "Pending") && sameText(to, "Pending")) {
        throw badRequest(
          "PrivateEndpointConnectionStateTransitionNotAllowed",
          `Private endpoint connection ${String(c.name)} is ${from} and cannot go back to Pending.`,
        );
      }
      state.status = to;
      if (typeof given.description === "string") state.description = given.description;
      mirrorOnEndpoint(ctx.state, parent, c);
      restampTarget(ctx.state, parent);
      // SQL shows the decision under way (Approving / Rejecting) until its operation completes; the others show
      // Updating (the shared layer's default) when their PUT is long-running.
      const deciding = provider.provisioning?.deciding?.[to];
      if (deciding && ctx.state.lroPolls > 0) {
        propsOf(c).provisioningState = deciding;
        return outcome(200, parent, []);
      }
      return outcome(200, parent, provider.lro ? [c] : []);
    },
    delete(ctx) {
      const parent = requireParent(ctx);
      const c = find(parent, param(ctx, "connectionName"));
      if (!c) return absentDelete(parentId(ctx));
      propsOf(parent).privateEndpointConnections = connectionsOf(parent).filter((x) => x !== c);
      propsOf(c).privateLinkServiceConnectionState = {
        ...(propsOf(c).privateLinkServiceConnectionState as JsonObject),
        status: "Disconnected",
      };
      mirrorOnEndpoint(ctx.state, parent, c);
      restampTarget(ctx.state, parent);
      return outcome(200, parent, []);
    },
  };
  return [
    {
      kind: "collection",
      pattern: `${parentPattern}/privateEndpointConnections`,
      list: (ctx) => clone(connectionsOf(requireParent(ctx))),
    },
    item,
  ];
}

/** The endpoint's own connection shows the provider's decision. */
function mirrorOnEndpoint(state: EmulatorState, target: JsonObject, connection: JsonObject): void {
  const endpointId = (propsOf(connection).privateEndpoint as JsonObject | undefined)?.id;
  if (typeof endpointId !== "string") return;
  const endpoint = stored(state, endpointId, PRIVATE_ENDPOINT_TYPE);
  if (!endpoint) return;
  const names = [target.id, propsOf(target).alias];
  for (const list of ["privateLinkServiceConnections", "manualPrivateLinkServiceConnections"]) {
    for (const c of objectArray(propsOf(endpoint)[list])) {
      if (names.some((n) => sameText(propsOf(c).privateLinkServiceId, n))) {
        const s = propsOf(connection).privateLinkServiceConnectionState as JsonObject;
        propsOf(c).privateLinkServiceConnectionState = {
          status: s.status,
          description: s.description ?? "",
          actionsRequired: "None",
        };
      }
    }
  }
  state.restamp(endpoint);
}

// ---- private endpoints -------------------------------------------------------------------------------------------

function findPlsByAlias(state: EmulatorState, alias: string): JsonObject | undefined {
  for (const r of state.resources.values()) {
    if (sameText(r.type, PRIVATE_LINK_SERVICE_TYPE) && sameText(propsOf(r).alias, alias)) return r;
  }
  return undefined;
}

const endpointIdOf = (ctx: RequestContext) =>
  trackedResourceId(ctx, PRIVATE_ENDPOINT_TYPE, "privateEndpointName");

function createEndpoint(ctx: RequestContext, body: JsonObject, validate: boolean): WriteOutcome {
  const current = stored(ctx.state, endpointIdOf(ctx), PRIVATE_ENDPOINT_TYPE);
  const id = current
    ? String(current.id)
    : typeof body.id === "string" && !validate
      ? body.id
      : endpointIdOf(ctx);
  const subscriptionId = param(ctx, "subscriptionId");
  const location = requireLocation(body, current, id);
  const given = isObject(body.properties) ? body.properties : {};
  const properties: JsonObject = {};
  for (const [k, v] of Object.entries(given)) if (!READ_ONLY.has(k) && v !== null) properties[k] = clone(v);
  properties.provisioningState = "Succeeded";
  properties.networkInterfaces = [];
  const alsoWritten: NonNullable<WriteOutcome["alsoWritten"]> = [];
  for (const list of ["privateLinkServiceConnections", "manualPrivateLinkServiceConnections"] as const) {
    const items = objectArray(properties[list]);
    for (const [i, item] of items.entries()) {
      const name = typeof item.name === "string" ? item.name : `${id.split("/").pop()}-${i}`;
      const p = isObject(item.properties) ? item.properties : {};
      const targetRef = typeof p.privateLinkServiceId === "string" ? p.privateLinkServiceId : "";
      const existing = current
        ? objectArray(propsOf(current)[list]).find((c) => sameText(c.name, name))
        : undefined;
      item.name = name;
      item.id = `${id}/${list}/${name}`;
      item.type = `${PRIVATE_ENDPOINT_TYPE}/${list}`;
      if (existing) {
        item.properties = {
          ...p,
          privateLinkServiceConnectionState: propsOf(existing).privateLinkServiceConnectionState,
        };
        continue;
      }
      const target = targetRef.startsWith("/")
        ? ctx.state.getTracked(targetRef)
        : findPlsByAlias(ctx.state, targetRef);
      const provider = target ? PROVIDERS[String(target.type).toLowerCase()] : undefined;
      if (!target || !provider) {
        if (!validate) continue;
        throw new ArmError(
          400,
          "PrivateLinkServiceNotFound",
          `Private link service or resource ${targetRef} referenced by private endpoint ${id} was not found.`,
        );
      }
      const targetSub = String(target.id).split("/")[2] ?? "";
      const autoApproval = propsOf(target).autoApproval;
      const auto =
        isObject(autoApproval) && Array.isArray(autoApproval.subscriptions) ? autoApproval.subscriptions : [];
      const approved =
        auto.some((s) => s === "*" || sameText(s, subscriptionId)) ||
        (list === "privateLinkServiceConnections" && sameText(targetSub, subscriptionId));
      const status = approved ? "Approved" : "Pending";
      const description = approved
        ? "Auto-Approved"
        : typeof p.requestMessage === "string"
          ? p.requestMessage
          : "";
      const connectionName = `${String(id.split("/").pop())}${provider.nameSeparator ?? "."}${ctx.state.newGuid()}`;
      const requested = Array.isArray(p.groupIds)
        ? p.groupIds.filter((g): g is string => typeof g === "string")
        : [];
      const connection: JsonObject = {
        id: `${String(target.id)}/privateEndpointConnections/${connectionName}`,
        name: connectionName,
        type: `${String(target.type)}/privateEndpointConnections`,
        properties: {
          provisioningState: provider.provisioning?.ready ?? "Succeeded",
          privateEndpoint: { id },
          ...(provider.groups === "groupIds" ? { groupIds: requested } : {}),
          ...(provider.groups === "groupId" && requested[0] !== undefined ? { groupId: requested[0] } : {}),
          ...(sameText(target.type, PRIVATE_LINK_SERVICE_TYPE)
            ? {
                linkIdentifier: String(Math.floor(Math.random() * 2 ** 31)),
                privateEndpointLocation: location,
              }
            : {}),
          privateLinkServiceConnectionState: { status, description, [provider.actionField]: "None" },
        },
      };
      propsOf(target).privateEndpointConnections = [...connectionsOf(target), connection];
      restampTarget(ctx.state, target);
      item.properties = {
        ...p,
        privateLinkServiceConnectionState: { status, description, actionsRequired: "None" },
      };
      alsoWritten.push({
        path: String(connection.id),
        resourceType: `${String(target.type)}/privateEndpointConnections`,
        subscriptionId: targetSub,
      });
    }
    if (items.length > 0) properties[list] = items;
  }
  const tags = tagsFrom(body.tags);
  const endpoint: JsonObject = {
    id,
    name: id.split("/").pop() ?? "",
    type: PRIVATE_ENDPOINT_TYPE,
    location,
    ...(tags ? { tags } : {}),
    // ARM's common envelope (common-types systemData): when the endpoint was created, kept across updates.
    systemData: current?.systemData ?? {
      createdAt:
        isObject(body.systemData) && !validate ? body.systemData.createdAt : new Date().toISOString(),
    },
    properties,
  };
  ctx.state.putTracked(endpoint);
  ctx.state.restamp(endpoint);
  return outcome(current ? 200 : 201, endpoint, [endpoint], { alsoWritten });
}

const endpointItem: ItemRoute = {
  kind: "item",
  pattern: `${RG_SCOPE}/providers/${PRIVATE_ENDPOINT_TYPE}/{privateEndpointName}`,
  resourceType: PRIVATE_ENDPOINT_TYPE,
  longRunning: true,
  trackedId: (ctx) => endpointIdOf(ctx).toLowerCase(),
  notFound: (ctx) =>
    resourceNotFound(
      PRIVATE_ENDPOINT_TYPE,
      param(ctx, "privateEndpointName"),
      param(ctx, "resourceGroupName"),
    ),
  read(ctx) {
    const r = stored(ctx.state, endpointIdOf(ctx), PRIVATE_ENDPOINT_TYPE);
    return r ? clone(r) : undefined;
  },
  put: (ctx) => createEndpoint(ctx, bodyObject(ctx), true),
  delete(ctx) {
    const current = stored(ctx.state, endpointIdOf(ctx), PRIVATE_ENDPOINT_TYPE);
    if (!current) return absentDelete(endpointIdOf(ctx));
    // The provider's connections show Disconnected once the endpoint is gone.
    for (const r of ctx.state.resources.values()) {
      for (const c of connectionsOf(r)) {
        const pe = (propsOf(c).privateEndpoint as JsonObject | undefined)?.id;
        if (sameText(pe, current.id)) {
          (propsOf(c).privateLinkServiceConnectionState as JsonObject).status = "Disconnected";
        }
      }
    }
    ctx.state.deleteTracked(String(current.id));
    return { ...outcome(202, current, []), trackedDeleted: true };
  },
  seed(ctx, resource) {
    createEndpoint(ctx, resource, false);
  },
};

export const privateLinkRoutes: Route[] = [
  ...trackedCollections(KEY_VAULT_TYPE, (_s, r) => clone(r)),
  ...connectionRoutes(KEY_VAULT_TYPE, "vaultName"),
  vaultItem,
  ...trackedCollections(PRIVATE_LINK_SERVICE_TYPE, (_s, r) => clone(r)),
  ...connectionRoutes(PRIVATE_LINK_SERVICE_TYPE, "serviceName"),
  plsItem,
  ...trackedCollections(PRIVATE_ENDPOINT_TYPE, (_s, r) => clone(r)),
  endpointItem,
  // Storage accounts themselves are served by the storage handlers; their connections live here with the others.
  ...connectionRoutes(STORAGE_ACCOUNT_TYPE, "accountName"),
];
