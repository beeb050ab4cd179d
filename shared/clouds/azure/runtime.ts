import { readFile } from "node:fs/promises";
import type { TokenCredential } from "@azure/core-auth";
import { logAuditSink } from "../../audit/index.ts";
import type { GuardianConfig } from "../../config.ts";
import { memoryDecisionStore } from "../../decisions.ts";
import type { Logger } from "../../log.ts";
import { notifiersFromConfig } from "../../notify/index.ts";
import type { Notifier } from "../../notify/types.ts";
import { type DecisionStore, type GuardianDeps, ResourceLocks } from "../../pipeline.ts";
import { loadPolicyFile } from "../../policy/file.ts";
import type { Policy } from "../../policy/schema.ts";
import type { PageQueue, ReconcileDeps } from "../../usecases/reconcile.ts";
import { pageLister } from "../listers.ts";
import { identitiesFromToken } from "./identity.ts";
import { azurePort } from "./index.ts";
import { AzureNetwork } from "./network.ts";
import { storagePageQueue, storageQueueClient } from "./queue.ts";

export interface AzureRuntimeOverrides {
  credential?: TokenCredential;
  policy?: Policy;
  notifiers?: Notifier[];
  network?: AzureNetwork;
  decisions?: DecisionStore;
}

/** Builds the Azure pipeline's dependencies from configuration; tests and the demo override the credential. */
export async function azureGuardianDeps(
  cfg: GuardianConfig,
  log: Logger,
  overrides: AzureRuntimeOverrides = {},
): Promise<GuardianDeps> {
  const credential = overrides.credential ?? (await defaultCredential(cfg));
  const ca = cfg.azure.caFile ? await readFile(cfg.azure.caFile, "utf8") : undefined;
  const endpoint = cfg.azure.endpoint;
  const network =
    overrides.network ??
    new AzureNetwork({
      credential,
      endpoint,
      ca,
      pollIntervalMs: cfg.azure.pollIntervalMs,
      requestTimeoutMs: cfg.azure.requestTimeoutMs,
    });
  const scope = `${(endpoint ?? "https://management.azure.com").replace(/\/$/, "")}/.default`;
  const own = await identitiesFromToken(credential, scope).catch((error: unknown) => {
    log.warn("guardian.identity-unknown", {
      message: error instanceof Error ? error.message : String(error),
    });
    return [] as string[];
  });
  return {
    policy: overrides.policy ?? (await loadPolicyFile(cfg.policyFile)),
    clouds: { azure: azurePort(network, { tenantId: cfg.azure.tenantId }) },
    notifiers: overrides.notifiers ?? notifiersFromConfig(cfg),
    audit: logAuditSink(log),
    selfIdentities: [...cfg.selfIdentities, ...own],
    dryRun: cfg.dryRun,
    log,
    locks: new ResourceLocks(),
    budgetMs: cfg.budgetMs ?? EVENT_GRID_BUDGET_MS,
    // Decisions about keyed findings (a connection request) are claimed once per instance, so a duplicate delivery
    // or the sweep meeting an event announces a held request once; built once per instance with the clients.
    decisions: overrides.decisions ?? memoryDecisionStore(),
  };
}

/**
 * Each Function invocation's budget for its cloud calls. Event Grid waits 30 s for the answer before it counts the
 * delivery failed and retries (alongside a still-running first attempt); this leaves 10 s for a cold start, the
 * audit and the alerts. host.json's functionTimeout (60 s) is the host's backstop beyond both.
 */
export const EVENT_GRID_BUDGET_MS = 20_000;

async function defaultCredential(cfg: GuardianConfig): Promise<TokenCredential> {
  // Loaded on demand: @azure/identity is large and only the deployed function needs it.
  const { DefaultAzureCredential } = await import("@azure/identity");
  return new DefaultAzureCredential(
    cfg.azure.clientId ? { managedIdentityClientId: cfg.azure.clientId } : {},
  );
}

/**
 * The reconcile's dependencies on Azure: the pipeline's, a lister over the same ARM clients, the Storage queue of
 * its pages (the app's own storage account) and the configured subscriptions as targets.
 */
export async function azureReconcileDeps(
  cfg: GuardianConfig,
  env: Record<string, string | undefined>,
  log: Logger,
  overrides: AzureRuntimeOverrides & { queue?: PageQueue } = {},
): Promise<ReconcileDeps> {
  const credential = overrides.credential ?? (await defaultCredential(cfg));
  const ca = cfg.azure.caFile ? await readFile(cfg.azure.caFile, "utf8") : undefined;
  const network =
    overrides.network ??
    new AzureNetwork({
      credential,
      endpoint: cfg.azure.endpoint,
      ca,
      pollIntervalMs: cfg.azure.pollIntervalMs,
      requestTimeoutMs: cfg.azure.requestTimeoutMs,
    });
  const guardian = await azureGuardianDeps(cfg, log, { ...overrides, credential, network });
  return {
    guardian,
    lister: pageLister({ azure: network }),
    queue: overrides.queue ?? storagePageQueue(storageQueueClient(env, credential)),
    // The listed subscriptions, else the app's own (AZURE_SUBSCRIPTION_ID, which the template sets).
    targets: (cfg.reconcile.azureSubscriptions.length > 0
      ? cfg.reconcile.azureSubscriptions
      : cfg.azure.subscriptionId
        ? [cfg.azure.subscriptionId]
        : []
    ).map((subscriptionId) => ({ cloud: "azure", subscriptionId })),
  };
}
