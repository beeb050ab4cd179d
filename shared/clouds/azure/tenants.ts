// The Entra tenant of any Azure subscription, ours or a stranger's, for allow entries by tenant. ARM answers an
// unauthenticated `GET /subscriptions/{id}` with 401 and a bearer challenge naming the subscription's tenant as the
// first path segment of `authorization_uri`:
//
//   WWW-Authenticate: Bearer authorization_uri="https://login.windows.net/{tenantId}", error="invalid_token", ...
//
// No permission on the subscription is needed, so it works for requesters in other tenants. The technique is in wide
// use: Azure/acs-engine `pkg/acsengine/tenantid.go` (GetTenantID: "an unauthenticated request to the Get Subscription
// Details endpoint ... parses the value from WWW-Authenticate header"), Shawn Tabrizi's "Secret APIs in Azure Active
// Directory and Azure Resource Manager" (2017); the Azure SDK reads the tenant from a challenge's `authorization_uri`
// the same way (@azure/core-client `authorizeRequestOnTenantChallenge`: "the tenant id is contained in the
// authorization_uri as the first path part"). A subscription ARM does not know gets no challenge (404
// SubscriptionNotFound); anything but a 401 with a tenant GUID leaves the tenant unresolved, which matches no entry.
//
// Resolved tenants are cached per instance: a subscription changes tenants rarely (ARM says a transfer takes up to an
// hour to propagate), so an hour; a subscription ARM does not know is asked again after five minutes; a failed call
// is not cached. The cache is bounded (oldest out first).

import type { SubscriptionTenants } from "../../policy/evaluate.ts";
import type { TenantLookup } from "../../rules/types.ts";
import type { AzureNetwork } from "./network.ts";

/** Microsoft.Resources subscriptions (Subscriptions_Get); the api-version only has to be one ARM accepts. */
export const SUBSCRIPTIONS_API_VERSION = "2022-12-01";

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The tenant a bearer challenge names (`authorization_uri`'s first path segment), or undefined. */
export function tenantFromChallenge(header: string | undefined): string | undefined {
  if (!header || !/^\s*Bearer\b/i.test(header)) return undefined;
  const uri = /\bauthorization_uri\s*=\s*(?:"([^"]*)"|([^\s,]+))/i.exec(header);
  const value = uri?.[1] ?? uri?.[2];
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  const first = url.pathname.split("/")[1] ?? "";
  return GUID.test(first) ? first.toLowerCase() : undefined;
}

export interface TenantResolverOptions {
  /** How long a resolved tenant is trusted (default 1 h). */
  ttlMs?: number;
  /** How long "ARM does not know this subscription" is remembered (default 5 min). */
  unknownTtlMs?: number;
  /** Most subscriptions kept (default 1000). */
  maxEntries?: number;
  now?: () => number;
}

type Cached = { lookup: TenantLookup; until: number };

export class SubscriptionTenantResolver {
  readonly #network: AzureNetwork;
  readonly #ttlMs: number;
  readonly #unknownTtlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, Cached>();
  readonly #inFlight = new Map<string, Promise<TenantLookup>>();

  constructor(network: AzureNetwork, options: TenantResolverOptions = {}) {
    this.#network = network;
    this.#ttlMs = options.ttlMs ?? 3_600_000;
    this.#unknownTtlMs = options.unknownTtlMs ?? 300_000;
    this.#max = Math.max(1, options.maxEntries ?? 1000);
    this.#now = options.now ?? Date.now;
  }

  /** How many subscriptions are cached (for tests of the bound). */
  get size(): number {
    return this.#cache.size;
  }

  /** Each subscription's tenant, or why it could not be resolved. Never throws. */
  async resolve(subscriptionIds: readonly string[], signal?: AbortSignal): Promise<SubscriptionTenants> {
    const ids = [...new Set(subscriptionIds.map((s) => s.toLowerCase()))];
    const found = await Promise.all(ids.map(async (id) => [id, await this.#one(id, signal)] as const));
    return new Map(found);
  }

  async #one(id: string, signal?: AbortSignal): Promise<TenantLookup> {
    if (!GUID.test(id)) return { unresolved: `${id} is not a subscription id` };
    const hit = this.#cache.get(id);
    if (hit && hit.until > this.#now()) return hit.lookup;
    let pending = this.#inFlight.get(id);
    if (!pending) {
      pending = this.#ask(id, signal).finally(() => this.#inFlight.delete(id));
      this.#inFlight.set(id, pending);
    }
    return pending;
  }

  async #ask(id: string, signal?: AbortSignal): Promise<TenantLookup> {
    const url = this.#network.url(`/subscriptions/${encodeURIComponent(id)}`, SUBSCRIPTIONS_API_VERSION);
    let answer: Awaited<ReturnType<AzureNetwork["anonymousGet"]>>;
    try {
      answer = await this.#network.anonymousGet(url, signal);
    } catch (error) {
      // Not cached: the next evaluation asks again.
      return {
        unresolved: `ARM could not be asked (${error instanceof Error ? error.message : String(error)})`,
      };
    }
    const tenantId =
      answer.status === 401 ? tenantFromChallenge(answer.headers.get("www-authenticate")) : undefined;
    if (tenantId) return this.#keep(id, { tenantId }, this.#ttlMs);
    if (answer.status === 404) {
      return this.#keep(id, { unresolved: `ARM does not know subscription ${id}` }, this.#unknownTtlMs);
    }
    return {
      unresolved:
        answer.status === 401
          ? "ARM's challenge named no tenant"
          : `ARM answered ${answer.status} instead of a challenge`,
    };
  }

  #keep(id: string, lookup: TenantLookup, ttlMs: number): TenantLookup {
    this.#cache.delete(id);
    while (this.#cache.size >= this.#max) {
      const oldest = this.#cache.keys().next().value;
      if (oldest === undefined) break;
      this.#cache.delete(oldest);
    }
    this.#cache.set(id, { lookup, until: this.#now() + ttlMs });
    return lookup;
  }
}
