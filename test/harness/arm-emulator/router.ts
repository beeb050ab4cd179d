// A tiny case-insensitive router over ARM resource paths. Literal segments compare case-insensitively (ARM ids are
// case-insensitive); `{name}` segments capture the decoded value as the caller spelled it.

import type { ArmError } from "./errors.ts";
import type { EmulatorState } from "./state.ts";

export interface RequestContext {
  method: string;
  /** Decoded path as the caller sent it (no query). */
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  apiVersion: string;
  /** Parsed JSON body; undefined when the request had none. */
  body: unknown;
  state: EmulatorState;
}

/** What a write handler did; the shared layer turns it into status, LRO headers and events. */
export interface WriteOutcome {
  /** 200 (updated), 201 (created), 202 (accepted delete) or 204 (nothing to delete). */
  status: number;
  /** The tracked (top-level) resource the write landed on (as it was just before removal when it was deleted). */
  tracked: Record<string, unknown> | undefined;
  /** True when the write created the resource though it answers 200 (a provider whose spec has no 201). */
  created?: boolean;
  /** True when the write removed the tracked resource itself. */
  trackedDeleted?: boolean;
  /** Lower-cased id of the tracked resource (for operation status, locks and notifications). */
  trackedId: string;
  /** Location of the tracked resource, for the operation status URL. */
  location: string;
  /** Objects whose provisioningState lags until the long-running operation completes. */
  touched: Record<string, unknown>[];
  /**
   * Other resources the write changed as a side effect (a private endpoint's create adds a Pending connection on
   * its target): each raises its own write event in its own subscription, unless connection events are turned off.
   */
  alsoWritten?: { path: string; resourceType: string; subscriptionId: string }[];
}

export interface CollectionRoute {
  kind: "collection";
  pattern: string;
  list(ctx: RequestContext): Record<string, unknown>[];
  /**
   * One page of the list, shaping only the items on it (what a large estate's list needs: shaping an NSG computes
   * its subnet back-references, so shaping every item for every page grew with the square of the estate).
   */
  slice?(
    ctx: RequestContext,
    from: number,
    size: number,
  ): { items: Record<string, unknown>[]; total: number };
}

/**
 * How a provider runs its long-running writes, when not the Network RP's way (PUT 201/200 with Azure-AsyncOperation,
 * status URLs under Microsoft.Network). Other providers' specs say otherwise: Microsoft.Sql answers an asynchronous
 * PUT 202 Accepted, Microsoft.DocumentDB 202 with a Location and Retry-After only.
 */
export interface LroStyle {
  /** The provider namespace the operation URLs live under: `.../providers/<provider>/locations/{l}/operations/{id}`. */
  provider: string;
  /** An asynchronous PUT answers 202 Accepted with no body (the result comes from the Location URL). */
  acceptedPut?: boolean;
  /** The headers an asynchronous PUT carries (Retry-After always); default: Azure-AsyncOperation only. */
  putHeaders?: readonly ("Azure-AsyncOperation" | "Location")[];
  /**
   * The tracked resource as it looks once its operation completed (provider-specific provisioning states, such as a
   * SQL connection's `Ready`); default: provisioningState Succeeded on it and its embedded children.
   */
  complete?(tracked: Record<string, unknown>): void;
}

export interface ItemRoute {
  kind: "item";
  pattern: string;
  /** ARM resource type, e.g. `Microsoft.Network/networkSecurityGroups/securityRules`; operation names derive from it. */
  resourceType: string;
  /** Whether PUT and DELETE are long-running (Azure-AsyncOperation) as the spec's x-ms-long-running-operation says. */
  longRunning: boolean;
  /** How a non-Network provider runs them; absent: the Network RP's way. */
  lro?: LroStyle;
  /** Lower-cased id of the tracked resource a write on this path lands on (the parent NSG for a rule). */
  trackedId(ctx: RequestContext): string;
  /** The error GET answers when `read` finds nothing (ResourceNotFound for tracked, NotFound for child resources). */
  notFound(ctx: RequestContext): ArmError;
  /** Current representation, or undefined when absent. Throws an ArmError (404) when a parent is missing. */
  read(ctx: RequestContext): Record<string, unknown> | undefined;
  put?(ctx: RequestContext, current: Record<string, unknown> | undefined): WriteOutcome;
  patch?(ctx: RequestContext, current: Record<string, unknown>): WriteOutcome;
  delete?(ctx: RequestContext, current: Record<string, unknown> | undefined): WriteOutcome;
  /** Puts a resource into state without validation or events (test seeding). */
  seed?(ctx: RequestContext, resource: Record<string, unknown>): void;
}

export type Route = CollectionRoute | ItemRoute;

export interface RouteMatch<R extends Route = Route> {
  route: R;
  params: Record<string, string>;
}

function splitPath(path: string): string[] {
  return path.split("/").filter((segment) => segment.length > 0);
}

function matchPattern(pattern: string, path: string): Record<string, string> | undefined {
  const want = splitPath(pattern);
  const got = splitPath(path);
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string;
    const g = got[i] as string;
    if (w.startsWith("{") && w.endsWith("}")) {
      params[w.slice(1, -1)] = g;
    } else if (w.toLowerCase() !== g.toLowerCase()) {
      return undefined;
    }
  }
  return params;
}

export function matchRoute(routes: readonly Route[], path: string): RouteMatch | undefined {
  for (const route of routes) {
    const params = matchPattern(route.pattern, path);
    if (params) return { route, params };
  }
  return undefined;
}

/** Decodes each segment so `%20` in a name matches what the caller meant; ARM names cannot contain `/`. */
export function decodePath(rawPath: string): string {
  return rawPath
    .split("/")
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    })
    .join("/");
}
