// Decision claims in an Azure Storage table, shared by every instance of the Function app (the Event Grid handler's
// and the sweep's), so a duplicate event, two instances, or an event and the sweep decide and announce a connection
// once. The alert sender's table store does the storage work (shared/clouds/azure/alerts.ts, TableAlertStore): a
// claim is a conditional insert (409 when the row exists) or, over an expired row, a replace carrying the row's etag
// (412 when another instance got there first); a decision made is kept for the TTL; a failed one is deleted. Storage
// tables have no TTL of their own: the sweep prunes expired rows, a bounded number per run.

import type { TableClient } from "@azure/data-tables";
import { TransientError } from "../../errors.ts";
import type { DecisionStore } from "../../pipeline.ts";
import { TableAlertStore } from "./alerts.ts";

export interface TableDecisionStoreOptions {
  /** How long a decision made stays decided (no second decision, no second alert); then it may be decided again. */
  ttlMs: number;
  /** How long a claim in progress blocks others before it is presumed dead (an instance that was recycled). */
  claimLeaseMs?: number;
  /** Most expired rows one prune deletes. */
  pruneMax?: number;
  now?: () => number;
}

/** Claim keys live apart from any other use of a table (the sender's claims hash their own keys the same way). */
const PREFIX = "network-guardian.decision|";

export class TableDecisionStore implements DecisionStore {
  readonly #rows: TableAlertStore;
  readonly #ttlMs: number;
  readonly #leaseMs: number;
  readonly #pruneMax: number;

  constructor(client: TableClient, options: TableDecisionStoreOptions) {
    this.#rows = new TableAlertStore(client, options.now);
    this.#ttlMs = options.ttlMs;
    this.#leaseMs = options.claimLeaseMs ?? 120_000;
    this.#pruneMax = options.pruneMax ?? 500;
  }

  async claim(key: string): Promise<boolean> {
    try {
      return (await this.#rows.begin(PREFIX + key, this.#leaseMs)) === "started";
    } catch (error) {
      throw new TransientError(`decision store: could not claim ${key}`, { cause: error });
    }
  }

  async complete(key: string, _outcome: string): Promise<void> {
    try {
      await this.#rows.complete(PREFIX + key, this.#ttlMs);
    } catch (error) {
      throw new TransientError(`decision store: could not record ${key} as decided`, { cause: error });
    }
  }

  async release(key: string): Promise<void> {
    try {
      await this.#rows.release(PREFIX + key);
    } catch (error) {
      throw new TransientError(`decision store: could not release ${key}`, { cause: error });
    }
  }

  /** Deletes expired claims and decisions (at most `pruneMax`); how many went. */
  async prune(): Promise<number> {
    return this.#rows.prune(this.#pruneMax);
  }
}
