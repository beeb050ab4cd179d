// Event Grid events as the Azure subscription system topic and the Azure Resource Notifications topic deliver them.
// Shapes follow MicrosoftDocs/azure-docs articles/event-grid/event-schema-subscriptions.md (ResourceWriteSuccess,
// ResourceDeleteSuccess samples) and event-schema-resources.md (CreatedOrUpdated, Deleted samples).

import { createHash, randomUUID } from "node:crypto";
import { clone, type JsonObject } from "./json.ts";

/** Tenant used when the caller's token has no `tid`. */
export const DEFAULT_TENANT_ID = "0b9e6f53-5d2c-4b7a-9c4e-7a1d2e3f4a5b";

/** Well-known id of the built-in Contributor role definition. */
const CONTRIBUTOR_ROLE_DEFINITION_ID = "b24988ac-6180-42a0-ab88-20f7382dd24c";

/**
 * ARM hands the token's claims to Event Grid after the .NET JWT handler's inbound claim-type mapping: short JWT names
 * become claim URIs (the documented sample shows `.../objectidentifier`, `.../upn`, `.../tenantid` next to short `appid`,
 * `ipaddr`, `name`). Claims without a mapping keep their JWT name.
 */
const CLAIM_TYPE_MAP: Record<string, string> = {
  oid: "http://schemas.microsoft.com/identity/claims/objectidentifier",
  tid: "http://schemas.microsoft.com/identity/claims/tenantid",
  scp: "http://schemas.microsoft.com/identity/claims/scope",
  idp: "http://schemas.microsoft.com/identity/claims/identityprovider",
  sub: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier",
  upn: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
  unique_name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
  given_name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
  family_name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
  email: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
  amr: "http://schemas.microsoft.com/claims/authnmethodsreferences",
  acr: "http://schemas.microsoft.com/claims/authnclassreference",
  deviceid: "http://schemas.microsoft.com/2012/01/devicecontext/claims/identifier",
  roles: "http://schemas.microsoft.com/ws/2008/06/identity/claims/role",
};

/** Claims as they appear in `data.claims`: mapped names, every value a string (arrays comma-joined, as `amr`). */
export function eventClaims(tokenClaims: JsonObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(tokenClaims)) {
    const key = CLAIM_TYPE_MAP[name] ?? name;
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) out[key] = value.map(String).join(",");
    else if (typeof value === "object") out[key] = JSON.stringify(value);
    else out[key] = String(value);
  }
  return out;
}

function stringClaim(claims: JsonObject, name: string): string | undefined {
  const value = claims[name];
  return typeof value === "string" ? value : undefined;
}

export function tenantOf(claims: JsonObject): string {
  return stringClaim(claims, "tid") ?? DEFAULT_TENANT_ID;
}

/** Deterministic per principal so repeated writes by one caller carry one role assignment id. */
function roleAssignmentIdFor(principal: string, subscriptionId: string): string {
  const hex = createHash("sha256").update(`${subscriptionId}/${principal}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function principalTypeOf(claims: JsonObject): string {
  const idtyp = stringClaim(claims, "idtyp");
  if (idtyp === "app") return "ServicePrincipal";
  if (idtyp === "user") return "User";
  // App-only tokens carry no upn / unique_name; user tokens do.
  return stringClaim(claims, "upn") || stringClaim(claims, "unique_name") ? "User" : "ServicePrincipal";
}

export interface ResourceEventInput {
  kind: "write" | "delete";
  /** The resource id the caller wrote (a security rule's own id for a rule write). */
  subject: string;
  /** e.g. `Microsoft.Network/networkSecurityGroups/securityRules/write`. */
  operationName: string;
  subscriptionId: string;
  tokenClaims: JsonObject;
  correlationId: string;
  /** Present on updates and deletes only, as the schema documents; creates carry none. */
  httpRequest?: { clientRequestId: string; clientIpAddress: string; method: string; url: string };
  eventTime: string;
}

/** `Microsoft.Resources.ResourceWriteSuccess` / `ResourceDeleteSuccess` in the Event Grid schema. */
export function resourceEvent(input: ResourceEventInput): JsonObject {
  const claims = input.tokenClaims;
  const principalId = stringClaim(claims, "oid") ?? stringClaim(claims, "sub") ?? "unknown";
  const subscriptionScope = `/subscriptions/${input.subscriptionId}`;
  const resourceProvider = input.operationName.split("/")[0] ?? "";
  return {
    subject: input.subject,
    eventType:
      input.kind === "write"
        ? "Microsoft.Resources.ResourceWriteSuccess"
        : "Microsoft.Resources.ResourceDeleteSuccess",
    eventTime: input.eventTime,
    id: randomUUID(),
    data: {
      authorization: {
        scope: input.subject,
        action: input.operationName,
        evidence: {
          role: "Contributor",
          roleAssignmentScope: subscriptionScope,
          roleAssignmentId: roleAssignmentIdFor(principalId, input.subscriptionId),
          roleDefinitionId: CONTRIBUTOR_ROLE_DEFINITION_ID,
          principalId,
          principalType: principalTypeOf(claims),
        },
      },
      claims: eventClaims(claims),
      correlationId: input.correlationId,
      ...(input.httpRequest ? { httpRequest: input.httpRequest } : {}),
      resourceProvider,
      resourceUri: input.subject,
      operationName: input.operationName,
      status: "Succeeded",
      subscriptionId: input.subscriptionId,
      tenantId: tenantOf(claims),
    },
    dataVersion: "2",
    metadataVersion: "1",
    topic: subscriptionScope,
  };
}

/**
 * The documented Resource Notifications sample serialises booleans as 1/0; `booleansAsNumbers` reproduces that so
 * consumers can be tested against it.
 */
function numericBooleans(value: unknown): unknown {
  if (typeof value === "boolean") return value ? 1 : 0;
  if (Array.isArray(value)) return value.map(numericBooleans);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, numericBooleans(v)]));
  }
  return value;
}

export function resourceNotificationEvent(input: {
  kind: "createdOrUpdated" | "deleted";
  subscriptionId: string;
  resource: JsonObject;
  apiVersion: string;
  eventTime: string;
  booleansAsNumbers: boolean;
}): JsonObject {
  const r = input.resource;
  const resourceInfo: JsonObject =
    input.kind === "deleted"
      ? { id: r.id, name: r.name, type: r.type }
      : {
          tags: clone(r.tags ?? {}),
          id: r.id,
          name: r.name,
          type: r.type,
          location: r.location,
          properties: input.booleansAsNumbers ? numericBooleans(r.properties) : clone(r.properties),
        };
  return {
    id: randomUUID(),
    topic: `/subscriptions/${input.subscriptionId}`,
    subject: r.id,
    data: {
      resourceInfo,
      ...(input.kind === "deleted" ? {} : { apiVersion: input.apiVersion }),
      operationalInfo: { resourceEventTime: input.eventTime },
    },
    eventType:
      input.kind === "deleted"
        ? "Microsoft.ResourceNotifications.Resources.Deleted"
        : "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated",
    dataVersion: "1",
    metadataVersion: "1",
    eventTime: input.eventTime,
  };
}
