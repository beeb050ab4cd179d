// The Azure reconcile through its two Functions handlers: the ARM emulator (pages of 2) and Azurite's queue service.
// The timer enqueues one message per stream; the queue-triggered page worker evaluates a page, remediates through the
// event path's pipeline and enqueues the nextLink; a run interrupted twice (an invocation killed after its work but
// before its message was deleted, another killed before it began) resumes from what the queue still holds: every page
// is done, every open NSG fixed with exactly one write.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { InvocationContext, type Timer } from "@azure/functions";
import { QueueClient } from "@azure/storage-queue";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createReconcileHandler } from "../../functions/reconcile.ts";
import { createReconcilePageHandler, MAX_DEQUEUE_COUNT } from "../../functions/reconcile-page.ts";
import { createSweepHandler } from "../../functions/sweep-private-endpoints.ts";
import { tableClientFor } from "../../shared/clouds/azure/alerts.ts";
import { AzureNetwork } from "../../shared/clouds/azure/network.ts";
import {
  azureGuardianDeps,
  azureReconcileDeps,
  azureReconcileStartDeps,
  RECONCILE_QUEUE,
} from "../../shared/clouds/azure/runtime.ts";
import { parseConfig } from "../../shared/config.ts";
import { loadPolicyFile } from "../../shared/policy/file.ts";
import type { Policy } from "../../shared/policy/schema.ts";
import { perInstanceStart, reconcilePerInstance } from "../../shared/runtime.ts";
import type { AuditRecord } from "../../shared/types.ts";
import { type PageMessage, pageMessageSchema } from "../../shared/usecases/reconcile.ts";
import { NSG_ID, nsgWith } from "../fixtures/azure/nsg/nsg.ts";
import {
  type ArmEmulator,
  mintToken,
  rawArmRequest,
  DEFAULT_SUBSCRIPTION_ID as SUB,
  startArmEmulator,
  staticTokenCredential,
} from "../harness/arm-emulator/index.ts";
import { type Azurite, startAzurite } from "../harness/azurite.ts";
import { startWebhookSink, type WebhookSink } from "../harness/webhook-sink.ts";

const nsgId = (name: string) =>
  `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Network/networkSecurityGroups/${name}`;
const OPEN = ["nsg-open-1", "nsg-open-2", "nsg-open-3"];
const CLEAN = ["nsg-clean-1", "nsg-clean-2", "nsg-clean-3", "nsg-clean-4"];

function nsgAt(id: string, rules: Parameters<typeof nsgWith>[0]): Record<string, unknown> {
  const nsg = JSON.parse(JSON.stringify(nsgWith(rules)).replaceAll(NSG_ID, id)) as Record<string, unknown>;
  nsg.name = id.split("/").at(-1);
  return nsg;
}

let emu: ArmEmulator;
let azurite: Azurite;
let queue: QueueClient;
let policy: Policy;
let network: AzureNetwork;
const credential = staticTokenCredential(mintToken({ oid: "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d" }));

/** A fresh Functions instance (both functions share the app's factory, as they do when deployed). */
function handlers() {
  const env = { AzureWebJobsStorage: azurite.connectionString };
  const cfg = parseConfig({ AZURE_SUBSCRIPTION_ID: SUB, GUARDIAN_DRY_RUN: "false" });
  const start = perInstanceStart((log) => azureReconcileStartDeps(cfg, env, log, { policy }));
  const deps = reconcilePerInstance((log) =>
    azureReconcileDeps(cfg, env, log, {
      policy,
      outbox: { enqueue: async () => [] },
      credential,
      network,
    }),
  );
  return { timer: createReconcileHandler(start), page: createReconcilePageHandler(deps) };
}

const context = (functionName: string) =>
  new InvocationContext({ invocationId: crypto.randomUUID(), functionName, logHandler: () => {} });
const timer: Timer = {
  isPastDue: false,
  schedule: { adjustForDST: false },
  scheduleStatus: { last: "", next: "", lastUpdated: "" },
};

/** What the Functions host hands the handler: the message text base64-decoded, JSON parsed. */
const decode = (text: string): unknown => JSON.parse(Buffer.from(text, "base64").toString("utf8"));

