import { logAuditSink } from "./audit/index.ts";
import type { Logger } from "./log.ts";
import type { CloudPort, GuardianDeps, InvocationScope } from "./pipeline.ts";
import type { Cloud } from "./types.ts";
import type { ReconcileDeps } from "./usecases/reconcile.ts";

/** Makes the pipeline's dependencies for one invocation, given that invocation's logger and what it knows. */
export type DepsFactory = (log: Logger, invocation?: InvocationScope) => Promise<GuardianDeps>;

/**
 * The deployed factory on either cloud: configuration is read and the clients are built once per instance (warm
 * invocations reuse them, a failed build is retried on the next one); the logger, the audit sink writing through
 * it and the cloud ports bound to the invocation (InvocationScope) are per invocation.
 */
export function perInstance(build: DepsFactory): DepsFactory {
  let base: Promise<GuardianDeps> | undefined;
  return async (log, invocation) => {
    base ??= build(log).catch((error: unknown) => {
      base = undefined;
      throw error;
    });
    const deps = await base;
    if (invocation === undefined) return { ...deps, log, audit: logAuditSink(log) };
    const clouds: Partial<Record<Cloud, CloudPort>> = {};
    for (const [cloud, port] of Object.entries(deps.clouds) as [Cloud, CloudPort][]) {
      clouds[cloud] = port.forInvocation?.(invocation) ?? port;
    }
    return { ...deps, log, audit: logAuditSink(log), clouds };
  };
}

/** Makes the reconcile's dependencies for one invocation, given that invocation's logger. */
export type ReconcileDepsFactory = (log: Logger) => Promise<ReconcileDeps>;

/** As perInstance: clients, policy and queue once per instance; the logger and the audit sink per invocation. */
export function reconcilePerInstance(build: ReconcileDepsFactory): ReconcileDepsFactory {
  let base: Promise<ReconcileDeps> | undefined;
  return async (log) => {
    base ??= build(log).catch((error: unknown) => {
      base = undefined;
      throw error;
    });
    const deps = await base;
    return { ...deps, guardian: { ...deps.guardian, log, audit: logAuditSink(log) } };
  };
}
