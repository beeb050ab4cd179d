// Building the alert side from configuration, shared by both clouds: the outbox the pipeline hands alerts to, and the
// sender's dependencies. Each cloud's runtime supplies its queues and store.
import type { Logger } from "./log.ts";
import { channelsFrom } from "./notify/channels.ts";
import type { WebhookUrl } from "./notify/deliver.ts";
import type { OutboxPort, QueuePort } from "./notify/outbox.ts";
import { QueueOutbox } from "./notify/outbox.ts";
import type { AlertStore } from "./notify/store.ts";
import type { Policy } from "./policy/schema.ts";
import { undoFor } from "./remediation/index.ts";
import {
  announceBrokenDestinations,
  type Clock,
  InlineOutbox,
  realClock,
  type SenderDeps,
} from "./usecases/send-alerts.ts";

/**
 * The outbox queue when one is configured (deployed), else inline delivery (the CLI, the local demo), which warns:
 * inline alerts are neither collapsed nor kept through an outage.
 */
export async function outboxFor(
  queue: QueuePort | undefined,
  policy: Policy,
  cfg: WebhookSettings,
  log: Logger,
): Promise<OutboxPort> {
  if (queue) return new QueueOutbox(queue, { undo: undoFor });
  const channels = channelsFrom(policy.alerts?.destinations, cfg.webhookUrls);
  if (channels.channels.length > 0) {
    log.warn("guardian.outbox-inline", {
      message:
        "GUARDIAN_ALERT_QUEUE is not set: alerts are posted inline, without collapsing or outage protection",
    });
  }
  await announceBrokenDestinations(channels, log);
  return new InlineOutbox(channels, {
    ...(policy.alerts?.routes ? { routes: policy.alerts.routes } : {}),
    undo: undoFor,
  });
}

/** The destination URL settings: a URL, or a reader of the secret holding it (AWS Secrets Manager). */
export interface WebhookSettings {
  webhookUrls: Readonly<Record<string, WebhookUrl>>;
}

export interface SenderParts {
  queue: QueuePort;
  deadLetters: QueuePort;
  store: AlertStore;
  clock?: Clock;
}

/** The sender's dependencies; broken destinations are announced once, here (once per instance). */
export async function senderDeps(
  parts: SenderParts,
  policy: Policy,
  cfg: WebhookSettings,
  log: Logger,
): Promise<SenderDeps> {
  const channels = channelsFrom(policy.alerts?.destinations, cfg.webhookUrls);
  await announceBrokenDestinations(channels, log);
  return {
    ...parts,
    channels,
    ...(policy.alerts?.routes ? { routes: policy.alerts.routes } : {}),
    collapseMs: (policy.alerts?.collapseSeconds ?? 30) * 1000,
    clock: parts.clock ?? realClock,
    log,
  };
}
