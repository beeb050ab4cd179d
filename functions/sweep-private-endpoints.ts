import { app, type InvocationContext, type Timer } from "@azure/functions";
import { EVENT_GRID_BUDGET_MS } from "../shared/clouds/azure/runtime.ts";
import { config } from "../shared/config.ts";
import { deadlineIn } from "../shared/deadline.ts";
import { InputError, TransientError } from "../shared/errors.ts";
import { sweepPrivateEndpoints } from "../shared/usecases/sweep-private-endpoints.ts";
import { contextLogger, type DepsFactory, environmentDeps } from "./runtime.ts";

/** How often the sweep runs (NCRONTAB, seconds first): every 15 minutes. */
export const SWEEP_SCHEDULE = "0 */15 * * * *";

/**
 * Timer trigger: sweeps the subscription's private endpoint connections, endpoints and Private Link Services, because
 * a connection request need not raise an event where the guardian listens.
 */
export function createSweepHandler(deps: DepsFactory, subscriptionId: () => string | undefined) {
  return async (_timer: Timer, context: InvocationContext) => {
    const started = Date.now();
    const log = contextLogger(context);
    const subscription = subscriptionId();
    if (!subscription)
      throw new InputError("AZURE_SUBSCRIPTION_ID is not set: the sweep has no subscription to list");
    const ready = await deps(log);
    const deadline = deadlineIn(ready.budgetMs ?? EVENT_GRID_BUDGET_MS, started);
    const result = await sweepPrivateEndpoints(
      { subscriptionId: subscription, runId: context.invocationId, time: new Date(started).toISOString() },
      { ...ready, deadline },
    );
    // A failed run is seen by the host (and its failure alert); the next tick sweeps again.
    if (result.retryable) throw new TransientError("sweep: a dependency failed; the next run tries again");
    if (result.unprocessable.length > 0) {
      throw new InputError(`sweep: could not handle ${result.unprocessable.join("; ")}`);
    }
    return result;
  };
}

app.timer("sweepPrivateEndpoints", {
  schedule: SWEEP_SCHEDULE,
  handler: createSweepHandler(environmentDeps(), () => config().azure.subscriptionId),
});
