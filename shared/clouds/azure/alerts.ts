// The alert outbox and the sender's store on Azure: Storage queues and a Storage table, through the Azure SDK
// (@azure/storage-queue, @azure/data-tables), with the function's managed identity or, locally, a connection string.
import { createHash } from "node:crypto";
import type { TokenCredential } from "@azure/core-auth";
import { odata, RestError, TableClient } from "@azure/data-tables";
import { QueueClient } from "@azure/storage-queue";
import type { QueuePort } from "../../notify/outbox.ts";
import type { AlertStore, Claim, PendingItem } from "../../notify/store.ts";

export type StorageAccess =
  | { connectionString: string }
  | { queueServiceUri?: string; tableServiceUri?: string; credential: TokenCredential };

export function queueClientFor(access: StorageAccess, queue: string): QueueClient {
  if ("connectionString" in access) return new QueueClient(access.connectionString, queue);
  if (!access.queueServiceUri) throw new Error("no queue service URI configured");
  return new QueueClient(`${access.queueServiceUri.replace(/\/$/, "")}/${queue}`, access.credential);
}

export function tableClientFor(access: StorageAccess, table: string): TableClient {
  if ("connectionString" in access) {
    // Azurite serves tables over http; the SDK refuses that unless told.
    return TableClient.fromConnectionString(access.connectionString, table, {
      allowInsecureConnection: true,
    });
  }
  if (!access.tableServiceUri) throw new Error("no table service URI configured");
  return new TableClient(access.tableServiceUri, table, access.credential);
}

/**
 * One Storage queue. The Functions queue trigger reads message text as base64 by default, so bodies are sent
 * base64-encoded; a message is at most 64 KiB encoded (48 KiB before encoding). Visibility delays reach 7 days.
 */
export class StorageQueue implements QueuePort {
  readonly name: string;
  readonly maxBytes = 48 * 1024 - 512;
  readonly maxDelaySeconds = 7 * 24 * 3600;
  readonly #client: QueueClient;

  constructor(client: QueueClient) {
    this.#client = client;
    this.name = client.name;
  }

  async send(body: string, delaySeconds = 0): Promise<void> {
    await this.#client.sendMessage(Buffer.from(body, "utf8").toString("base64"), {
      visibilityTimeout: Math.max(0, Math.ceil(delaySeconds)),
      // Never expire (the default is 7 days): an alert waits until it is delivered or dead-lettered.
      messageTimeToLive: -1,
    });
  }

  async receive(max: number): Promise<{ body: string; ack(): Promise<void> }[]> {
    const out = await this.#client.receiveMessages({
      numberOfMessages: Math.max(1, Math.min(32, max)),
      visibilityTimeout: 120,
    });
    return out.receivedMessageItems.map((m) => ({
      body: Buffer.from(m.messageText, "base64").toString("utf8"),
      ack: async () => {
        await this.#client.deleteMessage(m.messageId, m.popReceipt);
      },
    }));
  }
}

/** An Edm.Int64 property (the SDK sends a plain number untyped, which the service would take as a Double). */
const int64 = (ms: number) => ({ value: String(Math.floor(ms)), type: "Int64" as const });

const hash = (value: string) => createHash("sha256").update(value).digest("hex");

function status(error: unknown): number | undefined {
  return error instanceof RestError ? error.statusCode : undefined;
}

/**
 * Table keys may not hold `/`, `\`, `#` or `?`, which resource ids do: keys are hashes. Storage tables have no TTL:
 * `expiresAtMs` is compared on every read, and an expired row is overwritten in place. It is written as an Edm.Int64
 * (epoch milliseconds overflow Int32), so `prune` can filter on it with an Int64 literal: the Table service compares
 * a property only with a constant of its own type.
 */
export class TableAlertStore implements AlertStore {
  readonly #client: TableClient;
  readonly #now: () => number;

  constructor(client: TableClient, now: () => number = Date.now) {
    this.#client = client;
    this.#now = now;
  }

  #claimKey(key: string) {
    const h = hash(key);
    return { partitionKey: `c${h.slice(0, 2)}`, rowKey: h };
  }

  async begin(key: string, leaseMs: number): Promise<Claim> {
    const keys = this.#claimKey(key);
    const now = this.#now();
    const entity = { ...keys, state: "leased", expiresAtMs: int64(now + leaseMs) };
    try {
      await this.#client.createEntity(entity);
      return "started";
    } catch (error) {
      if (status(error) !== 409) throw error;
    }
    let current: { state?: unknown; expiresAtMs?: unknown; etag: string };
    try {
      current = await this.#client.getEntity(keys.partitionKey, keys.rowKey);
    } catch (error) {
      // Released between the two calls: let the platform try again shortly.
      if (status(error) === 404) return "busy";
      throw error;
    }
    if (Number(current.expiresAtMs) > now) return current.state === "done" ? "done" : "busy";
    try {
      await this.#client.updateEntity(entity, "Replace", { etag: current.etag });
      return "started";
    } catch (error) {
      if (status(error) === 412 || status(error) === 404) return "busy";
      throw error;
    }
  }

  async complete(key: string, keepMs: number): Promise<void> {
    await this.#client.upsertEntity(
      { ...this.#claimKey(key), state: "done", expiresAtMs: int64(this.#now() + keepMs) },
      "Replace",
    );
  }

  async release(key: string): Promise<void> {
    const { partitionKey, rowKey } = this.#claimKey(key);
    try {
      await this.#client.deleteEntity(partitionKey, rowKey);
    } catch (error) {
      if (status(error) !== 404) throw error;
    }
  }

  /**
   * Deletes up to `max` rows whose expiry has passed: Storage tables have no TTL, and a key never used again (a
   * connection long gone) would otherwise stay for ever. Bounded, so a caller's run stays short; the rest go next time.
   * A row rewritten since it was listed fails its etag check and stays.
   */
  async prune(max: number): Promise<number> {
    const now = this.#now();
    let deleted = 0;
    const rows = this.#client.listEntities<{ expiresAtMs?: unknown }>({
      queryOptions: { filter: odata`expiresAtMs lt ${Math.floor(now)}L`, select: ["PartitionKey", "RowKey"] },
    });
    for await (const row of rows) {
      if (deleted >= max) break;
      if (!row.partitionKey || !row.rowKey) continue;
      try {
        await this.#client.deleteEntity(row.partitionKey, row.rowKey, { etag: row.etag });
        deleted += 1;
      } catch (error) {
        if (status(error) !== 404 && status(error) !== 412) throw error;
      }
    }
    return deleted;
  }

  async addPending(group: string, item: PendingItem, keepMs: number): Promise<void> {
    await this.#client.upsertEntity(
      {
        partitionKey: `p${hash(group)}`,
        rowKey: item.id,
        body: item.body,
        expiresAtMs: int64(this.#now() + keepMs),
      },
      "Replace",
    );
  }

  async listPending(group: string): Promise<PendingItem[]> {
    const now = this.#now();
    const items: PendingItem[] = [];
    const rows = this.#client.listEntities<{ body?: string; expiresAtMs?: unknown }>({
      queryOptions: { filter: odata`PartitionKey eq ${`p${hash(group)}`}` },
    });
    for await (const row of rows) {
      if (typeof row.body === "string" && row.rowKey && Number(row.expiresAtMs) > now)
        items.push({ id: row.rowKey, body: row.body });
    }
    return items;
  }

  async removePending(group: string, ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      try {
        await this.#client.deleteEntity(`p${hash(group)}`, id);
      } catch (error) {
        if (status(error) !== 404) throw error;
      }
    }
  }
}
