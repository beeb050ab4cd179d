// The sender's memory across invocations and instances: idempotency records (a message delivered once, a decision
// announced once, a collapse window opened once) and the decisions waiting for their window to close. DynamoDB (with
// TTL) on AWS, Azure Table Storage on Azure; both offer the conditional writes this needs.

/** `started`: the caller holds the lease and must complete or release it; `done`: already handled; `busy`: another holds it. */
export type Claim = "started" | "done" | "busy";

export interface PendingItem {
  id: string;
  body: string;
}

export interface AlertStore {
  /** Takes the lease on `key` for `leaseMs`, unless the key is done or leased by someone else (an expired lease is taken over). */
  begin(key: string, leaseMs: number): Promise<Claim>;
  /** Marks `key` done for `keepMs` (repeats within that time are dropped). */
  complete(key: string, keepMs: number): Promise<void>;
  /** Gives the lease up (nothing was done, a retry may begin again at once). */
  release(key: string): Promise<void>;
  /** Adds or replaces (same id: same decision) a decision waiting in a group. */
  addPending(group: string, item: PendingItem, keepMs: number): Promise<void>;
  listPending(group: string): Promise<PendingItem[]>;
  removePending(group: string, ids: readonly string[]): Promise<void>;
}

interface Entry {
  state: "leased" | "done";
  expires: number;
}

/** In one process: for unit tests of the sender's logic and the local demo. */
export class MemoryAlertStore implements AlertStore {
  readonly #claims = new Map<string, Entry>();
  readonly #pending = new Map<string, Map<string, { body: string; expires: number }>>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  async begin(key: string, leaseMs: number): Promise<Claim> {
    const now = this.#now();
    const entry = this.#claims.get(key);
    if (entry && entry.expires > now) return entry.state === "done" ? "done" : "busy";
    this.#claims.set(key, { state: "leased", expires: now + leaseMs });
    return "started";
  }

  async complete(key: string, keepMs: number): Promise<void> {
    this.#claims.set(key, { state: "done", expires: this.#now() + keepMs });
  }

  async release(key: string): Promise<void> {
    this.#claims.delete(key);
  }

  async addPending(group: string, item: PendingItem, keepMs: number): Promise<void> {
    const items = this.#pending.get(group) ?? new Map();
    items.set(item.id, { body: item.body, expires: this.#now() + keepMs });
    this.#pending.set(group, items);
  }

  async listPending(group: string): Promise<PendingItem[]> {
    const now = this.#now();
    return [...(this.#pending.get(group) ?? new Map()).entries()]
      .filter(([, v]) => v.expires > now)
      .map(([id, v]) => ({ id, body: v.body }));
  }

  async removePending(group: string, ids: readonly string[]): Promise<void> {
    const items = this.#pending.get(group);
    if (!items) return;
    for (const id of ids) items.delete(id);
    if (items.size === 0) this.#pending.delete(group);
  }
}
