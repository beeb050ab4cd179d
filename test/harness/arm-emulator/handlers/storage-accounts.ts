// storageAccounts (Microsoft.Storage, storage.json of stable/2025-08-01): GET (StorageAccounts_GetProperties), PUT
// (StorageAccounts_Create, answered synchronously with 200, which the spec allows besides 202), PATCH
// (StorageAccounts_Update), DELETE, and the two list operations.
//
// Semantics kept from the REST spec and its examples:
// - Storage accounts carry no etag, and the Update operation takes no If-Match.
// - PATCH changes only the properties it names; a PATCH carrying `networkAcls` replaces that whole object, with the
//   spec's defaults for what it omits (StorageAccountUpdate.json: a body of {defaultAction, resourceAccessRules}
//   comes back with `bypass: AzureServices`, `ipRules: []`, `virtualNetworkRules: []`).
// - `defaultAction` is required in a NetworkRuleSet; `bypass` is a comma-separated combination of None, Logging,
//   Metrics and AzureServices; `publicNetworkAccess` is Enabled, Disabled or SecuredByPerimeter.
// - A new account has the GetProperties example's network rules (all networks allowed, trusted services bypassed)
//   and, as accounts created with api-version 2023-01-01 and later, `allowBlobPublicAccess: false`.

import { badRequest, invalidRequestFormat, resourceNotFound } from "../errors.ts";
import { clone, isObject, type JsonObject, sameText } from "../json.ts";
import type { ItemRoute, RequestContext, Route, WriteOutcome } from "../router.ts";
import {
  bodyObject,
  param,
  RG_SCOPE,
  requireLocation,
  tagsFrom,
  trackedCollections,
  trackedResourceId,
} from "./common.ts";

export const STORAGE_TYPE = "Microsoft.Storage/storageAccounts";
const PATH = `${RG_SCOPE}/providers/${STORAGE_TYPE}/{accountName}`;

const accountId = (ctx: RequestContext) => trackedResourceId(ctx, STORAGE_TYPE, "accountName");

function stored(ctx: RequestContext): JsonObject | undefined {
  const account = ctx.state.getTracked(accountId(ctx));
  return account && sameText(account.type, STORAGE_TYPE) ? account : undefined;
}

const BYPASS = new Set(["none", "logging", "metrics", "azureservices"]);
const PUBLIC_NETWORK_ACCESS = ["Enabled", "Disabled", "SecuredByPerimeter"];

function enumValue(value: unknown, allowed: readonly string[], path: string, type: string): string {
  const match = typeof value === "string" ? allowed.find((a) => sameText(a, value)) : undefined;
  if (match === undefined) {
    throw invalidRequestFormat(
      `Error converting value ${JSON.stringify(value)} to type '${type}'. Path '${path}'.`,
    );
  }
  return match;
}

function ruleList(value: unknown, path: string, key: "value" | "id", withState: boolean): JsonObject[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalidRequestFormat(`Error converting value to a list. Path '${path}'.`);
  return value.map((raw, i) => {
    if (!isObject(raw) || typeof raw[key] !== "string" || raw[key] === "") {
      throw invalidRequestFormat(`Required property '${key}' not found in JSON. Path '${path}[${i}]'.`);
    }
    // Entries keep every field as sent; the RP fills the action (always Allow) and a VNet rule's state.
    const entry = clone(raw);
    if (entry.action === undefined) entry.action = "Allow";
    if (withState && entry.state === undefined) entry.state = "Succeeded";
    return entry;
  });
}

/** A NetworkRuleSet as the RP stores it: the given one, whole, with the spec's defaults for what it omits. */
function networkRuleSet(value: unknown): JsonObject {
  if (!isObject(value))
    throw invalidRequestFormat(
      "Error converting value to type 'NetworkRuleSet'. Path 'properties.networkAcls'.",
    );
  const out = clone(value);
  out.defaultAction = enumValue(
    value.defaultAction,
    ["Allow", "Deny"],
    "properties.networkAcls.defaultAction",
    "DefaultAction",
  );
  const bypass = value.bypass ?? "AzureServices";
  const tokens = typeof bypass === "string" ? bypass.split(",").map((t) => t.trim()) : [];
  if (tokens.length === 0 || tokens.some((t) => !BYPASS.has(t.toLowerCase()))) {
    throw badRequest(
      "InvalidValuesForRequestParameters",
      `Values for request parameters are invalid: networkAcls.bypass ${JSON.stringify(bypass)}.`,
    );
  }
  out.bypass = bypass;
  out.ipRules = ruleList(value.ipRules, "properties.networkAcls.ipRules", "value", false);
  if (value.ipv6Rules !== undefined)
    out.ipv6Rules = ruleList(value.ipv6Rules, "properties.networkAcls.ipv6Rules", "value", false);
  out.virtualNetworkRules = ruleList(
    value.virtualNetworkRules,
    "properties.networkAcls.virtualNetworkRules",
    "id",
    true,
  );
  return out;
}

