import { app, type InvocationContext } from "@azure/functions";
import { RECONCILE_QUEUE } from "../shared/clouds/azure/queue.ts";
import { reconcilePage } from "../shared/usecases/reconcile.ts";
import { contextLogger, type ReconcileDepsFactory, reconcileEnvironmentDeps } from "./runtime.ts";

/**
 * One reconcile page per invocation. A throw leaves the message on the queue: the host retries it (host.json
 * extensions.queues.maxDequeueCount) and then moves it to `guardian-reconcile-poison`, the dead-letter path; a
 * malformed message takes the same way.
 */
export function createReconcilePageHandler(deps: ReconcileDepsFactory) {
  return async (message: unknown, context: InvocationContext) => {
    const ready = await deps(contextLogger(context));
    const outcome = await reconcilePage(message, ready);
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
