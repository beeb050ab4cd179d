import { app, type InvocationContext } from "@azure/functions";
import { RECONCILE_QUEUE } from "../shared/clouds/azure/runtime.ts";
import { deadlineIn } from "../shared/deadline.ts";
import { reconcilePage } from "../shared/usecases/reconcile.ts";
import { contextLogger, type ReconcileDepsFactory, reconcileEnvironmentDeps } from "./runtime.ts";

/**
 * A page's budget for its cloud calls: host.json's functionTimeout (60 s) less time to audit and alert after the
 * last call. A page cut short by it fails and is redelivered; what was done is found done.
 */
export const PAGE_BUDGET_MS = 45_000;

/**
 * One reconcile page per invocation. A throw leaves the message on the queue: the host retries it (host.json
 * extensions.queues.maxDequeueCount) and then moves it to `guardian-reconcile-poison`, the dead-letter path; a
 * malformed message takes the same way.
 */
export function createReconcilePageHandler(deps: ReconcileDepsFactory) {
  return async (message: unknown, context: InvocationContext) => {
    const started = Date.now();
    const ready = await deps(contextLogger(context));
    const deadline = deadlineIn(PAGE_BUDGET_MS, started);
    const outcome = await reconcilePage(message, { ...ready, guardian: { ...ready.guardian, deadline } });
    return {
      listed: outcome.listed,
      evaluated: outcome.evaluated,
      findings: outcome.findings.length,
      more: !!outcome.next,
    };
  };
}

app.storageQueue("reconcilePage", {
  queueName: RECONCILE_QUEUE,
  connection: "AzureWebJobsStorage",
  handler: createReconcilePageHandler(reconcileEnvironmentDeps()),
});
