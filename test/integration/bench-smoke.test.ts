// A short run of the benchmark harness (bench/run.ts) with tiny counts: it proves the harness runs end to end against
// the ARM emulator, moto, the webhook sink and a fresh instance of the Function bundle, and that its counters say
// what the guardian really did. No timing is asserted: benchmarks are not tests.
import { beforeAll, describe, expect, it } from "vitest";
import { type BenchResults, QUICK, runBench } from "../../bench/run.ts";

let results: BenchResults;

beforeAll(async () => {
  results = await runBench({ ...QUICK, stormOneResource: 4, stormManyResources: 3 }, [
    "remediate",
    "throughput",
    "storms",
    "alerts",
    "scan",
  ]);
}, 180_000);

const economy = (scenario: string) => {
  const found = results.economy?.find((e) => e.scenario === scenario);
  if (!found) throw new Error(`no economy row ${scenario}`);
  return found;
};

describe("npm run bench (smoke)", () => {
  it("remediates every benchmark event on both clouds and times each one", () => {
    expect(results.remediate?.map((r) => [r.path, r.events, r.outcomes])).toEqual([
      ["Azure NSG (Function, deny-rule)", QUICK.remediateEvents, { applied: QUICK.remediateEvents }],
      ["AWS security group (Lambda, revoke-cidr)", QUICK.remediateEvents, { applied: QUICK.remediateEvents }],
    ]);
    for (const r of results.remediate ?? []) {
      expect(r.remediateP50Ms).toBeGreaterThan(0);
      expect(r.remediateP99Ms).toBeGreaterThanOrEqual(r.remediateP50Ms);
      expect(r.handlerP50Ms).toBeGreaterThanOrEqual(r.remediateP50Ms);
      expect(r.floorP50Ms).toBeGreaterThan(0);
    }
  });

  it("counts one read and one write per remediated event, and one alert", () => {
    expect(economy("Azure NSG, SSH opened (subscription event)")).toMatchObject({
      maxReads: 1,
      maxWrites: 1,
      readsPerEvent: 1,
      writesPerEvent: 1,
      alertsPerEvent: 1,
    });
    // On AWS the revoke also reads the ids of the rules it removes (DescribeSecurityGroupRules), so that a lost answer
    // can be settled exactly: its own fix, or someone's in-place rewrite of the rule.
    expect(economy("AWS SG, 22 opened to 0.0.0.0/0")).toMatchObject({
      maxReads: 2,
      maxWrites: 1,
      readsPerEvent: 2,
      writesPerEvent: 1,
      alertsPerEvent: 1,
    });
    // The ARM write is a long-running operation: its status polls are counted apart (no final GET: the guardian
    // re-reads when it needs the result).
    expect(economy("Azure NSG, SSH opened (subscription event)").pollsPerEvent).toBeGreaterThanOrEqual(1);
  });

  it("counts no write and no alert for a compliant change, and no read when the event carries the resource", () => {
    expect(economy("Azure NSG, compliant change (subscription event)")).toMatchObject({
      maxReads: 1,
      maxWrites: 0,
      alertsPerEvent: 0,
    });
    expect(economy("AWS SG, compliant change")).toMatchObject({
      maxReads: 1,
      maxWrites: 0,
      alertsPerEvent: 0,
    });
    expect(economy("Azure NSG, compliant change (event carries the resource)")).toMatchObject({
      maxReads: 0,
      maxWrites: 0,
      alertsPerEvent: 0,
    });
    // A risky change announced with the resource: the write starts from a fresh read, never from the event's content.
    expect(economy("Azure NSG, SSH opened (event carries the resource)")).toMatchObject({
      maxReads: 1,
      maxWrites: 1,
      alertsPerEvent: 1,
    });
  });

  it("counts nothing for the guardian's own writes", () => {
    for (const scenario of ["Azure NSG, the guardian's own write", "AWS SG, the guardian's own revoke"]) {
      expect(economy(scenario)).toMatchObject({ maxReads: 0, maxWrites: 0, alertsPerEvent: 0 });
      expect(economy(scenario).events).toBe(QUICK.economyEvents);
    }
  });

  it("evaluates every throughput case and finds the one open rule in each", () => {
    const measured = (results.throughput ?? []).filter((t) => t.skipped === undefined);
    expect(measured.map((t) => t.case)).toEqual([
      "Azure NSG, 10 rules (event carries it)",
      "Azure NSG, 200 rules (event carries it)",
      "Azure storage account, 20 IP and 20 VNet rules (event carries it)",
      "AWS security group, 60 permissions",
    ]);
    for (const t of measured) {
      expect(t.perSecond).toBeGreaterThan(0);
      expect(t.findingsPerEvent).toBe(1);
    }
    expect(results.throughput?.some((t) => t.skipped !== undefined)).toBe(false);
  });

  it("runs storms through a fresh Function instance and counts its reads, writes and alerts", () => {
    const [one, many] = results.storms ?? [];
    // Many resources: each NSG read once, written once, alerted once.
    expect(many).toMatchObject({ events: 3, resources: 3, reads: 3, writes: 3, alerts: 3, errors: 0 });
    // One resource: every event reads it; exactly one write lands (concurrent plans lose on the etag).
    expect(one).toMatchObject({ events: 4, resources: 1, errors: 0 });
    expect(one?.reads).toBeGreaterThanOrEqual(4);
    expect(one?.writes).toBeGreaterThanOrEqual(1);
    expect(one?.alerts).toBeGreaterThanOrEqual(1);
    for (const s of results.storms ?? []) {
      expect(s.peakRssMb).toBeGreaterThan(0);
      expect(s.peakRssMb).toBeGreaterThanOrEqual(s.rssAfterImportMb);
    }
  });

  it("delivers every alert of the burst once through the flaky sink, at Slack's pace", () => {
    const a = results.alerts;
    expect(a?.alerts).toBe(QUICK.alertBurst);
    expect(a?.delivered).toBe(QUICK.alertBurst);
    expect(a?.lost).toBe(0);
    expect(a?.duplicated).toBe(0);
    expect(a?.posts).toBeGreaterThanOrEqual(QUICK.alertBurst);
  });

  it("scans the seeded estates completely, finds their open resources, and pull and push revoke the same groups", () => {
    const scan = results.scan;
    if (!scan) throw new Error("no scan section");
    expect(scan.rows.map((r) => [r.cloud, r.resources])).toEqual([
      ["azure", QUICK.scanNsgs[0]],
      ["azure", QUICK.scanNsgs[1]],
      ["aws", QUICK.scanSgs[0]],
    ]);
    for (const row of scan.rows) {
      expect(row.complete).toBe(true);
      // Every seeded resource listed (moto adds each VPC's default group), and the open ones found.
      expect(row.listed).toBeGreaterThanOrEqual(row.resources);
      expect(row.findings).toBeGreaterThan(0);
    }
    const p = scan.pullVsPush;
    expect(p.open).toBe(Math.ceil(QUICK.pullGroups / 2));
    expect(p.revokedByPull).toBe(p.open);
    expect(p.revokedByPush).toBe(p.open);
    expect(p.pullCalls.writes).toBe(p.open);
    expect(p.pushCalls.writes).toBe(p.open);
  });
});
