// A service endpoint policy as ARM returns it (Azure/azure-rest-api-specs, Microsoft.Network stable,
// serviceEndpointPolicy.json: ServiceEndpointPolicy, ServiceEndpointPolicyDefinition). Each definition lists, for one
// service, the resources the subnet's endpoint may reach: ARM ids of storage accounts, resource groups or whole
// subscriptions (service Microsoft.Storage), or service aliases such as /services/Azure/Databricks (service Global).

import * as z from "zod";
import { parseArmResourceId } from "../../clouds/azure/ids.ts";
import { SEP_TYPE } from "../../clouds/azure/kinds/service-endpoint-policy.ts";
import { InputError } from "../../errors.ts";
import type { Snapshot } from "../../types.ts";

export const SEP_RESOURCE_TYPE = SEP_TYPE;
const STORAGE_ACCOUNT = "microsoft.storage/storageaccounts";

const DefinitionSchema = z.looseObject({
  name: z.string().min(1),
  id: z.string().optional(),
  etag: z.string().optional(),
  properties: z.looseObject({
    service: z.string().nullish(),
    serviceResources: z.array(z.string()).nullish(),
  }),
});

export const ServiceEndpointPolicySchema = z.looseObject({
  id: z.string().min(1),
  name: z.string().optional(),
  etag: z.string().optional(),
  properties: z.looseObject({ serviceEndpointPolicyDefinitions: z.array(DefinitionSchema).nullish() }),
});

export type Definition = z.infer<typeof DefinitionSchema>;

export interface ParsedSep {
  definitions: Definition[];
  /** The definitions as the input held them (same index), for a PUT that carries every property back. */
  raw: Record<string, unknown>[];
}

const parsed = new WeakMap<Snapshot, ParsedSep>();

export function sepOf(snapshot: Snapshot): ParsedSep {
  let found = parsed.get(snapshot);
  if (!found) {
    const result = ServiceEndpointPolicySchema.safeParse(snapshot.resource);
    if (!result.success) {
      const detail = result.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.length > 0 ? i.path.join(".") : "(root)"}: ${i.message}`)
        .join("; ");
      throw new InputError(`resource is not a service endpoint policy as ARM returns it: ${detail}`, {
        path: result.error.issues[0]?.path.join(".") ?? "",
        cause: result.error,
      });
    }
    const raw = (snapshot.resource as { properties: { serviceEndpointPolicyDefinitions?: unknown } })
      .properties.serviceEndpointPolicyDefinitions;
    found = {
      definitions: result.data.properties.serviceEndpointPolicyDefinitions ?? [],
      raw: Array.isArray(raw) ? (raw as Record<string, unknown>[]) : [],
    };
    parsed.set(snapshot, found);
  }
  return found;
}

/** What one `serviceResources` entry stands for. */
export type ServiceResource =
  | { kind: "alias"; text: string }
  | { kind: "subscription"; subscription: string }
  | { kind: "resourceGroup"; subscription: string; group: string }
  | { kind: "storageAccount"; subscription: string; group: string; id: string }
  | { kind: "other"; text: string };

export function serviceResource(text: string): ServiceResource {
  const trimmed = text.trim();
  if (/^\/services\//i.test(trimmed)) return { kind: "alias", text: trimmed };
  const id = parseArmResourceId(trimmed);
  if (!id) return { kind: "other", text: trimmed };
  if (id.type === "microsoft.resources/subscriptions")
    return { kind: "subscription", subscription: id.subscriptionId };
  if (id.type === "microsoft.resources/resourcegroups" && id.resourceGroup)
    return { kind: "resourceGroup", subscription: id.subscriptionId, group: id.resourceGroup };
  if (id.type === STORAGE_ACCOUNT && id.resourceGroup)
    return { kind: "storageAccount", subscription: id.subscriptionId, group: id.resourceGroup, id: trimmed };
  return { kind: "other", text: trimmed };
}

/** Whether `inner` is `outer` or lies under it (ARM ids compared without case, segment by segment). */
export function within(inner: string, outer: string): boolean {
  const a = inner.trim().replace(/\/+$/, "").toLowerCase();
  const b = outer.trim().replace(/\/+$/, "").toLowerCase();
  return a === b || a.startsWith(`${b}/`);
}
