import { app, type EventGridEvent, type InvocationContext } from "@azure/functions";
import { EVENT_GRID_BUDGET_MS } from "../shared/clouds/azure/runtime.ts";
import { deadlineIn } from "../shared/deadline.ts";
import { InputError, TransientError } from "../shared/errors.ts";
import { onChange } from "../shared/usecases/on-change.ts";
import { contextLogger, type DepsFactory, environmentDeps } from "./runtime.ts";

/** Event Grid trigger: one event per invocation (the host unbatches), from the subscription or Resource Notifications topic. */
export function createOnChangeHandler(deps: DepsFactory) {
  return async (event: EventGridEvent, context: InvocationContext) => {
    const started = Date.now();
    const log = contextLogger(context);
    const ready = await deps(log);
    // Every cloud call of this invocation ends within its budget, so a stuck call fails into the retry path before
    // Event Grid gives up on the delivery and redelivers it alongside.
    const deadline = deadlineIn(ready.budgetMs ?? EVENT_GRID_BUDGET_MS, started);
    const result = await onChange(event, { ...ready, deadline });
    if (result.retryable) {
      // Failing the invocation hands the event back to Event Grid's retry schedule (and dead-letter after it).
      throw new TransientError(
        `retry: ${result.outcomes
          .map((o) => o.retryable?.message)
          .filter(Boolean)
          .join("; ")}`,
      );
    }
    if (result.unprocessable.length > 0) {
      // Retrying cannot fix it, but failing is what sends the event to the subscription's dead-letter container
      // once Event Grid gives up; acknowledging it would keep it only in a log line.
      throw new InputError(`cannot handle this event: ${result.unprocessable.join("; ")}`);
    }
    return result;
  };
}

app.eventGrid("onChange", { handler: createOnChangeHandler(environmentDeps()) });
