// The Function's write path against ARM's failure modes, end to end: the Event Grid handler, the real
// @azure/arm-network client pipeline, and the ARM emulator injecting the faults (test/harness/faults.ts). Each test
// names the issue #7 point it covers.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type EventGridEvent, InvocationContext } from "@azure/functions";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createOnChangeHandler } from "../../functions/on-change.ts";
import { type AzureClientConfig, AzureNetwork } from "../../shared/clouds/azure/network.ts";
import { azureGuardianDeps } from "../../shared/clouds/azure/runtime.ts";
import { parseConfig } from "../../shared/config.ts";
import { InputError, TransientError } from "../../shared/errors.ts";
import { type Logger, memoryLogger } from "../../shared/log.ts";
import type { OutboxPort } from "../../shared/notify/outbox.ts";
import type { Alert } from "../../shared/notify/types.ts";
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

const RG = "rg-edge";
const NSG = "nsg-jump";
const NSG_ID = `/subscriptions/${DEFAULT_SUBSCRIPTION_ID}/resourceGroups/${RG}/providers/Microsoft.Network/networkSecurityGroups/${NSG}`;
const RULE_ID = (name: string) => `${NSG_ID}/securityRules/${name}`;
const API = "api-version=2024-05-01";
const GUARDIAN_OID = "5e0c1b7a-2f4d-4c3b-9a8e-7d6c5b4a3f21";
const guardianToken = mintToken({
  oid: GUARDIAN_OID,
  appid: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
  idtyp: "app",
});
const aliceToken = mintToken({ oid: "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a", upn: "alice@contoso.com" });
const bobToken = mintToken({ oid: "6d5c4b3a-2e1f-4a0b-9c8d-7e6f5a4b3c2d", upn: "bob@contoso.com" });

