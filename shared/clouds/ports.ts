import type { Cloud, PlannedChange, Snapshot } from "../types.ts";

export interface ResourceRef {
  cloud: Cloud;
  resourceId: string;
  resourceType: string;
  account: string;
  region?: string;
}

/** Reads one resource. Undefined when it no longer exists (deleted since the event). */
export interface ResourceReader {
  read(ref: ResourceRef): Promise<Snapshot | undefined>;
}

/**
 * Applies a planned change guarded by the snapshot's concurrency token.
 * Throws ConflictError when the resource changed since the read (HTTP 412), TransientError when throttled
 * beyond the SDK's own retries or unreachable.
 */
export interface ResourceWriter {
  apply(change: PlannedChange, snapshot: Snapshot): Promise<void>;
}

/** Counts calls so benchmarks and tests can check API economy (one read, at most one write). */
export interface CallCounter {
  reads: number;
  writes: number;
}
