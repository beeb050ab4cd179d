// Stateful HTTPS emulator of the Azure Resource Manager endpoints the guardian uses (Microsoft.Network NSGs, security
// rules, VNets, subnets), for integration tests, the demo and benchmarks. The product never imports it.

import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { FaultPlan } from "../faults.ts";
import { DEFAULT_SUBSCRIPTION_ID } from "./client.ts";
import { DEFAULT_TENANT_ID } from "./events.ts";
import { resourceRoutes } from "./handlers/index.ts";
import { clone, isObject } from "./json.ts";
import { decodePath, matchRoute } from "./router.ts";
import {
  type AnswerHook,
  type EventListener,
  type FaultSpec,
  handle,
  type Pipeline,
  type RequestLogEntry,
  readById,
  syntheticContext,
} from "./server.ts";
import { EmulatorState } from "./state.ts";
import { generateCertificate } from "./tls.ts";

export { decodeToken, mintToken, staticTokenCredential } from "./auth.ts";
export {
  armClientOptions,
  DEFAULT_SUBSCRIPTION_ID,
  networkClientFor,
  type RawArmResponse,
  rawArmRequest,
  storageClientFor,
} from "./client.ts";
export { DEFAULT_TENANT_ID, eventClaims } from "./events.ts";
export type { AnswerHook, FaultSpec, RequestLogEntry } from "./server.ts";

export interface ArmEmulator {
  /** `https://127.0.0.1:<port>` */
  url: string;
  /** PEM of the self-signed certificate, for `tlsOptions.ca`. */
  ca: string;
  stop(): Promise<void>;
  /** Puts an ARM JSON resource (with `id`) into state directly: no validation, no event. Children need their parent. */
  seed(resource: object): void;
  /** Current ARM JSON of any resource the emulator serves (ids are case-insensitive, as in ARM). */
  get(id: string): unknown | undefined;
  /** Called with the Event Grid events of each successful write, after its response is sent. Returns unsubscribe. */
  onEvent(listener: (events: object[]) => void): () => void;
  /** Every event emitted so far (recorded before the write's response is sent). */
  readonly events: object[];
  /** Every request answered, in order, including LRO polls and failures. */
  readonly requests: RequestLogEntry[];
  /** The next `times` requests matching `method` / `pathIncludes` fail as the spec says (test/harness/faults.ts). */
  injectFault(fault: FaultSpec): void;
  /** Consulted for every authenticated request that no scripted fault matched; undefined turns it off. */
  setFaultPlan(plan: FaultPlan | undefined): void;
  /**
   * Runs after each request is handled and logged, before its answer leaves (awaited): a test can make another caller
   * act between, say, the guardian's read and its write. Returns unsubscribe.
   */
  beforeAnswer(hook: AnswerHook): () => void;
  /**
   * Whether side effects on other resources raise events (default true): a private endpoint's create announces the
   * Pending connection on its target. Off, a request reaches the provider silently, as only a sweep would find it.
   */
  connectionEvents(on: boolean): void;
  /**
   * Resource provider namespaces the subscriptions are not registered for (none by default): every call under one
   * (`.../providers/Microsoft.Sql/...`) answers 409 MissingSubscriptionRegistration, as ARM does. Reset registers them all again.
   */
  unregisteredNamespaces(namespaces: readonly string[]): void;
  /**
   * Makes ARM know a subscription and its tenant (undefined: forget it), as its unauthenticated challenge tells them.
   * The default subscription is known, in the default tenant; the map survives reset().
   */
  subscriptionTenant(subscriptionId: string, tenantId: string | undefined): void;
  /** Clears state, events, requests, faults, the fault plan and unregistered namespaces (listeners and hooks stay). */
  reset(): void;
}

