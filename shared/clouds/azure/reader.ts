// One reader for every Azure kind: all are ARM GETs of JSON with an etag, so the kind says which SDK call makes the
// GET and this module does the rest (id checks, the raw body, 404 → gone, error classification, the call count).

import { createDefaultHttpClient, createPipelineRequest, type HttpClient } from "@azure/core-rest-pipeline";
import { InputError } from "../../errors.ts";
import type { Snapshot } from "../../types.ts";
import type { CallOptions, ListScope as PortListScope, ResourceReader, ResourceRef } from "../ports.ts";
import { armName, parseArmResourceId } from "./ids.ts";
import { type AzureKind, azureKindOf } from "./kinds/index.ts";
import type { AzureResourceParts } from "./kinds/types.ts";
import { unregisteredNamespace } from "./list.ts";
import { type AzureNetwork, rawBody, statusOf, translate } from "./network.ts";
import { azureSnapshot } from "./snapshot.ts";

/** The kind of a ref, or InputError: a type with no kind cannot be read. */
export function azureKindFor(resourceType: string): AzureKind {
  const kind = azureKindOf(resourceType);
  if (!kind) throw new InputError(`no Azure reader for resource type ${resourceType}`);
  return kind;
}

/** The subscription, group and name of `resourceId`, checked to be a resource of `kind`. */
export function resourceParts(kind: AzureKind, resourceId: string): AzureResourceParts {
  const id = parseArmResourceId(resourceId);
  if (!id || id.type !== kind.type || !id.resourceGroup) {
    throw new InputError(`not a ${kind.label} id: ${resourceId}`);
  }
  // Type/name pairs follow the namespace: the names at odd offsets, the resource's own last.
  const names = id.segments.slice(id.namespaceIndex + 2).filter((_, i) => i % 2 === 0);
  return {
    subscriptionId: id.subscriptionId,
    resourceGroup: id.resourceGroup,
    name: armName(id),
    parents: names.slice(0, -1),
  };
}

export class AzureResourceReader implements ResourceReader {
  readonly #clients: AzureNetwork;
  constructor(clients: AzureNetwork) {
    this.#clients = clients;
  }

  async read(ref: ResourceRef, callOptions: CallOptions = {}): Promise<Snapshot | undefined> {
    const kind = azureKindFor(ref.resourceType);
    const parts = resourceParts(kind, ref.resourceId);
    const body = rawBody();
    this.#clients.counter.reads++;
    try {
      // The invocation's budget ends the call (each attempt also has the client's request timeout).
      await kind.read.get(this.#clients, parts, {
        ...body.options,
        ...(callOptions.signal ? { abortSignal: callOptions.signal } : {}),
      });
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw translate(error, ref.resourceId, "read");
    }
    // A kind read through its parent's GET picks itself out of the parent's body.
    if (kind.read.select) return kind.read.select(body.json(), parts);
    return azureSnapshot(body.json(), kind.type);
  }

  /** Every resource of a kind in the subscription (`account`), all pages (the private endpoint sweep). */
  async list(scope: PortListScope): Promise<Snapshot[]> {
    const kind = azureKindFor(scope.resourceType);
    const out: Snapshot[] = [];
    try {
      for await (const snapshot of listAzure(this.#clients, kind, { subscriptionId: scope.account })) {
        out.push(snapshot);
      }
    } catch (error) {
      throw error instanceof InputError
        ? error
        : translate(error, `${kind.armType} in ${scope.account}`, "list");
    }
    return out;
  }
}

export type ListScope = { subscriptionId: string; resourceGroup?: string };

let httpClient: HttpClient | undefined;

/**
 * Every resource of `kind` in a subscription or resource group, as snapshots of the raw ARM JSON, following
 * `nextLink` page by page. Sent through the kind's SDK client pipeline, so authentication, retries (Retry-After on
 * 429) and the trusted CA are the same as for reads; the SDK's own pagers return deserialised models, not ARM JSON.
 */
export async function* listAzure(
  clients: AzureNetwork,
  kind: AzureKind,
  scope: ListScope,
): AsyncGenerator<Snapshot> {
  const where = scope.resourceGroup === undefined ? "subscription" : "resourceGroup";
  if (!kind.list.scopes.includes(where)) {
    throw new InputError(`${kind.label}s cannot be listed by ${where}`);
  }
  const base = clients.endpoint.replace(/\/$/, "");
  const group =
    scope.resourceGroup === undefined ? "" : `/resourceGroups/${encodeURIComponent(scope.resourceGroup)}`;
  let url: string | undefined =
    `${base}/subscriptions/${encodeURIComponent(scope.subscriptionId)}${group}/providers/${kind.armType}` +
    `?api-version=${kind.list.apiVersion}`;
  const pipeline = clients.client(scope.subscriptionId).pipeline;
  httpClient ??= createDefaultHttpClient();
  while (url !== undefined) {
    clients.counter.reads++;
    const response = await pipeline.sendRequest(httpClient, createPipelineRequest({ url, method: "GET" }));
    if (unregisteredNamespace(response.status, response.bodyAsText)) return;
    if (response.status !== 200) {
      throw translate(
        Object.assign(new Error(response.bodyAsText ?? `HTTP ${response.status}`), {
          statusCode: response.status,
        }),
        url,
        "list",
      );
    }
    const page = JSON.parse(response.bodyAsText ?? "{}") as { value?: unknown; nextLink?: unknown };
    for (const item of Array.isArray(page.value) ? page.value : []) {
      const snapshot = azureSnapshot(item, kind.type);
      if (snapshot) yield snapshot;
    }
    url = typeof page.nextLink === "string" && page.nextLink.length > 0 ? page.nextLink : undefined;
  }
}
