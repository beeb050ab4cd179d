// Alerts end to end on Azure, all real parts on loopback: the Event Grid Function (functions/on-change.ts) decides
// about the events the ARM emulator raises for real SDK writes, audits, and puts its decisions on an Azure Storage
// queue in Azurite (started by this test, in memory, stopped after); the sender Function (functions/send-alerts.ts)
// runs on that queue through an emulation of the Functions host's queue trigger (base64, one message per invocation,
// dequeue count, poison queue), keeps its windows and idempotency records in an Azurite table, and posts to the
// webhook sink.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { TableClient } from "@azure/data-tables";
import { type EventGridEvent, InvocationContext } from "@azure/functions";
import { QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createOnChangeHandler } from "../../functions/on-change.ts";
import { createSendAlertsHandler } from "../../functions/send-alerts.ts";
import { senderDeps } from "../../shared/alerts-runtime.ts";
import { azureGuardianDeps, azureSenderParts } from "../../shared/clouds/azure/runtime.ts";
import { parseConfig } from "../../shared/config.ts";
import { parsePolicy } from "../../shared/policy/load.ts";
import { perInstanceSender } from "../../shared/runtime.ts";
import type { Clock } from "../../shared/usecases/send-alerts.ts";
import {
  type ArmEmulator,
  mintToken,
  networkClientFor,
  startArmEmulator,
  staticTokenCredential,
} from "../harness/arm-emulator/index.ts";
import { type Azurite, startAzurite } from "../harness/azurite.ts";
import { compressedClock, driveStorageQueue, scaledQueue } from "../harness/queue-triggers.ts";
import { startWebhookSink, type WebhookSink } from "../harness/webhook-sink.ts";

const RG = "rg-qubole";
const NSG = "nsg-bastion";
const alice = mintToken({
  oid: "7f1c9a52-3e4b-4d8a-9b6c-1a2b3c4d5e6f",
  upn: "alice@contoso.com",
  ipaddr: "198.51.100.23",
});
const guardian = mintToken({
  oid: "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d",
  appid: "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
  idtyp: "app",
});
const fast = { updateIntervalInMs: 0 };

const policyText = (dryRun: boolean) => `version: 1
dryRun: ${dryRun}
rules:
  - name: no-admin-ports-from-internet
    rule: nsg-inbound-exposure
    mode: remediate
    severity: critical
    remediation: delete-rule
    options: { ports: [22, 3389, "8000-8099"] }
alerts:
  collapseSeconds: 30
`;

let emu: ArmEmulator;
let azurite: Azurite;
let sink: WebhookSink;
let dir: string;
let n = 0;

beforeAll(async () => {
  [emu, azurite, sink] = await Promise.all([
    startArmEmulator({ lroPolls: 1 }),
    startAzurite(),
    startWebhookSink(),
  ]);
  dir = await mkdtemp(path.join(tmpdir(), "guardian-alerts-"));
  await writeFile(path.join(dir, "ca.pem"), emu.ca);
});

afterAll(async () => {
  await Promise.all([emu?.stop(), azurite?.stop(), sink?.stop()]);
});

beforeEach(() => {
  emu.reset();
  sink.received.length = 0;
  sink.attempts.length = 0;
  sink.refuseWhile(() => false);
});

interface World {
  env: Record<string, string>;
  queue: QueueClient;
  poison: QueueClient;
}

async function world(): Promise<World> {
  n++;
  const name = `guardian-alerts-${n}`;
  const queue = new QueueClient(azurite.connectionString, name);
  const poison = new QueueClient(azurite.connectionString, `${name}-poison`);
  await Promise.all([queue.create(), poison.create()]);
  const table = `guardianalerts${n}`;
  await TableClient.fromConnectionString(azurite.connectionString, table, {
    allowInsecureConnection: true,
  }).createTable();
  return {
    queue,
    poison,
    env: {
      AZURE_ARM_ENDPOINT: emu.url,
      AZURE_ARM_CA_FILE: path.join(dir, "ca.pem"),
      AZURE_ARM_POLL_INTERVAL_MS: "0",
      GUARDIAN_ALERT_QUEUE: name,
      GUARDIAN_ALERT_TABLE: table,
      GUARDIAN_ALERTS_STORAGE: azurite.connectionString,
      SLACK_WEBHOOK_URL: sink.slackUrl,
      TEAMS_WEBHOOK_URL: sink.teamsUrl,
      GUARDIAN_WEBHOOK_URL: sink.webhookUrl,
    },
  };
}

function onChange(w: World, dryRun = false) {
  const cfg = parseConfig(w.env);
  return createOnChangeHandler((log) =>
    azureGuardianDeps(cfg, log, {
      credential: staticTokenCredential(guardian),
      policy: parsePolicy(policyText(dryRun)),
    }),
  );
}

