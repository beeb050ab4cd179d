// The NSG remediations take away exactly the offending (source, port) pairs, judged by the independent brute-force
// model of test/reference/nsg-model.ts: after remediating one offending rule R, every packet of the model's universe
// is decided as before, except the packets R let in from an offending source (and from none of R's other sources)
// on an offending port, which R (or anything the guardian added) no longer lets in. A `*` rule loses those ports for
// every protocol it carried: one NSG rule cannot say "every protocol but Tcp".
//
// Random NSGs with priorities packed close together, so that splits meet taken neighbours, Allows and Denies between,
// and occasionally no valid priority at all (then nothing is written).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError } from "../../../shared/errors.ts";
import { deleteRule } from "../../../shared/remediation/delete-rule.ts";
import { denyRule } from "../../../shared/remediation/deny-rule.ts";
import { restrictSource } from "../../../shared/remediation/restrict-source.ts";
import type { Remediation } from "../../../shared/remediation/types.ts";
import type { Finding, PlannedChange } from "../../../shared/types.ts";
import {
  applyChange,
  findingsOf,
  nsgWith,
  type RuleSpec,
  rulesOf,
  snapshotOf,
} from "../../fixtures/azure/nsg/nsg.ts";
import {
  decidingRule,
  inboundRules,
  type ModelRule,
  nameContains,
  type Packet,
  PROTOCOLS,
} from "../../reference/nsg-model.ts";

const SOURCES = [
  "*",
  "Internet",
  "0.0.0.0/0",
  "::/0",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "203.0.113.10/32",
  "10.0.0.0/8",
  "VirtualNetwork",
];
const PLURAL_SOURCES = ["0.0.0.0/0", "198.51.100.0/24", "203.0.113.0/24", "10.1.0.0/16", "2001:db8::/32"];
const PORTS: (string | string[])[] = [
  "*",
  "22",
  "20-25",
  "443",
  "3389",
  ["22", "443"],
  ["22", "3389", "8080"],
  "1-1024",
];
const DESTINATIONS: (string | string[])[] = [
  "*",
  "10.0.0.4",
  "10.0.0.0/24",
  ["10.0.0.4", "10.0.0.5"],
  "VirtualNetwork",
];
// One port in each region the specs above carve out (23 would decide as 21 does).
const DEST_PORTS = [21, 22, 80, 443, 3389, 8080, 5000];
const TRUSTED = ["203.0.113.10/32"];

const ruleArb = fc.record({
  access: fc.constantFrom<"Allow" | "Deny">("Allow", "Allow", "Deny"),
  protocol: fc.constantFrom("Tcp", "Udp", "*"),
  source: fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...SOURCES) },
    {
      weight: 3,
      arbitrary: fc.uniqueArray(fc.constantFrom(...PLURAL_SOURCES), { minLength: 2, maxLength: 3 }),
    },
  ),
  sourcePorts: fc.constantFrom<string | string[]>("*", "*", "1024-65535", ["0-1023", "1024-65535"]),
  destination: fc.constantFrom(...DESTINATIONS),
  ports: fc.constantFrom(...PORTS),
});

const nsgArb = fc
  .tuple(
    fc.array(ruleArb, { minLength: 1, maxLength: 6 }),
    // Packed priorities: neighbours are often taken.
    fc.uniqueArray(fc.integer({ min: 100, max: 108 }), { minLength: 6, maxLength: 6 }),
  )
  .map(([rules, priorities]) =>
    nsgWith(rules.map((r, i): RuleSpec => ({ ...r, name: `rule-${i}`, priority: priorities[i] ?? 100 + i }))),
  );

const optionsArb = fc.record({
  ports: fc.constantFrom<(number | string)[]>([22], [22, 3389], ["20-25"], [443]),
  protocols: fc.constantFrom<string[]>(["Tcp"], ["Tcp", "Udp"], ["Udp"]),
  // Opting in to remediate specific public prefixes lets the property cover those findings as well.
  publicPrefixes: fc.constantFrom("remediate", "ignore"),
});

// A witness in every region the generator's names carve out (fewer than the model's full universe: this runs often).
const SOURCE_WITNESSES = [
  "198.51.100.10",
  "203.0.113.10",
  "203.0.113.99",
  "192.0.2.1",
  "10.0.0.5",
  "10.1.2.3",
  "2001:db8::1",
  "2001:db9::1",
];
const SOURCE_PORT_WITNESSES = [1, 1024];
const DESTINATION_WITNESSES = ["10.0.0.4", "10.0.0.5", "10.0.0.9", "10.0.1.5", "20.1.2.3"];
const UNIVERSE: Packet[] = [];
for (const protocol of PROTOCOLS)
  for (const source of SOURCE_WITNESSES)
    for (const sourcePort of SOURCE_PORT_WITNESSES)
      for (const destination of DESTINATION_WITNESSES)
        for (const destinationPort of DEST_PORTS)
          UNIVERSE.push({ protocol, source, sourcePort, destination, destinationPort });

