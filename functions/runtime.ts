import type { InvocationContext } from "@azure/functions";
import { azureGuardianDeps, azureReconcileDeps } from "../shared/clouds/azure/runtime.ts";
import { config } from "../shared/config.ts";
import { formatLogLine, type Logger } from "../shared/log.ts";
import {
  type DepsFactory,
  perInstance,
  type ReconcileDepsFactory,
  reconcilePerInstance,
} from "../shared/runtime.ts";

export type { DepsFactory, ReconcileDepsFactory } from "../shared/runtime.ts";

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

/** The reconcile's deployed factory (timer and page worker). */
export function reconcileEnvironmentDeps(): ReconcileDepsFactory {
  return reconcilePerInstance((log) => azureReconcileDeps(config(), process.env, log));
}
