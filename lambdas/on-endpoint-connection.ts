import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { accountOfFunctionArn } from "../shared/clouds/aws/identity.ts";
import { lambdaBudgetMs } from "../shared/clouds/aws/runtime.ts";
import { deadlineIn } from "../shared/deadline.ts";
import { InputError, TransientError } from "../shared/errors.ts";
import { parseConnectionRecord, snsEventSchema } from "../shared/events/connection-notification.ts";
import {
  type ConnectionsResult,
  decideConnections,
  notificationScope,
} from "../shared/usecases/endpoint-connections.ts";
import { type DepsFactory, environmentDeps, lambdaLogger } from "./runtime.ts";

/**
 * An endpoint service's connection notifications, delivered by SNS. Each message is a trigger: the connections it
 * names (or all of them, when it names none) are re-read and decided. A failure that may pass fails the invocation so
 * Lambda retries it; a record that is not a notification fails it for its on-failure destination (dead letters).
 */
export function createOnEndpointConnectionHandler(depsFactory: DepsFactory) {
  return middy(async (event: unknown, context: Context): Promise<ConnectionsResult[]> => {
    const started = Date.now();
    const remaining = context.getRemainingTimeInMillis();
    const log = lambdaLogger(context.awsRequestId);
    const envelope = snsEventSchema.safeParse(event);
    if (!envelope.success) {
      log.error("guardian.deadletter", { what: "sns-event", reason: "no Records", event });
      throw new InputError("not an SNS event: Records is missing or empty");
    }
    const account = accountOfFunctionArn(context.invokedFunctionArn);
    const ready = await depsFactory(log, account === undefined ? {} : { account });
    // As on-change: every EC2 call ends before Lambda's timeout, leaving time to settle, audit and alert.
    const deps = { ...ready, deadline: deadlineIn(lambdaBudgetMs(remaining, ready.budgetMs), started) };
    const results: ConnectionsResult[] = [];
    const unprocessable: string[] = [];
    for (const [i, record] of envelope.data.Records.entries()) {
      let trigger: ReturnType<typeof parseConnectionRecord>;
      try {
        trigger = parseConnectionRecord(record, `Records[${i}]`);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log.error("guardian.deadletter", { what: "sns-record", error: message, record });
        unprocessable.push(message);
        continue;
      }
      const result = await decideConnections(notificationScope(trigger), deps);
      results.push(result);
      unprocessable.push(...result.unprocessable);
    }
    if (results.some((r) => r.retryable)) throw new TransientError("a dependency failed; Lambda will retry");
    if (unprocessable.length > 0)
      throw new InputError(`cannot handle this notification: ${unprocessable.join("; ")}`);
    return results;
  });
}

export const handler = createOnEndpointConnectionHandler(environmentDeps());
