// The sender: turns queued decisions into chat messages that arrive once, never lost, never a flood.
//
//   decision ─► waits in its resource's group; the first one opens a collapse window and queues a `flush` for its end
//   flush    ─► drops decisions already announced (deterministic ids), routes the rest, queues one `deliver` per
//               destination: every decision about the resource in the window, in one message
//   deliver  ─► posts at the destination's pace (Slack: 1 a second; 429 → Retry-After); a transient failure queues
//               the message again with backoff and jitter, for hours, so an outage loses nothing; a message that
//               fails for good (a 4xx, or every attempt spent) goes to the dead-letter queue, logged and announced on
//               the other channels, and `guardian alerts replay` sends it again
//
// Every step is idempotent (store leases keyed by deterministic ids), so the queues' at-least-once delivery and the
// platform's retries never give a second message for the same decisions.
import { InputError, TransientError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type BrokenDestination, type Channels, Pacer, type WebhookChannel } from "../notify/channels.ts";
import { deliver, realSleep, type Sleep, WebhookDeliveryError } from "../notify/deliver.ts";
import { type AlertDecision, decisionsOf, groupKey, messageId, type UndoFor } from "../notify/model.ts";
import {
  type ChannelReport,
  type DeliverMessage,
  decodeMessage,
  encodeMessage,
  type OutboxMessage,
  type OutboxPort,
  type QueuePort,
} from "../notify/outbox.ts";
import { destinationsFor, type Route } from "../notify/route.ts";
import type { AlertStore } from "../notify/store.ts";
import type { Alert } from "../notify/types.ts";

export interface Clock {
  now(): number;
  sleep: Sleep;
}

export const realClock: Clock = { now: () => Date.now(), sleep: realSleep };

export interface DeliveryRetry {
  /** Queue deliveries of one message, each with a few quick in-process attempts. */
  maxAttempts: number;
  /** Delay before the second queue delivery; doubles each time, with jitter. */
  baseDelayMs: number;
  /** Cap on one delay (SQS takes at most 15 minutes). */
  maxDelayMs: number;
}

/**
 * 16 queue deliveries 30 s, 1, 2, 4, 8 minutes apart, then every 15 minutes, each delay cut by up to half (jitter):
 * between about 1 h 23 min and 2 h 45 min of trying before a message is dead-lettered, past an hour-long outage.
 */
export const DEFAULT_DELIVERY_RETRY: DeliveryRetry = {
  maxAttempts: 16,
  baseDelayMs: 30_000,
  maxDelayMs: 900_000,
};

/** Quick retries inside one invocation (a dropped connection, a 1 s Retry-After) before the queue takes over. */
const IN_PROCESS = { maxAttempts: 2, maxTotalWaitMs: 5_000, backoffMs: 500 };

/** Decisions per message: a storm beyond it is split (Slack shows at most about 45 anyway; the rest is counted). */
const MAX_DECISIONS_PER_MESSAGE = 50;

export interface SenderDeps {
  /** The outbox queue: where flushes and retries are queued again. */
  queue: QueuePort;
  deadLetters: QueuePort;
  store: AlertStore;
  channels: Channels;
  routes?: readonly Route[];
  /** The collapse window. */
  collapseMs: number;
  /** How long a delivered message or announced decision is remembered (repeats within it are dropped). */
  dedupeMs?: number;
  retry?: DeliveryRetry;
  log: Logger;
  clock?: Clock;
  /** Shared by the invocations of one instance. */
  pacer?: Pacer;
  /** Jitter source, injected by tests. */
  random?: () => number;
}

const DAY_MS = 24 * 3600_000;

function clockOf(deps: SenderDeps): Clock {
  return deps.clock ?? realClock;
}

/**
 * Handles one queued message. Throws TransientError when the platform should deliver it again (a store or queue
 * call failed, another instance holds it), InputError when it is not a guardian message (the platform's dead-letter
 * path keeps it).
 */
export async function handleOutboxMessage(body: string, deps: SenderDeps): Promise<void> {
  const message = decodeMessage(body);
  switch (message.kind) {
    case "decision":
      return onDecision(message.decision, deps);
    case "flush":
      return onFlush(message.group, deps);
    case "deliver":
      return onDeliver(message, deps);
    case "dead":
      // A dead letter put back on the outbox by hand (rather than through `guardian alerts replay`): deliver it anew.
      return onDeliver(revive(message), deps);
  }
}