async function queued(): Promise<number> {
  return (await queue.getProperties()).approximateMessagesCount ?? 0;
}

/** The queue trigger with batch size 1: receive, invoke, delete on success; until nothing is left. */
async function drain(page: ReturnType<typeof handlers>["page"]): Promise<PageMessage[]> {
  const done: PageMessage[] = [];
  for (;;) {
    const [message] = (await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 30 }))
      .receivedMessageItems;
    if (!message) {
      if ((await queued()) === 0) return done;
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    const body = decode(message.messageText);
    await page(body, context("reconcilePage"));
    await queue.deleteMessage(message.messageId, message.popReceipt);
    done.push(pageMessageSchema.parse(body));
  }
}

beforeAll(async () => {
  [emu, azurite, policy] = await Promise.all([
    startArmEmulator({ lroPolls: 0, pageSize: 2 }),
    startAzurite(),
    loadPolicyFile("policies/baseline.yaml"),
  ]);
  policy = { ...policy, reconcile: { ...policy.reconcile, intervalHours: 1 } };
  queue = new QueueClient(azurite.connectionString, RECONCILE_QUEUE);
  await queue.create();
  network = new AzureNetwork({ credential, endpoint: emu.url, ca: emu.ca, retryDelayInMs: 5, maxRetries: 2 });
  const ssh = { name: "allow-ssh", priority: 100, source: "Internet", ports: "22" };
  const https = { name: "allow-https", priority: 110, source: "VirtualNetwork", ports: "443" };
  for (const name of OPEN) emu.seed(nsgAt(nsgId(name), [ssh, https]));
  for (const name of CLEAN) emu.seed(nsgAt(nsgId(name), [https]));
}, 60_000);

afterAll(async () => {
  await Promise.all([emu?.stop(), azurite?.stop()]);
});

describe("Azure reconcile (timer → Storage queue → page worker)", () => {
  it("resumes an interrupted run from the queue: every page done, each open NSG fixed by exactly one write", async () => {
    const first = handlers();
    const started = await first.timer(timer, context("reconcile"));
    expect(started).toMatchObject({ due: true });
    const enqueued = started.enqueued;
    expect(enqueued).toBeGreaterThanOrEqual(1);
    expect(await queued()).toBe(enqueued);

    // Work through the queue until the NSG stream's first page: evaluated (its nextLink enqueued), but the instance
    // dies before the host deletes the message, so it comes back after its visibility timeout.
    let nsgFirst: PageMessage | undefined;
    while (!nsgFirst) {
      const [m] = (await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 1 }))
        .receivedMessageItems;
      if (!m) throw new Error("the NSG stream's first page was never enqueued");
      const body = pageMessageSchema.parse(decode(m.messageText));
      if (body.kind !== "network-security-group") continue; // left invisible: redelivered after 1 s like the rest
      await first.page(body, context("reconcilePage"));
      nsgFirst = body;
    }
    // The next invocation dies before it starts: its message also stays.
    const [killed] = (await queue.receiveMessages({ numberOfMessages: 1, visibilityTimeout: 1 }))
      .receivedMessageItems;
    expect(killed).toBeDefined();
    const writesBefore = network.counter.writes;
    expect(writesBefore).toBeGreaterThan(0);

    await new Promise((r) => setTimeout(r, 1_200));
    const second = handlers();
    const done = await drain(second.page);
    expect(await queued()).toBe(0);

    // Every page of the NSG stream was done: 7 NSGs in pages of 2 is 4 pages (the first one twice).
    const nsgPages = done.filter((m) => m.kind === "network-security-group");
    expect(nsgPages.filter((m) => m.from === undefined)).toHaveLength(1);
    expect(new Set(nsgPages.filter((m) => m.from !== undefined).map((m) => m.from)).size).toBe(3);
    for (const m of done) expect(m.runId).toBe(started.runId);

    for (const name of OPEN) {
      const nsg = emu.get(nsgId(name)) as {
        properties: { securityRules: { name: string; properties: { access: string } }[] };
      };
      const ssh = nsg.properties.securityRules.find((r) => r.name === "allow-ssh");
      // Closed (removed or denied), whichever the baseline's remediation is.
      expect(ssh === undefined || ssh.properties.access === "Deny").toBe(true);
    }
    for (const name of CLEAN) {
      const nsg = emu.get(nsgId(name)) as { etag: string };
      expect(nsg.etag).toBeDefined();
    }
    // One write per open NSG, though a page was evaluated twice: the second pass re-read and found nothing to do.
    expect(network.counter.writes).toBe(OPEN.length);
    expect(emu.requests.filter((r) => r.method === "PUT" || r.method === "PATCH")).toHaveLength(OPEN.length);
  }, 60_000);

  it("fails a malformed message (the host retries it, then moves it to the poison queue)", async () => {
    const { page } = handlers();
    await expect(page({ v: 1, kind: "nsg" }, context("reconcilePage"))).rejects.toThrow(
      /not a reconcile page message: .*runId/,
    );
    await expect(page("not json", context("reconcilePage"))).rejects.toThrow(/not JSON/);
    // Its last attempt says so in the line the template's alert rule looks for.
    const lines: string[] = [];
    const last = new InvocationContext({
      invocationId: crypto.randomUUID(),
      functionName: "reconcilePage",
      logHandler: (_level, ...args) => lines.push(String(args[0])),
      triggerMetadata: { dequeueCount: MAX_DEQUEUE_COUNT },
    });
    await expect(page("not json", last)).rejects.toThrow(/not JSON/);
    const deadletter = lines.filter((l) => l.includes("guardian.reconcile-deadletter"));
    expect(deadletter).toHaveLength(1);
    expect(deadletter[0]).toContain(`${RECONCILE_QUEUE}-poison`);
  });
});

