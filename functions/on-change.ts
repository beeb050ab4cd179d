import { app, type EventGridEvent, type InvocationContext } from "@azure/functions";
import { TransientError } from "../shared/errors.ts";
import { onChange } from "../shared/usecases/on-change.ts";
import { contextLogger, type DepsFactory, environmentDeps } from "./runtime.ts";

/** Event Grid trigger: one event per invocation (the host unbatches), from the subscription or Resource Notifications topic. */
export function createOnChangeHandler(deps: DepsFactory) {
  return async (event: EventGridEvent, context: InvocationContext) => {
    const log = contextLogger(context);
    const result = await onChange(event, await deps(log));
    if (result.retryable) {
      // Failing the invocation hands the event back to Event Grid's retry schedule (and dead-letter after it).
      throw new TransientError(
        `retry: ${result.outcomes
          .map((o) => o.retryable?.message)
          .filter(Boolean)
          .join("; ")}`,
      );
    }
    return result;
  };
}

app.eventGrid("onChange", { handler: createOnChangeHandler(environmentDeps()) });
