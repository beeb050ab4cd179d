import { normalise } from "../events/index.ts";
import { type ChangeOutcome, type GuardianDeps, handleChanges } from "../pipeline.ts";
import type { SkippedEvent } from "../types.ts";

export interface OnChangeResult {
  outcomes: ChangeOutcome[];
  skipped: SkippedEvent[];
  /** True when a dependency failed in a way that may pass: the trigger should retry the delivery. */
  retryable: boolean;
  /**
   * What in the delivery could not be handled and never will be (malformed events, resources that cannot be
   * read as their type): the trigger must reject the delivery so it reaches its dead-letter path.
   */
  unprocessable: string[];
}

/** The event path: normalise whatever the trigger delivered, then run the pipeline on every change. */
export async function onChange(input: unknown, deps: GuardianDeps): Promise<OnChangeResult> {
  const { changes, skipped } = await normalise(input);
  for (const skip of skipped) {
    if (skip.reason === "malformed") {
      // Retrying a malformed event cannot help; keep it whole where operators look for what was not handled.
      deps.log.error("guardian.deadletter", { what: "event", ...skip, event: input });
    } else {
      deps.log.info("guardian.skip", { ...skip });
    }
  }
  const outcomes = await handleChanges(changes, deps);
  const unprocessable = [
    ...skipped.filter((s) => s.reason === "malformed").map((s) => s.detail),
    ...outcomes
      .filter((o) => o.status === "failed" && o.retryable === undefined)
      .map((o) => o.error ?? "failed"),
    // A remediation that failed for good (ARM judged the write invalid) is never an acknowledged event: it was
    // alerted, and failing the delivery puts the event in the dead-letter path.
    ...outcomes
      .filter((o) => o.status !== "failed" && o.retryable === undefined)
      .flatMap((o) =>
        o.actions
          .filter((a) => a.outcome === "failed")
          .map((a) => `remediation of ${o.change.resourceId} failed: ${a.reason}`),
      ),
  ];
  return { outcomes, skipped, retryable: outcomes.some((o) => o.retryable !== undefined), unprocessable };
}
