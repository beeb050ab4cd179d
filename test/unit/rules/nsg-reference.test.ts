// nsg-inbound-exposure judged against test/reference/nsg-model.ts, an independent brute-force model of NSG
// precedence, over random NSGs whose Deny rules vary in protocol, sources, source ports, destinations and ports.
//
// Two generators. The "exact" one draws names from families where each name either contains another or is disjoint
// from it, with a witness address, port and destination in every region: there the evaluator must agree with the
// model exactly, port by port. The "wide" one adds what the evaluator cannot see inside (service tags as Deny
// destinations, application security groups, malformed prefixes, a Deny without source ports): there it may report
// more than the model, never less.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type ExposureQuery, ruleExposure } from "../../../shared/rules/nsg/exposure.ts";
import { parseNsg } from "../../../shared/rules/nsg/schema.ts";
import { nsgInboundExposure } from "../../../shared/rules/nsg-inbound-exposure.ts";
import { nsgWith, type RuleSpec, rulesOf, snapshotOf } from "../../fixtures/azure/nsg/nsg.ts";
import {
  DESTINATION_PORTS,
  inboundRules,
  matches,
  modelRule,
  offendingToken,
  type Protocol,
  packets,
  protectedPort,
  ruleOpens,
  type SourcePolicy,
} from "../../reference/nsg-model.ts";

const SINGLE_SOURCES = [
  "*",
  "Internet",
  "Any",
  "0.0.0.0/0",
  "::/0",
  "198.51.100.0/24",
  "198.51.100.0/25",
  "198.51.100.10",
  "203.0.113.10/32",
  "203.0.113.0/24",
  "10.0.0.0/8",
  "10.1.0.0/16",
  "2001:db8::/32",
  "VirtualNetwork",
  "AzureLoadBalancer",
];
// ARM takes only prefixes in the plural field.
const PLURAL_SOURCES = [
  "0.0.0.0/0",
  "198.51.100.0/24",
  "198.51.100.0/25",
  "203.0.113.0/24",
  "10.1.0.0/16",
  "2001:db8::/32",
];
const ALLOW_SOURCE_PORTS: (string | string[])[] = ["*", "1024-65535"];
const DENY_SOURCE_PORTS: (string | string[])[] = [
  "*",
  "0-65535",
  ["0-1023", "1024-65535"],
  "1",
  "80",
  ["1", "80"],
  "1024-65535",
];
const DESTINATIONS: (string | string[])[] = [
  "*",
  "Any",
  "10.0.0.0/24",
  "10.0.0.4",
  "10.0.1.0/24",
  ["10.0.0.4", "10.0.0.5"],
];
const PORTS: (string | string[])[] = [
  "*",
  "22",
  "20-25",
  "80",
  "443",
  "3389",
  "1-1024",
  "3000-4000",
  ["22", "3389"],
  ["80", "443"],
];

interface Shape {
  access: "Allow" | "Deny";
  protocol: string;
  source: string | string[];
  sourcePorts: string | string[];
  destination: string | string[];
  ports: string | string[];
}

const sourceArb = fc.oneof(
  fc.constantFrom(...SINGLE_SOURCES),
  fc.uniqueArray(fc.constantFrom(...PLURAL_SOURCES), { minLength: 2, maxLength: 3 }),
);

function ruleArb(wide: boolean): fc.Arbitrary<RuleSpec | Record<string, unknown>> {
  const shape = fc
    .record({
      access: fc.constantFrom<"Allow" | "Deny">("Allow", "Deny", "Deny"),
      protocol: fc.constantFrom("Tcp", "Udp", "Icmp", "*"),
      allowSource: wide
        ? fc.oneof(sourceArb, fc.constantFrom("Storage", "010.0.0.0/8", "AzureCloud.WestEurope"))
        : sourceArb,
      // Denies lean broad, so that they often cover an Allow below them in some fields and not in others.
      denySource: fc.oneof(
        { weight: 2, arbitrary: sourceArb },
        { weight: 1, arbitrary: fc.constantFrom("*", "Internet", "Any", "0.0.0.0/0") },
        ...(wide ? [{ weight: 1, arbitrary: fc.constantFrom("Storage", "010.0.0.0/8") }] : []),
      ),
      allowSourcePorts: fc.constantFrom(...ALLOW_SOURCE_PORTS),
      denySourcePorts: fc.oneof(
        { weight: 1, arbitrary: fc.constantFrom(...DENY_SOURCE_PORTS) },
        {
          weight: 1,
          arbitrary: fc.constantFrom<string | string[]>("*", "0-65535", ["0-1023", "1024-65535"]),
        },
      ),
      allowDestination: fc.constantFrom(...DESTINATIONS, "VirtualNetwork"),
      // Which addresses VirtualNetwork or an ASG holds is not in the NSG: only the wide generator puts them in Denies.
      denyDestination: fc.oneof(
        {
          weight: 2,
          arbitrary: fc.constantFrom(...DESTINATIONS, ...(wide ? ["VirtualNetwork", "Internet"] : [])),
        },
        { weight: 1, arbitrary: fc.constantFrom("*", "Any") },
      ),
      ports: fc.constantFrom(...PORTS),
      asg: wide ? fc.constantFrom(undefined, "asg-web", "asg-db") : fc.constant(undefined),
      noSourcePorts: wide ? fc.boolean() : fc.constant(false),
    })
    .map((r) => {
      const spec: Shape = {
        access: r.access,
        protocol: r.protocol,
        source: r.access === "Allow" ? r.allowSource : r.denySource,
        sourcePorts: r.access === "Allow" ? r.allowSourcePorts : r.denySourcePorts,
        destination: r.access === "Allow" ? r.allowDestination : r.denyDestination,
        ports: r.ports,
      };
      return { spec, asg: r.asg, noSourcePorts: r.noSourcePorts && r.access === "Deny" };
    });
  return shape.map(({ spec, asg, noSourcePorts }) => {
    const built: RuleSpec = { name: "x", priority: 100, ...spec };
    if (asg === undefined && !noSourcePorts) return built;
    // Shapes the fixture builder does not make: an ASG destination, and a Deny naming no source port at all.
    return { ...built, asg, noSourcePorts } as unknown as RuleSpec;
  });
}

