// The private endpoint connections a resource carries in `properties.privateEndpointConnections`, read the same way
// for every provider: storage accounts, Key Vaults, SQL servers, Cosmos DB accounts, Private Link Services. Each item
// is an ARM child resource `{id, name, properties: {privateEndpoint: {id}, privateLinkServiceConnectionState:
// {status, description, actionsRequired | actionRequired}, provisioningState, groupIds?}}`; Cosmos DB spells the
// sub-resource `groupId`. Nothing here trusts a field to exist.

import { parseArmResourceId } from "../../clouds/azure/ids.ts";
import type { Snapshot } from "../../types.ts";

export type ConnectionStatus = "Pending" | "Approved" | "Rejected" | "Disconnected" | string;

export interface ConnectionView {
  /** The connection's ARM id (`<resource>/privateEndpointConnections/<name>`); the decision writes here. */
  id: string;
  name: string;
  /** As the provider spells it; compared case-insensitively. */
  status: ConnectionStatus;
  description: string;
  /** The requesting private endpoint's id; undefined when the provider did not say (the endpoint was deleted). */
  privateEndpointId?: string;
  /** Parsed from the endpoint id: the requester's subscription and resource group. */
  subscriptionId?: string;
  resourceGroup?: string;
  /** The sub-resources requested, when the provider reports them (SQL, Cosmos DB); undefined when it does not. */
  groupIds?: string[];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export function connectionsOf(snapshot: Snapshot): ConnectionView[] {
  const resource = snapshot.resource;
  const props = isRecord(resource) && isRecord(resource.properties) ? resource.properties : {};
  const items = Array.isArray(props.privateEndpointConnections) ? props.privateEndpointConnections : [];
  const out: ConnectionView[] = [];
  for (const item of items) {
    if (!isRecord(item) || typeof item.id !== "string" || item.id === "") continue;
    const p = isRecord(item.properties) ? item.properties : {};
    const state = isRecord(p.privateLinkServiceConnectionState) ? p.privateLinkServiceConnectionState : {};
    const endpoint = isRecord(p.privateEndpoint) ? p.privateEndpoint : {};
    const endpointId = typeof endpoint.id === "string" && endpoint.id !== "" ? endpoint.id : undefined;
    const parsed = endpointId ? parseArmResourceId(endpointId) : undefined;
    const groupIds = Array.isArray(p.groupIds)
      ? p.groupIds.filter((g): g is string => typeof g === "string")
      : typeof p.groupId === "string"
        ? [p.groupId]
        : undefined;
    out.push({
      id: item.id,
      name: typeof item.name === "string" ? item.name : (item.id.split("/").pop() ?? item.id),
      status: typeof state.status === "string" ? state.status : "",
      description: typeof state.description === "string" ? state.description : "",
      ...(endpointId ? { privateEndpointId: endpointId } : {}),
      ...(parsed?.subscriptionId ? { subscriptionId: parsed.subscriptionId } : {}),
      ...(parsed?.resourceGroup ? { resourceGroup: parsed.resourceGroup } : {}),
      ...(groupIds ? { groupIds } : {}),
    });
  }
  return out;
}

export function isStatus(view: { status: string }, status: "Pending" | "Approved" | "Rejected"): boolean {
  return view.status.toLowerCase() === status.toLowerCase();
}
