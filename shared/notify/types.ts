import type { ActionResult, Actor, Cloud } from "../types.ts";

/** One alert per resource per event: every finding on it and what the guardian did about each. */
export interface Alert {
  cloud: Cloud;
  account: string;
  resourceId: string;
  resourceType: string;
  /** The operation that triggered evaluation, as the event names it. */
  operationName: string;
  actor: Actor;
  eventId: string;
  correlationId?: string;
  /** ISO 8601 time of the change. */
  time: string;
  results: ActionResult[];
  /** Azure portal or AWS console link to the resource. */
  consoleUrl: string;
  dryRun: boolean;
}

/** Delivers an alert to one channel. Throws TransientError when the channel is down or throttles past retries. */
export interface Notifier {
  readonly channel: string;
  send(alert: Alert): Promise<void>;
}
