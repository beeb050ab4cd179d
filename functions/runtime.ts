import type { InvocationContext } from "@azure/functions";
import {
  azureGuardianDeps,
  azureReconcileDeps,
  azureReconcileStartDeps,
  azureSenderDeps,
} from "../shared/clouds/azure/runtime.ts";
import { config } from "../shared/config.ts";
import { formatLogLine, type Logger } from "../shared/log.ts";
import {
  type DepsFactory,
  perInstance,
  perInstanceSender,
  perInstanceStart,
  type ReconcileDepsFactory,
  type ReconcileStartFactory,
  reconcilePerInstance,
  type SenderFactory,
} from "../shared/runtime.ts";

export type {
  DepsFactory,
  ReconcileDepsFactory,
  ReconcileStartFactory,
  SenderFactory,
} from "../shared/runtime.ts";

/** Structured JSON lines through the Functions host, so Application Insights keeps them per invocation. */
export function contextLogger(context: InvocationContext): Logger {
  const line = (message: string, data?: Record<string, unknown>) =>
    formatLogLine({ message, invocationId: context.invocationId }, data);
  return {
    info: (m, d) => context.info(line(m, d)),
    warn: (m, d) => context.warn(line(m, d)),
    error: (m, d) => context.error(line(m, d)),
  };
}

/** The deployed factory: clients once per Functions instance, logger and audit per invocation. */
export function environmentDeps(): DepsFactory {
  return perInstance((log) => azureGuardianDeps(config(), log));
}

/** The sender's queues, table and channels once per Functions instance; logger per invocation. */
export function senderDeps(): SenderFactory {
  return perInstanceSender((log) => azureSenderDeps(config(), log));
}

/** The reconcile timer's deployed factory: policy, page queue and subscriptions once per instance. */
export function reconcileStartDeps(): ReconcileStartFactory {
  return perInstanceStart((log) => azureReconcileStartDeps(config(), process.env, log));
}

/**
 * The reconcile page worker's deployed factory: the event path's dependencies, so its decisions are claimed in the
 * same decisions table as on-change's and the sweep's (GUARDIAN_DECISIONS_TABLE).
 */
export function reconcileEnvironmentDeps(): ReconcileDepsFactory {
  return reconcilePerInstance((log) => azureReconcileDeps(config(), process.env, log));
}
