import { logAuditSink } from "./audit/index.ts";
import type { Logger } from "./log.ts";
import type { GuardianDeps } from "./pipeline.ts";

/** Makes the pipeline's dependencies for one invocation, given that invocation's logger. */
export type DepsFactory = (log: Logger) => Promise<GuardianDeps>;

/**
 * The deployed factory on either cloud: configuration is read and the clients are built once per instance (warm
 * invocations reuse them, a failed build is retried on the next one); the logger and the audit sink writing through
 * it are per invocation.
 */
export function perInstance(build: DepsFactory): DepsFactory {
  let base: Promise<GuardianDeps> | undefined;
  return async (log) => {
    base ??= build(log).catch((error: unknown) => {
      base = undefined;
      throw error;
    });
    return { ...(await base), log, audit: logAuditSink(log) };
  };
}
