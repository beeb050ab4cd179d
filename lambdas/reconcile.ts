import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { startReconcile } from "../shared/usecases/reconcile.ts";
import { lambdaLogger, type ReconcileStartFactory, reconcileStartDeps } from "./runtime.ts";

/**
 * EventBridge Scheduler's hourly invocation (its payload is the schedule's fixed Input, read for nothing): when the
 * policy's reconcile interval says a run is due, one SQS message per stream's first page. A failure fails the
 * invocation, so Lambda's retry and on-failure destination take it.
 */
export function createReconcileHandler(deps: ReconcileStartFactory) {
  return middy(async (_payload: unknown, context: Context) => {
    const ready = await deps(lambdaLogger(context.awsRequestId));
    return startReconcile(ready);
  });
}

export const handler = createReconcileHandler(reconcileStartDeps());
