import middy from "@middy/core";
import type { Context, EventBridgeEvent, SQSBatchResponse, SQSEvent } from "aws-lambda";
import * as z from "zod";
import { accountOfFunctionArn } from "../shared/clouds/aws/identity.ts";
import { lambdaBudgetMs } from "../shared/clouds/aws/runtime.ts";
import { deadlineIn } from "../shared/deadline.ts";
import { InputError, TransientError } from "../shared/errors.ts";
import { type OnChangeResult, onChange } from "../shared/usecases/on-change.ts";
import { type DepsFactory, environmentDeps, lambdaLogger } from "./runtime.ts";

type Trigger = EventBridgeEvent<string, unknown> | SQSEvent;

// What the handler reads of an SQS record; the rest of it (attributes, md5) it leaves alone.
const sqsRecordSchema = z.looseObject({ messageId: z.string().min(1), body: z.string() });

/**
 * The payload as one of the two shapes Lambda delivers here, or an InputError (the invocation fails, so the event
 * reaches the function's on-failure destination) for anything else: null, a string, a number, a list, a record that is
 * not an SQS message. Whatever invoked the function, nothing here fails with a TypeError.
 */
function triggerOf(payload: unknown): { sqs: SQSEvent } | { event: unknown } {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
    const what = payload === null ? "null" : Array.isArray(payload) ? "a list" : typeof payload;
    throw new InputError(`the payload is neither an EventBridge event nor an SQS batch: got ${what}`);
  }
  if (!("Records" in payload) || !Array.isArray(payload.Records)) return { event: payload };
  payload.Records.forEach((record: unknown, index) => {
    if (!sqsRecordSchema.safeParse(record).success) {
      throw new InputError(`Records[${index}] is not an SQS message (a messageId and a body, both strings)`);
    }
  });
  return { sqs: payload as SQSEvent };
}

/**
 * EventBridge delivers one event; an SQS queue in between delivers a batch, and only the records that failed are
 * reported back so only they are retried (ReportBatchItemFailures).
 */
export function createOnChangeHandler(depsFactory: DepsFactory) {
  return middy(async (payload: Trigger, context: Context): Promise<OnChangeResult | SQSBatchResponse> => {
    const started = Date.now();
    const remaining = context.getRemainingTimeInMillis();
    const log = lambdaLogger(context.awsRequestId);
    const trigger = triggerOf(payload);
    const account = accountOfFunctionArn(context.invokedFunctionArn);
    const ready = await depsFactory(log, account === undefined ? {} : { account });
    // Every EC2 call of this invocation ends before Lambda's timeout would cut it off mid-write, leaving time to
    // settle, audit and alert; what is left undone fails the invocation so Lambda retries it.
    const deadline = deadlineIn(lambdaBudgetMs(remaining, ready.budgetMs), started);
    const deps = { ...ready, deadline };
    if (!("sqs" in trigger)) {
      const result = await onChange(trigger.event, deps);
      if (result.retryable) {
        // Failing the invocation hands the event back to Lambda's retries (and its on-failure destination after them).
        const why = result.outcomes.map((o) => o.retryable?.message).filter(Boolean);
        throw new TransientError(`retry: ${why.join("; ") || "a dependency failed"}`);
      }
      // Failing the invocation routes the event to the function's on-failure destination (its dead-letter path).
      if (result.unprocessable.length > 0) {
        throw new InputError(`cannot handle this event: ${result.unprocessable.join("; ")}`);
      }
      return result;
    }
    const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
    for (const record of trigger.sqs.Records) {
      let body: unknown;
      try {
        body = JSON.parse(record.body);
      } catch {
        // Retrying cannot fix it, but reporting it failed sends it to the queue's dead-letter queue after its
        // receive limit, which keeps it whole: never dropped. The log line shows it bounded (see shared/log.ts).
        log.error("guardian.deadletter", {
          what: "sqs-record",
          messageId: record.messageId,
          body: record.body,
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
        continue;
      }
      try {
        const result = await onChange(body, deps, { messageId: record.messageId });
        // An unprocessable event goes back too, so the queue's redrive policy lands it in its dead-letter queue.
        if (result.retryable || result.unprocessable.length > 0) {
          batchItemFailures.push({ itemIdentifier: record.messageId });
        }
      } catch (error) {
        log.error("guardian.record-failed", {
          messageId: record.messageId,
          message: error instanceof Error ? error.message : String(error),
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  });
}

export const handler = createOnChangeHandler(environmentDeps());