/** Applies the writable properties a PUT or PATCH names onto `properties`, each replacing what was there. */
function applyProperties(properties: JsonObject, given: JsonObject): void {
  for (const [key, value] of Object.entries(given)) {
    if (key === "networkAcls") properties.networkAcls = networkRuleSet(value);
    else if (key === "publicNetworkAccess") {
      properties.publicNetworkAccess = enumValue(
        value,
        PUBLIC_NETWORK_ACCESS,
        "properties.publicNetworkAccess",
        "PublicNetworkAccess",
      );
    } else if (key === "allowBlobPublicAccess") {
      if (typeof value !== "boolean") {
        throw invalidRequestFormat(
          "Error converting value to type 'Boolean'. Path 'properties.allowBlobPublicAccess'.",
        );
      }
      properties.allowBlobPublicAccess = value;
    } else if (!READ_ONLY.has(key)) properties[key] = clone(value);
  }
}

const READ_ONLY = new Set([
  "provisioningState",
  "creationTime",
  "primaryEndpoints",
  "primaryLocation",
  "statusOfPrimary",
  "secondaryLocation",
  "statusOfSecondary",
  "secondaryEndpoints",
]);

function endpoints(name: string): JsonObject {
  const url = (service: string) => `https://${name}.${service}.core.windows.net/`;
  return {
    blob: url("blob"),
    dfs: url("dfs"),
    file: url("file"),
    queue: url("queue"),
    table: url("table"),
    web: url("web"),
  };
}

function propertiesOf(body: JsonObject): JsonObject {
  if (body.properties === undefined || body.properties === null) return {};
  if (!isObject(body.properties)) {
    throw invalidRequestFormat(
      "Error converting value to type 'StorageAccountPropertiesCreateParameters'. Path 'properties'.",
    );
  }
  return body.properties;
}

function create(ctx: RequestContext, body: JsonObject, current: JsonObject | undefined): JsonObject {
  const id = current ? String(current.id) : accountId(ctx);
  const location = requireLocation(body, current, id);
  const sku = isObject(body.sku) ? clone(body.sku) : current?.sku;
  if (!isObject(sku) || typeof sku.name !== "string") {
    throw badRequest("MissingRequiredParameter", "The required parameter 'sku' is missing.");
  }
  const kind = typeof body.kind === "string" ? body.kind : current?.kind;
  if (typeof kind !== "string")
    throw badRequest("MissingRequiredParameter", "The required parameter 'kind' is missing.");
  const name = param(ctx, "accountName");
  const properties: JsonObject =
    current && isObject(current.properties)
      ? clone(current.properties)
      : {
          provisioningState: "Succeeded",
          creationTime: new Date().toISOString(),
          primaryEndpoints: endpoints(name),
          primaryLocation: location,
          statusOfPrimary: "available",
          networkAcls: {
            bypass: "AzureServices",
            virtualNetworkRules: [],
            ipRules: [],
            defaultAction: "Allow",
          },
          supportsHttpsTrafficOnly: true,
          allowBlobPublicAccess: false,
          encryption: {
            services: {
              file: { keyType: "Account", enabled: true },
              blob: { keyType: "Account", enabled: true },
            },
            keySource: "Microsoft.Storage",
          },
        };
  applyProperties(properties, propertiesOf(body));
  const tags = tagsFrom(body.tags) ?? (isObject(current?.tags) ? current?.tags : undefined);
  return {
    id,
    name: current ? current.name : name,
    type: STORAGE_TYPE,
    kind,
    location,
    sku,
    ...(tags === undefined ? {} : { tags }),
    properties,
  };
}

function outcome(status: number, account: JsonObject): WriteOutcome {
  return {
    status,
    tracked: account,
    trackedId: String(account.id).toLowerCase(),
    location: String(account.location ?? ""),
    touched: [],
  };
}

const storageAccountItem: ItemRoute = {
  kind: "item",
  pattern: PATH,
  resourceType: STORAGE_TYPE,
  longRunning: false,
  trackedId: (ctx) => accountId(ctx).toLowerCase(),
  notFound: (ctx) =>
    resourceNotFound(STORAGE_TYPE, param(ctx, "accountName"), param(ctx, "resourceGroupName")),
  read(ctx) {
    const account = stored(ctx);
    return account ? clone(account) : undefined;
  },
  put(ctx) {
    const current = stored(ctx);
    const account = create(ctx, bodyObject(ctx), current);
    ctx.state.putTracked(account);
    // StorageAccounts_Create documents 200 and 202, for a new account and an update alike.
    return outcome(200, account);
  },
  patch(ctx) {
    const account = stored(ctx);
    if (!account) throw storageAccountItem.notFound(ctx);
    const body = bodyObject(ctx);
    const properties = isObject(account.properties) ? account.properties : {};
    applyProperties(properties, propertiesOf(body));
    account.properties = properties;
    if (body.tags !== undefined) account.tags = tagsFrom(body.tags) ?? {};
    if (isObject(body.sku)) account.sku = clone(body.sku);
    if (typeof body.kind === "string") account.kind = body.kind;
    return outcome(200, account);
  },
  delete(ctx) {
    const account = stored(ctx);
    if (!account) {
      return {
        status: 204,
        tracked: undefined,
        trackedId: accountId(ctx).toLowerCase(),
        location: "",
        touched: [],
      };
    }
    ctx.state.deleteTracked(String(account.id));
    return { ...outcome(200, account), trackedDeleted: true };
  },
  seed(ctx, resource) {
    const account = clone(resource);
    account.type = STORAGE_TYPE;
    account.id = accountId(ctx);
    account.name = param(ctx, "accountName");
    ctx.state.putTracked(account);
  },
};

export const storageAccountRoutes: readonly Route[] = [
  storageAccountItem,
  ...trackedCollections(STORAGE_TYPE, (_state, account) => clone(account)),
];
