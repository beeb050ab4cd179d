import { InputError } from "../../errors.ts";
import type { CloudPort } from "../../pipeline.ts";
import type { PlannedChange, ResourceChange, Snapshot } from "../../types.ts";
import type { ResourceWriter } from "../ports.ts";
import { azurePortalUrl, parseArmResourceId } from "./ids.ts";
import { azureKindOf } from "./kinds/index.ts";
import type { AzureWriterFactory } from "./kinds/types.ts";
import { type AzureNetwork, AzureNsgWriter } from "./network.ts";
import {
  PrivateEndpointConnectionWriter,
  PrivateEndpointDeleteWriter,
  PrivateLinkServiceWriter,
} from "./private-link/writers.ts";
import { AzureResourceReader } from "./reader.ts";
import { azureSnapshot } from "./snapshot.ts";
import { AzureStorageNetworkWriter } from "./storage.ts";
import { AzureSepDefinitionWriter, AzureSubnetWriter } from "./subnets.ts";
import { SubscriptionTenantResolver } from "./tenants.ts";

export { type AzureClientConfig, AzureNetwork, NSG_TYPE } from "./network.ts";

/**
 * The Azure writers, by planned-operation kind (`PlannedChange.operation.kind`). A kind lists the operation kinds
 * it accepts (`AzureKind.writes`); a new operation kind is one line here and its writer.
 */
export const azureWriters = {
  "delete-security-rule": (clients) => new AzureNsgWriter(clients),
  "put-security-rule": (clients) => new AzureNsgWriter(clients),
  "patch-storage-network": (clients) => new AzureStorageNetworkWriter(clients),
  "put-private-endpoint-connection": (clients) => new PrivateEndpointConnectionWriter(clients),
  "put-private-link-service": (clients) => new PrivateLinkServiceWriter(clients),
  "delete-private-endpoint": (clients) => new PrivateEndpointDeleteWriter(clients),
  "put-subnet": (clients) => new AzureSubnetWriter(clients),
  "put-service-endpoint-policy-definition": (clients) => new AzureSepDefinitionWriter(clients),
} satisfies Record<string, AzureWriterFactory>;

function operationKind(change: PlannedChange): string {
  const kind = change.operation.kind;
  if (typeof kind !== "string") {
    throw new InputError(`planned change "${change.summary}" names no operation kind`, {
      path: "operation.kind",
    });
  }
  return kind;
}

/** The Azure side of the pipeline: one reader for every kind, writers picked by planned operation. */
export function azurePort(
  network: AzureNetwork,
  options: { tenantId?: string; tenants?: SubscriptionTenantResolver } = {},
): CloudPort {
  // One per instance, like the port: the cache spans invocations.
  const tenants = options.tenants ?? new SubscriptionTenantResolver(network);
  const writers = new Map<string, ResourceWriter>();
  const writerFor = (change: PlannedChange, snapshot: Snapshot): ResourceWriter => {
    const op = operationKind(change);
    const kind = azureKindOf(snapshot.resourceType);
    const factory = Object.hasOwn(azureWriters, op)
      ? azureWriters[op as keyof typeof azureWriters]
      : undefined;
    if (!kind?.writes.includes(op) || !factory) {
      throw new InputError(`no Azure writer for ${op} on ${snapshot.resourceType} ${snapshot.resourceId}`);
    }
    let writer = writers.get(op);
    if (!writer) {
      writer = factory(network);
      writers.set(op, writer);
    }
    return writer;
  };
  return {
    reader: new AzureResourceReader(network),
    writer: {
      apply: (change, snapshot, callOptions) =>
        writerFor(change, snapshot).apply(change, snapshot, callOptions),
      isApplied: (change, snapshot) => writerFor(change, snapshot).isApplied?.(change, snapshot),
    },
    snapshotFromEvent: (change: ResourceChange) => {
      // Some kinds' snapshots need more than the resource an event carries (a subnet takes its network's tags).
      if (azureKindOf(change.resourceType)?.carriedByEvents === false) return undefined;
      const carried =
        change.resource === undefined ? undefined : azureSnapshot(change.resource, change.resourceType);
      // Marked, so writers refuse it: a write starts from a fresh read, never from an event's content.
      return carried && { ...carried, origin: "event" };
    },
    fanOut: (snapshot) =>
      (azureKindOf(snapshot.resourceType)?.fanOut?.(snapshot) ?? []).map((t) => ({
        ref: {
          cloud: "azure",
          resourceId: t.resourceId,
          resourceType: t.resourceType,
          account: parseArmResourceId(t.resourceId)?.subscriptionId ?? snapshot.account,
          region: t.snapshot?.region ?? snapshot.region,
        },
        ...(t.snapshot ? { snapshot: t.snapshot } : {}),
      })),
    related: (snapshot) =>
      (azureKindOf(snapshot.resourceType)?.related?.(snapshot) ?? []).map((r) => ({
        cloud: "azure",
        resourceId: r.resourceId,
        resourceType: r.resourceType,
        account: parseArmResourceId(r.resourceId)?.subscriptionId ?? snapshot.account,
      })),
    tenantsOf: (subscriptionIds, callOptions) => tenants.resolve(subscriptionIds, callOptions?.signal),
    consoleUrl: (ref) =>
      (azureKindOf(ref.resourceType)?.consoleUrl ?? azurePortalUrl)(ref.resourceId, options.tenantId),
  };
}