/** A dead-lettered message made deliverable again, with a fresh attempt budget. */
export function revive(message: Extract<OutboxMessage, { kind: "dead" }>): DeliverMessage {
  return {
    v: 1,
    kind: "deliver",
    id: message.id,
    destination: message.destination,
    decisions: message.decisions,
    attempt: 1,
  };
}

export interface BatchResult {
  /** Indexes of the messages that must be delivered again by the platform. */
  failed: number[];
}

/** A batch (SQS delivers up to its batch size): each message on its own, a failure never fails the others. */
export async function handleOutboxBatch(bodies: readonly string[], deps: SenderDeps): Promise<BatchResult> {
  const settled = await Promise.allSettled(bodies.map((b) => handleOutboxMessage(b, deps)));
  const failed: number[] = [];
  settled.forEach((s, i) => {
    if (s.status === "fulfilled") return;
    const error = s.reason;
    deps.log.error("guardian.alert-message-failed", {
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      // The message is bounded by the queue; its head is enough to find it.
      head: bodies[i]?.slice(0, 300),
    });
    failed.push(i);
  });
  return { failed };
}

// ---------------------------------------------------------------------------------------------------------------

async function onDecision(decision: AlertDecision, deps: SenderDeps): Promise<void> {
  const group = groupKey(decision);
  // Pending first, window second: a decision written after a flush listed its group opens a window of its own.
  await deps.store.addPending(
    group,
    { id: decision.id, body: JSON.stringify(decision) },
    deps.dedupeMs ?? DAY_MS,
  );
  // The window's lease outlives its flush by a margin: if the flush were lost, a later decision reopens it.
  const opened = await deps.store.begin(`window:${group}`, deps.collapseMs * 2 + 60_000);
  if (opened !== "started") return;
  try {
    await deps.queue.send(
      encodeMessage({ v: 1, kind: "flush", group }, deps.queue.maxBytes),
      Math.min(deps.queue.maxDelaySeconds, Math.ceil(deps.collapseMs / 1000)),
    );
  } catch (error) {
    await deps.store.release(`window:${group}`);
    throw error;
  }
  deps.log.info("guardian.alert-window", { group, decision: decision.id, closesInMs: deps.collapseMs });
}

async function onFlush(group: string, deps: SenderDeps): Promise<void> {
  // Closed before listing, so a decision arriving from here on opens a new window instead of being left behind.
  await deps.store.release(`window:${group}`);
  const items = await deps.store.listPending(group);
  const fresh: AlertDecision[] = [];
  const seen: string[] = [];
  const keep = deps.dedupeMs ?? DAY_MS;
  for (const item of items) {
    const claim = await deps.store.begin(`decision:${item.id}`, 5 * 60_000);
    if (claim === "done") {
      seen.push(item.id);
      deps.log.info("guardian.alert-duplicate", { group, decision: item.id });
    } else if (claim === "started") {
      try {
        fresh.push(parseDecision(item.body));
      } catch (error) {
        // Written by this sender, so never expected: keep it out of the message, loudly.
        deps.log.error("guardian.alert-unreadable", { group, decision: item.id, error: String(error) });
        seen.push(item.id);
      }
    }
    // busy: another flush of this group holds it (a redelivered flush); it announces it.
  }
  const names = deps.channels.channels.map((c) => c.name).concat(deps.channels.broken.map((b) => b.name));
  const byDestination = new Map<string, AlertDecision[]>();
  for (const d of fresh) {
    const to = destinationsFor(d, deps.routes, names);
    if (to.length === 0)
      deps.log.info("guardian.alert-dropped", { decision: d.id, reason: "a route with to: []" });
    for (const name of to) byDestination.set(name, [...(byDestination.get(name) ?? []), d]);
  }
  for (const [destination, decisions] of byDestination) {
    for (let i = 0; i < decisions.length; i += MAX_DECISIONS_PER_MESSAGE) {
      const part = decisions.slice(i, i + MAX_DECISIONS_PER_MESSAGE);
      const message: DeliverMessage = {
        v: 1,
        kind: "deliver",
        id: messageId(part, destination),
        destination,
        decisions: part,
        attempt: 1,
      };
      await deps.queue.send(encodeMessage(message, deps.queue.maxBytes));
    }
  }
  for (const d of fresh) await deps.store.complete(`decision:${d.id}`, keep);
  await deps.store.removePending(group, [...seen, ...fresh.map((d) => d.id)]);
  if (fresh.length > 0) {
    deps.log.info("guardian.alert-collapsed", {
      group,
      decisions: fresh.length,
      destinations: [...byDestination.keys()],
    });
  }
}

