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

/**
 * The event path: normalise whatever the trigger delivered, then run the pipeline on every change. `delivery` names
 * the delivery in the platform's terms (an SQS messageId), so a dead-letter log line can point at it.
 */
export async function onChange(
  input: unknown,
  deps: GuardianDeps,
  delivery: Readonly<Record<string, string>> = {},
): Promise<OnChangeResult> {
  const { changes, skipped } = normalise(input);
  for (const skip of skipped) {
    if (skip.reason === "malformed") {
      // Retrying a malformed event cannot help. The line shows the item itself (the logger bounds its size) and
      // refers to the rest of the delivery by id and index: logging the whole batch for each bad item in it would
      // multiply a delivery's size by its number of bad items. The delivery itself is kept whole by the trigger's
      // dead-letter path (SQS dead-letter queue, Event Grid dead-letter container).
      const item = itemOf(input, skip);
      deps.log.error("guardian.deadletter", { what: "event", ...skip, ...delivery, ...item });
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

/**
 * The malformed item itself and where it sits: the Event Grid normaliser names a batch item's index at the start of
 * its detail (`event[3]: ...`); a single event is the whole delivery.
 */
function itemOf(input: unknown, skip: SkippedEvent): { event: unknown; index?: number; batchSize?: number } {
  if (!Array.isArray(input)) return { event: input };
  const index = Number(/^event\[(\d+)\]/.exec(skip.detail)?.[1]);
  if (!Number.isInteger(index) || index >= input.length) return { event: undefined, batchSize: input.length };
  return { event: input[index], index, batchSize: input.length };
}
