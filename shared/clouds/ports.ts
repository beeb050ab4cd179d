import type { Cloud, PlannedChange, Snapshot } from "../types.ts";

export interface ResourceRef {
  cloud: Cloud;
  resourceId: string;
  resourceType: string;
  account: string;
  region?: string;
}

/** Per call: the invocation's budget. Every request is abandoned when `signal` aborts (see shared/deadline.ts). */
export interface CallOptions {
  signal?: AbortSignal | undefined;
}

/** Which resources of one kind a listing returns: all of the account and region, narrowed by the API's filters. */
export interface ListScope {
  cloud: Cloud;
  resourceType: string;
  account: string;
  region?: string;
  /** The list call's own filters (EC2 `Filters`: name → values). */
  filters?: Readonly<Record<string, readonly string[]>>;
}

/** Reads one resource. Undefined when it no longer exists (deleted since the event). */
export interface ResourceReader {
  read(ref: ResourceRef, options?: CallOptions): Promise<Snapshot | undefined>;
  /** Every resource of a kind in a scope, all pages; for the kinds a sweep lists (not every reader lists). */
  list?(scope: ListScope, options?: CallOptions): Promise<Snapshot[]>;
}

/**
 * Applies a planned change guarded by the snapshot's concurrency token. The snapshot is always one the guardian read
 * itself (never the content of an event).
 * Throws ConflictError when the resource changed since the read (HTTP 412) and the write was not applied;
 * OutcomeUnknownError when it may have been applied but no answer says so (a reset or timeout after sending, a lost
 * long-running operation poll, a retry that met 409/412/404 after an earlier attempt may have landed); TransientError
 * when it was not applied and may pass later (throttled beyond the SDK's own retries, unreachable); any other error
 * when the cloud judged the request itself invalid (permanent).
 */
export interface ResourceWriter {
  apply(change: PlannedChange, snapshot: Snapshot, options?: CallOptions): Promise<void>;
  /**
   * Whether `snapshot` (a fresh read) shows `change` in place: the planned after-state of the part it writes. Settles
   * a write whose outcome is unknown. Without it (or when it answers undefined: it cannot tell), the pipeline takes
   * "the finding no longer matches" as applied,
   * which is exact for revokes (their after-state is the permission gone) but not for edits that narrow a part.
   */
  isApplied?(change: PlannedChange, snapshot: Snapshot): boolean | undefined;
}

/** Counts calls so benchmarks and tests can check API economy (one read, at most one write). */
export interface CallCounter {
  reads: number;
  writes: number;
}
