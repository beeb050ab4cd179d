// The reconcile in the cloud: the scan, spread over a queue. The scheduled run (timer Function, EventBridge Scheduler
// Lambda) puts one message per stream's first page on a queue; a page worker lists that page, evaluates it through
// evaluatePage (the event path's pipeline) and enqueues the cursor of the next page. The queue holds what is not yet
// done, so a run that is interrupted resumes from there; the platform caps how many pages run at once.
//
// Order in the worker: list, evaluate, enqueue the next page, then acknowledge. Killed before the enqueue, the page is
// redelivered and the chain goes on; killed between the enqueue and the acknowledgement, the page is evaluated twice
// and its successors are enqueued twice: harmless, because a write starts from a fresh read (a second pass finds the
// resource already fixed and writes nothing).

import * as z from "zod";
import { InputError, TransientError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { QueuePort } from "../notify/outbox.ts";
import type { GuardianDeps } from "../pipeline.ts";
import type { Policy } from "../policy/schema.ts";
import {
  evaluatePage,
  type PageCursor,
  type PageLister,
  type PageResult,
  ScanBudget,
  type ScanTarget,
  scanStreams,
  targetLabel,
} from "./scan.ts";

const targetSchema = z.discriminatedUnion("cloud", [
  z.strictObject({
    cloud: z.literal("azure"),
    subscriptionId: z.string().min(1),
    resourceGroup: z.string().min(1).optional(),
  }),
  z.strictObject({ cloud: z.literal("aws"), region: z.string().min(1) }),
]);

/** One page of one stream of one run: what a queue message carries. */
export const pageMessageSchema = z.strictObject({
  v: z.literal(1),
  /** The run it belongs to: names the run's event ids and audit records. */
  runId: z.string().min(1),
  kind: z.string().min(1),
  target: targetSchema,
  /** The page's cursor (ARM nextLink, EC2 NextToken); absent for a stream's first page. */
  from: z.string().min(1).optional(),
});
export type PageMessage = z.infer<typeof pageMessageSchema>;

/** Where page messages go: an SQS queue or an Azure Storage queue (through their QueuePort, see pageQueue). */
export interface PageQueue {
  send(message: PageMessage): Promise<void>;
}

/** A page queue on one of the clouds' queues (shared/clouds/*\/alerts.ts: SqsQueue, StorageQueue). */
export function pageQueue(queue: Pick<QueuePort, "name" | "send">): PageQueue {
  return {
    async send(message) {
      try {
        // The SDKs' retry policies back off on throttling and 5xx before this gives up.
        await queue.send(JSON.stringify(message));
      } catch (error) {
        throw new TransientError(
          `could not enqueue the reconcile page (${message.kind}) on ${queue.name}: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    },
  };
}

/** What the scheduled tick needs: the policy (interval, kinds in scope), the queue and the targets. No cloud client. */
export interface ReconcileStartDeps {
  policy: Policy;
  log: Logger;
  queue: PageQueue;
  /** What this deployment reconciles: its subscription(s), its region. */
  targets: readonly ScanTarget[];
}

/** What a page worker needs: the event path's dependencies (clients, decisions, outbox, audit), a lister, the queue. */
export interface ReconcileDeps {
  guardian: GuardianDeps;
  lister: PageLister;
  queue: PageQueue;
  targets: readonly ScanTarget[];
}

/** The schedule's tick: hourly. */
export const TICK_MS = 3_600_000;

/**
 * Whether the tick at `now` starts a run: the hour since the epoch (rounded, so a timer firing a little early or late
 * counts as its own tick) is a multiple of the policy's interval. Stateless: no store of the last run is needed.
 */
export function reconcileDue(intervalHours: number, now: Date): boolean {
  const hour = Math.round(now.getTime() / TICK_MS);
  return hour % intervalHours === 0;
}

export interface StartResult {
  due: boolean;
  runId?: string;
  /** First-page messages enqueued, one per stream. */
  enqueued: number;
  /** Streams not listed because no enabled rule evaluates their kind. */
  skipped: number;
}

/** The scheduled run: when due, one message per stream (kind × target) for its first page. */
export async function startReconcile(
  deps: ReconcileStartDeps,
  options: { now?: Date; force?: boolean } = {},
): Promise<StartResult> {
  const now = options.now ?? new Date();
  const settings = deps.policy.reconcile;
  const due = options.force === true || (settings.enabled && reconcileDue(settings.intervalHours, now));
  if (!due) return { due: false, enqueued: 0, skipped: 0 };
  if (deps.targets.length === 0)
    throw new InputError("nothing to reconcile: no subscription or region configured");
  const runId = `reconcile-${now.toISOString()}`;
  const { streams, skipped } = scanStreams(deps.targets, deps.policy);
  for (const stream of streams) {
    await deps.queue.send({ v: 1, runId, kind: stream.kind, target: stream.target });
  }
  deps.log.info("guardian.reconcile.started", {
    runId,
    streams: streams.map((s) => `${s.kind} in ${targetLabel(s.target)}`),
    skipped: skipped.length,
  });
  return { due: true, runId, enqueued: streams.length, skipped: skipped.length };
}

/** Reads a queue message's body; anything else is an InputError (its message goes to the dead-letter path). */
export function parsePageMessage(body: unknown): PageMessage {
  let value = body;
  if (typeof body === "string") {
    try {
      value = JSON.parse(body) as unknown;
    } catch {
      throw new InputError("the reconcile page message is not JSON");
    }
  }
  const parsed = pageMessageSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(message)"}: ${i.message}`);
    throw new InputError(`not a reconcile page message: ${problems.join("; ")}`);
  }
  return parsed.data;
}

export interface PageOutcome extends PageResult {
  message: PageMessage;
  listed: number;
  /** The next page's message, enqueued; undefined on a stream's last page. */
  next?: PageMessage;
}

/**
 * One page: list it, evaluate it as the event path would (acting per policy: remediate, alert, report, with the
 * same decision claims, so a connection request the sweep or a notification also sees is decided once; the write
 * budget is the policy's reconcile.maxWritesPerPage), then enqueue the next page. A list that fails, or a resource
 * that may pass on a retry, throws: the message is retried, then dead-lettered. A resource that cannot be handled
 * at all is dead-lettered and alerted by the pipeline and does not hold up the stream.
 */
export async function reconcilePage(
  body: unknown,
  deps: ReconcileDeps,
  options: { signal?: AbortSignal; now?: () => Date } = {},
): Promise<PageOutcome> {
  const message = parsePageMessage(body);
  const cursor: PageCursor = {
    target: message.target,
    kind: message.kind,
    ...(message.from ? { from: message.from } : {}),
  };
  const page = await deps.lister(cursor, options.signal ?? deps.guardian.deadline?.signal());
  const result = await evaluatePage(page.items, deps.guardian, {
    runId: message.runId,
    budget: new ScanBudget(deps.guardian.policy.reconcile.maxWritesPerPage),
    ...(options.now ? { now: options.now } : {}),
  });
  if (result.failures.length > 0) {
    deps.guardian.log.error("guardian.reconcile.failures", {
      runId: message.runId,
      kind: message.kind,
      target: targetLabel(message.target),
      failures: result.failures,
    });
  }
  // Something that may pass (throttled, the invocation's budget spent, a write's answer lost) fails the page before
  // its successor is enqueued: the queue redelivers it, a second pass finds what was done done, and after the
  // queue's retries it is dead-lettered (and alerted) instead of being acknowledged half done.
  const retryable = result.failures.filter((f) => f.retryable);
  if (retryable.length > 0) {
    throw new TransientError(
      `reconcile page of ${message.kind} in ${targetLabel(message.target)}: ${retryable.length} resource(s) may pass on a retry (${retryable[0]?.error})`,
    );
  }
  const next: PageMessage | undefined = page.next === undefined ? undefined : { ...message, from: page.next };
  if (next) await deps.queue.send(next);
  deps.guardian.log.info("guardian.reconcile.page", {
    runId: message.runId,
    kind: message.kind,
    target: targetLabel(message.target),
    listed: page.items.length,
    findings: result.findings.length,
    failed: result.failures.length,
    more: next !== undefined,
  });
  return { ...result, message, listed: page.items.length, ...(next ? { next } : {}) };
}
