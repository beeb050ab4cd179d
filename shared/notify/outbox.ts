// The outbox: a decision is audited, then put on a durable queue (SQS on AWS, an Azure Storage queue on Azure); the
// sender (shared/usecases/send-alerts.ts) turns queued decisions into messages. A slow or failing webhook never holds
// up or fails a remediation, and an outage loses nothing: the queue holds the messages until it recovers.
import { gunzipSync, gzipSync } from "node:zlib";
import * as z from "zod";
import { InputError } from "../errors.ts";
import { type AlertDecision, alertDecisionSchema, decisionsOf, type UndoFor } from "./model.ts";
import type { Alert } from "./types.ts";

/** What one outbox step reported for one channel; `error` is already free of secrets. */
export interface ChannelReport {
  channel: string;
  ok: boolean;
  error?: string;
}

/** Where the pipeline hands an alert after auditing it. */
export interface OutboxPort {
  enqueue(alert: Alert): Promise<ChannelReport[]>;
}

/** One queue as the sender and the outbox see it; implemented per cloud (SQS, Azure Storage queue). */
export interface QueuePort {
  /** Shown in logs and reports (the queue's name, never a credential). */
  readonly name: string;
  /** Largest encoded body the queue takes, in bytes. */
  readonly maxBytes: number;
  /** Longest delay the queue supports, in seconds (SQS: 900). */
  readonly maxDelaySeconds: number;
  send(body: string, delaySeconds?: number): Promise<void>;
  /** Receives up to `max` messages for `guardian alerts replay`; each is deleted only when acknowledged. */
  receive(max: number): Promise<{ body: string; ack(): Promise<void> }[]>;
}

const deliverFields = {
  id: z.string().min(1),
  destination: z.string().min(1),
  decisions: z.array(alertDecisionSchema).min(1),
  attempt: z.int().min(1),
  firstTriedAt: z.string().optional(),
};

export const outboxMessageSchema = z.discriminatedUnion("kind", [
  z.strictObject({ v: z.literal(1), kind: z.literal("decision"), decision: alertDecisionSchema }),
  z.strictObject({ v: z.literal(1), kind: z.literal("flush"), group: z.string().min(1) }),
  z.strictObject({ v: z.literal(1), kind: z.literal("deliver"), ...deliverFields }),
  // On the dead-letter queue: what could not be delivered, with why; `guardian alerts replay` sends it again.
  z.strictObject({
    v: z.literal(1),
    kind: z.literal("dead"),
    ...deliverFields,
    error: z.string(),
    deadAt: z.string(),
  }),
]);

export type OutboxMessage = z.infer<typeof outboxMessageSchema>;
export type DeliverMessage = Extract<OutboxMessage, { kind: "deliver" }>;
export type DeadMessage = Extract<OutboxMessage, { kind: "dead" }>;

const GZIP_PREFIX = "gz1:";

/** JSON, or gzip + base64 behind a prefix when the JSON would not fit the queue (Azure Storage takes 64 KB). */
export function encodeMessage(message: OutboxMessage, maxBytes: number): string {
  const json = JSON.stringify(message);
  if (Buffer.byteLength(json, "utf8") <= maxBytes) return json;
  const packed = `${GZIP_PREFIX}${gzipSync(json).toString("base64")}`;
  if (packed.length > maxBytes) {
    throw new InputError(`outbox message of ${json.length} bytes does not fit the queue even compressed`);
  }
  return packed;
}

/** A queued message, validated; InputError (dead-letter, never retried) when it is not one. */
export function decodeMessage(body: string): OutboxMessage {
  let data: unknown;
  try {
    const json = body.startsWith(GZIP_PREFIX)
      ? gunzipSync(Buffer.from(body.slice(GZIP_PREFIX.length), "base64")).toString("utf8")
      : body;
    data = JSON.parse(json);
  } catch (cause) {
    throw new InputError(`outbox message is not JSON: ${(cause as Error).message}`.slice(0, 300), { cause });
  }
  const parsed = outboxMessageSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(
      `outbox message is not a network-guardian message (v1): ${issue?.path.join(".") ?? ""} ${issue?.message ?? ""}`.slice(
        0,
        300,
      ),
    );
  }
  return parsed.data;
}

/** The deployed outbox: each decision of the alert becomes one queue message. */
export class QueueOutbox implements OutboxPort {
  readonly #queue: QueuePort;
  readonly #now: () => Date;
  readonly #undo: UndoFor | undefined;

  constructor(queue: QueuePort, options: { now?: () => Date; undo?: UndoFor } = {}) {
    this.#queue = queue;
    this.#now = options.now ?? (() => new Date());
    this.#undo = options.undo;
  }

  async enqueue(alert: Alert): Promise<ChannelReport[]> {
    const decisions = decisionsOf(alert, this.#now(), this.#undo);
    await enqueueDecisions(this.#queue, decisions);
    return [{ channel: `outbox:${this.#queue.name}`, ok: true }];
  }
}

export async function enqueueDecisions(queue: QueuePort, decisions: readonly AlertDecision[]): Promise<void> {
  for (const decision of decisions) {
    await queue.send(encodeMessage({ v: 1, kind: "decision", decision }, queue.maxBytes));
  }
}
