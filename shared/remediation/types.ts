import { InputError } from "../errors.ts";
import type { Finding, PlannedChange, Snapshot } from "../types.ts";

export interface RemediationContext {
  /** The policy's trusted prefixes, for remediations that narrow a source to them. */
  trustedSources: readonly string[];
  /**
   * What the triggering event recorded (ResourceChange.details), e.g. the security group rule ids CloudTrail
   * returned. Given only on the first attempt: after a concurrent edit it may no longer describe the resource.
   */
  eventDetails?: Record<string, unknown>;
  /**
   * For a remediation that plans together (`planTogether`): the findings of the other policy entries on the same
   * snapshot that this remediation is to fix too (remediate mode, not exempt). One write then fixes them all.
   */
  siblings?: readonly Finding[];
}

/** Where the changed resource is, for an undo command. */
export interface UndoWhere {
  account: string;
  region?: string;
  resourceGroup?: string;
}

/** How to put an applied change back: a command to paste, a portal or console step. */
export interface UndoStep {
  command?: string;
  portal?: string;
}

export interface Remediation {
  id: string;
  description: string;
  /** Lower-cased resource types it can change. */
  resourceTypes: readonly string[];
  /** Permissions the guardian needs to apply it. */
  permissions: readonly string[];
  /**
   * One write fixes every finding of this remediation on a resource (a storage account's network settings are one
   * PATCH): the pipeline passes the other entries' findings as `siblings` and records them as fixed by that write.
   */
  planTogether?: boolean;
  /**
   * Pure: the exact minimal edit that removes what the finding matched and nothing else.
   * Undefined when nothing in the snapshot still matches (already fixed by someone else).
   */
  plan(snapshot: Snapshot, finding: Finding, context: RemediationContext): PlannedChange | undefined;
  /** Pure: how to put back a change this remediation applied, from its audited before- and after-state. */
  undo?(planned: PlannedChange, where: UndoWhere): UndoStep | undefined;
  /**
   * Pure, asked when `plan` finds nothing to write: why the parts of the finding still open are not this
   * remediation's to change (a default route inside a route table, a definition with no approved entry left), or
   * undefined when nothing is open. The finding is then alerted as left for a person, not reported fixed.
   */
  manual?(snapshot: Snapshot, finding: Finding): string | undefined;
}

/**
 * The parts a finding matched, checked: a finding travels through audit, alerts and maybe a queue as plain JSON, so a
 * planner re-validates it rather than trusting its type. A finding without a `matched` list is an InputError (the
 * change is dead-lettered), never a TypeError deep inside a planner. Each part is then parsed by the planner's own
 * schema, which skips parts that are not its own.
 */
export function matchedOf(finding: Finding): readonly unknown[] {
  const value: unknown = finding;
  if (typeof value !== "object" || value === null) {
    throw new InputError("a remediation was given no finding", { path: "finding" });
  }
  const matched: unknown = (value as { matched?: unknown }).matched;
  if (!Array.isArray(matched)) {
    const got = matched === undefined ? "missing" : matched === null ? "null" : `a ${typeof matched}`;
    throw new InputError(`the finding's matched parts are not a list (${got})`, { path: "finding.matched" });
  }
  return matched;
}