function parseDecision(body: string): AlertDecision {
  const message = decodeMessage(
    JSON.stringify({ v: 1, kind: "decision", decision: JSON.parse(body) as unknown }),
  );
  if (message.kind !== "decision") throw new InputError("not a decision");
  return message.decision;
}

/** The delay before queue delivery `attempt + 1`: exponential, capped, with jitter in [50%, 100%]. */
export function backoffMs(attempt: number, retry: DeliveryRetry, random: () => number = Math.random): number {
  const exp = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp * (0.5 + random() * 0.5));
}

async function onDeliver(message: DeliverMessage, deps: SenderDeps): Promise<void> {
  const clock = clockOf(deps);
  const key = `deliver:${message.id}`;
  const claim = await deps.store.begin(key, 120_000);
  if (claim === "done") {
    deps.log.info("guardian.alert-duplicate", { message: message.id, destination: message.destination });
    return;
  }
  if (claim === "busy") {
    throw new TransientError(`message ${message.id} is being delivered by another instance; retried later`);
  }
  const channel = deps.channels.channels.find((c) => c.name === message.destination);
  if (!channel) {
    const broken = deps.channels.broken.find((b) => b.name === message.destination);
    return deadLetter(
      message,
      broken ? `destination disabled: ${broken.problem}` : "unknown destination",
      deps,
    );
  }
  const pacer = deps.pacer ?? new Pacer(clock.now, clock.sleep);
  const body = channel.render(message.decisions);
  const started = message.firstTriedAt ?? new Date(clock.now()).toISOString();
  try {
    const attempts = await pacer.run(channel, () =>
      deliver(() => channel.post(body), {
        channel: channel.name,
        redact: (t) => channel.redact(t),
        // A quick retry still keeps the webhook's pace.
        policy: { ...IN_PROCESS, backoffMs: Math.max(IN_PROCESS.backoffMs, channel.minIntervalMs) },
        sleep: clock.sleep,
      }),
    );
    await deps.store.complete(key, deps.dedupeMs ?? DAY_MS);
    deps.log.info("guardian.alert-delivered", {
      message: message.id,
      destination: channel.name,
      decisions: message.decisions.length,
      attempt: message.attempt,
      posts: attempts,
    });
  } catch (error) {
    if (!(error instanceof WebhookDeliveryError)) {
      await deps.store.release(key);
      throw error;
    }
    if (error.retryAfterMs !== undefined) pacer.pause(channel, clock.now() + error.retryAfterMs);
    const permanent =
      error.status !== undefined && error.status < 500 && error.status !== 429 && error.status !== 408;
    const retry = deps.retry ?? DEFAULT_DELIVERY_RETRY;
    if (permanent || message.attempt >= retry.maxAttempts) {
      return deadLetter({ ...message, firstTriedAt: started }, error.message, deps, channel);
    }
    const delay = Math.max(error.retryAfterMs ?? 0, backoffMs(message.attempt, retry, deps.random));
    const next: DeliverMessage = { ...message, attempt: message.attempt + 1, firstTriedAt: started };
    // Queued again before the lease is given up: if the send fails, the platform redelivers this one instead.
    await deps.queue.send(
      encodeMessage(next, deps.queue.maxBytes),
      Math.min(deps.queue.maxDelaySeconds, Math.ceil(delay / 1000)),
    );
    await deps.store.release(key);
    deps.log.warn("guardian.alert-retry", {
      message: message.id,
      destination: channel.name,
      attempt: message.attempt,
      nextInMs: delay,
      error: error.message,
    });
  }
}

