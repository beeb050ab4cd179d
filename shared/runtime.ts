import { logAuditSink } from "./audit/index.ts";
import type { Logger } from "./log.ts";
import { Pacer } from "./notify/channels.ts";
import type { CloudPort, GuardianDeps, InvocationScope } from "./pipeline.ts";
import type { Cloud } from "./types.ts";
import type { ReconcileDeps, ReconcileStartDeps } from "./usecases/reconcile.ts";
import { realClock, type SenderDeps } from "./usecases/send-alerts.ts";

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
    return bound(await base, log, invocation);
  };
}

/** The instance's dependencies with this invocation's logger, audit sink and cloud ports. */
function bound(deps: GuardianDeps, log: Logger, invocation: InvocationScope | undefined): GuardianDeps {
  if (invocation === undefined) return { ...deps, log, audit: logAuditSink(log) };
  const clouds: Partial<Record<Cloud, CloudPort>> = {};
  for (const [cloud, port] of Object.entries(deps.clouds) as [Cloud, CloudPort][]) {
    clouds[cloud] = port.forInvocation?.(invocation) ?? port;
  }
  return { ...deps, log, audit: logAuditSink(log), clouds };
}

/** Makes the alert sender's dependencies for one invocation, given that invocation's logger. */
export type SenderFactory = (log: Logger) => Promise<SenderDeps>;

/**
 * The sender's queues, store, channels and posting pace are built once per instance (the pace must be shared by
 * the instance's invocations); the logger is per invocation.
 */
export function perInstanceSender(build: SenderFactory): SenderFactory {
  let base: Promise<SenderDeps> | undefined;
  return async (log) => {
    base ??= build(log)
      .then((deps) => {
        const clock = deps.clock ?? realClock;
        return { ...deps, pacer: deps.pacer ?? new Pacer(clock.now, clock.sleep) };
      })
      .catch((error: unknown) => {
        base = undefined;
        throw error;
      });
    return { ...(await base), log };
  };
}

/** Makes the reconcile tick's dependencies (policy, queue, targets), given that invocation's logger. */
export type ReconcileStartFactory = (log: Logger) => Promise<ReconcileStartDeps>;

/** The tick's policy, queue and targets once per instance; the logger per invocation. */
export function perInstanceStart(build: ReconcileStartFactory): ReconcileStartFactory {
  let base: Promise<ReconcileStartDeps> | undefined;
  return async (log) => {
    base ??= build(log).catch((error: unknown) => {
      base = undefined;
      throw error;
    });
    return { ...(await base), log };
  };
}

/** Makes a reconcile page worker's dependencies for one invocation, given its logger and what it knows. */
export type ReconcileDepsFactory = (log: Logger, invocation?: InvocationScope) => Promise<ReconcileDeps>;

/** As perInstance: clients, policy, decisions and queue once per instance; logger, audit and ports per invocation. */
export function reconcilePerInstance(build: (log: Logger) => Promise<ReconcileDeps>): ReconcileDepsFactory {
  let base: Promise<ReconcileDeps> | undefined;
  return async (log, invocation) => {
    base ??= build(log).catch((error: unknown) => {
      base = undefined;
      throw error;
    });
    const deps = await base;
    return { ...deps, guardian: bound(deps.guardian, log, invocation) };
  };
}
