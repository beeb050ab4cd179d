// Fault injection, bounded: a few hundred Event Grid deliveries through the Azure Function handler while 20% of the
// guardian's ARM calls fail (throttling, 5xx, 409 AnotherOperationInProgress, connection resets before and after ARM
// applied the call, calls that never answer, operations that end Failed), delivered as Event Grid would (at least
// once: duplicates, redelivery of failed invocations up to a limit, then dead-letter), with a person editing NSGs
// between the guardian's read and its write. Everything is judged from the emulator's final state, the audit and the
// alerts. The faults come from test/harness/faults.ts (seeded); a proxy in front of moto can replay the same plan.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type EventGridEvent, InvocationContext } from "@azure/functions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOnChangeHandler } from "../../functions/on-change.ts";
import { AzureNetwork, NSG_TYPE } from "../../shared/clouds/azure/network.ts";
import { azureGuardianDeps } from "../../shared/clouds/azure/runtime.ts";
import { azureSnapshot } from "../../shared/clouds/azure/snapshot.ts";
import { parseConfig } from "../../shared/config.ts";
import type { OutboxPort } from "../../shared/notify/outbox.ts";
import type { Alert } from "../../shared/notify/types.ts";
import { evaluatePolicy } from "../../shared/policy/evaluate.ts";
import { parsePolicy } from "../../shared/policy/load.ts";
import { perInstance } from "../../shared/runtime.ts";
import type { AuditRecord } from "../../shared/types.ts";
import {
  type ArmEmulator,
  DEFAULT_SUBSCRIPTION_ID,
  mintToken,
  networkClientFor,
  rawArmRequest,
  startArmEmulator,
  staticTokenCredential,
} from "../harness/arm-emulator/index.ts";
import { type Fault, faultKind, randomFaults, seededRandom } from "../harness/faults.ts";

// Replay a failing run with GUARDIAN_FAULT_SEED=<seed>; the assertion messages name the resources.
const SEED = Number(process.env.GUARDIAN_FAULT_SEED ?? 7_2026);
const NSGS = 36;
const ROUNDS = 3;
const FAULT_RATE = 0.2;
const MAX_DELIVERIES = 8;
const DUPLICATE_RATE = 0.15;
const PERSON_EDIT_RATE = 0.12;
const CONCURRENCY = 8;

const RG = "rg-faults";
const API = "api-version=2024-05-01";
const GUARDIAN_OID = "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9";
const guardianToken = mintToken({
  oid: GUARDIAN_OID,
  appid: "0f1e2d3c-4b5a-4697-8887-a6b5c4d3e2f1",
  idtyp: "app",
});
const aliceToken = mintToken({ oid: "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d", upn: "alice@contoso.com" });
const bobToken = mintToken({ oid: "7b8c9d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e", upn: "bob@contoso.com" });

const POLICY = `version: 1
maxWritesPerEvent: 10
rules:
  - name: no-ssh-from-internet
    rule: nsg-inbound-exposure
    mode: remediate
    severity: critical
    remediation: delete-rule
    options: { ports: [22] }
  - name: no-rdp-from-internet
    rule: nsg-inbound-exposure
    mode: remediate
    severity: critical
    remediation: delete-rule
    options: { ports: [3389] }
`;

const FAULT_MIX: { weight: number; fault: Fault }[] = [
  { weight: 3, fault: { status: 429, retryAfterSeconds: 0 } },
  { weight: 1, fault: { status: 500 } },
  { weight: 2, fault: { status: 503, retryAfterSeconds: 0 } },
  { weight: 3, fault: { status: 409, code: "AnotherOperationInProgress" } },
  { weight: 2, fault: { kind: "reset-before" } },
  { weight: 3, fault: { kind: "reset-after" } },
  { weight: 1, fault: { kind: "hang" } },
  { weight: 1, fault: { kind: "hang-after" } },
  { weight: 1, fault: { kind: "lro-failed", code: "Conflict" } },
  { weight: 1, fault: { kind: "lro-failed", code: "InternalServerError" } },
  { weight: 1, fault: { kind: "lro-failed", code: "InternalServerError", applied: true } },
];