// Private Link through the reconcile: connection requests that raised no event where the guardian listens (Event
// Grid was not subscribed), found by the page worker and decided as the sweep decides them, with claims in the same
// decisions table (GUARDIAN_DECISIONS_TABLE), so the sweep on another instance after it adds nothing.
describe("Azure reconcile: Private Link connections decided once, with the sweep", () => {
  const DATABRICKS = "3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f";
  const STRANGER = "e1d2c3b4-a596-4788-9900-aabbccddeeff";
  const VAULT = `/subscriptions/${SUB}/resourceGroups/rg-data/providers/Microsoft.KeyVault/vaults/kv-lake`;
  const guardianToken = mintToken({
    oid: "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d",
    tid: "72f988bf-86f1-41af-91ab-2d7cd011db47",
    appid: "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d",
    idtyp: "app",
  });
  const requester = (oid: string, tid: string) => mintToken({ oid, tid, appid: oid, idtyp: "app" });
  const plPolicy = `version: 1
reconcile:
  intervalHours: 1
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
      noLongerAllowed: alert
`;
  let pl: ArmEmulator;
  let sink: WebhookSink;
  let dir: string;

  beforeAll(async () => {
    [pl, sink] = await Promise.all([startArmEmulator({ lroPolls: 0 }), startWebhookSink()]);
    dir = await mkdtemp(path.join(tmpdir(), "guardian-reconcile-pl-"));
    await writeFile(path.join(dir, "ca.pem"), pl.ca);
    await writeFile(path.join(dir, "policy.yaml"), plPolicy);
    pl.seed({
      id: VAULT,
      location: "westeurope",
      properties: { tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47" },
    });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([pl?.stop(), sink?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** `az network private-endpoint create --manual-request` in the requester's own subscription. */
  async function requestEndpoint(token: string, subscription: string, name: string): Promise<string> {
    const id = `/subscriptions/${subscription}/resourceGroups/rg-requester/providers/Microsoft.Network/privateEndpoints/${name}`;
    const res = await rawArmRequest(pl, "PUT", `${id}?api-version=2026-01-01`, {
      token,
      body: {
        location: "westeurope",
        properties: {
          subnet: {
            id: `/subscriptions/${subscription}/resourceGroups/rg-requester/providers/Microsoft.Network/virtualNetworks/vnet/subnets/pe`,
          },
          manualPrivateLinkServiceConnections: [
            {
              name: `${name}-conn`,
              properties: {
                privateLinkServiceId: VAULT,
                groupIds: ["vault"],
                requestMessage: "please approve",
              },
            },
          ],
        },
      },
    });
    expect(res.status).toBe(201);
    return id;
  }

  const statusOf = (endpoint: string) =>
    (
      pl.get(VAULT) as {
        properties: {
          privateEndpointConnections: {
            properties: {
              privateEndpoint: { id: string };
              privateLinkServiceConnectionState: { status: string };
            };
          }[];
        };
      }
    ).properties.privateEndpointConnections.find(
      (c) => c.properties.privateEndpoint.id.toLowerCase() === endpoint.toLowerCase(),
    )?.properties.privateLinkServiceConnectionState.status;

  it("approves the allow-listed request, holds the unknown one and alerts once; the sweep and a second run add nothing", async () => {
    const databricks = await requestEndpoint(
      requester("11111111-2222-4333-8444-555555555555", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"),
      DATABRICKS,
      "pe-databricks",
    );
    const stranger = await requestEndpoint(
      requester("66666666-7777-4888-9999-000000000000", "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"),
      STRANGER,
      "pe-stranger",
    );
    expect([statusOf(databricks), statusOf(stranger)]).toEqual(["Pending", "Pending"]);

    const cfg = parseConfig({
      GUARDIAN_POLICY_FILE: path.join(dir, "policy.yaml"),
      AZURE_SUBSCRIPTION_ID: SUB,
      AZURE_ARM_ENDPOINT: pl.url,
      AZURE_ARM_CA_FILE: path.join(dir, "ca.pem"),
      AZURE_ARM_POLL_INTERVAL_MS: "0",
      SLACK_WEBHOOK_URL: sink.slackUrl,
      // The decisions table every instance shares (a Storage table, on Azurite here).
      GUARDIAN_ALERTS_STORAGE: azurite.connectionString,
      GUARDIAN_DECISIONS_TABLE: "reconciledecisions",
    });
    await tableClientFor({ connectionString: azurite.connectionString }, "reconciledecisions").createTable();
    const env = { AzureWebJobsStorage: azurite.connectionString };
    const credential = staticTokenCredential(guardianToken);
    const audit: AuditRecord[] = [];
    const withAudit = <T extends { audit: unknown }>(deps: T): T => ({
      ...deps,
      audit: { record: async (r: AuditRecord) => void audit.push(r) },
    });
    const start = createReconcileHandler(perInstanceStart((log) => azureReconcileStartDeps(cfg, env, log)));
    const instance = reconcilePerInstance((log) => azureReconcileDeps(cfg, env, log, { credential }));
    const page = createReconcilePageHandler(async (log, invocation) => {
      const deps = await instance(log, invocation);
      return { ...deps, guardian: withAudit(deps.guardian) };
    });
    const sweep = createSweepHandler(
      // Another instance: its own dependencies, the same decisions table.
      async (log) => withAudit(await azureGuardianDeps(cfg, log, { credential })),
      () => SUB,
    );

    const run = await start(timer, context("reconcile"));
    expect(run.due).toBe(true);
    const pages = await drain(page);
    // Every kind the policy's rules look at was listed: the vault's connections among them.
    expect(pages.map((m) => m.kind)).toContain("key-vault");
    expect(statusOf(databricks)).toBe("Approved");
    expect(statusOf(stranger)).toBe("Pending");
    const decided = () => audit.filter((a) => ["approved", "held", "rejected"].includes(a.outcome));
    expect(
      decided()
        .map((a) => a.outcome)
        .sort(),
    ).toEqual(["approved", "held"]);
    // Both decisions are about the vault: one message (decisions about one resource are collapsed).
    await sink.waitFor(1);
    expect(JSON.stringify(sink.received[0]?.body)).toContain(STRANGER);

    // The sweep meets the held request next: claimed already, no second decision; the approved one is no longer
    // pending. A second reconcile run finds the same.
    await sweep({ isPastDue: false } as unknown as Timer, context("sweepPrivateEndpoints"));
    await start(timer, context("reconcile"));
    await drain(page);
    await new Promise((r) => setTimeout(r, 200));
    expect(decided()).toHaveLength(2);
    expect(sink.received).toHaveLength(1);
    expect(
      pl.requests.filter((r) => r.method === "PUT" && /privateEndpointConnections/i.test(r.path)),
    ).toHaveLength(1);
  }, 60_000);
});
