/**
 * An invocation's time budget, passed to the pipeline through its deps so that every cloud call is abandoned in time:
 * the platform gives up on an invocation at a fixed point (Event Grid waits 30 s for the Function's answer; a Lambda
 * has its configured timeout), and a call still running then would carry on alongside the redelivered event.
 *
 * On Azure the Function entry makes one from GUARDIAN_BUDGET_MS when the invocation starts. On AWS the Lambda entry
 * makes one from the context: `deadlineAt(Date.now() + context.getRemainingTimeInMillis() - margin)`, and the EC2
 * reader and writer pass `{ abortSignal: options.signal }` to `client.send` (with a per-request `requestTimeout` on the
 * client's request handler), exactly as the ARM ones pass `signal` into the SDK pipeline.
 */
export interface Deadline {
  /** Epoch milliseconds at which the budget is spent. */
  readonly at: number;
  /** The whole budget, in milliseconds. */
  readonly totalMs: number;
  /** Milliseconds left (0 when spent). */
  remainingMs(): number;
  /** A signal that aborts `marginMs` before the budget is spent (at once if that moment has passed). */
  signal(marginMs?: number): AbortSignal;
}

export function deadlineAt(at: number, now: number = Date.now()): Deadline {
  const totalMs = Math.max(0, at - now);
  return {
    at,
    totalMs,
    remainingMs: () => Math.max(0, at - Date.now()),
    signal(marginMs = 0) {
      const left = at - marginMs - Date.now();
      return left > 0
        ? AbortSignal.timeout(left)
        : AbortSignal.abort(new DOMException("budget spent", "TimeoutError"));
    },
  };
}

/** A budget of `ms` from `start` (default now). */
export function deadlineIn(ms: number, start: number = Date.now()): Deadline {
  return deadlineAt(start + ms, start);
}
