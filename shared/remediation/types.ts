import type { Finding, PlannedChange, Snapshot } from "../types.ts";

export interface RemediationContext {
  /** The policy's trusted prefixes, for remediations that narrow a source to them. */
  trustedSources: readonly string[];
  /**
   * What the triggering event recorded (ResourceChange.details), e.g. the security group rule ids CloudTrail
   * returned. Given only on the first attempt: after a concurrent edit it may no longer describe the resource.
   */
  eventDetails?: Record<string, unknown>;
}

export interface Remediation {
  id: string;
  description: string;
  /** Lower-cased resource types it can change. */
  resourceTypes: readonly string[];
  /** Permissions the guardian needs to apply it. */
  permissions: readonly string[];
  /**
   * Pure: the exact minimal edit that removes what the finding matched and nothing else.
   * Undefined when nothing in the snapshot still matches (already fixed by someone else).
   */
  plan(snapshot: Snapshot, finding: Finding, context: RemediationContext): PlannedChange | undefined;
}