function ports(specs: readonly string[]): [number, number][] {
  return specs.map((s) => {
    const [lo = 0, hi = lo] = (s === "*" ? "0-65535" : s).split("-").map(Number);
    return [lo, hi];
  });
}

interface Outcome {
  after: Record<string, unknown>;
  steps: PlannedChange[];
  blocked: boolean;
}

/** Plans and applies until the remediation has nothing more to do for the finding's first rule. */
function remediate(remediation: Remediation, nsg: Record<string, unknown>, finding: Finding): Outcome {
  const one = { ...finding, matched: finding.matched.slice(0, 1) };
  let current = nsg;
  const steps: PlannedChange[] = [];
  for (let i = 0; i < 4; i++) {
    let change: PlannedChange | undefined;
    try {
      change = remediation.plan(snapshotOf(current), one, { trustedSources: TRUSTED });
    } catch (error) {
      if (error instanceof InputError && error.message.startsWith("cannot narrow"))
        return { after: current, steps, blocked: true };
      throw error;
    }
    if (!change) break;
    // Each write starts from the rule as read, byte for byte, and touches that one rule (or adds one).
    const name = String(change.operation.ruleName);
    const asRead = rulesOf(current).find((r) => r.name === name);
    expect(JSON.stringify(change.before ?? null)).toBe(JSON.stringify(asRead ?? null));
    const next = applyChange(current, change);
    const untouched = (rules: Record<string, unknown>[]) =>
      rules.filter((r) => r.name !== name).map((r) => JSON.stringify(r));
    expect(untouched(rulesOf(next))).toEqual(untouched(rulesOf(current)));
    steps.push(change);
    current = next;
  }
  expect(steps.length).toBeLessThanOrEqual(2);
  return { after: current, steps, blocked: false };
}

function check(remediation: Remediation, flips: boolean, replaces: boolean) {
  let remediated = 0;
  let split = 0;
  fc.assert(
    fc.property(nsgArb, optionsArb, (nsg, options) => {
      const before = inboundRules(nsg);
      const decidedBefore = UNIVERSE.map((packet) => decidingRule(before, packet));
      for (const finding of findingsOf(nsg, options, TRUSTED)) {
        const target = finding.matched[0];
        if (!target) continue;
        const offendingTokens = target.sources as string[];
        const offendingPorts = ports(target.ports as string[]);
        const R = before.find((r) => r.name === target.securityRule) as ModelRule;
        const keptTokens = R.sources.filter((t) => !offendingTokens.includes(t));

        const { after, steps, blocked } = remediate(remediation, nsg, finding);
        if (blocked) {
          // No priority could hold the split without changing another rule's decisions: nothing was written.
          expect(steps).toEqual([]);
          continue;
        }
        remediated++;
        if (steps.length === 2) split++;
        const afterRules = inboundRules(after);
        const mine = new Set([R.name, ...steps.map((s) => String(s.operation.ruleName))]);
        // Plain comparisons in the loop (thousands of packets per case); one expect names the first wrong packet.
        const wrong = UNIVERSE.find((packet, index) => {
          const decided = decidedBefore[index];
          const removed =
            decided === R &&
            offendingPorts.some(([lo, hi]) => lo <= packet.destinationPort && packet.destinationPort <= hi) &&
            offendingTokens.some((t) => nameContains(t, packet.source, true)) &&
            !keptTokens.some((t) => nameContains(t, packet.source, true));
          const trusted = replaces && TRUSTED.some((t) => nameContains(t, packet.source, true));
          const now = decidingRule(afterRules, packet);
          // Every pair that was not offending is decided as before (restrict-source adds its trusted prefixes).
          if (!removed) return !trusted && (now?.access === "Allow") !== (decided?.access === "Allow");
          // deny-rule leaves the rule in place as a Deny.
          if (flips && now?.name === R.name) return now.access !== "Deny";
          // Otherwise the offending pair is no longer let in by the rule or by anything the guardian added.
          return !trusted && now !== undefined && mine.has(now.name) && now.access === "Allow";
        });
        expect(wrong, `${String(target.securityRule)}: ${JSON.stringify(wrong)}`).toBeUndefined();
        // And the finding no longer names the rule.
        const again = findingsOf(after, options, TRUSTED).find((f) => f.kind === finding.kind);
        expect((again?.matched ?? []).map((m) => m.securityRule)).not.toContain(target.securityRule);
      }
    }),
    { numRuns: 80 },
  );
  // Guards the generators: the property must have seen plain fixes and splits.
  expect(remediated).toBeGreaterThan(30);
  expect(split).toBeGreaterThan(5);
}

describe("NSG remediations take away exactly the offending pairs (reference model)", () => {
  it("delete-rule", () => {
    check(deleteRule, false, false);
  });

  it("deny-rule", () => {
    check(denyRule, true, false);
  });

  it("restrict-source", () => {
    check(restrictSource, false, true);
  });
});