/**
 * A Deny of everything but for one field (one source port, one destination, one protocol, one source, one port), or
 * of everything: the case (a Deny limited to source port 1 above an Allow from the Internet) and its kin.
 */
const blanketDenyArb = fc.option(
  fc
    .constantFrom<Partial<RuleSpec>>(
      {},
      { sourcePorts: "1" },
      { sourcePorts: "1024-65535" },
      { destination: "10.0.0.4" },
      { destination: "10.0.0.0/24" },
      { protocol: "Udp" },
      { source: "198.51.100.0/24" },
      { source: "0.0.0.0/0" },
      { ports: "22" },
      { ports: "20-25" },
    )
    .map(
      (narrowed): RuleSpec => ({
        name: "blanket-deny",
        priority: 100,
        access: "Deny",
        protocol: "*",
        source: "*",
        sourcePorts: "*",
        destination: "*",
        ports: "*",
        ...narrowed,
      }),
    ),
  { freq: 4 },
);

function nsgArb(wide: boolean) {
  return fc
    .tuple(
      fc.array(ruleArb(wide), { minLength: 1, maxLength: 6 }),
      fc.uniqueArray(fc.integer({ min: 101, max: 130 }), { minLength: 6, maxLength: 6 }),
      blanketDenyArb,
    )
    .map(([rules, priorities, blanket]) => {
      const nsg = nsgWith([
        ...rules.map(
          (r, i): RuleSpec => ({ ...(r as RuleSpec), name: `rule-${i}`, priority: priorities[i] ?? 101 + i }),
        ),
        // Last, so the rules' indexes above stay those of the generated ones; priority 100 puts it above them all.
        ...(blanket ? [blanket] : []),
      ]);
      // Apply the shapes the builder cannot express.
      rules.forEach((r, i) => {
        const extra = r as { asg?: string; noSourcePorts?: boolean };
        const built = rulesOf(nsg)[i] as { properties: Record<string, unknown> };
        if (extra.asg !== undefined) {
          delete built.properties.destinationAddressPrefix;
          built.properties.destinationAddressPrefixes = [];
          built.properties.destinationApplicationSecurityGroups = [
            {
              id: `/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/${extra.asg}`,
            },
          ];
        }
        if (extra.noSourcePorts === true) {
          delete built.properties.sourcePortRange;
          built.properties.sourcePortRanges = [];
        }
      });
      return nsg;
    });
}

const entryArb = fc.record({
  ports: fc.option(
    fc.uniqueArray(fc.constantFrom<number | string>(22, 3389, 80, 443, "20-25", "3000-3500"), {
      minLength: 1,
      maxLength: 3,
    }),
    {
      nil: undefined,
    },
  ),
  protocols: fc.uniqueArray(fc.constantFrom<Protocol>("Tcp", "Udp", "Icmp"), { minLength: 1, maxLength: 3 }),
  trusted: fc.uniqueArray(fc.constantFrom("203.0.113.10/32", "198.51.100.0/24"), { maxLength: 2 }),
  publicPrefixes: fc.boolean(),
});
type Entry = typeof entryArb extends fc.Arbitrary<infer T> ? T : never;

function inPorts(set: readonly (readonly [number, number])[], port: number): boolean {
  return set.some(([lo, hi]) => lo <= port && port <= hi);
}

function protectedPorts(entry: Entry): number[] {
  return DESTINATION_PORTS.filter((p) => protectedPort(entry.ports, p));
}

/** The evaluator's exposure of each user Allow, per (token, protocol), with the reference's notion of offending. */
/** How often a Deny above took away some or all of what an Allow matched: the generators must exercise precedence. */
const seen = { open: 0, shadowed: 0 };

