import type { Logger } from "../log.ts";
import type { AuditRecord } from "../types.ts";

/** Where decisions are recorded. Recording happens before alerting, so an alert never precedes its record. */
export interface AuditSink {
  record(record: AuditRecord): Promise<void>;
}

/** First version: every decision is one structured log line (durable storage and undo come later). */
export function logAuditSink(log: Logger): AuditSink {
  return {
    async record(record) {
      log.info("guardian.decision", { ...record });
    },
  };
}

export function memoryAuditSink(): AuditSink & { records: AuditRecord[] } {
  const records: AuditRecord[] = [];
  return {
    records,
    async record(record) {
      records.push(record);
    },
  };
}
