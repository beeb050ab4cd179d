import middy from "@middy/core";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { handleOutboxBatch } from "../shared/usecases/send-alerts.ts";
import { lambdaLogger, type SenderFactory, senderDeps } from "./runtime.ts";

/**
 * The alert sender, on the outbox queue (SQS event source with ReportBatchItemFailures): only the messages that
 * failed go back to the queue, and after the queue's receive limit to its dead-letter queue.
 */
export function createSendAlertsHandler(factory: SenderFactory) {
  return middy(async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const deps = await factory(lambdaLogger(context.awsRequestId));
    const records = Array.isArray(event?.Records) ? event.Records : [];
    const { failed } = await handleOutboxBatch(
      records.map((r) => (typeof r?.body === "string" ? r.body : "")),
      deps,
    );
    return {
      batchItemFailures: failed.flatMap((i) => {
        const id = records[i]?.messageId;
        return id ? [{ itemIdentifier: id }] : [];
      }),
    };
  });
}

export const handler = createSendAlertsHandler(senderDeps());
