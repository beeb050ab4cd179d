// Writers for subnets and service endpoint policy definitions: one etag-guarded PUT of the whole child resource as it
// was read, with only the offending part changed, sent as raw JSON (no SDK model drops a property it does not know).

import * as z from "zod";
import { InputError } from "../../errors.ts";
import { subnetExpectation, subnetShows } from "../../rules/subnet/state.ts";
import type { PlannedChange, Snapshot } from "../../types.ts";
import type { CallOptions, ResourceWriter } from "../ports.ts";
import { parseArmResourceId } from "./ids.ts";
import { SEP_TYPE } from "./kinds/service-endpoint-policy.ts";
import { SUBNET_API_VERSION, SUBNET_TYPE } from "./kinds/subnet.ts";
import { type AzureNetwork, armWrite } from "./network.ts";

const armBody = z.looseObject({ properties: z.record(z.string(), z.unknown()).optional() });

export const putSubnetSchema = z.strictObject({
  kind: z.literal("put-subnet"),
  subnetId: z.string().min(1),
  ifMatch: z.string().min(1).optional(),
  /** The whole subnet as read, with only the offending parts changed. */
  subnet: armBody,
  expect: subnetExpectation,
});

export type PutSubnetOperation = z.infer<typeof putSubnetSchema>;

export const putSepDefinitionSchema = z.strictObject({
  kind: z.literal("put-service-endpoint-policy-definition"),
  policyId: z.string().min(1),
  definitionName: z.string().min(1),
  ifMatch: z.string().min(1).optional(),
  /** The whole definition as read, with only the unapproved entries of `serviceResources` removed. */
  definition: armBody,
});

export type PutSepDefinitionOperation = z.infer<typeof putSepDefinitionSchema>;

function parseOperation<T>(schema: z.ZodType<T>, change: PlannedChange, what: string): T {
  const parsed = schema.safeParse(change.operation);
  if (!parsed.success) {
    throw new InputError(
      `planned change "${change.summary}" is not a ${what}: ${z.prettifyError(parsed.error)}`,
      {
        path: "operation",
        cause: parsed.error,
      },
    );
  }
  return parsed.data;
}

/** The ARM path of an id of `type` (its segments re-encoded), and its subscription. */
function pathOf(resourceId: string, type: string, label: string): { subscriptionId: string; path: string } {
  const id = parseArmResourceId(resourceId);
  if (!id || id.type !== type || !id.resourceGroup) throw new InputError(`not a ${label} id: ${resourceId}`);
  return { subscriptionId: id.subscriptionId, path: `/${id.segments.map(encodeURIComponent).join("/")}` };
}

function guard(snapshot: Snapshot, id: string, ifMatch: string | undefined): string {
  if (snapshot.origin === "event") {
    throw new InputError(`refusing to write ${id} from the resource an event carried: read it first`);
  }
  const etag = ifMatch ?? snapshot.etag;
  if (!etag) throw new InputError(`refusing an unguarded write to ${id}: no etag`);
  return etag;
}

const lower = (s: string) => s.toLowerCase();
const sameSet = (a: readonly string[], b: readonly string[]) => {
  const x = new Set(a.map(lower));
  const y = new Set(b.map(lower));
  return x.size === y.size && [...x].every((v) => y.has(v));
};

/** `put-subnet`: Subnets_CreateOrUpdate with the whole subnet as read and If-Match. */
export class AzureSubnetWriter implements ResourceWriter {
  readonly #network: AzureNetwork;
  constructor(network: AzureNetwork) {
    this.#network = network;
  }

  async apply(change: PlannedChange, snapshot: Snapshot, options: CallOptions = {}): Promise<void> {
    const op = parseOperation(putSubnetSchema, change, "subnet PUT");
    const ifMatch = guard(snapshot, op.subnetId, op.ifMatch);
    const { subscriptionId, path } = pathOf(op.subnetId, SUBNET_TYPE, "subnet");
    await armWrite(
      this.#network,
      {
        subscriptionId,
        method: "PUT",
        url: this.#network.url(path, SUBNET_API_VERSION),
        body: op.subnet,
        ifMatch,
        what: `${change.summary} on ${op.subnetId}`,
        resourceId: op.subnetId,
      },
      options.signal,
    );
  }

  isApplied(change: PlannedChange, snapshot: Snapshot): boolean {
    const op = parseOperation(putSubnetSchema, change, "subnet PUT");
    const properties = (snapshot.resource as { properties?: Record<string, unknown> } | undefined)
      ?.properties;
    return properties !== undefined && subnetShows(properties, op.expect);
  }
}

/** The definition named `name` in a service endpoint policy's GET body (names compared without case). */
export function sepDefinition(policy: unknown, name: string): Record<string, unknown> | undefined {
  const defs = (policy as { properties?: { serviceEndpointPolicyDefinitions?: unknown } } | undefined)
    ?.properties?.serviceEndpointPolicyDefinitions;
  if (!Array.isArray(defs)) return undefined;
  return defs.find(
    (d): d is Record<string, unknown> =>
      typeof d === "object" && d !== null && typeof d.name === "string" && lower(d.name) === lower(name),
  );
}

function serviceResourcesOf(definition: unknown): string[] {
  const list = (definition as { properties?: { serviceResources?: unknown } } | undefined)?.properties
    ?.serviceResources;
  return Array.isArray(list) ? list.filter((r): r is string => typeof r === "string") : [];
}

/** `put-service-endpoint-policy-definition`: ServiceEndpointPolicyDefinitions_CreateOrUpdate, etag-guarded. */
export class AzureSepDefinitionWriter implements ResourceWriter {
  readonly #network: AzureNetwork;
  constructor(network: AzureNetwork) {
    this.#network = network;
  }

  async apply(change: PlannedChange, snapshot: Snapshot, options: CallOptions = {}): Promise<void> {
    const op = parseOperation(putSepDefinitionSchema, change, "service endpoint policy definition PUT");
    const ifMatch = guard(snapshot, op.policyId, op.ifMatch);
    const { subscriptionId, path } = pathOf(op.policyId, SEP_TYPE, "service endpoint policy");
    await armWrite(
      this.#network,
      {
        subscriptionId,
        method: "PUT",
        url: this.#network.url(
          `${path}/serviceEndpointPolicyDefinitions/${encodeURIComponent(op.definitionName)}`,
          SUBNET_API_VERSION,
        ),
        body: op.definition,
        ifMatch,
        what: `${change.summary} on ${op.policyId}`,
        resourceId: op.policyId,
      },
      options.signal,
    );
  }

  /** Settled when the definition lists exactly the entries the write kept. */
  isApplied(change: PlannedChange, snapshot: Snapshot): boolean {
    const op = parseOperation(putSepDefinitionSchema, change, "service endpoint policy definition PUT");
    const now = sepDefinition(snapshot.resource, op.definitionName);
    return now !== undefined && sameSet(serviceResourcesOf(now), serviceResourcesOf(op.definition));
  }
}
