import { describe, expect, it } from "vitest";
import { memoryAuditSink } from "../../../shared/audit/index.ts";
import type { ResourceRef } from "../../../shared/clouds/ports.ts";
import { ConflictError, InputError, OutcomeUnknownError, TransientError } from "../../../shared/errors.ts";
import { memoryLogger } from "../../../shared/log.ts";
import { describeDone, kindOf } from "../../../shared/notify/model.ts";
import type { OutboxPort } from "../../../shared/notify/outbox.ts";
import type { Alert } from "../../../shared/notify/types.ts";
import { type CloudPort, type GuardianDeps, handleChanges, ResourceLocks } from "../../../shared/pipeline.ts";
import { parsePolicy } from "../../../shared/policy/load.ts";
import type { PlannedChange, ResourceChange, Snapshot } from "../../../shared/types.ts";
import { applyChange, NSG_ID, nsgWith, rulesOf, snapshotOf } from "../../fixtures/azure/nsg/nsg.ts";

const policyText = (extra = "") => `version: 1
trustedSources: [203.0.113.10/32]
rules:
  - name: no-ssh
    rule: nsg-inbound-exposure
    mode: remediate
    severity: critical
    options: { ports: [22] }
${extra}`;

/** An in-memory NSG "cloud": reads return the current state; writes apply the plan unless a conflict is scripted. */
function memoryCloud(initial: Record<string, unknown>) {
  let state = initial;
  const calls = { reads: 0, writes: 0 };
  const conflicts: (() => void)[] = [];
  const port: CloudPort = {
    reader: {
      async read(_ref: ResourceRef): Promise<Snapshot | undefined> {
        calls.reads++;
        return snapshotOf(structuredClone(state));
      },
    },
    writer: {
      async apply(change: PlannedChange, snapshot: Snapshot) {
        calls.writes++;
        const concurrent = conflicts.shift();
        if (concurrent) {
          concurrent();
          throw new ConflictError("412", snapshot.resourceId);
        }
        state = applyChange(state as never, change);
      },
    },
    snapshotFromEvent: () => undefined,
    consoleUrl: (ref) => `https://portal.example/${ref.resourceId}`,
  };
  return {
    port,
    calls,
    state: () => state,
    set: (s: Record<string, unknown>) => {
      state = s;
    },
    conflicts,
  };
}

function sink(): OutboxPort & { alerts: Alert[] } {
  const alerts: Alert[] = [];
  return {
    alerts,
    async enqueue(alert) {
      alerts.push(alert);
      return [{ channel: "memory", ok: true }];
    },
  };
}

function change(over: Partial<ResourceChange> = {}): ResourceChange {
  return {
    cloud: "azure",
    account: "00000000-0000-0000-0000-000000000000",
    resourceId: NSG_ID,
    resourceType: "microsoft.network/networksecuritygroups",
    operation: "write",
    operationName: "Microsoft.Network/networkSecurityGroups/securityRules/write",
    subjectId: `${NSG_ID}/securityRules/open-ssh`,
    actor: { name: "alice@contoso.com", principalId: "a1", principalType: "User" },
    eventId: "evt-1",
    correlationId: "corr-1",
    time: "2026-11-23T10:00:00Z",
    ...over,
  };
}

const openSsh = { name: "open-ssh", priority: 110, source: "Internet", ports: "22" };
const keepMe = { name: "allow-vnet-https", priority: 120, source: "VirtualNetwork", ports: "443" };

function deps(cloud: ReturnType<typeof memoryCloud>, over: Partial<GuardianDeps> = {}) {
  const audit = memoryAuditSink();
  const notifier = sink();
  const log = memoryLogger();
  const d: GuardianDeps = {
    policy: parsePolicy(policyText()),
    clouds: { azure: cloud.port },
    outbox: notifier,
    audit,
    selfIdentities: ["guardian-oid"],
    dryRun: false,
    log,
    now: () => new Date("2026-11-23T10:00:00Z"),
    ...over,
  };
  return { d, audit, notifier, log };
}

