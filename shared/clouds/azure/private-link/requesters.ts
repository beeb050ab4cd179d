// Where a connection's sub-resource (groupIds) lives when the provider does not say. SQL (`groupIds`) and Cosmos DB
// (`groupId`) record it on the connection; Storage, Key Vault and Network (Private Link Service) connections carry
// only `privateEndpoint`, `privateLinkServiceConnectionState` and `provisioningState` (their REST specs'
// PrivateEndpointConnectionProperties). The requesting private endpoint (`Microsoft.Network/privateEndpoints`,
// privateEndpoint.json) records it in each of its `privateLinkServiceConnections` and
// `manualPrivateLinkServiceConnections`, next to `privateLinkServiceId`, the target it asks for.

import type { Snapshot } from "../../../types.ts";

// The private endpoint kind's type (kinds/private-endpoint.ts), spelt here: that module imports the Private Link
// Service kind, which imports this one.
const PRIVATE_ENDPOINT_TYPE = "microsoft.network/privateendpoints";

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Pure: the requesting private endpoints of a target's pending and approved connections whose sub-resource the
 * connection does not record, to be read only when an allow entry by `groupIds` needs them (RuleDefinition.reads).
 */
export function endpointsWithoutGroupIds(snapshot: Snapshot): { resourceId: string; resourceType: string }[] {
  const props = isObject(snapshot.resource) ? snapshot.resource.properties : undefined;
  const items =
    isObject(props) && Array.isArray(props.privateEndpointConnections)
      ? props.privateEndpointConnections
      : [];
  const seen = new Map<string, string>();
  for (const item of items) {
    const p = isObject(item) && isObject(item.properties) ? item.properties : {};
    // Recorded on the connection (SQL, Cosmos DB): nothing to read. An empty list records nothing.
    if ((Array.isArray(p.groupIds) && p.groupIds.length > 0) || typeof p.groupId === "string") continue;
    const state = isObject(p.privateLinkServiceConnectionState) ? p.privateLinkServiceConnectionState : {};
    if (typeof state.status !== "string" || !/^(pending|approved)$/i.test(state.status)) continue;
    const endpoint = isObject(p.privateEndpoint) ? p.privateEndpoint.id : undefined;
    if (typeof endpoint === "string" && endpoint !== "" && !seen.has(endpoint.toLowerCase())) {
      seen.set(endpoint.toLowerCase(), endpoint);
    }
  }
  return [...seen.values()].map((resourceId) => ({ resourceId, resourceType: PRIVATE_ENDPOINT_TYPE }));
}

/**
 * The sub-resources a private endpoint asks of one target: the union of the `groupIds` of its connections (automatic
 * and manual) whose `privateLinkServiceId` names the target, by resource id or (a Private Link Service) by alias,
 * compared case-insensitively. Connections to other targets do not count. Undefined when none names the target.
 */
export function groupIdsRequestedOf(
  endpoint: Snapshot,
  target: { resourceId: string; alias?: string },
): string[] | undefined {
  const props = isObject(endpoint.resource) ? endpoint.resource.properties : undefined;
  if (!isObject(props)) return undefined;
  const names = [target.resourceId, target.alias].flatMap((n) => (n ? [n.toLowerCase()] : []));
  let found: Set<string> | undefined;
  for (const list of ["privateLinkServiceConnections", "manualPrivateLinkServiceConnections"]) {
    const items = Array.isArray(props[list]) ? props[list] : [];
    for (const item of items) {
      const p = isObject(item) && isObject(item.properties) ? item.properties : {};
      const to =
        typeof p.privateLinkServiceId === "string" ? p.privateLinkServiceId.toLowerCase() : undefined;
      if (to === undefined || !names.includes(to)) continue;
      found ??= new Set();
      for (const g of Array.isArray(p.groupIds) ? p.groupIds : []) if (typeof g === "string") found.add(g);
    }
  }
  return found && [...found];
}