const nsgId = (i: number) =>
  `/subscriptions/${DEFAULT_SUBSCRIPTION_ID}/resourceGroups/${RG}/providers/Microsoft.Network/networkSecurityGroups/nsg-${i}`;
const nsgOfSubject = (subject: string) => subject.split("/securityRules/")[0]?.toLowerCase() ?? "";

interface RuleBody {
  protocol: string;
  sourcePortRange: string;
  destinationPortRange: string;
  sourceAddressPrefix?: string;
  sourceAddressPrefixes?: string[];
  destinationAddressPrefix: string;
  access: string;
  priority: number;
  direction: string;
  description?: string;
}

const ruleBody = (source: string | string[], port: string, priority: number): RuleBody => ({
  protocol: "Tcp",
  sourcePortRange: "*",
  destinationPortRange: port,
  ...(Array.isArray(source) ? { sourceAddressPrefixes: source } : { sourceAddressPrefix: source }),
  destinationAddressPrefix: "*",
  access: "Allow",
  priority,
  direction: "Inbound",
});

/** The neighbours every NSG starts with: compliant, and never to be changed by the guardian. */
const NEIGHBOURS: Record<string, RuleBody> = {
  "allow-vpn-ssh": ruleBody("10.8.0.0/16", "22", 100),
  "allow-https": ruleBody("Internet", "443", 200),
};

/** Alice's risky change of a round: SSH from the Internet (deleted), or RDP from a mix (narrowed). */
function aliceRule(round: number): { name: string; body: RuleBody; kind: "delete" | "narrow" } {
  return round % 2 === 0
    ? { name: `open-ssh-${round}`, body: ruleBody("Internet", "22", 300 + round), kind: "delete" }
    : {
        name: `rdp-mixed-${round}`,
        body: ruleBody(["10.20.0.0/16", "0.0.0.0/0"], "3389", 300 + round),
        kind: "narrow",
      };
}

type Props = Record<string, unknown>;
const propsOf = (id: string): Props | undefined =>
  (emu.get(id) as { properties?: Props } | undefined)?.properties;
const comparable = (p: Props | undefined) => {
  if (!p) return undefined;
  const { provisioningState: _, ...rest } = p;
  return rest;
};

let emu: ArmEmulator;
let dir: string;

beforeAll(async () => {
  emu = await startArmEmulator({ lroPolls: 1 });
  dir = await mkdtemp(path.join(tmpdir(), "guardian-faults-"));
  await writeFile(path.join(dir, "policy.yaml"), POLICY);
});

afterAll(async () => {
  await emu?.stop();
});

