import type { ActionResult, Actor, Cloud } from "../types.ts";

/** One alert per resource per event: every finding on it and what the guardian did about each. */
export interface Alert {
  cloud: Cloud;
  account: string;
  /** Region of the resource, when known. */
  region?: string;
  /** Azure resource group, when the resource has one. */
  resourceGroup?: string;
  resourceId: string;
  /** The resource's own name when it differs from the last segment of its id (an AWS group's GroupName). */
  resourceName?: string;
  resourceType: string;
  /** The resource's tags as read (owner, env, ...). */
  tags?: Record<string, string>;
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