const POLICY = `version: 1
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

let emu: ArmEmulator;
let dir: string;
const fast = { updateIntervalInMs: 0 };

beforeAll(async () => {
  emu = await startArmEmulator({ lroPolls: 1 });
  dir = await mkdtemp(path.join(tmpdir(), "guardian-write-safety-"));
  await writeFile(path.join(dir, "policy.yaml"), POLICY);
});

afterAll(async () => {
  await emu?.stop();
});

beforeEach(() => {
  emu.reset();
});

function memoryNotifier(): OutboxPort & { alerts: Alert[] } {
  const alerts: Alert[] = [];
  return {
    alerts,
    async enqueue(alert) {
      alerts.push(alert);
      return [{ channel: "memory", ok: true }];
    },
  };
}

/**
 * The deployed wiring (config → azureGuardianDeps → the Function handler) with the guardian's own token, small SDK
 * retry delays, and the request timeout and budget a test needs.
 */
function guardian(options: { client?: Partial<AzureClientConfig>; budgetMs?: number } = {}) {
  const audit: AuditRecord[] = [];
  const notifier = memoryNotifier();
  const logs: ReturnType<typeof memoryLogger>[] = [];
  const cfg = parseConfig({
    GUARDIAN_POLICY_FILE: path.join(dir, "policy.yaml"),
    AZURE_ARM_ENDPOINT: emu.url,
    ...(options.budgetMs === undefined ? {} : { GUARDIAN_BUDGET_MS: String(options.budgetMs) }),
  });
  const credential = staticTokenCredential(guardianToken);
  const network = new AzureNetwork({
    credential,
    endpoint: emu.url,
    ca: emu.ca,
    pollIntervalMs: 0,
    maxRetries: 3,
    retryDelayInMs: 5,
    maxRetryDelayInMs: 20,
    requestTimeoutMs: 2_000,
    ...options.client,
  });
  const factory = async (log: Logger) => {
    const deps = await azureGuardianDeps(cfg, log, { credential, network, outbox: notifier });
    return { ...deps, audit: { record: async (r: AuditRecord) => void audit.push(r) } };
  };
  const handler = createOnChangeHandler(factory);
  const invoke = (event: EventGridEvent) => {
    const log = memoryLogger();
    logs.push(log);
    const ctx = new InvocationContext({
      invocationId: crypto.randomUUID(),
      functionName: "onChange",
      logHandler: (level, ...args) => log.info(String(args[0]), { level }),
    });
    return handler(event, ctx);
  };
  return { invoke, audit, alerts: notifier.alerts, logs };
}

const bob = () => networkClientFor(emu, bobToken);

const rule = (source: string | string[], port: string, priority: number) => ({
  protocol: "Tcp" as const,
  sourcePortRange: "*",
  destinationPortRange: port,
  ...(Array.isArray(source) ? { sourceAddressPrefixes: source } : { sourceAddressPrefix: source }),
  destinationAddressPrefix: "*",
  access: "Allow" as const,
  priority,
  direction: "Inbound" as const,
});

/** An NSG with a compliant neighbour, then Alice's risky rule; returns the event her write raised. */
async function aliceOpens(name: string, body: object): Promise<EventGridEvent> {
  // Raw PUTs: Alice's writes need not wait for their operations (one test's never end).
  const nsg = await rawArmRequest(emu, "PUT", `${NSG_ID}?${API}`, {
    token: aliceToken,
    body: {
      location: "westeurope",
      properties: {
        securityRules: [{ name: "allow-vpn-ssh", properties: rule("10.8.0.0/16", "22", 100) }],
      },
    },
  });
  if (nsg.status >= 300) throw new Error(`seeding ${NSG}: ${JSON.stringify(nsg.body)}`);
  const mark = emu.events.length;
  const answer = await rawArmRequest(emu, "PUT", `${RULE_ID(name)}?${API}`, { token: aliceToken, body });
  if (answer.status >= 300) throw new Error(`seeding ${name}: ${JSON.stringify(answer.body)}`);
  const event = emu.events.slice(mark)[0] as EventGridEvent | undefined;
  if (!event) throw new Error("no event");
  return event;
}

const guardianWrites = () =>
  emu.requests.filter((r) => r.caller === GUARDIAN_OID && (r.method === "PUT" || r.method === "DELETE"));
const alerted = (alerts: Alert[]) => alerts.flatMap((a) => a.results.map((r) => r.outcome));

describe("rule writes keep what the guardian does not know (point 10)", () => {
  it("sends the rule's full ARM body as read, unknown properties included, and audits exactly what it sent", async () => {
    const event = await aliceOpens("rdp-partners", {
      properties: {
        ...rule(["10.10.0.0/16", "0.0.0.0/0"], "3389", 120),
        // A property of a newer API version than the SDK models (the emulator keeps what it does not model).
        futureInspection: { mode: "Strict", exemptions: [] },
      },
    });
    const g = guardian();
    await g.invoke(event);
    const [write, ...more] = guardianWrites();
    expect(more).toEqual([]);
    expect(write?.method).toBe("PUT");
    const stored = emu.get(RULE_ID("rdp-partners")) as { properties: Record<string, unknown> };
    expect(stored.properties.futureInspection).toEqual({ mode: "Strict", exemptions: [] });
    expect(stored.properties.sourceAddressPrefix).toBe("10.10.0.0/16");
    const [record] = g.audit;
    expect(record?.outcome).toBe("applied");
    // The audit's after-state is byte for byte the body ARM received.
    expect(record?.after).toEqual(write?.body);
    expect(write?.body).toMatchObject({
      name: "rdp-partners",
      id: RULE_ID("rdp-partners"),
      properties: { futureInspection: { mode: "Strict", exemptions: [] } },
    });
    expect((write?.body as { properties?: object } | undefined)?.properties).not.toHaveProperty(
      "provisioningState",
    );
  });
});

describe("ARM's transient and permanent failures (point 11)", () => {
  it("retries 409 AnotherOperationInProgress (the SDK's policy does not) and remediates in the same invocation", async () => {
    const event = await aliceOpens("open-ssh", { properties: rule("Internet", "22", 110) });
    emu.injectFault({ method: "DELETE", status: 409, code: "AnotherOperationInProgress", times: 2 });
    const g = guardian();
    const result = await g.invoke(event);
    expect(result.outcomes[0]?.actions.map((a) => a.outcome)).toEqual(["applied"]);
    expect(guardianWrites().map((r) => r.status)).toEqual([409, 409, 202]);
    expect(emu.get(RULE_ID("open-ssh"))).toBeUndefined();
  });

  it("fails the invocation when ARM stays busy, so Event Grid retries it; a failure to be retried is not alerted", async () => {
    const event = await aliceOpens("open-ssh", { properties: rule("Internet", "22", 110) });
    emu.injectFault({ method: "DELETE", status: 409, code: "AnotherOperationInProgress", times: 100 });
    const g = guardian();
    await expect(g.invoke(event)).rejects.toBeInstanceOf(TransientError);
    expect(emu.get(RULE_ID("open-ssh"))).toBeDefined();
    expect(g.audit.map((a) => a.outcome)).toEqual(["failed"]);
    expect(g.alerts).toEqual([]);
    // The redelivery, once ARM is free, fixes it and alerts that.
    emu.reset();
    const again = await aliceOpens("open-ssh", { properties: rule("Internet", "22", 110) });
    await g.invoke(again);
    expect(alerted(g.alerts)).toEqual(["applied"]);
  });

  it("fails the invocation on 5xx beyond the SDK's retries; nothing is acknowledged", async () => {
    const event = await aliceOpens("open-ssh", { properties: rule("Internet", "22", 110) });
    emu.injectFault({ method: "DELETE", status: 503, retryAfterSeconds: 0, times: 100 });
    const g = guardian();
    await expect(g.invoke(event)).rejects.toBeInstanceOf(TransientError);
    expect(emu.get(RULE_ID("open-ssh"))).toBeDefined();
  });

  it("on an operation that ends Failed with a conflict, re-reads and re-plans (and does not overwrite)", async () => {
    const event = await aliceOpens("rdp-partners", {
      properties: rule(["10.10.0.0/16", "0.0.0.0/0"], "3389", 120),
    });
    emu.injectFault({ method: "PUT", kind: "lro-failed", code: "Conflict", times: 1 });
    const g = guardian();
    const result = await g.invoke(event);
    expect(result.outcomes[0]?.actions.map((a) => a.outcome)).toEqual(["applied"]);
    // Two PUTs: the first rolled back by ARM, the second planned from a fresh read with the new etag.
    expect(guardianWrites().map((r) => r.fault ?? "ok")).toEqual(["lro-failed", "ok"]);
    const stored = emu.get(RULE_ID("rdp-partners")) as { properties: { sourceAddressPrefix: string } };
    expect(stored.properties.sourceAddressPrefix).toBe("10.10.0.0/16");
  });

  it("treats an operation that ends Failed on validation as permanent: one write, alerted, the delivery dead-lettered", async () => {
    const event = await aliceOpens("rdp-partners", {
      properties: rule(["10.10.0.0/16", "0.0.0.0/0"], "3389", 120),
    });
    emu.injectFault({ method: "PUT", kind: "lro-failed", code: "InvalidRequestFormat", times: 100 });
    const g = guardian();
    const error = await g.invoke(event).then(
      () => undefined,
      (e: unknown) => e,
    );
    // Not a TransientError: retrying cannot fix it; failing sends the event to the dead-letter container.
    expect(error).toBeInstanceOf(InputError);
    expect(String(error)).toMatch(/InvalidRequestFormat/);
    expect(guardianWrites()).toHaveLength(1);
    expect(alerted(g.alerts)).toEqual(["failed"]);
    expect(emu.get(RULE_ID("rdp-partners"))).toMatchObject({
      properties: { sourceAddressPrefixes: ["10.10.0.0/16", "0.0.0.0/0"] },
    });
  });
});

describe("a write whose answer was lost is settled by reading (point 13)", () => {
  it("connection reset after ARM applied the delete: the retry meets 412, the read shows the guardian's own fix", async () => {
    const event = await aliceOpens("open-ssh", { properties: rule("Internet", "22", 110) });
    emu.injectFault({ method: "DELETE", kind: "reset-after", times: 1 });
    const g = guardian();
    const result = await g.invoke(event);
    expect(guardianWrites().map((r) => r.status)).toEqual([202, 412]);
    expect(result.outcomes[0]?.actions.map((a) => a.outcome)).toEqual(["applied"]);
    expect(g.audit[0]?.reason).toMatch(/confirmed by reading/);
    // Credited to the guardian and announced once, never "failed" nor "someone else".
    expect(alerted(g.alerts)).toEqual(["applied"]);
    expect(emu.get(RULE_ID("open-ssh"))).toBeUndefined();
  });

  it("a write ARM applied but never answered times out, and the read shows it applied", async () => {
    const event = await aliceOpens("rdp-partners", {
      properties: rule(["10.10.0.0/16", "0.0.0.0/0"], "3389", 120),
    });
    emu.injectFault({ method: "PUT", kind: "hang-after", times: 1 });
    const g = guardian({ client: { requestTimeoutMs: 300 } });
    const result = await g.invoke(event);
    expect(result.outcomes[0]?.actions.map((a) => a.outcome)).toEqual(["applied"]);
    expect(guardianWrites()).toHaveLength(1);
    expect(alerted(g.alerts)).toEqual(["applied"]);
  });

  it("the operation's status poll is lost: the read shows the write in place", async () => {
    const event = await aliceOpens("open-ssh", { properties: rule("Internet", "22", 110) });
    emu.injectFault({ method: "GET", pathIncludes: "/operations/", kind: "reset-before", times: 4 });
    const g = guardian();
    const result = await g.invoke(event);
    expect(result.outcomes[0]?.actions.map((a) => a.outcome)).toEqual(["applied"]);
    expect(alerted(g.alerts)).toEqual(["applied"]);
  });

  it("the answer was lost and a person fixed it meanwhile: credited to the person, their edit kept", async () => {
    const event = await aliceOpens("open-ssh", { properties: rule("Internet", "22", 110) });
    emu.injectFault({ method: "DELETE", kind: "hang", times: 1 });
    const g = guardian({ client: { requestTimeoutMs: 400 } });
    const running = g.invoke(event);
    // While the guardian's delete hangs unapplied, Bob narrows the rule to the VPN range himself.
    await expect.poll(() => emu.requests.some((r) => r.fault === "hang")).toBe(true);
    await bob().securityRules.createOrUpdate(RG, NSG, "open-ssh", rule("10.8.0.0/16", "22", 110), fast);
    const result = await running;
    expect(result.outcomes[0]?.actions.map((a) => a.outcome)).toEqual(["already-compliant"]);
    expect(g.audit[0]?.reason).toMatch(/another change removed the exposure/);
    expect(g.alerts).toEqual([]);
    expect(emu.get(RULE_ID("open-ssh"))).toMatchObject({
      properties: { sourceAddressPrefix: "10.8.0.0/16" },
    });
  });

  it("the answer was lost and nothing was applied: the read shows it still open, and it is planned again", async () => {
    const event = await aliceOpens("open-ssh", { properties: rule("Internet", "22", 110) });
    emu.injectFault({ method: "DELETE", kind: "hang", times: 1 });
    const g = guardian({ client: { requestTimeoutMs: 300 } });
    const result = await g.invoke(event);
    expect(result.outcomes[0]?.actions.map((a) => a.outcome)).toEqual(["applied"]);
    expect(guardianWrites().map((r) => r.fault ?? r.status)).toEqual(["hang", 202]);
    expect(emu.get(RULE_ID("open-ssh"))).toBeUndefined();
  });
});

describe("every call has a deadline (point 14)", () => {
  it("a read that never answers fails into the retry path at the request timeout", async () => {
    const event = await aliceOpens("open-ssh", { properties: rule("Internet", "22", 110) });
    emu.injectFault({ method: "GET", pathIncludes: NSG, kind: "hang", times: 100 });
    const g = guardian({ client: { requestTimeoutMs: 200 } });
    await expect(g.invoke(event)).rejects.toBeInstanceOf(TransientError);
    expect(emu.get(RULE_ID("open-ssh"))).toBeDefined();
  });

  it("the invocation's budget ends a stuck call even when the request timeout is longer", async () => {
    const event = await aliceOpens("open-ssh", { properties: rule("Internet", "22", 110) });
    emu.injectFault({ method: "GET", pathIncludes: NSG, kind: "hang", times: 100 });
    const g = guardian({ client: { requestTimeoutMs: 600_000 }, budgetMs: 500 });
    await expect(g.invoke(event)).rejects.toBeInstanceOf(TransientError);
    expect(emu.requests.filter((r) => r.fault === "hang")).toHaveLength(1);
  });

  it("a long-running operation that never completes is polled only within the budget, then settled by reading", async () => {
    const slow = await startArmEmulator({ lroPolls: 1_000_000 });
    const previous = emu;
    emu = slow;
    try {
      const event = await aliceOpens("open-ssh", { properties: rule("Internet", "22", 110) });
      const g = guardian({ budgetMs: 1_500 });
      const result = await g.invoke(event);
      // ARM applied the delete at once; only its operation never ended: the settling read shows it done.
      expect(result.outcomes[0]?.actions.map((a) => a.outcome)).toEqual(["applied"]);
      expect(g.audit[0]?.reason).toMatch(/confirmed by reading/);
    } finally {
      emu = previous;
      await slow.stop();
    }
  });
});