describe("Azure Function under injected ARM faults, with Event Grid's at-least-once delivery", () => {
  it("leaves no exposure open and acknowledged, changes no neighbour, overwrites no person's edit, and never alerts a failure it fixed", async () => {
    const random = seededRandom(SEED);
    const alerts: Alert[] = [];
    const audit: AuditRecord[] = [];
    const notifier: OutboxPort = {
      async enqueue(alert) {
        alerts.push(alert);
        return [{ channel: "memory", ok: true }];
      },
    };
    const credential = staticTokenCredential(guardianToken);
    const cfg = parseConfig({
      GUARDIAN_POLICY_FILE: path.join(dir, "policy.yaml"),
      AZURE_ARM_ENDPOINT: emu.url,
      // Timeouts well above a loaded CI machine's response times: a hang must be cut off, a slow answer must not be.
      GUARDIAN_BUDGET_MS: "12000",
    });
    // One Functions instance: clients, locks and the policy shared by its concurrent invocations.
    const factory = perInstance(async (log) => {
      const network = new AzureNetwork({
        credential,
        endpoint: emu.url,
        ca: emu.ca,
        pollIntervalMs: 0,
        maxRetries: 3,
        retryDelayInMs: 5,
        maxRetryDelayInMs: 20,
        requestTimeoutMs: 1500,
      });
      return azureGuardianDeps(cfg, log, { credential, network, outbox: notifier });
    });
    const handler = createOnChangeHandler(async (log) => ({
      ...(await factory(log)),
      audit: { record: async (r: AuditRecord) => void audit.push(r) },
    }));

    // The estate: NSGs with compliant neighbours (seeded without faults).
    for (let i = 0; i < NSGS; i++) {
      const answer = await rawArmRequest(emu, "PUT", `${nsgId(i)}?${API}`, {
        token: aliceToken,
        body: {
          location: "westeurope",
          properties: {
            securityRules: Object.entries(NEIGHBOURS).map(([name, properties]) => ({ name, properties })),
          },
        },
      });
      expect(answer.status).toBe(201);
    }

    // A person (Bob) sometimes edits the NSG the guardian has just read, before the read's answer reaches it.
    const bob = networkClientFor(emu, bobToken);
    const bobEdits = new Map<string, Props>(); // rule id → the properties Bob set
    let bobEditCount = 0;
    emu.beforeAnswer(async (entry) => {
      if (entry.caller !== GUARDIAN_OID || entry.method !== "GET" || entry.status !== 200) return;
      if (!/\/networkSecurityGroups\/nsg-\d+$/i.test(entry.path) || random() >= PERSON_EDIT_RATE) return;
      const id = entry.path;
      const rules = (emu.get(id) as { properties: { securityRules: { name: string; properties: Props }[] } })
        .properties.securityRules;
      const open = rules.find(
        (r) =>
          /^(open-ssh|rdp-mixed)-/.test(r.name) &&
          !bobEdits.has(`${id}/securityRules/${r.name}`.toLowerCase()),
      );
      const [name, properties] =
        open && random() < 0.6
          ? // Narrows Alice's rule to a private range himself.
            [
              open.name,
              {
                ...(comparable(open.properties) as Props),
                sourceAddressPrefix: "10.30.0.0/16",
                sourceAddressPrefixes: [],
              },
            ]
          : // Or documents the HTTPS rule next to it.
            [
              "allow-https",
              { ...NEIGHBOURS["allow-https"], description: `reviewed by bob (${++bobEditCount})` },
            ];
      const rg = RG;
      const nsg = id.split("/").at(-1) ?? "";
      await bob.securityRules.createOrUpdate(rg, nsg, name as string, properties as never, {
        updateIntervalInMs: 0,
      });
      bobEdits.set(`${id}/securityRules/${name}`.toLowerCase(), properties as Props);
    });

    const plan = randomFaults({
      seed: SEED,
      rate: FAULT_RATE,
      mix: FAULT_MIX,
      match: (call) => call.caller === GUARDIAN_OID,
    });
    emu.setFaultPlan(plan);

    // Event Grid: every event at least once (some twice), a failed invocation redelivered until it succeeds or
    // reaches the delivery limit, then dead-lettered.
    interface Delivery {
      event: EventGridEvent;
      attempt: number;
      round: number;
    }
    const queue: Delivery[] = [];
    let seen = 0;
    let invocations = 0;
    const acknowledged: { nsg: string; round: number; evaluated: boolean }[] = [];
    const deadLettered: Delivery[] = [];
    const exposures: { id: string; nsg: string; round: number; kind: "delete" | "narrow" }[] = [];
    let round = 0;
    const enqueueNewEvents = () => {
      for (const event of emu.events.slice(seen) as EventGridEvent[]) {
        queue.push({ event, attempt: 1, round });
        if (random() < DUPLICATE_RATE) queue.push({ event, attempt: 1, round });
      }
      seen = emu.events.length;
    };
    const deliverAll = async () => {
      let inFlight = 0;
      await new Promise<void>((resolve, reject) => {
        const pump = () => {
          enqueueNewEvents();
          if (queue.length === 0 && inFlight === 0) return resolve();
          while (inFlight < CONCURRENCY && queue.length > 0) {
            const delivery = queue.shift() as Delivery;
            inFlight++;
            invocations++;
            const context = new InvocationContext({
              invocationId: crypto.randomUUID(),
              functionName: "onChange",
              logHandler: () => undefined,
            });
            handler(delivery.event, context)
              .then(
                (result) => {
                  acknowledged.push({
                    nsg: nsgOfSubject(delivery.event.subject),
                    round: delivery.round,
                    evaluated: result.outcomes.some((o) => o.status === "evaluated"),
                  });
                },
                () => {
                  if (delivery.attempt >= MAX_DELIVERIES) deadLettered.push(delivery);
                  else queue.push({ ...delivery, attempt: delivery.attempt + 1 });
                },
              )
              .then(() => {
                inFlight--;
                pump();
              }, reject);
          }
        };
        pump();
      });
    };

    for (round = 0; round < ROUNDS; round++) {
      const change = aliceRule(round);
      for (let i = 0; i < NSGS; i++) {
        const id = `${nsgId(i)}/securityRules/${change.name}`;
        const answer = await rawArmRequest(emu, "PUT", `${id}?${API}`, {
          token: aliceToken,
          body: { properties: change.body },
        });
        expect(answer.status).toBe(201);
        exposures.push({ id: id.toLowerCase(), nsg: nsgId(i).toLowerCase(), round, kind: change.kind });
      }
      await deliverAll();
    }
    emu.setFaultPlan(undefined);

    // The run was what it claims: a few hundred deliveries, every kind of fault injected.
    expect(invocations).toBeGreaterThan(300);
    const kinds = new Set(plan.injected.map((f) => faultKind(f.fault)));
    expect([...kinds].sort()).toEqual(
      ["hang", "hang-after", "lro-failed", "reset-after", "reset-before", "status"].sort(),
    );
    expect(plan.injected.length).toBeGreaterThan(100);
    expect(bobEdits.size).toBeGreaterThan(3);

    const policy = parsePolicy(POLICY);
    for (let i = 0; i < NSGS; i++) {
      const id = nsgId(i);
      const snapshot = azureSnapshot(emu.get(id), NSG_TYPE);
      if (!snapshot) throw new Error(`${id} is gone`);
      const open = evaluatePolicy(policy, snapshot).flatMap((e) =>
        e.finding.matched.map((m) => `${id}/securityRules/${String(m.securityRule)}`.toLowerCase()),
      );
      // 1. No exposure left open and acknowledged: every open rule's NSG had no acknowledged evaluation since.
      for (const rule of open) {
        const exposure = exposures.find((e) => e.id === rule);
        const ackedSince = acknowledged.filter(
          (a) => a.nsg === id.toLowerCase() && a.evaluated && a.round >= (exposure?.round ?? 0),
        );
        expect(ackedSince, `${rule} is open but an evaluation of its NSG was acknowledged`).toEqual([]);
        expect(deadLettered.some((d) => nsgOfSubject(d.event.subject) === id.toLowerCase())).toBe(true);
      }
      // 2. No neighbouring rule changed, except by Bob, whose edits stand (3).
      for (const [name, body] of Object.entries(NEIGHBOURS)) {
        const ruleId = `${id}/securityRules/${name}`;
        const expected = bobEdits.get(ruleId.toLowerCase()) ?? body;
        expect(comparable(propsOf(ruleId)), ruleId).toMatchObject(expected as Props);
      }
    }
    for (const exposure of exposures) {
      const now = comparable(propsOf(exposure.id));
      const byBob = bobEdits.get(exposure.id);
      const applied = audit.filter(
        (a) =>
          a.outcome === "applied" &&
          `${a.resourceId}/securityRules/${String((a.before as { name?: string } | undefined)?.name)}`.toLowerCase() ===
            exposure.id,
      );
      // Never more than one write recorded as applied per exposure, even under duplicates and lost answers.
      expect(applied.length, exposure.id).toBeLessThanOrEqual(1);
      if (byBob) {
        // 3. A person's edit made between the guardian's read and write is never overwritten.
        expect(now, exposure.id).toMatchObject({ sourceAddressPrefix: "10.30.0.0/16" });
        continue;
      }
      // Fixed by the guardian, and credited to it (never to "someone else" for its own write).
      if (exposure.kind === "delete") expect(now, exposure.id).toBeUndefined();
      else expect(now, exposure.id).toMatchObject({ sourceAddressPrefix: "10.20.0.0/16", access: "Allow" });
      expect(applied, `${exposure.id} was fixed but no applied write is recorded`).toHaveLength(1);
    }
    // 4. No "failed" alert (nor any other than applied) about what was fixed: retried failures are not announced.
    const announced = alerts.flatMap((a) => a.results.map((r) => r.outcome));
    expect(announced.filter((o) => o !== "applied")).toEqual([]);
    expect(announced.length).toBe(audit.filter((a) => a.outcome === "applied").length);
  }, 60_000);
});
