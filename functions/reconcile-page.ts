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

/** host.json extensions.queues.maxDequeueCount: the attempt after which the host moves a message to the poison queue. */
export const MAX_DEQUEUE_COUNT = 5;

/**
 * One reconcile page per invocation. A throw leaves the message on the queue: the host retries it (host.json
 * extensions.queues.maxDequeueCount) and then moves it to `guardian-reconcile-poison`, the dead-letter path, which
 * the template alerts on (the last attempt logs `guardian.reconcile-deadletter`); a malformed message takes the same
 * way.
 */
export function createReconcilePageHandler(deps: ReconcileDepsFactory) {
  return async (message: unknown, context: InvocationContext) => {
    const started = Date.now();
    const log = contextLogger(context);
    let outcome: Awaited<ReturnType<typeof reconcilePage>>;
    try {
      const ready = await deps(log);
      const deadline = deadlineIn(PAGE_BUDGET_MS, started);
      outcome = await reconcilePage(message, { ...ready, guardian: { ...ready.guardian, deadline } });
    } catch (error) {
      // The last attempt: the host moves the message to the poison queue; this line is what the template alerts on.
      const attempt = Number(context.triggerMetadata?.dequeueCount ?? 0);
      if (attempt >= MAX_DEQUEUE_COUNT) {
        log.error("guardian.reconcile-deadletter", {
          poisonQueue: `${RECONCILE_QUEUE}-poison`,
          attempt,
          message: typeof message === "string" ? message : JSON.stringify(message),
          error: error instanceof Error ? error.message : String(error),
        });
      }
      throw error;
    }
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
