// The reconcile's page queue on AWS: an SQS queue the page worker Lambda reads (shared/usecases/reconcile.ts).

import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { TransientError } from "../../errors.ts";
import type { PageMessage, PageQueue } from "../../usecases/reconcile.ts";

export function sqsPageQueue(queueUrl: string, client: SQSClient = new SQSClient({})): PageQueue {
  return {
    async send(message: PageMessage) {
      try {
        // The SDK's standard retry strategy backs off on throttling and 5xx before this gives up.
        await client.send(
          new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message) }),
        );
      } catch (error) {
        throw new TransientError(
          `could not enqueue the reconcile page (${message.kind}): ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    },
  };
}

export function sqsClient(options: { region?: string; endpoint?: string } = {}): SQSClient {
  return new SQSClient({
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  });
}
