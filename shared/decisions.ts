// Decision claims kept in this process (the CLI, tests, a single instance): the same contract as the shared store
// (shared/clouds/aws/decision-store.ts), without surviving the process or spanning instances.

import type { DecisionStore } from "./pipeline.ts";

export function memoryDecisionStore(options: { ttlMs?: number; now?: () => number } = {}): DecisionStore & {
  readonly size: number;
} {
  const ttl = options.ttlMs ?? 24 * 60 * 60 * 1000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { until: number; done: boolean }>();
  return {
    async claim(key) {
      const entry = entries.get(key);
      if (entry !== undefined && entry.until > now()) return false;
      // An in-flight claim expires too, so a crashed decision does not block the next one for a whole TTL.
      entries.set(key, { until: now() + Math.min(ttl, 120_000), done: false });
      return true;
    },
    async complete(key) {
      entries.set(key, { until: now() + ttl, done: true });
    },
    async release(key) {
      entries.delete(key);
    },
    get size() {
      return entries.size;
    },
  };
}
