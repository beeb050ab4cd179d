import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { accountOfFunctionArn } from "../shared/clouds/aws/identity.ts";
import { lambdaBudgetMs } from "../shared/clouds/aws/runtime.ts";
import { config } from "../shared/config.ts";
import { deadlineIn } from "../shared/deadline.ts";
import { InputError, TransientError } from "../shared/errors.ts";
import { type ConnectionsResult, decideConnections } from "../shared/usecases/endpoint-connections.ts";
import { type DepsFactory, environmentDeps, lambdaLogger } from "./runtime.ts";

/** The account in the function's own ARN (arn:aws:lambda:<region>:<account>:function:<name>). */
function accountOf(context: Context): string {
  const account = accountOfFunctionArn(context.invokedFunctionArn);
  if (account === undefined) {
    throw new InputError(`cannot tell the account from the function ARN ${context.invokedFunctionArn}`);
  }
  return account;
}

/**
 * The scheduled sweep (EventBridge Scheduler): every pending connection request of the account's endpoint services,
 * and every accepted one, through the same use case as the notifications, because a request is not guaranteed a
 * notification (none configured, SNS delivery lost, a request from before the guardian). The schedule's payload is
 * ignored: every run sweeps everything.
 */
export function createSweepHandler(depsFactory: DepsFactory, region = () => config().aws.region) {
  return middy(async (_event: unknown, context: Context): Promise<ConnectionsResult> => {
    const started = Date.now();
    const remaining = context.getRemainingTimeInMillis();
    const log = lambdaLogger(context.awsRequestId);
    const account = accountOf(context);
    const ready = await depsFactory(log, { account });
    const deps = { ...ready, deadline: deadlineIn(lambdaBudgetMs(remaining, ready.budgetMs), started) };
    const result = await decideConnections(
      {
        account,
        ...(region() !== undefined ? { region: region() } : {}),
        eventId: `sweep-${context.awsRequestId}`,
        operationName: "scheduled sweep",
        time: new Date().toISOString(),
      },
      deps,
    );
    if (result.retryable) throw new TransientError("a dependency failed; the scheduler will retry");
    if (result.unprocessable.length > 0)
      throw new InputError(`sweep could not decide: ${result.unprocessable.join("; ")}`);
    return result;
  });
}

export const handler = createSweepHandler(environmentDeps());
