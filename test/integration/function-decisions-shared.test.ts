// One decision and one alert across instances: the Event Grid handler on one Functions instance and the timer sweep on
// another meet the same Pending private endpoint connection at the same moment (the ARM emulator holds both reads
// until both have asked). With the decision store in a shared Azure Storage table (Azurite) one of them decides: one
// PUT of the connection state, one alert on the outbox queue. With each instance keeping its own claims (the control),
// both announce the held request. (An approval is also guarded by the fresh read before its PUT; a hold writes
// nothing, so only the shared claim keeps it to one alert.)
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type EventGridEvent, InvocationContext, type Timer } from "@azure/functions";
import { QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createOnChangeHandler } from "../../functions/on-change.ts";
import { createSweepHandler } from "../../functions/sweep-private-endpoints.ts";
import { tableClientFor } from "../../shared/clouds/azure/alerts.ts";
import { TableDecisionStore } from "../../shared/clouds/azure/decision-store.ts";
import { azureGuardianDeps } from "../../shared/clouds/azure/runtime.ts";
import { parseConfig } from "../../shared/config.ts";
import { memoryDecisionStore } from "../../shared/decisions.ts";
import { type Logger, memoryLogger } from "../../shared/log.ts";
import {
  type ArmEmulator,
  mintToken,
  DEFAULT_SUBSCRIPTION_ID as OURS,
  rawArmRequest,
  startArmEmulator,
  staticTokenCredential,
} from "../harness/arm-emulator/index.ts";
import { type Azurite, startAzurite } from "../harness/azurite.ts";

const DATABRICKS = "3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f";
const STRANGER = "e1d2c3b4-a596-4788-9900-aabbccddeeff";
const VAULT = `/subscriptions/${OURS}/resourceGroups/rg-data/providers/Microsoft.KeyVault/vaults/kv-lake`;
const requester = mintToken({ oid: "11111111-2222-4333-8444-555555555555", appid: "x", idtyp: "app" });
const guardianToken = mintToken({
  oid: "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d",
  appid: "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
  idtyp: "app",
});

const policy = `version: 1
rules:
  - name: private-link-requests
    rule: private-endpoint-connections
    mode: remediate
    severity: high
    options:
      allow:
        - name: databricks-serverless
          subscriptions: ['${DATABRICKS}']
      unlisted: hold
`;

let emu: ArmEmulator;
let azurite: Azurite;
let dir: string;
let n = 0;
let queueName: string;
let tableName: string;