function check(nsg: Record<string, unknown>, entry: Entry, exact: boolean): void {
  const parsed = parseNsg(nsg);
  const rules = inboundRules(nsg);
  const policy: SourcePolicy = { trusted: entry.trusted, publicPrefixes: entry.publicPrefixes };
  const query: ExposureQuery = {
    ports: entry.ports === undefined ? [[0, 65535]] : portsOf(entry.ports),
    protocols: entry.protocols,
    isOffendingSource: (token) => offendingToken(token, policy),
  };
  const ports = protectedPorts(entry);
  parsed.securityRules.forEach((rule, index) => {
    const model = modelRule(rulesOf(nsg)[index] as Record<string, unknown>);
    if (model.access !== "Allow" || model.direction !== "Inbound") return;
    const exposure = ruleExposure(parsed, rule, query);
    for (const token of model.sources) {
      for (const protocol of entry.protocols) {
        for (const port of ports) {
          const evaluator =
            exposure?.parts.some(
              (p) => p.source === token && p.protocol === protocol && inPorts(p.ports, port),
            ) ?? false;
          if (!offendingToken(token, policy)) {
            expect(evaluator, `${rule.name}: ${token} is not offending`).toBe(false);
            continue;
          }
          let reference = false;
          for (const packet of packets([protocol], [port], token)) {
            if (ruleOpens(rules, model, packet)) {
              reference = true;
              break;
            }
          }
          if (reference) seen.open++;
          else if ([...packets([protocol], [port], token)].some((packet) => matches(model, packet)))
            seen.shadowed++;
          const what = `${rule.name} from ${token}, ${protocol} ${port}`;
          if (exact) expect(evaluator, what).toBe(reference);
          // Never miss: where the model finds a packet through, the evaluator reports it.
          else if (reference) expect(evaluator, what).toBe(true);
        }
      }
    }
  });
}

function portsOf(specs: readonly (number | string)[]): [number, number][] {
  return specs.map((s) => {
    const [lo, hi = lo] = String(s).split("-").map(Number) as [number, number?];
    return [lo, hi ?? lo];
  });
}

describe("nsg-inbound-exposure against the reference model of NSG precedence", () => {
  it("agrees exactly, port by port, where every name is known to the model", () => {
    fc.assert(
      fc.property(nsgArb(false), entryArb, (nsg, entry) => check(nsg, entry, true)),
      { numRuns: 200 },
    );
    // Guards the generator: both exposed and Deny-shadowed cases must have been judged.
    expect(seen.open).toBeGreaterThan(40);
    expect(seen.shadowed).toBeGreaterThan(10);
  });

  it("never reports less than the model where Denies name what it cannot see inside", () => {
    fc.assert(
      fc.property(nsgArb(true), entryArb, (nsg, entry) => check(nsg, entry, false)),
      { numRuns: 150 },
    );
  });

  it("the rule's findings name exactly the rules, sources, protocols and ports the model lets in", () => {
    fc.assert(
      fc.property(nsgArb(false), entryArb, (nsg, entry) => {
        const options = {
          ...(entry.ports ? { ports: entry.ports } : {}),
          protocols: entry.protocols,
          trustedSources: entry.trusted,
          publicPrefixes: entry.publicPrefixes,
        };
        const violations = nsgInboundExposure.evaluate(
          snapshotOf(nsg),
          nsgInboundExposure.options.parse(options),
          {
            trustedSources: [],
          },
        );
        const reported = new Map<string, { sources: string[]; ports: string[]; protocols: string[] }>();
        for (const v of violations) {
          for (const m of v.matched) {
            const prev = reported.get(String(m.securityRule)) ?? { sources: [], ports: [], protocols: [] };
            reported.set(String(m.securityRule), {
              sources: [...prev.sources, ...(m.sources as string[])],
              ports: [...prev.ports, ...(m.ports as string[])],
              protocols: [...prev.protocols, ...(m.protocols as string[])],
            });
          }
        }
        const rules = inboundRules(nsg);
        const policy: SourcePolicy = { trusted: entry.trusted, publicPrefixes: entry.publicPrefixes };
        for (const raw of rulesOf(nsg)) {
          const model = modelRule(raw);
          if (model.access !== "Allow") continue;
          const want = { sources: new Set<string>(), ports: new Set<number>(), protocols: new Set<string>() };
          for (const token of model.sources.filter((t) => offendingToken(t, policy))) {
            for (const packet of packets(entry.protocols, protectedPorts(entry), token)) {
              if (!ruleOpens(rules, model, packet)) continue;
              want.sources.add(token);
              want.ports.add(packet.destinationPort);
              want.protocols.add(packet.protocol);
            }
          }
          const got = reported.get(model.name);
          expect(new Set(got?.sources ?? []), model.name).toEqual(want.sources);
          expect(new Set(got?.protocols ?? []), model.name).toEqual(want.protocols);
          const gotPorts = portsOf(got?.ports ?? []);
          expect(new Set(protectedPorts(entry).filter((p) => inPorts(gotPorts, p))), model.name).toEqual(
            want.ports,
          );
        }
      }),
      { numRuns: 120 },
    );
  });
});
