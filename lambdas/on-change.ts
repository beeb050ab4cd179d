import middy from "@middy/core";
import type { Context, EventBridgeEvent, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { InputError, TransientError } from "../shared/errors.ts";
import { type OnChangeResult, onChange } from "../shared/usecases/on-change.ts";
import { type DepsFactory, environmentDeps, lambdaLogger } from "./runtime.ts";

type Trigger = EventBridgeEvent<string, unknown> | SQSEvent;

function isSqs(event: Trigger): event is SQSEvent {
  return "Records" in event && Array.isArray(event.Records);
}

/**
 * EventBridge delivers one event; an SQS queue in between delivers a batch, and only the records that failed are
 * reported back so only they are retried (ReportBatchItemFailures).
 */
export function createOnChangeHandler(depsFactory: DepsFactory) {
  return middy(async (event: Trigger, context: Context): Promise<OnChangeResult | SQSBatchResponse> => {
    const log = lambdaLogger(context.awsRequestId);
    const deps = await depsFactory(log);
    if (!isSqs(event)) {
      const result = await onChange(event, deps);
      if (result.retryable) throw new TransientError("a dependency failed; EventBridge/Lambda will retry");
      // Failing the invocation routes the event to the function's on-failure destination (its dead-letter path).
      if (result.unprocessable.length > 0) {
        throw new InputError(`cannot handle this event: ${result.unprocessable.join("; ")}`);
      }
      return result;
    }
    const batchItemFailures: SQSBatchResponse["batchItemFailures"] = [];
    for (const record of event.Records) {
      let body: unknown;
      try {
        body = JSON.parse(record.body);
      } catch {
        // Retrying cannot fix it, but reporting it failed sends it to the queue's dead-letter queue after its
        // receive limit: kept whole where operators look, never dropped.
        log.error("guardian.deadletter", {
          what: "sqs-record",
          messageId: record.messageId,
          body: record.body,
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
        continue;
      }
      try {
        const result = await onChange(body, deps);
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
