// What the platforms do between a queue and a function, for tests that run the real handlers over real queues:
// Lambda's SQS event source mapping (batches, ReportBatchItemFailures, redrive after the receive limit) and the
// Functions host's Storage queue trigger (base64, JSON parsed, dequeueCount, `<queue>-poison` after 5 tries).
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { InvocationContext } from "@azure/functions";
import type { QueueClient } from "@azure/storage-queue";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import type { QueuePort } from "../../shared/notify/outbox.ts";

/** A clock running `factor` times faster than the real one, from now: an hour passes in 3600/factor seconds. */
export function compressedClock(factor: number) {
  const realStart = Date.now();
  const start = Date.now();
  return {
    start,
    factor,
    now: () => start + (Date.now() - realStart) * factor,
    sleep: (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms / factor)),
  };
}

/** The same queue with its delays shortened by `factor`, for a sender on a compressed clock. */
export function scaledQueue(queue: QueuePort, factor: number): QueuePort {
  return {
    name: queue.name,
    maxBytes: queue.maxBytes,
    maxDelaySeconds: queue.maxDelaySeconds,
    send: (body, delaySeconds = 0) => queue.send(body, delaySeconds / factor),
    receive: (max) => queue.receive(max),
  };
}

export interface DriveOptions {
  /** Stop once nothing was received for this long (real ms). */
  idleMs: number;
  /** Give up after this long (real ms). */
  timeoutMs: number;
  /** True when the test's condition is met: stop early. */
  done?: () => boolean;
}

type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * Lambda's SQS event source: receive a batch, invoke, delete what succeeded. Failed records stay invisible for the
 * queue's visibility timeout; past `maxReceiveCount` receives a record goes to `deadLetterUrl` (the redrive policy).
 */
export async function driveSqs(
  sqs: SQSClient,
  queueUrl: string,
  handler: SqsHandler,
  context: () => Context,
  options: DriveOptions & { maxReceiveCount: number; deadLetterUrl: string; batchSize?: number },
): Promise<{ invocations: number }> {
  let invocations = 0;
  let idleSince = Date.now();
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline && !options.done?.()) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, options.batchSize ?? 10),
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
      }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) {
      if (Date.now() - idleSince > options.idleMs) break;
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    idleSince = Date.now();
    const live = [];
    for (const m of messages) {
      if (Number(m.Attributes?.ApproximateReceiveCount ?? "1") > options.maxReceiveCount) {
        await sqs.send(
          new SendMessageCommand({ QueueUrl: options.deadLetterUrl, MessageBody: m.Body ?? "" }),
        );
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
      } else live.push(m);
    }
    if (live.length === 0) continue;
    const event: SQSEvent = {
      Records: live.map((m) => ({
        messageId: m.MessageId ?? "",
        receiptHandle: m.ReceiptHandle ?? "",
        body: m.Body ?? "",
        attributes: {
          ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? "1",
          SentTimestamp: m.Attributes?.SentTimestamp ?? String(Date.now()),
          SenderId: "AIDAEXAMPLE",
          ApproximateFirstReceiveTimestamp: String(Date.now()),
        },
        messageAttributes: {},
        md5OfBody: "",
        eventSource: "aws:sqs",
        eventSourceARN: `arn:aws:sqs:us-east-1:123456789012:${queueUrl.slice(queueUrl.lastIndexOf("/") + 1)}`,
        awsRegion: "us-east-1",
      })),
    };
    invocations++;
    let failed = new Set(live.map((m) => m.MessageId ?? ""));
    try {
      const result = await handler(event, context());
      failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
    } catch {
      // The whole batch failed: every record returns to the queue.
    }
    for (const m of live) {
      if (!failed.has(m.MessageId ?? "")) {
        // A record that outlived its visibility timeout was received again meanwhile: its old handle no longer
        // deletes it (ReceiptHandleIsInvalid), as on SQS; the event source mapping logs that and moves on.
        await sqs
          .send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }))
          .catch(() => undefined);
      }
    }
  }
  return { invocations };
}

type QueueHandler = (message: unknown, context: InvocationContext) => Promise<void>;

/**
 * The Functions host's queue trigger: one message per invocation, base64-decoded and parsed when it is JSON, deleted
 * on success; after `maxDequeueCount` failed tries it moves to `poison`.
 */
export async function driveStorageQueue(
  queue: QueueClient,
  poison: QueueClient,
  handler: QueueHandler,
  options: DriveOptions & { maxDequeueCount?: number; visibilitySeconds?: number },
): Promise<{ invocations: number }> {
  const maxDequeue = options.maxDequeueCount ?? 5;
  let invocations = 0;
  let idleSince = Date.now();
  const deadline = Date.now() + options.timeoutMs;
  while (Date.now() < deadline && !options.done?.()) {
    const out = await queue.receiveMessages({
      numberOfMessages: 16,
      visibilityTimeout: options.visibilitySeconds ?? 1,
    });
    const messages = out.receivedMessageItems;
    if (messages.length === 0) {
      if (Date.now() - idleSince > options.idleMs) break;
      await new Promise((r) => setTimeout(r, 50));
      continue;
    }
    idleSince = Date.now();
    await Promise.all(
      messages.map(async (m) => {
        const text = Buffer.from(m.messageText, "base64").toString("utf8");
        if (m.dequeueCount > maxDequeue) {
          await poison.sendMessage(m.messageText);
          await queue.deleteMessage(m.messageId, m.popReceipt);
          return;
        }
        let message: unknown = text;
        try {
          message = JSON.parse(text);
        } catch {
          // Not JSON: the host passes the string.
        }
        invocations++;
        const context = new InvocationContext({
          invocationId: crypto.randomUUID(),
          functionName: "sendAlerts",
          logHandler: () => undefined,
          triggerMetadata: { dequeueCount: m.dequeueCount, id: m.messageId },
        });
        try {
          await handler(message, context);
          await queue.deleteMessage(m.messageId, m.popReceipt);
        } catch {
          // Left invisible until its visibility timeout: the host retries it.
        }
      }),
    );
  }
  return { invocations };
}