export interface ArmEmulatorOptions {
  /** Port to listen on (127.0.0.1); 0, the default, picks a free one. */
  port?: number;
  /**
   * How many polls of an operation's status answer InProgress before Succeeded (default 1). 0 makes PUT and DELETE
   * complete synchronously (no Azure-AsyncOperation; DELETE answers 200), so SDK pollers finish without sleeping.
   */
  lroPolls?: number;
  /** Also emit Microsoft.ResourceNotifications.Resources.* events for the tracked resource (default false). */
  emitResourceNotifications?: boolean;
  /** Render booleans in Resource Notifications payloads as 1/0, as the documented sample does (default false). */
  notificationBooleansAsNumbers?: boolean;
  /** Answer 409 AnotherOperationInProgress to writes on a resource whose operation has not completed (default false). */
  enforceOperationLocks?: boolean;
  /** Items per page of a list, the rest behind `nextLink` (default: every item on one page). */
  pageSize?: number;
  /** Raise events for private endpoint connections a private endpoint's create adds on its target (default true). */
  connectionEvents?: boolean;
  /** Subscriptions ARM knows, with their tenants (default: the default subscription in the default tenant). */
  subscriptionTenants?: Record<string, string>;
}

export async function startArmEmulator(options: ArmEmulatorOptions = {}): Promise<ArmEmulator> {
  const { key, cert } = await generateCertificate();
  let url = "";
  const pipeline: Pipeline = {
    state: new EmulatorState(options.lroPolls ?? 1),
    routes: resourceRoutes,
    options: {
      emitResourceNotifications: options.emitResourceNotifications ?? false,
      notificationBooleansAsNumbers: options.notificationBooleansAsNumbers ?? false,
      enforceOperationLocks: options.enforceOperationLocks ?? false,
      connectionEvents: options.connectionEvents ?? true,
      unregisteredNamespaces: new Set(),
      ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }),
    },
    baseUrl: () => url,
    faults: [],
    faultPlan: undefined,
    requests: [],
    events: [],
    listeners: new Set<EventListener>(),
    answerHooks: new Set<AnswerHook>(),
    held: new Set(),
    subscriptionTenants: new Map(
      Object.entries(options.subscriptionTenants ?? { [DEFAULT_SUBSCRIPTION_ID]: DEFAULT_TENANT_ID }).map(
        ([s, t]) => [s.toLowerCase(), t],
      ),
    ),
  };

  const server: Server = createServer({ key, cert }, (req, res) => {
    handle(pipeline, req, res).catch((error: unknown) => {
      console.error("arm-emulator: request failed", error);
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    ca: cert,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // SDK clients keep connections alive (and `hang` faults hold answers): close them so stop() does not wait.
        for (const res of pipeline.held) res.destroy();
        server.closeAllConnections();
      }),
    seed(resource) {
      if (!isObject(resource) || typeof resource.id !== "string")
        throw new Error("seed: resource needs a string id");
      const path = decodePath(resource.id);
      const match = matchRoute(pipeline.routes, path);
      if (match?.route.kind !== "item" || !match.route.seed) {
        throw new Error(`seed: the emulator cannot hold ${resource.id}`);
      }
      match.route.seed(syntheticContext(pipeline, path, match.params), clone(resource));
    },
    get: (id) => readById(pipeline, id),
    onEvent(listener) {
      pipeline.listeners.add(listener);
      return () => {
        pipeline.listeners.delete(listener);
      };
    },
    events: pipeline.events,
    requests: pipeline.requests,
    injectFault(fault) {
      pipeline.faults.push({ ...fault });
    },
    setFaultPlan(plan) {
      pipeline.faultPlan = plan;
    },
    beforeAnswer(hook) {
      pipeline.answerHooks.add(hook);
      return () => {
        pipeline.answerHooks.delete(hook);
      };
    },
    unregisteredNamespaces(namespaces) {
      pipeline.options.unregisteredNamespaces = new Set(namespaces.map((n) => n.toLowerCase()));
    },
    connectionEvents(on) {
      pipeline.options.connectionEvents = on;
    },
    subscriptionTenant(subscriptionId, tenantId) {
      if (tenantId === undefined) pipeline.subscriptionTenants.delete(subscriptionId.toLowerCase());
      else pipeline.subscriptionTenants.set(subscriptionId.toLowerCase(), tenantId);
    },
    reset() {
      pipeline.state.reset();
      pipeline.events.length = 0;
      pipeline.requests.length = 0;
      pipeline.faults.length = 0;
      pipeline.faultPlan = undefined;
      pipeline.options.unregisteredNamespaces = new Set();
    },
  };
}
