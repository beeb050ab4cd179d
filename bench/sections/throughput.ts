// Evaluation without I/O, on one core: normalise the event, take the snapshot (from the event when it carries the
// resource, else the given Describe item standing in for the read), evaluate the shipped baseline policy. The
// baseline is a JSON round trip of the same input, the least any handler does with it, timed the same way.
import { awsSecurityGroupSnapshot } from "../../shared/clouds/aws/kinds/security-group.ts";
import { azureSnapshot } from "../../shared/clouds/azure/snapshot.ts";
import { normalise } from "../../shared/events/index.ts";
import { evaluatePolicy } from "../../shared/policy/evaluate.ts";
import { loadPolicyFile } from "../../shared/policy/load.ts";
import type { Snapshot } from "../../shared/types.ts";
import { authorizeEvent, nsgNotification, securityGroup, storageNotification } from "../lib/inputs.ts";
import { median, now, round } from "../lib/stats.ts";
import { BASELINE_POLICY } from "../lib/world.ts";

export interface ThroughputResult {
  case: string;
  perSecond: number;
  microsPerEvent: number;
  baselinePerSecond: number;
  /** Time per event over time per JSON round trip of the same input. */
  ratio: number;
  findingsPerEvent: number;
  aimPerSecond: number;
  skipped?: string;
  /** Said beside the aim in docs/performance.md: how a figure added by hand was measured. */
  note?: string;
}

/** Iterations per second of `fn`, median of `repeats` windows of `windowMs` each, after a warm-up. */
function rate(fn: () => number, windowMs: number, repeats: number): number {
  for (let i = 0; i < 200; i++) fn();
  const rates: number[] = [];
  let sink = 0;
  for (let r = 0; r < repeats; r++) {
    let n = 0;
    const start = now();
    let elapsed = 0;
    while (elapsed < windowMs) {
      for (let i = 0; i < 50; i++) sink += fn();
      n += 50;
      elapsed = now() - start;
    }
    rates.push((n * 1000) / elapsed);
  }
  if (sink < 0) throw new Error("unreachable");
  return median(rates);
}

export async function throughput(windowMs: number, repeats: number): Promise<ThroughputResult[]> {
  const policy = await loadPolicyFile(BASELINE_POLICY);
  const cases: { name: string; input: unknown; run: () => number; aim: number }[] = [];
  for (const rules of [10, 200]) {
    const event = nsgNotification(rules);
    cases.push({
      name: `Azure NSG, ${rules} rules (event carries it)`,
      input: event,
      aim: rules <= 10 ? 100_000 : 10_000,
      run: () => {
        let findings = 0;
        for (const change of normalise(event).changes) {
          const snapshot = azureSnapshot(change.resource, change.resourceType);
          if (snapshot) findings += evaluatePolicy(policy, snapshot).length;
        }
        return findings;
      },
    });
  }
  const storage = storageNotification(20, 20);
  cases.push({
    name: "Azure storage account, 20 IP and 20 VNet rules (event carries it)",
    input: storage,
    aim: 100_000,
    run: () => {
      let findings = 0;
      for (const change of normalise(storage).changes) {
        const snapshot = azureSnapshot(change.resource, change.resourceType);
        if (snapshot) findings += evaluatePolicy(policy, snapshot).length;
      }
      return findings;
    },
  });
  const event = authorizeEvent();
  const group = securityGroup(1, 60);
  cases.push({
    name: "AWS security group, 60 permissions",
    input: { event, group },
    aim: 100_000,
    run: () => {
      let findings = 0;
      for (const _change of normalise(event).changes) {
        // The read is I/O; the Describe item stands in for it, wrapped as the reader wraps it.
        const snapshot: Snapshot = awsSecurityGroupSnapshot(group);
        findings += evaluatePolicy(policy, snapshot).length;
      }
      return findings;
    },
  });

  const results: ThroughputResult[] = [];
  for (const c of cases) {
    const text = JSON.stringify(c.input);
    const perSecond = rate(c.run, windowMs, repeats);
    const baselinePerSecond = rate(() => (JSON.parse(text) as unknown[]).length ?? 0, windowMs, repeats);
    results.push({
      case: c.name,
      perSecond: Math.round(perSecond),
      microsPerEvent: round(1e6 / perSecond, 2),
      baselinePerSecond: Math.round(baselinePerSecond),
      ratio: round(baselinePerSecond / perSecond, 2),
      findingsPerEvent: c.run(),
      aimPerSecond: c.aim,
    });
  }
  return results;
}