beforeAll(async () => {
  [emu, azurite] = await Promise.all([startArmEmulator({ lroPolls: 0 }), startAzurite()]);
  dir = await mkdtemp(path.join(tmpdir(), "guardian-shared-"));
  await writeFile(path.join(dir, "ca.pem"), emu.ca);
  await writeFile(path.join(dir, "policy.yaml"), policy);
}, 60_000);
afterAll(async () => {
  await Promise.all([emu?.stop(), azurite?.stop()]);
});
beforeEach(async () => {
  emu.reset();
  n += 1;
  queueName = `alerts-${n}`;
  tableName = `decisions${n}`;
  await new QueueClient(azurite.connectionString, queueName).create();
  await tableClientFor({ connectionString: azurite.connectionString }, tableName).createTable();
  emu.seed({
    id: VAULT,
    location: "westeurope",
    properties: { tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47" },
  });
});

/** One Functions instance: its own dependencies (and, without a table, its own claims); the storage is shared. */
function instance(shared: boolean) {
  const own = memoryDecisionStore();
  const factory = async (log: Logger) =>
    azureGuardianDeps(
      parseConfig({
        GUARDIAN_POLICY_FILE: path.join(dir, "policy.yaml"),
        AZURE_ARM_ENDPOINT: emu.url,
        AZURE_ARM_CA_FILE: path.join(dir, "ca.pem"),
        AZURE_ARM_POLL_INTERVAL_MS: "0",
        GUARDIAN_ALERTS_STORAGE: azurite.connectionString,
        GUARDIAN_ALERT_QUEUE: queueName,
        ...(shared ? { GUARDIAN_DECISIONS_TABLE: tableName } : {}),
      }),
      log,
      { credential: staticTokenCredential(guardianToken), ...(shared ? {} : { decisions: own }) },
    );
  const ctx = () =>
    new InvocationContext({
      invocationId: crypto.randomUUID(),
      functionName: "test",
      logHandler: (_level, ...args) => memoryLogger().info(String(args[0])),
    });
  return {
    onChange: (event: object) => createOnChangeHandler(factory)(event as EventGridEvent, ctx()),
    sweep: () => createSweepHandler(factory, () => OURS)({ isPastDue: false } as unknown as Timer, ctx()),
  };
}

/** Holds the first answer reading the vault (its GET, or the list of vaults) until a second reader has asked too. */
function meetAtTheVault(): () => void {
  let waiting: (() => void) | undefined;
  let met = 0;
  return emu.beforeAnswer(async (entry) => {
    const p = entry.path.toLowerCase();
    const readsVault =
      entry.method === "GET" &&
      (p === VAULT.toLowerCase() || p === `/subscriptions/${OURS}/providers/microsoft.keyvault/vaults`);
    if (!readsVault || met >= 2) return;
    met += 1;
    if (waiting) {
      waiting();
      return;
    }
    await new Promise<void>((resolve) => {
      waiting = resolve;
      setTimeout(resolve, 3_000);
    });
  });
}

async function requestEndpoint(subscription: string, name: string) {
  const id = `/subscriptions/${subscription}/resourceGroups/rg-requester/providers/Microsoft.Network/privateEndpoints/${name}`;
  const mark = emu.events.length;
  const res = await rawArmRequest(emu, "PUT", `${id}?api-version=2026-01-01`, {
    token: requester,
    body: {
      location: "westeurope",
      properties: {
        subnet: {
          id: `/subscriptions/${subscription}/resourceGroups/rg-requester/providers/Microsoft.Network/virtualNetworks/vnet/subnets/pe`,
        },
        manualPrivateLinkServiceConnections: [
          { name: `${name}-conn`, properties: { privateLinkServiceId: VAULT, groupIds: ["vault"] } },
        ],
      },
    },
  });
  expect(res.status).toBe(201);
  // The provider-side event (what the guardian's subscription topic delivers).
  const event = emu.events.slice(mark).find((e) => String((e as { topic?: string }).topic).includes(OURS));
  if (!event) throw new Error("no event in our subscription");
  return event;
}

const connectionPuts = () =>
  emu.requests.filter((r) => r.method === "PUT" && /privateEndpointConnections/i.test(r.path));
const alertMessages = async () =>
  (await new QueueClient(azurite.connectionString, queueName).peekMessages({ numberOfMessages: 32 }))
    .peekedMessageItems;

describe("one decision and one alert across instances (event on one, sweep on another)", () => {
  it("approves an allow-listed request with one PUT and announces it once", async () => {
    const event = await requestEndpoint(DATABRICKS, "pe-dbx");
    const stop = meetAtTheVault();
    try {
      await Promise.all([instance(true).onChange(event), instance(true).sweep()]);
    } finally {
      stop();
    }
    expect(connectionPuts()).toHaveLength(1);
    expect(await alertMessages()).toHaveLength(1);
    const status = (
      emu.get(VAULT) as {
        properties: {
          privateEndpointConnections: {
            properties: { privateLinkServiceConnectionState: { status: string } };
          }[];
        };
      }
    ).properties.privateEndpointConnections[0]?.properties.privateLinkServiceConnectionState.status;
    expect(status).toBe("Approved");
  });

  it("holds an unlisted request and announces it once; with claims kept per instance it is announced twice", async () => {
    const event = await requestEndpoint(STRANGER, "pe-stranger");
    let stop = meetAtTheVault();
    try {
      await Promise.all([instance(true).onChange(event), instance(true).sweep()]);
    } finally {
      stop();
    }
    expect(connectionPuts()).toHaveLength(0);
    expect(await alertMessages()).toHaveLength(1);
    // The control: the same meeting without the shared table.
    await new QueueClient(azurite.connectionString, queueName).clearMessages();
    stop = meetAtTheVault();
    try {
      await Promise.all([instance(false).onChange(event), instance(false).sweep()]);
    } finally {
      stop();
    }
    expect(await alertMessages()).toHaveLength(2);
  });

  it("the sweep prunes decisions whose time has passed and keeps the live ones", async () => {
    const table = tableClientFor({ connectionString: azurite.connectionString }, tableName);
    // A decision made two days ago with a day's TTL, as another instance left it.
    const past = new TableDecisionStore(table, { ttlMs: 86_400_000, now: () => Date.now() - 2 * 86_400_000 });
    await past.claim("old-connection|pending|hold|private-link-requests|remediate");
    await past.complete("old-connection|pending|hold|private-link-requests|remediate", "held");
    const event = await requestEndpoint(STRANGER, "pe-stranger");
    await instance(true).onChange(event);
    const keys = async () => {
      const out: string[] = [];
      for await (const row of table.listEntities()) out.push(String(row.rowKey));
      return out;
    };
    expect(await keys()).toHaveLength(2);
    await instance(true).sweep();
    // The expired row is gone; the held request's live decision stays (and the sweep did not announce it again).
    expect(await keys()).toHaveLength(1);
    expect(await alertMessages()).toHaveLength(1);
  });
});