describe("pipeline", () => {
  it("remediates only the offending rule, audits before alerting, and alerts once per resource", async () => {
    const cloud = memoryCloud(nsgWith([openSsh, keepMe]));
    const { d, audit, notifier } = deps(cloud);
    const [outcome] = await handleChanges([change()], d);
    expect(outcome?.actions.map((a) => a.outcome)).toEqual(["applied"]);
    expect(rulesOf(cloud.state()).map((r) => r.name)).toEqual(["allow-vnet-https"]);
    expect(cloud.calls).toEqual({ reads: 1, writes: 1 });
    expect(audit.records).toHaveLength(1);
    expect(audit.records[0]).toMatchObject({ outcome: "applied", eventId: "evt-1", correlationId: "corr-1" });
    expect(audit.records[0]?.before).toMatchObject({ name: "open-ssh" });
    expect(notifier.alerts).toHaveLength(1);
    expect(notifier.alerts[0]?.actor.name).toBe("alice@contoso.com");
  });

  it("changes nothing in dry-run (environment switch) but reports the plan", async () => {
    const cloud = memoryCloud(nsgWith([openSsh]));
    const { d, notifier } = deps(cloud, { dryRun: true });
    const [outcome] = await handleChanges([change()], d);
    expect(outcome?.actions[0]?.outcome).toBe("dry-run");
    expect(outcome?.actions[0]?.planned?.summary).toMatch(/open-ssh/);
    expect(cloud.calls.writes).toBe(0);
    expect(notifier.alerts[0]?.dryRun).toBe(true);
  });

  it("honours the policy's dry-run switch too", async () => {
    const cloud = memoryCloud(nsgWith([openSsh]));
    const { d } = deps(cloud, {
      policy: parsePolicy(policyText().replace("version: 1", "version: 1\ndryRun: true")),
    });
    const [outcome] = await handleChanges([change()], d);
    expect(outcome?.actions[0]?.outcome).toBe("dry-run");
    expect(cloud.calls.writes).toBe(0);
  });

  it("does not act on its own changes", async () => {
    const cloud = memoryCloud(nsgWith([openSsh]));
    const { d, notifier } = deps(cloud);
    const [outcome] = await handleChanges([change({ actor: { principalId: "GUARDIAN-OID" } })], d);
    expect(outcome?.status).toBe("skipped-self");
    expect(cloud.calls).toEqual({ reads: 0, writes: 0 });
    expect(notifier.alerts).toHaveLength(0);
  });

  it("on a concurrent edit re-reads and re-evaluates, and stops if the edit removed the exposure", async () => {
    const cloud = memoryCloud(nsgWith([openSsh, keepMe]));
    cloud.conflicts.push(() => cloud.set(nsgWith([{ ...openSsh, source: "10.0.0.0/8" }, keepMe])));
    const { d, notifier, audit } = deps(cloud);
    const [outcome] = await handleChanges([change()], d);
    expect(outcome?.actions[0]?.outcome).toBe("already-compliant");
    // Recorded, but not announced: someone else closed it.
    expect(audit.records.map((r) => r.outcome)).toEqual(["already-compliant"]);
    expect(notifier.alerts).toHaveLength(0);
    // The human's edit stands: nothing of theirs was overwritten.
    expect(rulesOf(cloud.state()).find((r) => r.name === "open-ssh")).toBeDefined();
    expect(cloud.calls).toEqual({ reads: 2, writes: 1 });
  });

  it("on a concurrent edit that leaves the exposure, re-plans against the new state", async () => {
    const cloud = memoryCloud(nsgWith([openSsh]));
    cloud.conflicts.push(() => cloud.set(nsgWith([openSsh, keepMe])));
    const { d } = deps(cloud);
    const [outcome] = await handleChanges([change()], d);
    expect(outcome?.actions[0]?.outcome).toBe("applied");
    expect(rulesOf(cloud.state()).map((r) => r.name)).toEqual(["allow-vnet-https"]);
  });

  it("gives up after repeated conflicts and says so", async () => {
    const cloud = memoryCloud(nsgWith([openSsh]));
    for (let i = 0; i < 5; i++) cloud.conflicts.push(() => undefined);
    const { d } = deps(cloud, { maxConflictRetries: 2 });
    const [outcome] = await handleChanges([change()], d);
    expect(outcome?.actions[0]?.outcome).toBe("conflict");
    expect(cloud.calls.writes).toBe(3);
  });

  it("honours the exempt tag only for alert-mode entries, and still alerts the exempt finding at low severity", async () => {
    const alertPolicy = parsePolicy(policyText().replace("mode: remediate", "mode: alert"));
    const tagged = (value: string) => {
      const nsg = nsgWith([openSsh]);
      nsg.tags = { "guardian:exempt": value };
      return nsg;
    };
    for (const value of ["true", "TRUE", "no-ssh", "other-entry, no-ssh"]) {
      const { d, notifier, audit } = deps(memoryCloud(tagged(value)), { policy: alertPolicy });
      const [outcome] = await handleChanges([change()], d);
      expect(
        outcome?.actions.map((a) => a.outcome),
        value,
      ).toEqual(value.includes("other-entry") ? ["skipped-exempt", "warning"] : ["skipped-exempt"]);
      expect(audit.records[0]).toMatchObject({ outcome: "skipped-exempt", severity: "critical" });
      // Alerted, once, at a lower level: the tag may have been set by whoever opened the port.
      expect(notifier.alerts).toHaveLength(1);
      expect(notifier.alerts[0]?.results[0]).toMatchObject({
        outcome: "skipped-exempt",
        finding: { severity: "low" },
        reason: `resource tag guardian:exempt=${value}`,
      });
    }

    // A remediate entry never honours the tag: it remediates, and the tag naming it is reported.
    const remediated = deps(memoryCloud(tagged("no-ssh")));
    const [fixed] = await handleChanges([change()], remediated.d);
    expect(fixed?.actions.map((a) => [a.finding.policyRule, a.outcome])).toEqual([
      ["no-ssh", "applied"],
      ["exempt-tag", "warning"],
    ]);
    expect(fixed?.actions[1]?.reason).toBe(
      "tag guardian:exempt=no-ssh entry no-ssh does not accept tag exemptions (mode remediate; only alert-mode entries can): no exemption from no-ssh",
    );
    expect(remediated.audit.records.map((r) => r.outcome)).toEqual(["applied", "warning"]);
  });

  it("an empty or unknown exempt tag value is no exemption and is reported", async () => {
    const alertPolicy = parsePolicy(policyText().replace("mode: remediate", "mode: alert"));
    const cases: [string, string][] = [
      [
        "",
        'tag guardian:exempt is empty: it exempts nothing (expected "true" or a comma-separated list of entry names)',
      ],
      [
        "   ",
        'tag guardian:exempt is empty: it exempts nothing (expected "true" or a comma-separated list of entry names)',
      ],
      ["*", "tag guardian:exempt=* names no entry of the policy: *"],
      ["yes", "tag guardian:exempt=yes names no entry of the policy: yes"],
      ["no-shh", "tag guardian:exempt=no-shh names no entry of the policy: no-shh"],
    ];
    for (const [value, message] of cases) {
      const nsg = nsgWith([openSsh]);
      nsg.tags = { "Guardian:Exempt": value };
      const { d, notifier } = deps(memoryCloud(nsg), { policy: alertPolicy });
      const [outcome] = await handleChanges([change()], d);
      expect(
        outcome?.actions.map((a) => a.outcome),
        value,
      ).toEqual(["skipped-mode", "warning"]);
      expect(outcome?.actions[1]?.reason.replace("Guardian:Exempt", "guardian:exempt"), value).toContain(
        message,
      );
      expect(
        outcome?.findings.map((f) => f.ruleId),
        value,
      ).toEqual(["nsg-inbound-exposure", "exempt-tag"]);
      expect(
        notifier.alerts[0]?.results.map((r) => r.outcome),
        value,
      ).toEqual(["skipped-mode", "warning"]);
      // Announced in the alert as what it is, not as an entry's mode.
      const warning = notifier.alerts[0]?.results[1];
      if (!warning) throw new Error("no warning result");
      const kind = kindOf(warning);
      expect(kind, value).toBe("alerted");
      if (kind) expect(describeDone(kind, warning), value).toBe(`Warning: ${warning.reason}`);
    }
  });

  it("respects policy exemptions (any mode), and ignores expired ones", async () => {
    const exemptions = (expires: string) =>
      policyText(
        `    exemptions:\n      - resourceId: ${NSG_ID}\n        expires: ${expires}\n        reason: CHG-1\n`,
      );
    const cloud2 = memoryCloud(nsgWith([openSsh]));
    const active = deps(cloud2, { policy: parsePolicy(exemptions("2026-12-01")) });
    expect((await handleChanges([change()], active.d))[0]?.actions[0]?.outcome).toBe("skipped-exempt");
    const expired = deps(cloud2, { policy: parsePolicy(exemptions("2026-11-01")) });
    expect((await handleChanges([change()], expired.d))[0]?.actions[0]?.outcome).toBe("applied");
  });

  it("alert mode alerts without writing; report mode records without alerting", async () => {
    for (const mode of ["alert", "report"] as const) {
      const cloud = memoryCloud(nsgWith([openSsh]));
      const { d, notifier, audit } = deps(cloud, {
        policy: parsePolicy(policyText().replace("mode: remediate", `mode: ${mode}`)),
      });
      await handleChanges([change()], d);
      expect(cloud.calls.writes).toBe(0);
      expect(audit.records[0]?.outcome).toBe("skipped-mode");
      expect(notifier.alerts).toHaveLength(mode === "alert" ? 1 : 0);
    }
  });

  it("reports an alert-mode entry's finding another entry's write fixed as fixed by that write, writing nothing for it", async () => {
    // The baseline's view (alert) of the rule no-ssh (remediate) deletes, and of one nothing here remediates.
    const policy = parsePolicy(
      policyText(`  - name: admin-ports-watch
    rule: nsg-inbound-exposure
    mode: alert
    severity: high
    options: { ports: [22, 3389] }
`),
    );
    const openRdp = { name: "open-rdp", priority: 130, source: "Internet", ports: "3389" };
    const cloud = memoryCloud(nsgWith([openSsh, keepMe]));
    const { d, audit, notifier } = deps(cloud, { policy });
    const [outcome] = await handleChanges([change()], d);
    expect(cloud.calls.writes).toBe(1);
    expect(rulesOf(cloud.state()).map((r) => r.name)).toEqual(["allow-vnet-https"]);
    const fixed = outcome?.actions.find((a) => a.finding.policyRule === "admin-ports-watch");
    const write = outcome?.actions.find((a) => a.finding.policyRule === "no-ssh");
    expect(write?.outcome).toBe("applied");
    expect(fixed).toMatchObject({
      mode: "alert",
      outcome: "applied",
      reason:
        "fixed by the change of policy entry no-ssh (delete-rule); this entry is in alert mode and wrote nothing",
      planned: write?.planned,
    });
    // Audited as decided (left), then as fixed by the write once the resource was read again.
    expect(audit.records.map((r) => [r.policyRule, r.outcome])).toEqual([
      ["no-ssh", "applied"],
      ["admin-ports-watch", "skipped-mode"],
      ["admin-ports-watch", "applied"],
    ]);
    expect(notifier.alerts[0]?.results.map((r) => r.outcome)).toEqual(["applied", "applied"]);

    // A finding the write did not fix (RDP stays open) stays as decided: left and alerted.
    const rdp = memoryCloud(nsgWith([openSsh, openRdp]));
    const { d: d2, audit: audit2 } = deps(rdp, { policy });
    const [left] = await handleChanges([change()], d2);
    expect(rulesOf(rdp.state()).map((r) => r.name)).toEqual(["open-rdp"]);
    expect(left?.actions.map((a) => [a.finding.policyRule, a.mode, a.outcome])).toEqual([
      ["no-ssh", "remediate", "applied"],
      ["admin-ports-watch", "alert", "skipped-mode"],
    ]);
    expect(audit2.records.map((r) => r.outcome)).toEqual(["applied", "skipped-mode"]);
  });

  it("removes only the world-open source beside an office range, and alerts the office range apart", async () => {
    const mixed = { name: "ssh", priority: 110, source: ["198.51.100.0/24", "0.0.0.0/0"], ports: "22" };
    const cloud = memoryCloud(nsgWith([mixed]));
    const { d, notifier, audit } = deps(cloud);
    const [outcome] = await handleChanges([change()], d);
    expect(outcome?.actions.map((a) => [a.finding.kind, a.mode, a.outcome])).toEqual([
      ["world-open", "remediate", "applied"],
      ["public-prefix", "alert", "skipped-mode"],
    ]);
    expect(outcome?.actions[1]?.reason).toBe(
      "mode alert for public-prefix (entry no-ssh is remediate): not remediated",
    );
    const [rule] = rulesOf(cloud.state()) as [{ properties: Record<string, unknown> }];
    expect(rule.properties.sourceAddressPrefix).toBe("198.51.100.0/24");
    expect(audit.records.map((r) => r.outcome)).toEqual(["applied", "skipped-mode"]);
    expect(notifier.alerts).toHaveLength(1);
    expect(notifier.alerts[0]?.results).toHaveLength(2);

    // An entry that opts in remediates the specific prefix too.
    const optIn = memoryCloud(nsgWith([mixed]));
    const { d: d2 } = deps(optIn, {
      policy: parsePolicy(
        policyText().replace("{ ports: [22] }", "{ ports: [22], publicPrefixes: remediate }"),
      ),
    });
    const [opted] = await handleChanges([change()], d2);
    expect(opted?.actions.map((a) => [a.finding.kind, a.outcome])).toEqual([
      ["world-open", "applied"],
      ["public-prefix", "applied"],
    ]);
    expect(rulesOf(optIn.state())).toEqual([]);
  });

  it("narrows by splitting in two guarded writes, audits both, and says what each removes", async () => {
    const web = { name: "web", priority: 110, source: ["0.0.0.0/0", "10.1.0.0/16"], ports: ["22", "443"] };
    const cloud = memoryCloud(nsgWith([web, keepMe]));
    const { d, notifier, audit } = deps(cloud);
    const [outcome] = await handleChanges([change()], d);
    expect(outcome?.actions.map((a) => [a.outcome, a.planned?.operation.ruleName])).toEqual([
      ["applied", "web-split"],
      ["applied", "web"],
    ]);
    // The first write changes no decision; the re-read before the second finds the rule it added.
    expect(cloud.calls).toEqual({ reads: 2, writes: 2 });
    const rules = Object.fromEntries(
      rulesOf(cloud.state()).map((r) => [r.name, r.properties as Record<string, unknown>]),
    );
    expect(rules.web).toMatchObject({
      sourceAddressPrefix: "10.1.0.0/16",
      destinationPortRanges: ["22", "443"],
    });
    expect(rules["web-split"]).toMatchObject({
      sourceAddressPrefix: "0.0.0.0/0",
      destinationPortRange: "443",
      priority: 111,
    });
    expect(audit.records.map((r) => [r.outcome, r.before === null ? "created" : "changed"])).toEqual([
      ["applied", "created"],
      ["applied", "changed"],
    ]);
    expect(notifier.alerts).toHaveLength(1);
    expect(notifier.alerts[0]?.results.map((r) => r.planned?.summary)).toEqual([
      expect.stringContaining("so that narrowing web next removes only Tcp 22 from 0.0.0.0/0"),
      expect.stringContaining("0.0.0.0/0 keep 443 through security rule web-split (priority 111)"),
    ]);
  });

  it("writes nothing and alerts the failure when narrowing could only remove more than the finding", async () => {
    const web = { name: "web", priority: 110, source: ["0.0.0.0/0", "10.1.0.0/16"], ports: ["22", "443"] };
    const cloud = memoryCloud(
      nsgWith([
        web,
        { name: "deny-below", priority: 111, access: "Deny", source: "*", ports: "443" },
        { name: "deny-above", priority: 109, access: "Deny", source: "0.0.0.0/0", ports: "443" },
      ]),
    );
    const { d, notifier } = deps(cloud);
    const [outcome] = await handleChanges([change()], d);
    expect(outcome?.status).toBe("evaluated");
    expect(outcome?.actions.map((a) => a.outcome)).toEqual(["failed"]);
    expect(outcome?.actions[0]?.reason).toMatch(/^cannot narrow security rule web/);
    expect(cloud.calls.writes).toBe(0);
    expect(notifier.alerts).toHaveLength(1);
  });

  it("caps writes per event (blast radius) and alerts the rest", async () => {
    const cloud = memoryCloud(nsgWith([openSsh]));
    const { d } = deps(cloud, {
      policy: parsePolicy(policyText().replace("version: 1", "version: 1\nmaxWritesPerEvent: 0")),
    });
    const [outcome] = await handleChanges([change()], d);
    expect(outcome?.actions[0]?.outcome).toBe("skipped-cap");
    expect(cloud.calls.writes).toBe(0);
  });

  it("handles a batch once per resource, attributing it to the human", async () => {
    const cloud = memoryCloud(nsgWith([openSsh]));
    const { d, notifier } = deps(cloud);
    const outcomes = await handleChanges(
      [
        change({ eventId: "e1" }),
        change({ eventId: "e2", time: "2026-11-23T10:00:01Z" }),
        change({ eventId: "e3", time: "2026-11-23T10:00:02Z", actor: { principalId: "guardian-oid" } }),
      ],
      d,
    );
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]?.change.eventId).toBe("e2");
    expect(notifier.alerts).toHaveLength(1);
  });

  it("skips a deleted resource without a read", async () => {
    const cloud = memoryCloud(nsgWith([openSsh]));
    const { d } = deps(cloud);
    const [outcome] = await handleChanges([change({ operation: "delete", subjectId: undefined })], d);
    expect(outcome?.status).toBe("resource-deleted");
    expect(cloud.calls.reads).toBe(0);
  });

  it("marks a throttled write retryable without alerting it (the redelivery will), and dead-letters an undeliverable alert", async () => {
    const cloud = memoryCloud(nsgWith([openSsh]));
    const apply = cloud.port.writer.apply.bind(cloud.port.writer);
    let throttled = true;
    cloud.port.writer.apply = async (planned, snapshot) => {
      if (throttled) throw new TransientError("429 throttled");
      return apply(planned, snapshot);
    };
    const failing: OutboxPort = {
      enqueue: async () => {
        throw new TransientError("the outbox queue is down");
      },
    };
    const { d, log, audit } = deps(cloud, { outbox: failing });
    const [outcome] = await handleChanges([change()], d);
    expect(outcome?.actions[0]).toMatchObject({ outcome: "failed", retryable: true });
    expect(outcome?.retryable).toBeInstanceOf(TransientError);
    // Recorded with what it would have changed, but not announced: the event is retried.
    expect(audit.records[0]).toMatchObject({ outcome: "failed", before: { name: "open-ssh" } });
    expect(outcome?.deliveries).toEqual([]);

    throttled = false;
    const [again] = await handleChanges([change()], d);
    expect(again?.actions[0]?.outcome).toBe("applied");
    expect(again?.deliveries).toEqual([
      { channel: "outbox", ok: false, error: expect.stringContaining("the outbox queue is down") },
    ]);
    const dead = log.lines.find((l) => l.message === "guardian.deadletter");
    expect(dead?.alert).toMatchObject({ resourceId: NSG_ID });
  });

  it("uses the resource an event carried instead of reading, but reads for an etag before writing", async () => {
    const resource = nsgWith([openSsh]);
    const cloud = memoryCloud(resource);
    const carried = structuredClone(resource);
    delete carried.etag;
    for (const r of rulesOf(carried)) delete r.etag;
    cloud.port.snapshotFromEvent = (c) =>
      c.resource ? snapshotOf(c.resource as never, undefined) : undefined;
    const { d } = deps(cloud, { dryRun: true });
    await handleChanges([change({ resource: carried })], d);
    expect(cloud.calls.reads).toBe(0);
    const live = deps(cloud);
    const [outcome] = await handleChanges([change({ resource: carried })], live.d);
    expect(outcome?.actions[0]?.outcome).toBe("applied");
    expect(cloud.calls.reads).toBe(1);
  });

  it("never hands the writer a snapshot made from an event: it reads afresh and plans from that", async () => {
    const cloud = memoryCloud(nsgWith([openSsh]));
    const seen: (Snapshot["origin"] | "none")[] = [];
    const apply = cloud.port.writer.apply.bind(cloud.port.writer);
    cloud.port.writer.apply = async (planned, snapshot) => {
      seen.push(snapshot.origin ?? "none");
      return apply(planned, snapshot);
    };
    // The carried body says the rule is open; so does the real resource, under its own etag.
    cloud.port.snapshotFromEvent = (c) =>
      c.resource ? { ...snapshotOf(c.resource as never, 'W/"forged"'), origin: "event" } : undefined;
    const { d } = deps(cloud);
    const [outcome] = await handleChanges([change({ resource: nsgWith([openSsh]) })], d);
    expect(outcome?.actions[0]?.outcome).toBe("applied");
    expect(seen).toEqual(["none"]);
    expect(cloud.calls.reads).toBe(1);
  });

  it("settles a write whose answer was lost by reading, with a writer that cannot say (the finding gone = applied)", async () => {
    const cloud = memoryCloud(nsgWith([openSsh, keepMe]));
    const apply = cloud.port.writer.apply.bind(cloud.port.writer);
    cloud.port.writer.apply = async (planned, snapshot) => {
      await apply(planned, snapshot);
      throw new OutcomeUnknownError("connection reset after sending");
    };
    const { d, notifier } = deps(cloud);
    const [outcome] = await handleChanges([change()], d);
    expect(outcome?.actions.map((a) => [a.outcome, a.reason])).toEqual([
      ["applied", expect.stringContaining("confirmed by reading")],
    ]);
    expect(outcome?.retryable).toBeUndefined();
    expect(notifier.alerts.flatMap((a) => a.results.map((r) => r.outcome))).toEqual(["applied"]);
  });

  it("plans again when a lost answer hid a write that never landed, and leaves it to the retry when it keeps failing", async () => {
    const cloud = memoryCloud(nsgWith([openSsh]));
    const apply = cloud.port.writer.apply.bind(cloud.port.writer);
    let lost = 1;
    cloud.port.writer.apply = async (planned, snapshot) => {
      if (lost-- > 0) throw new OutcomeUnknownError("timed out");
      return apply(planned, snapshot);
    };
    const first = deps(cloud);
    const [outcome] = await handleChanges([change()], first.d);
    expect(outcome?.actions.map((a) => a.outcome)).toEqual(["applied"]);
    expect(cloud.calls.reads).toBe(2);

    const stuck = memoryCloud(nsgWith([openSsh]));
    stuck.port.writer.apply = async () => {
      throw new OutcomeUnknownError("timed out");
    };
    const second = deps(stuck, { maxConflictRetries: 1 });
    const [open] = await handleChanges([change()], second.d);
    expect(open?.actions.map((a) => [a.outcome, a.retryable])).toEqual([["failed", true]]);
    expect(open?.retryable).toBeInstanceOf(TransientError);
    expect(second.notifier.alerts).toEqual([]);
  });

  it("fixes every offending rule of one finding, one guarded write each, without a verifying read", async () => {
    const other = { name: "open-ssh-2", priority: 130, source: "0.0.0.0/0", ports: "22" };
    const cloud = memoryCloud(nsgWith([openSsh, keepMe, other]));
    const { d, audit, notifier } = deps(cloud);
    const [outcome] = await handleChanges([change()], d);
    expect(outcome?.findings).toHaveLength(1);
    expect(outcome?.actions.map((a) => a.outcome)).toEqual(["applied", "applied"]);
    expect(rulesOf(cloud.state()).map((r) => r.name)).toEqual(["allow-vnet-https"]);
    // Read, write, read (the first plan knew another rule remained), write; the last plan was complete.
    expect(cloud.calls).toEqual({ reads: 2, writes: 2 });
    expect(audit.records.map((r) => (r.before as { name: string }).name)).toEqual(["open-ssh", "open-ssh-2"]);
    expect(notifier.alerts).toHaveLength(1);
    expect(notifier.alerts[0]?.results).toHaveLength(2);
  });

  it("dry-run plans every offending rule of a finding", async () => {
    const other = { name: "open-ssh-2", priority: 130, source: "0.0.0.0/0", ports: "22" };
    const cloud = memoryCloud(nsgWith([openSsh, other]));
    const { d } = deps(cloud, { dryRun: true });
    const [outcome] = await handleChanges([change()], d);
    expect(outcome?.actions.map((a) => a.outcome)).toEqual(["dry-run", "dry-run"]);
    expect(outcome?.actions.map((a) => (a.planned?.before as { name?: string } | undefined)?.name)).toEqual([
      "open-ssh",
      "open-ssh-2",
    ]);
    expect(cloud.calls.writes).toBe(0);
  });

  it("does not let an exempt tag set by the concurrent edit that caused a 412 stop a remediate entry", async () => {
    const cloud = memoryCloud(nsgWith([openSsh]));
    cloud.conflicts.push(() => {
      const exempted = nsgWith([openSsh]);
      exempted.tags = { "guardian:exempt": "true" };
      cloud.set(exempted);
    });
    const { d, notifier } = deps(cloud);
    const [outcome] = await handleChanges([change()], d);
    expect(outcome?.actions[0]?.outcome).toBe("applied");
    expect(rulesOf(cloud.state()).map((r) => r.name)).toEqual([]);
    expect(cloud.calls.writes).toBe(2);
    expect(notifier.alerts).toHaveLength(1);
  });

  it("applies the blast-radius cap to the whole delivery, dry-run included", async () => {
    const policy = parsePolicy(policyText().replace("version: 1", "version: 1\nmaxWritesPerEvent: 1"));
    const a = memoryCloud(nsgWith([openSsh]));
    const b = memoryCloud(nsgWith([openSsh]));
    const second = `${NSG_ID}-b`;
    const both: CloudPort = {
      ...a.port,
      reader: {
        read: (ref) => (ref.resourceId === second ? b.port.reader.read(ref) : a.port.reader.read(ref)),
      },
      writer: {
        apply: (c, snap) =>
          c.resourceId === second ? b.port.writer.apply(c, snap) : a.port.writer.apply(c, snap),
      },
    };
    b.port.reader.read = async () => ({ ...snapshotOf(structuredClone(b.state())), resourceId: second });
    const { d } = deps(a, { policy, clouds: { azure: both } });
    const outcomes = await handleChanges([change(), change({ resourceId: second, eventId: "evt-2" })], d);
    expect(outcomes.map((o) => o.actions[0]?.outcome)).toEqual(["applied", "skipped-cap"]);
    expect(a.calls.writes + b.calls.writes).toBe(1);
    const dry = deps(memoryCloud(nsgWith([openSsh])), {
      policy: parsePolicy(policyText().replace("version: 1", "version: 1\nmaxWritesPerEvent: 0")),
      dryRun: true,
    });
    expect((await handleChanges([change()], dry.d))[0]?.actions[0]?.outcome).toBe("skipped-cap");
  });

  it("dead-letters a change that cannot be handled and still handles the rest of the batch", async () => {
    const cloud = memoryCloud(nsgWith([openSsh]));
    const broken = `${NSG_ID}-broken`;
    const read = cloud.port.reader.read.bind(cloud.port.reader);
    cloud.port.reader.read = async (ref) => {
      if (ref.resourceId === broken) throw new InputError("not a network security group: properties missing");
      return read(ref);
    };
    const { d, log } = deps(cloud);
    const outcomes = await handleChanges([change({ resourceId: broken, eventId: "bad" }), change()], d);
    expect(outcomes.map((o) => o.status)).toEqual(["failed", "evaluated"]);
    expect(outcomes[0]?.error).toMatch(/properties missing/);
    expect(outcomes[0]?.retryable).toBeUndefined();
    expect(outcomes[1]?.actions[0]?.outcome).toBe("applied");
    expect(log.lines.find((l) => l.message === "guardian.deadletter")).toMatchObject({ what: "change" });
  });

  it("in an event storm about one resource writes once and alerts once (per-resource locks)", async () => {
    const cloud = memoryCloud(nsgWith([openSsh, keepMe]));
    const read = cloud.port.reader.read.bind(cloud.port.reader);
    // Reads take a moment, as over the network: without the locks every invocation would read before any wrote.
    cloud.port.reader.read = async (ref) => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      return read(ref);
    };
    const { d, notifier } = deps(cloud, { locks: new ResourceLocks() });
    const storm = Array.from({ length: 50 }, (_, i) => handleChanges([change({ eventId: `evt-${i}` })], d));
    const outcomes = (await Promise.all(storm)).flat();
    expect(cloud.calls.writes).toBe(1);
    expect(notifier.alerts).toHaveLength(1);
    expect(outcomes.filter((o) => o.actions.some((a) => a.outcome === "applied"))).toHaveLength(1);
    expect(d.locks?.size).toBe(0);
  });

  it("locks serialise work per key, keep going after a failure, and let other keys run in parallel", async () => {
    const locks = new ResourceLocks();
    const order: string[] = [];
    const step =
      (name: string, ms: number, fail = false) =>
      async () => {
        order.push(`start ${name}`);
        await new Promise((resolve) => setTimeout(resolve, ms));
        order.push(`end ${name}`);
        if (fail) throw new Error(name);
        return name;
      };
    const results = await Promise.allSettled([
      locks.run("a", step("a1", 10, true)),
      locks.run("a", step("a2", 1)),
      locks.run("b", step("b1", 1)),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "fulfilled", "fulfilled"]);
    expect(order.indexOf("start a2")).toBeGreaterThan(order.indexOf("end a1"));
    expect(order.indexOf("start b1")).toBeLessThan(order.indexOf("end a1"));
    expect(locks.size).toBe(0);
  });

  it("still alerts what it applied when a later read fails, and marks the change retryable without alerting the failure", async () => {
    const other = { name: "open-ssh-2", priority: 130, source: "0.0.0.0/0", ports: "22" };
    const cloud = memoryCloud(nsgWith([openSsh, other]));
    const read = cloud.port.reader.read.bind(cloud.port.reader);
    cloud.port.reader.read = async (ref) => {
      if (cloud.calls.writes > 0) throw new TransientError("429 throttled");
      return read(ref);
    };
    const { d, notifier } = deps(cloud);
    const [outcome] = await handleChanges([change()], d);
    expect(outcome?.status).toBe("evaluated");
    expect(outcome?.actions.map((a) => a.outcome)).toEqual(["applied", "failed"]);
    expect(outcome?.actions[1]?.retryable).toBe(true);
    expect(outcome?.retryable).toBeInstanceOf(TransientError);
    // What was applied is announced; the read that failed is retried with the event, not announced as a failure.
    expect(notifier.alerts).toHaveLength(1);
    expect(notifier.alerts[0]?.results.map((r) => r.outcome)).toEqual(["applied"]);
  });

  it("dry-run spends the same write budget a live run would", async () => {
    const other = { name: "open-ssh-2", priority: 130, source: "0.0.0.0/0", ports: "22" };
    const policy = parsePolicy(policyText().replace("version: 1", "version: 1\nmaxWritesPerEvent: 1"));
    const live = deps(memoryCloud(nsgWith([openSsh, other])), { policy });
    const dry = deps(memoryCloud(nsgWith([openSsh, other])), { policy, dryRun: true });
    const [liveOutcome] = await handleChanges([change()], live.d);
    const [dryOutcome] = await handleChanges([change()], dry.d);
    expect(liveOutcome?.actions.map((a) => a.outcome)).toEqual(["applied", "skipped-cap"]);
    expect(dryOutcome?.actions.map((a) => a.outcome)).toEqual(["dry-run", "skipped-cap"]);
  });
});
