import middy from "@middy/core";
import type { Context, SQSBatchResponse } from "aws-lambda";
import * as z from "zod";
import { accountOfFunctionArn } from "../shared/clouds/aws/identity.ts";
import { lambdaBudgetMs } from "../shared/clouds/aws/runtime.ts";
import { deadlineIn } from "../shared/deadline.ts";
import { InputError } from "../shared/errors.ts";
import { reconcilePage } from "../shared/usecases/reconcile.ts";
import { lambdaLogger, type ReconcileDepsFactory, reconcileEnvironmentDeps } from "./runtime.ts";

const sqsBatchSchema = z.looseObject({
  Records: z.array(z.looseObject({ messageId: z.string().min(1), body: z.string() })),
});

/**
 * The page worker on the reconcile queue (batch size 1 in the template: one page per invocation). A page that fails
 * is reported back (ReportBatchItemFailures), so only it is retried, and after the queue's receive limit it lands
 * in the dead-letter queue; a malformed message goes the same way. Like on-change, the invocation's cloud calls
 * end before Lambda's timeout and its ports are bound to the account it runs in.
 */
export function createReconcilePageHandler(deps: ReconcileDepsFactory) {
  return middy(async (payload: unknown, context: Context): Promise<SQSBatchResponse> => {
    const started = Date.now();
    const remaining = context.getRemainingTimeInMillis();
    const batch = sqsBatchSchema.safeParse(payload);
    if (!batch.success) throw new InputError("the payload is not an SQS batch");
    const log = lambdaLogger(context.awsRequestId);
    const account = accountOfFunctionArn(context.invokedFunctionArn);
    const ready = await deps(log, account === undefined ? {} : { account });
    const deadline = deadlineIn(lambdaBudgetMs(remaining, ready.guardian.budgetMs), started);
    const bound = { ...ready, guardian: { ...ready.guardian, deadline } };
    const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
    for (const record of batch.data.Records) {
      try {
        await reconcilePage(record.body, bound);
      } catch (error) {
        log.error("guardian.reconcile.page-failed", {
          messageId: record.messageId,
          message: error instanceof Error ? error.message : String(error),
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  });
}

export const handler = createReconcilePageHandler(reconcileEnvironmentDeps());
