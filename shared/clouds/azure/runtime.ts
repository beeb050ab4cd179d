import { readFile } from "node:fs/promises";
import type { TokenCredential } from "@azure/core-auth";
import { outboxFor, type SenderParts, senderDeps } from "../../alerts-runtime.ts";
import { logAuditSink } from "../../audit/index.ts";
import type { GuardianConfig } from "../../config.ts";
import { memoryDecisionStore } from "../../decisions.ts";
import { InputError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import type { OutboxPort } from "../../notify/outbox.ts";
import { type DecisionStore, type GuardianDeps, ResourceLocks } from "../../pipeline.ts";
import { loadPolicyFile } from "../../policy/file.ts";
import type { Policy } from "../../policy/schema.ts";
import {
  type PageQueue,
  pageQueue,
  type ReconcileDeps,
  type ReconcileStartDeps,
} from "../../usecases/reconcile.ts";
import type { SenderDeps } from "../../usecases/send-alerts.ts";
import { pageLister } from "../listers.ts";
import {
  queueClientFor,
  type StorageAccess,
  StorageQueue,
  TableAlertStore,
  tableClientFor,
} from "./alerts.ts";
import { TableDecisionStore } from "./decision-store.ts";
import { identitiesFromToken } from "./identity.ts";
import { azurePort } from "./index.ts";
import { AzureNetwork } from "./network.ts";

export interface AzureRuntimeOverrides {
  credential?: TokenCredential;
  policy?: Policy;
  outbox?: OutboxPort;
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
  const policy = overrides.policy ?? (await loadPolicyFile(cfg.policyFile));
  const queue = cfg.alerts.queue
    ? new StorageQueue(queueClientFor(await storageAccess(cfg, credential), cfg.alerts.queue))
    : undefined;
  return {
    policy,
    clouds: { azure: azurePort(network, { tenantId: cfg.azure.tenantId }) },
    outbox: overrides.outbox ?? (await outboxFor(queue, policy, cfg, log)),
    audit: logAuditSink(log),
    selfIdentities: [...cfg.selfIdentities, ...own],
    dryRun: cfg.dryRun,
    log,
    locks: new ResourceLocks(),
    budgetMs: cfg.budgetMs ?? EVENT_GRID_BUDGET_MS,
    // Decisions about keyed findings (a connection request) are claimed in a table every instance shares, so a
    // duplicate delivery, another instance or the sweep meeting an event decides and announces a request once.
    decisions: overrides.decisions ?? (await azureDecisions(cfg, log, credential)),
  };
}

/**
 * The shared decision store: a Storage table when GUARDIAN_DECISIONS_TABLE is set (the template sets it), in the
 * alerts' storage account; otherwise claims held in this instance only, and a warning saying what that costs.
 */
async function azureDecisions(
  cfg: GuardianConfig,
  log: Logger,
  credential: TokenCredential,
): Promise<DecisionStore> {
  const table = cfg.decisions.table;
  if (table === undefined) {
    log.warn("guardian.decisions-unshared", {
      message:
        "GUARDIAN_DECISIONS_TABLE is not set: another instance, or the sweep meeting an event, may decide and announce a connection request again",
    });
    return memoryDecisionStore({ ttlMs: cfg.decisions.ttlSeconds * 1000 });
  }
  const { storageConnectionString, tableServiceUri } = cfg.alerts;
  const access: StorageAccess | undefined = storageConnectionString
    ? { connectionString: storageConnectionString }
    : tableServiceUri
      ? { tableServiceUri, credential }
      : undefined;
  if (!access) {
    throw new InputError(
      "GUARDIAN_DECISIONS_TABLE needs GUARDIAN_ALERTS_STORAGE (a connection string) or GUARDIAN_ALERTS_STORAGE__tableServiceUri",
    );
  }
  return new TableDecisionStore(tableClientFor(access, table), { ttlMs: cfg.decisions.ttlSeconds * 1000 });
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

/** A connection string when given (Azurite), else the service URIs with the function's identity. */
async function storageAccess(cfg: GuardianConfig, credential?: TokenCredential): Promise<StorageAccess> {
  const { storageConnectionString, queueServiceUri, tableServiceUri } = cfg.alerts;
  if (storageConnectionString) return { connectionString: storageConnectionString };
  if (!queueServiceUri) {
    throw new InputError(
      "GUARDIAN_ALERT_QUEUE needs GUARDIAN_ALERTS_STORAGE (a connection string) or GUARDIAN_ALERTS_STORAGE__queueServiceUri",
    );
  }
  return {
    queueServiceUri,
    ...(tableServiceUri ? { tableServiceUri } : {}),
    credential: credential ?? (await defaultCredential(cfg)),
  };
}

/** The outbox and its dead-letter (poison) queue (for `guardian alerts replay`). */
export async function azureAlertQueues(
  cfg: GuardianConfig,
): Promise<{ queue: StorageQueue; deadLetters: StorageQueue }> {
  const { queue } = cfg.alerts;
  if (!queue) throw new InputError("set GUARDIAN_ALERT_QUEUE (the Storage queue name)");
  const access = await storageAccess(cfg);
  return {
    queue: new StorageQueue(queueClientFor(access, queue)),
    deadLetters: new StorageQueue(queueClientFor(access, cfg.alerts.deadLetterQueue ?? `${queue}-poison`)),
  };
}

/** The queues and table the sender needs on Azure; InputError naming what is missing. */
export async function azureSenderParts(
  cfg: GuardianConfig,
  options: { credential?: TokenCredential; clock?: SenderParts["clock"] } = {},
): Promise<SenderParts> {
  const { queue, table } = cfg.alerts;
  if (!queue || !table)
    throw new InputError("the alert sender needs GUARDIAN_ALERT_QUEUE and GUARDIAN_ALERT_TABLE");
  const access = await storageAccess(cfg, options.credential);
  return {
    queue: new StorageQueue(queueClientFor(access, queue)),
    // The Functions host moves a message that keeps failing to <queue>-poison: the sender dead-letters there too.
    deadLetters: new StorageQueue(queueClientFor(access, cfg.alerts.deadLetterQueue ?? `${queue}-poison`)),
    store: new TableAlertStore(tableClientFor(access, table), options.clock?.now),
    ...(options.clock ? { clock: options.clock } : {}),
  };
}

export async function azureSenderDeps(
  cfg: GuardianConfig,
  log: Logger,
  overrides: { policy?: Policy; credential?: TokenCredential; clock?: SenderParts["clock"] } = {},
): Promise<SenderDeps> {
  const policy = overrides.policy ?? (await loadPolicyFile(cfg.policyFile));
  return senderDeps(await azureSenderParts(cfg, overrides), policy, cfg, log);
}

/** The reconcile's Storage queue (functions/reconcile-page.ts reads it; the poison queue is `<name>-poison`). */
export const RECONCILE_QUEUE = "guardian-reconcile";

/**
 * The reconcile's page queue, in the host's own storage account (the queue trigger's `AzureWebJobsStorage`
 * connection): a connection string locally (Azurite), else the account the deployed app's
 * `AzureWebJobsStorage__accountName` (or `__queueServiceUri`) names, reached with the app's managed identity.
 */
export async function reconcileQueueOf(
  cfg: GuardianConfig,
  env: Record<string, string | undefined>,
  credential?: TokenCredential,
): Promise<PageQueue> {
  const connection = env.AzureWebJobsStorage;
  const uri =
    env.AzureWebJobsStorage__queueServiceUri ??
    (env.AzureWebJobsStorage__accountName
      ? `https://${env.AzureWebJobsStorage__accountName}.queue.core.windows.net`
      : undefined);
  let access: StorageAccess;
  if (connection) access = { connectionString: connection };
  else if (uri) access = { queueServiceUri: uri, credential: credential ?? (await defaultCredential(cfg)) };
  else
    throw new InputError("no storage for the reconcile queue: set AzureWebJobsStorage or its __accountName");
  return pageQueue(new StorageQueue(queueClientFor(access, RECONCILE_QUEUE)));
}

/** The subscriptions the reconcile lists: GUARDIAN_AZURE_SUBSCRIPTIONS, else the app's own (AZURE_SUBSCRIPTION_ID). */
function reconcileTargets(cfg: GuardianConfig): ReconcileStartDeps["targets"] {
  const ids =
    cfg.reconcile.azureSubscriptions.length > 0
      ? cfg.reconcile.azureSubscriptions
      : cfg.azure.subscriptionId
        ? [cfg.azure.subscriptionId]
        : [];
  return ids.map((subscriptionId) => ({ cloud: "azure", subscriptionId }));
}

/** The reconcile timer on Azure: the policy, the page queue and the subscriptions. No ARM client. */
export async function azureReconcileStartDeps(
  cfg: GuardianConfig,
  env: Record<string, string | undefined>,
  log: Logger,
  overrides: { policy?: Policy; queue?: PageQueue } = {},
): Promise<ReconcileStartDeps> {
  return {
    policy: overrides.policy ?? (await loadPolicyFile(cfg.policyFile)),
    log,
    queue: overrides.queue ?? (await reconcileQueueOf(cfg, env)),
    targets: reconcileTargets(cfg),
  };
}

/**
 * A reconcile page worker's dependencies on Azure: the event path's (the same ARM clients, decisions and outbox), a
 * lister over those clients, the page queue and the subscriptions as targets.
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
    queue: overrides.queue ?? (await reconcileQueueOf(cfg, env, credential)),
    targets: reconcileTargets(cfg),
  };
}
