// The alert outbox and the sender's store on AWS: SQS queues and a DynamoDB table (TTL on `expiresAt`).
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from "@aws-sdk/client-dynamodb";
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import type { QueuePort } from "../../notify/outbox.ts";
import type { AlertStore, Claim, PendingItem } from "../../notify/store.ts";

export interface AwsClientOptions {
  region?: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

function config(options: AwsClientOptions) {
  // Only defined keys: an explicit undefined must not shadow the SDK's default chain.
  return {
    ...(options.region !== undefined ? { region: options.region } : {}),
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
  };
}

export function createSqsClient(options: AwsClientOptions = {}): SQSClient {
  return new SQSClient(config(options));
}

export function createDynamoClient(options: AwsClientOptions = {}): DynamoDBClient {
  return new DynamoDBClient(config(options));
}

/** One SQS queue. Message bodies up to 256 KiB; DelaySeconds up to 900. */
export class SqsQueue implements QueuePort {
  readonly name: string;
  readonly maxBytes = 256 * 1024;
  readonly maxDelaySeconds = 900;
  readonly #client: SQSClient;
  readonly #url: string;

  constructor(client: SQSClient, queueUrl: string) {
    this.#client = client;
    this.#url = queueUrl;
    this.name = queueUrl.slice(queueUrl.lastIndexOf("/") + 1) || queueUrl;
  }

  async send(body: string, delaySeconds = 0): Promise<void> {
    await this.#client.send(
      new SendMessageCommand({
        QueueUrl: this.#url,
        MessageBody: body,
        DelaySeconds: Math.max(0, Math.min(this.maxDelaySeconds, Math.ceil(delaySeconds))),
      }),
    );
  }

  async receive(max: number): Promise<{ body: string; ack(): Promise<void> }[]> {
    const out = await this.#client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.#url,
        MaxNumberOfMessages: Math.max(1, Math.min(10, max)),
        WaitTimeSeconds: 1,
      }),
    );
    return (out.Messages ?? []).map((m) => ({
      body: m.Body ?? "",
      ack: async () => {
        await this.#client.send(
          new DeleteMessageCommand({ QueueUrl: this.#url, ReceiptHandle: m.ReceiptHandle }),
        );
      },
    }));
  }
}

const SINGLE = "-";

/**
 * Keys `pk` (partition) and `sk` (sort); `expiresAt` in epoch seconds for DynamoDB's TTL, which deletes lazily (up
 * to days later), so every read also compares `expiresAtMs` with the clock.
 */
export class DynamoAlertStore implements AlertStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #now: () => number;

  constructor(client: DynamoDBClient, table: string, now: () => number = Date.now) {
    this.#client = client;
    this.#table = table;
    this.#now = now;
  }

  #expiry(ms: number) {
    const at = this.#now() + ms;
    return { expiresAt: { N: String(Math.ceil(at / 1000)) }, expiresAtMs: { N: String(at) } };
  }

  async begin(key: string, leaseMs: number): Promise<Claim> {
    const now = this.#now();
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: { pk: { S: key }, sk: { S: SINGLE }, state: { S: "leased" }, ...this.#expiry(leaseMs) },
          ConditionExpression: "attribute_not_exists(pk) OR expiresAtMs < :now",
          ExpressionAttributeValues: { ":now": { N: String(now) } },
        }),
      );
      return "started";
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const current = await this.#client.send(
      new GetItemCommand({
        TableName: this.#table,
        Key: { pk: { S: key }, sk: { S: SINGLE } },
        ConsistentRead: true,
      }),
    );
    return current.Item?.state?.S === "done" ? "done" : "busy";
  }

  async complete(key: string, keepMs: number): Promise<void> {
    await this.#client.send(
      new PutItemCommand({
        TableName: this.#table,
        Item: { pk: { S: key }, sk: { S: SINGLE }, state: { S: "done" }, ...this.#expiry(keepMs) },
      }),
    );
  }

  async release(key: string): Promise<void> {
    await this.#client.send(
      new DeleteItemCommand({ TableName: this.#table, Key: { pk: { S: key }, sk: { S: SINGLE } } }),
    );
  }

  async addPending(group: string, item: PendingItem, keepMs: number): Promise<void> {
    await this.#client.send(
      new PutItemCommand({
        TableName: this.#table,
        Item: {
          pk: { S: `pending#${group}` },
          sk: { S: item.id },
          body: { S: item.body },
          ...this.#expiry(keepMs),
        },
      }),
    );
  }

  async listPending(group: string): Promise<PendingItem[]> {
    const now = this.#now();
    const items: PendingItem[] = [];
    let start: Record<string, import("@aws-sdk/client-dynamodb").AttributeValue> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": { S: `pending#${group}` } },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        const id = item.sk?.S;
        const body = item.body?.S;
        if (id !== undefined && body !== undefined && Number(item.expiresAtMs?.N ?? "0") > now)
          items.push({ id, body });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  async removePending(group: string, ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      await this.#client.send(
        new DeleteItemCommand({
          TableName: this.#table,
          Key: { pk: { S: `pending#${group}` }, sk: { S: id } },
        }),
      );
    }
  }
}
