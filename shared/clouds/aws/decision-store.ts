// Decision claims in DynamoDB, on Powertools Idempotency's persistence model: a claim is an in-progress record,
// written only when no live record exists; a decision made is a completed record kept for the TTL; a failed decision
// deletes its record. Powertools' BasePersistenceLayer owns the keys (hashed, prefixed), the statuses and the expiry
// arithmetic; this backend implements its four storage methods with the DynamoDB client alone. (Powertools' own
// DynamoDBPersistenceLayer would need @aws-sdk/util-dynamodb, which the project does not ship.) The conditional write
// is the one Powertools documents: no record, or an expired one, or an in-progress one whose lease ran out.
//
// Table: partition key `id` (string), TTL on `expiration` (epoch seconds).

import type { JSONValue } from "@aws-lambda-powertools/commons/types";
import {
  IdempotencyConfig,
  IdempotencyItemAlreadyExistsError,
  IdempotencyItemNotFoundError,
  IdempotencyRecordStatus,
} from "@aws-lambda-powertools/idempotency";
import { BasePersistenceLayer, IdempotencyRecord } from "@aws-lambda-powertools/idempotency/persistence";
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { TransientError } from "../../errors.ts";
import type { DecisionStore } from "../../pipeline.ts";

type Status = (typeof IdempotencyRecordStatus)[keyof typeof IdempotencyRecordStatus];

/** The four storage methods Powertools' persistence layer asks of a backend, on a DynamoDB table. */
class DynamoDbDecisionRecords extends BasePersistenceLayer {
  readonly #client: DynamoDBClient;
  readonly #table: string;

  constructor(client: DynamoDBClient, table: string) {
    super();
    this.#client = client;
    this.#table = table;
  }

  protected async _getRecord(idempotencyKey: string): Promise<IdempotencyRecord> {
    const out = await this.#client.send(
      new GetItemCommand({
        TableName: this.#table,
        Key: { id: { S: idempotencyKey } },
        ConsistentRead: true,
      }),
    );
    const item = out.Item;
    if (!item) throw new IdempotencyItemNotFoundError();
    return new IdempotencyRecord({
      idempotencyKey,
      status: (item.status?.S ?? IdempotencyRecordStatus.EXPIRED) as Status,
      ...(item.expiration?.N !== undefined ? { expiryTimestamp: Number(item.expiration.N) } : {}),
      ...(item.in_progress_expiration?.N !== undefined
        ? { inProgressExpiryTimestamp: Number(item.in_progress_expiration.N) }
        : {}),
      ...(item.data?.S !== undefined ? { responseData: JSON.parse(item.data.S) as JSONValue } : {}),
    });
  }

  protected async _putRecord(record: IdempotencyRecord): Promise<void> {
    const now = Date.now();
    try {
      await this.#client.send(
        new PutItemCommand({
          TableName: this.#table,
          Item: {
            id: { S: record.idempotencyKey },
            status: { S: record.getStatus() },
            expiration: { N: String(record.expiryTimestamp ?? Math.floor(now / 1000)) },
            ...(record.inProgressExpiryTimestamp !== undefined
              ? { in_progress_expiration: { N: String(record.inProgressExpiryTimestamp) } }
              : {}),
          },
          ConditionExpression:
            "attribute_not_exists(#id) OR #expiry < :now OR " +
            "(#status = :inprogress AND attribute_exists(#lease) AND #lease < :now_ms)",
          ExpressionAttributeNames: {
            "#id": "id",
            "#expiry": "expiration",
            "#status": "status",
            "#lease": "in_progress_expiration",
          },
          ExpressionAttributeValues: {
            ":now": { N: String(now / 1000) },
            ":now_ms": { N: String(now) },
            ":inprogress": { S: IdempotencyRecordStatus.INPROGRESS },
          },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new IdempotencyItemAlreadyExistsError(`decision ${record.idempotencyKey} is already claimed`);
      }
      throw error;
    }
  }

  protected async _updateRecord(record: IdempotencyRecord): Promise<void> {
    await this.#client.send(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: { id: { S: record.idempotencyKey } },
        UpdateExpression: "SET #status = :status, #expiry = :expiry, #data = :data REMOVE #lease",
        ExpressionAttributeNames: {
          "#status": "status",
          "#expiry": "expiration",
          "#data": "data",
          "#lease": "in_progress_expiration",
        },
        ExpressionAttributeValues: {
          ":status": { S: record.getStatus() },
          ":expiry": { N: String(record.expiryTimestamp ?? Math.floor(Date.now() / 1000)) },
          ":data": { S: JSON.stringify(record.responseData ?? null) },
        },
      }),
    );
  }

  protected async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    await this.#client.send(
      new DeleteItemCommand({ TableName: this.#table, Key: { id: { S: record.idempotencyKey } } }),
    );
  }
}

export interface DynamoDbDecisionStoreOptions {
  tableName: string;
  client: DynamoDBClient;
  /** How long a decision made stays decided (no second decision, no second alert); then it may be decided again. */
  ttlSeconds: number;
  /** How long a claim in progress blocks others before it is presumed dead (a Lambda that timed out). */
  claimLeaseMs?: number;
}

export class DynamoDbDecisionStore implements DecisionStore {
  readonly #records: DynamoDbDecisionRecords;
  readonly #leaseMs: number;

  constructor(options: DynamoDbDecisionStoreOptions) {
    this.#records = new DynamoDbDecisionRecords(options.client, options.tableName);
    this.#records.configure({
      config: new IdempotencyConfig({ eventKeyJmesPath: "key", expiresAfterSeconds: options.ttlSeconds }),
      keyPrefix: "network-guardian.decision",
    });
    this.#leaseMs = options.claimLeaseMs ?? 120_000;
  }

  async claim(key: string): Promise<boolean> {
    try {
      await this.#records.saveInProgress({ key }, this.#leaseMs);
      return true;
    } catch (error) {
      if (error instanceof IdempotencyItemAlreadyExistsError) return false;
      throw new TransientError(`decision store: could not claim ${key}`, { cause: error });
    }
  }

  async complete(key: string, outcome: string): Promise<void> {
    try {
      await this.#records.saveSuccess({ key }, { outcome });
    } catch (error) {
      throw new TransientError(`decision store: could not record ${key} as decided`, { cause: error });
    }
  }

  async release(key: string): Promise<void> {
    try {
      await this.#records.deleteRecord({ key });
    } catch (error) {
      throw new TransientError(`decision store: could not release ${key}`, { cause: error });
    }
  }
}
