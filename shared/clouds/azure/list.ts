// Page-level listing for the scan and the reconciler: one ARM list page at a time with the link to the next, so a
// run can stream pages (memory bounded by one page) and a reconcile can hand each page to its own invocation and
// resume from a saved `nextLink`.

import { createDefaultHttpClient, createPipelineRequest, type HttpClient } from "@azure/core-rest-pipeline";
import { InputError } from "../../errors.ts";
import type { Snapshot } from "../../types.ts";
import type { AzureKind } from "./kinds/types.ts";
import { type AzureNetwork, translate } from "./network.ts";
import { azureSnapshot } from "./snapshot.ts";

export interface AzureListScope {
  subscriptionId: string;
  resourceGroup?: string;
}

export interface ListedPage {
  items: Snapshot[];
  /** Where the next page is (ARM's `nextLink`); undefined on the last page. */
  next?: string;
}

let httpClient: HttpClient | undefined;

/**
 * Whether a list was refused because the subscription is not registered for the kind's resource provider (409
 * `MissingSubscriptionRegistration`, as ARM answers any call under an unregistered namespace). Such a subscription
 * holds none of that kind: ARM refuses to unregister a provider while resources of it exist. So the list is empty,
 * not failed: a subscription that never used SQL must not fail every sweep and scan.
 */
export function unregisteredNamespace(status: number, body: string | null | undefined): boolean {
  if (status !== 409 || !body) return false;
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown } };
    return parsed.error?.code === "MissingSubscriptionRegistration";
  } catch {
    return false;
  }
}

/** The first page's URL for `kind` in `scope`. */
export function azureListUrl(clients: AzureNetwork, kind: AzureKind, scope: AzureListScope): string {
  const where = scope.resourceGroup === undefined ? "subscription" : "resourceGroup";
  if (!kind.list.scopes.includes(where)) throw new InputError(`${kind.label}s cannot be listed by ${where}`);
  const base = clients.endpoint.replace(/\/$/, "");
  const group =
    scope.resourceGroup === undefined ? "" : `/resourceGroups/${encodeURIComponent(scope.resourceGroup)}`;
  return (
    `${base}/subscriptions/${encodeURIComponent(scope.subscriptionId)}${group}/providers/${kind.armType}` +
    `?api-version=${kind.list.apiVersion}`
  );
}

/**
 * One list page. Sent through the subscription's SDK pipeline, so authentication, the trusted CA and the SDK's
 * retry policies (Retry-After on 429, exponential back-off on 5xx and resets) apply as they do to reads. A
 * `nextLink` must point at the same ARM endpoint: a page cannot send the guardian's token elsewhere.
 */
export async function listAzurePage(
  clients: AzureNetwork,
  kind: AzureKind,
  scope: AzureListScope,
  url: string = azureListUrl(clients, kind, scope),
  signal?: AbortSignal,
): Promise<ListedPage> {
  if (new URL(url).origin !== new URL(clients.endpoint).origin) {
    throw new InputError(`list page ${url} is not on the ARM endpoint ${clients.endpoint}`);
  }
  httpClient ??= createDefaultHttpClient();
  clients.counter.reads++;
  const pipeline = clients.client(scope.subscriptionId).pipeline;
  const response = await pipeline
    .sendRequest(
      httpClient,
      createPipelineRequest({ url, method: "GET", ...(signal ? { abortSignal: signal } : {}) }),
    )
    .catch((error: unknown) => {
      throw translate(error, url, "list");
    });
  if (unregisteredNamespace(response.status, response.bodyAsText)) return { items: [] };
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
  const items: Snapshot[] = [];
  for (const item of Array.isArray(page.value) ? page.value : []) {
    const snapshot = azureSnapshot(item, kind.type);
    if (snapshot) items.push({ ...snapshot, origin: "read" });
  }
  const next = typeof page.nextLink === "string" && page.nextLink.length > 0 ? page.nextLink : undefined;
  return next === undefined ? { items } : { items, next };
}
