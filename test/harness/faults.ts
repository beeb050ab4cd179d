// Cloud-neutral fault plans for the emulators: which call fails, and how. The ARM emulator consults a plan for every
// authenticated request (test/harness/arm-emulator/server.ts); a proxy in front of moto_server can consult the same
// plan per EC2 call (status: answer without forwarding; reset-before / hang: drop or hold without forwarding;
// reset-after / hang-after: forward, let moto apply it, then drop or hold the answer).
//
// What each fault stands for on the wire, and whether the call took effect:
//   status        an error answer from the front door (throttling, 5xx, 409 AnotherOperationInProgress): not applied
//   reset-before  the connection drops before the service sees the call: not applied
//   reset-after   the service applied the call, then the connection dropped: applied, answer lost
//   hang          the call is never answered (a black hole): not applied
//   hang-after    the service applied the call and never answered: applied, answer lost
//   lro-failed    (ARM, long-running writes only) accepted, then the operation ends Failed with `code`; `applied`
//                 leaves the change in place (provisioningState Failed), otherwise the service rolls it back

export type Fault =
  | { kind?: "status"; status: number; code?: string; message?: string; retryAfterSeconds?: number }
  | { kind: "reset-before" }
  | { kind: "reset-after" }
  | { kind: "hang" }
  | { kind: "hang-after" }
  | { kind: "lro-failed"; code: string; message?: string; applied?: boolean };

export type FaultKind = NonNullable<Fault["kind"]>;

export function faultKind(fault: Fault): FaultKind {
  return fault.kind ?? "status";
}

/** One call as the fault plan sees it. `caller` identifies who made it (ARM: the token's `oid`; AWS: the access key). */
export interface CallInfo {
  method: string;
  path: string;
  caller?: string;
  /** True for long-running writes (ARM PUT/DELETE of LRO routes), where `lro-failed` can apply. */
  longRunning?: boolean;
}

export interface FaultPlan {
  decide(call: CallInfo): Fault | undefined;
}

export interface InjectedFault {
  call: CallInfo;
  fault: Fault;
}

/** mulberry32: a tiny seeded generator, so a failing fault run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface RandomFaultOptions {
  seed: number;
  /** Share of matching calls that fail, 0..1. */
  rate: number;
  /** The faults to draw from, with relative weights. */
  mix: readonly { weight: number; fault: Fault }[];
  /** Which calls may fail (e.g. only the guardian's own); all when omitted. */
  match?: (call: CallInfo) => boolean;
}

/**
 * Fails a seeded random share of matching calls with faults drawn from `mix`. `lro-failed` is drawn only for
 * long-running writes; for other calls the draw is repeated without it. `injected` records what was done.
 */
export function randomFaults(options: RandomFaultOptions): FaultPlan & {
  injected: InjectedFault[];
  enabled: boolean;
} {
  const random = seededRandom(options.seed);
  const injected: InjectedFault[] = [];
  const plan = {
    injected,
    enabled: true,
    decide(call: CallInfo): Fault | undefined {
      if (!plan.enabled || (options.match && !options.match(call))) return undefined;
      if (random() >= options.rate) return undefined;
      const mix = options.mix.filter((m) => call.longRunning === true || faultKind(m.fault) !== "lro-failed");
      const total = mix.reduce((sum, m) => sum + m.weight, 0);
      let pick = random() * total;
      for (const m of mix) {
        pick -= m.weight;
        if (pick < 0) {
          injected.push({ call, fault: m.fault });
          return m.fault;
        }
      }
      return undefined;
    },
  };
  return plan;
}