async function deadLetter(
  message: DeliverMessage,
  reason: string,
  deps: SenderDeps,
  failedChannel?: WebhookChannel,
): Promise<void> {
  const clock = clockOf(deps);
  await deps.deadLetters.send(
    encodeMessage(
      { ...message, kind: "dead", error: reason.slice(0, 2000), deadAt: new Date(clock.now()).toISOString() },
      deps.deadLetters.maxBytes,
    ),
  );
  await deps.store.release(`deliver:${message.id}`);
  deps.log.error("guardian.alert-deadletter", {
    message: message.id,
    destination: message.destination,
    attempts: message.attempt,
    decisions: message.decisions.map((d) => d.id),
    error: reason,
  });
  // Best effort: one post to each other working channel, so someone learns of it before the alarm fires.
  const others = deps.channels.channels.filter((c) => c !== failedChannel && c.name !== message.destination);
  const resource = message.decisions[0]?.resourceName ?? "?";
  await Promise.allSettled(
    others.map((c) =>
      c.post(
        c.renderNotice(`network-guardian: an alert to ${message.destination} could not be delivered`, [
          `${message.decisions.length} decision(s) about ${resource} are in the dead-letter queue ${deps.deadLetters.name} after ${message.attempt} attempt(s).`,
          `Why: ${reason.slice(0, 500)}`,
          "Fix the destination, then run: guardian alerts replay",
        ]),
      ),
    ),
  );
}

/**
 * Logs every broken destination loudly and tells the working channels once (per instance: the caller keeps the
 * returned promise), so a typo in a setting is noticed the first time the guardian runs, not when an alert is lost.
 */
export async function announceBrokenDestinations(channels: Channels, log: Logger): Promise<void> {
  if (channels.broken.length === 0) return;
  for (const b of channels.broken) {
    log.error("guardian.channel-disabled", { destination: b.name, type: b.type, problem: b.problem });
  }
  const lines = channels.broken.map((b: BrokenDestination) => `${b.name} (${b.type}): ${b.problem}`);
  await Promise.allSettled(
    channels.channels.map((c) =>
      c.post(
        c.renderNotice("network-guardian: an alert destination is disabled", [
          ...lines,
          "Alerts for it are kept in the dead-letter queue until the setting is fixed; remediation carries on.",
        ]),
      ),
    ),
  );
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Without an outbox queue (the CLI, the local demo): alerts are routed and posted at once with the same renderers
 * and a few quick retries; collapsing and the hour-long patience need the queue. The deployed templates always
 * configure one.
 */
export class InlineOutbox implements OutboxPort {
  readonly #channels: Channels;
  readonly #routes: readonly Route[] | undefined;
  readonly #clock: Clock;
  readonly #undo: UndoFor | undefined;
  readonly #pacer: Pacer;

  constructor(
    channels: Channels,
    options: { routes?: readonly Route[]; clock?: Clock; undo?: UndoFor } = {},
  ) {
    this.#channels = channels;
    this.#routes = options.routes;
    this.#clock = options.clock ?? realClock;
    this.#undo = options.undo;
    this.#pacer = new Pacer(this.#clock.now, async () => undefined);
  }

  async enqueue(alert: Alert): Promise<ChannelReport[]> {
    const decisions = decisionsOf(alert, new Date(this.#clock.now()), this.#undo);
    const names = this.#channels.channels.map((c) => c.name);
    const byChannel = new Map<WebhookChannel, AlertDecision[]>();
    for (const d of decisions) {
      for (const name of destinationsFor(d, this.#routes, names)) {
        const channel = this.#channels.channels.find((c) => c.name === name);
        if (channel) byChannel.set(channel, [...(byChannel.get(channel) ?? []), d]);
      }
    }
    const entries = [...byChannel.entries()];
    const settled = await Promise.allSettled(
      entries.map(([channel, list]) =>
        this.#pacer.run(channel, () =>
          deliver(() => channel.post(channel.render(list)), {
            channel: channel.name,
            redact: (t) => channel.redact(t),
            policy: { maxAttempts: 3, maxTotalWaitMs: 30_000, backoffMs: 500 },
            sleep: this.#clock.sleep,
          }),
        ),
      ),
    );
    return settled.map((s, i) => {
      const channel = entries[i]?.[0].name ?? `#${i}`;
      if (s.status === "fulfilled") return { channel, ok: true };
      const reason: unknown = s.reason;
      return {
        channel,
        ok: false,
        error: reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason),
      };
    });
  }
}
