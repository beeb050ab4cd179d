import type { InvocationContext } from "@azure/functions";
import { logAuditSink } from "../shared/audit/index.ts";
import { azureGuardianDeps } from "../shared/clouds/azure/runtime.ts";
import { config } from "../shared/config.ts";
import type { Logger } from "../shared/log.ts";
import type { GuardianDeps } from "../shared/pipeline.ts";

/** Makes the pipeline's dependencies for one invocation, given that invocation's logger. */
export type DepsFactory = (log: Logger) => Promise<GuardianDeps>;

/** Structured JSON lines through the Functions host, so Application Insights keeps them per invocation. */
export function contextLogger(context: InvocationContext): Logger {
  const line = (message: string, data?: Record<string, unknown>) =>
    JSON.stringify({ message, invocationId: context.invocationId, ...data });
  return {
    info: (m, d) => context.info(line(m, d)),
    warn: (m, d) => context.warn(line(m, d)),
    error: (m, d) => context.error(line(m, d)),
  };
}

/**
 * The deployed factory: configuration is read and the clients are built once per instance (warm invocations
 * reuse them); only the logger is per invocation.
 */
export function environmentDeps(): DepsFactory {
  let base: Promise<GuardianDeps> | undefined;
  return async (log) => {
    base ??= azureGuardianDeps(config(), log).catch((error: unknown) => {
      base = undefined;
      throw error;
    });
    const deps = await base;
    return { ...deps, log, audit: logAuditSink(log) };
  };
}
