import { app, type InvocationContext, type Timer } from "@azure/functions";
import { startReconcile } from "../shared/usecases/reconcile.ts";
import { contextLogger, type ReconcileStartFactory, reconcileStartDeps } from "./runtime.ts";

/** Hourly timer: when the policy's reconcile interval says a run is due, one queue message per stream's first page. */
export function createReconcileHandler(deps: ReconcileStartFactory) {
  return async (_timer: Timer, context: InvocationContext) => {
    const ready = await deps(contextLogger(context));
    // A tick fired a little late still counts as its own (reconcileDue rounds to the hour).
    return startReconcile(ready);
  };
}

// On the hour (NCRONTAB, UTC); the policy's reconcile.intervalHours picks the ticks that start a run.
app.timer("reconcile", {
  schedule: "0 0 * * * *",
  handler: createReconcileHandler(reconcileStartDeps()),
});