function sender(w: World, clock: Clock & { factor: number }) {
  const cfg = parseConfig(w.env);
  return createSendAlertsHandler(
    perInstanceSender(async (log) => {
      const parts = await azureSenderParts(cfg, { clock });
      return senderDeps(
        { ...parts, queue: scaledQueue(parts.queue, clock.factor) },
        parsePolicy(policyText(false)),
        cfg,
        log,
      );
    }),
  );
}

const invocation = () =>
  new InvocationContext({
    invocationId: crypto.randomUUID(),
    functionName: "onChange",
    logHandler: () => undefined,
  });

/** Every event the emulator raised since `from`, one invocation each (the guardian's own writes included). */
async function deliver(handler: ReturnType<typeof createOnChangeHandler>, from: number) {
  const events = emu.events.slice(from) as EventGridEvent[];
  for (const event of events) await handler(event, invocation());
}

async function drain(w: World, handler: ReturnType<typeof sender>, timeoutMs = 30_000, idleMs = 1500) {
  return driveStorageQueue(w.queue, w.poison, handler, { idleMs, timeoutMs });
}

async function seed(): Promise<void> {
  await networkClientFor(emu, alice).networkSecurityGroups.createOrUpdate(
    RG,
    NSG,
    { location: "westeurope" },
    fast,
  );
}

function openPort(port: number) {
  return networkClientFor(emu, alice).securityRules.createOrUpdate(
    RG,
    NSG,
    `allow-${port}`,
    {
      protocol: "Tcp",
      sourcePortRange: "*",
      destinationPortRange: String(port),
      sourceAddressPrefix: "Internet",
      destinationAddressPrefix: "*",
      access: "Allow",
      priority: 100 + (port % 1000),
      direction: "Inbound",
    },
    fast,
  );
}

const bodies = (kind: string) =>
  sink.received.filter((r) => r.path.startsWith(`/${kind}/`)).map((r) => JSON.stringify(r.body));

describe("Azure: Function → Storage queue outbox → sender Function → webhooks", () => {
  it("a storm: 40 rule writes in a burst give one message per channel, the JSON one listing all 40", async () => {
    const w = await world();
    await seed();
    const handler = onChange(w);
    for (let port = 8000; port < 8040; port++) {
      const mark = emu.events.length;
      await openPort(port);
      await deliver(handler, mark);
    }
    expect(sink.attempts).toHaveLength(0);
    await drain(w, sender(w, compressedClock(60)));
    expect(bodies("slack")).toHaveLength(1);
    expect(bodies("teams")).toHaveLength(1);
    expect(bodies("webhook")).toHaveLength(1);
    const json = sink.received.find((r) => r.path.startsWith("/webhook/"))?.body as {
      schema: string;
      version: number;
      decisions: { kind: string; actor: { name?: string } }[];
    };
    expect(json.schema).toBe("network-guardian.alert");
    expect(json.version).toBe(1);
    expect(json.decisions).toHaveLength(40);
    expect(new Set(json.decisions.map((d) => d.kind))).toEqual(new Set(["remediated"]));
    expect(json.decisions[0]?.actor.name).toBe("alice@contoso.com");
    expect(bodies("slack")[0]).toContain("40 decisions from 40 events");
  }, 90_000);

  it("duplicates: an event delivered twice and again later makes one message", async () => {
    const w = await world();
    await seed();
    const mark = emu.events.length;
    await openPort(22);
    const handler = onChange(w, true);
    await deliver(handler, mark);
    await deliver(handler, mark);
    const send = sender(w, compressedClock(60));
    await drain(w, send);
    await deliver(handler, mark);
    await drain(w, send);
    expect(bodies("slack")).toHaveLength(1);
    expect(bodies("teams")).toHaveLength(1);
    expect(bodies("slack")[0]).toContain("DRY RUN");
  }, 60_000);

  it("an hour-long outage loses nothing and delivers once after recovery", async () => {
    const w = await world();
    await seed();
    const clock = compressedClock(600);
    const recoversAt = clock.start + 3600_000;
    sink.refuseWhile(() => clock.now() < recoversAt);
    const mark = emu.events.length;
    await openPort(3389);
    await deliver(onChange(w), mark);
    await drain(w, sender(w, clock), 45_000, 4000);
    expect(clock.now()).toBeGreaterThan(recoversAt);
    expect(sink.attempts.filter((a) => a.status === 0).length).toBeGreaterThanOrEqual(6);
    expect(sink.received).toHaveLength(3);
    expect((await w.poison.peekMessages({ numberOfMessages: 32 })).peekedMessageItems).toHaveLength(0);
  }, 60_000);
});
