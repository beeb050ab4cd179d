import {
  awsGuardianDeps,
  awsReconcileDeps,
  awsReconcileStartDeps,
  awsSenderDeps,
} from "../shared/clouds/aws/runtime.ts";
import { config } from "../shared/config.ts";
import { jsonLogger, type Logger } from "../shared/log.ts";
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

/** Lambda captures stdout per invocation: one JSON line per log record, each carrying the request id. */
export const lambdaLogger = (requestId: string): Logger =>
  jsonLogger((line) => process.stdout.write(`${line}\n`), { requestId });

/** Configuration and clients once per execution environment; logger and audit per invocation. */
export function environmentDeps(): DepsFactory {
  return perInstance((log) => awsGuardianDeps(config(), log));
}

/** The sender's queues, table and channels once per execution environment; logger per invocation. */
export function senderDeps(): SenderFactory {
  return perInstanceSender((log) => awsSenderDeps(config(), log));
}

/** The reconcile tick's deployed factory: policy, page queue and region once per execution environment. */
export function reconcileStartDeps(): ReconcileStartFactory {
  return perInstanceStart((log) => awsReconcileStartDeps(config(), log));
}

/** The reconcile page worker's deployed factory (the event path's clients and decisions, the page queue). */
export function reconcileEnvironmentDeps(): ReconcileDepsFactory {
  return reconcilePerInstance((log) => awsReconcileDeps(config(), log));
}
