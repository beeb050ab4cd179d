// Storage accounts end to end: the Azure Function's Event Grid handler, the real @azure/arm-storage client against
// the ARM emulator, the webhook sink. The Qubole closed-endpoint account (test/fixtures/azure/storage) is flipped to
// "All networks", loses the tunnel server's IP and gains a public IP; the guardian restores it in one PATCH, keeps
// every allowed entry byte for byte, recognises its own write, and never overwrites a person's concurrent edit.

import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { StorageManagementClient } from "@azure/arm-storage";
import { type EventGridEvent, InvocationContext } from "@azure/functions";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createOnChangeHandler } from "../../functions/on-change.ts";
import { azureGuardianDeps } from "../../shared/clouds/azure/runtime.ts";
import { parseConfig } from "../../shared/config.ts";
import type { Logger } from "../../shared/log.ts";
import type { GuardianDeps } from "../../shared/pipeline.ts";
import type { AuditRecord } from "../../shared/types.ts";
import { SUB as FIXTURE_SUB, loadStorageFixture } from "../fixtures/azure/storage/storage.ts";
import {
  type ArmEmulator,
  mintToken,
  DEFAULT_SUBSCRIPTION_ID as SUB,
  startArmEmulator,
  staticTokenCredential,
  storageClientFor,
} from "../harness/arm-emulator/index.ts";
import { startWebhookSink, type WebhookSink } from "../harness/webhook-sink.ts";

const RG = "rg-qubole";
const NAME = "qubolelake";
const ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${NAME}`;
const PRIVATE_SUBNET = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/virtualNetworks/vnet-qubole/subnets/private`;
const TUNNEL_IP = "203.0.113.10";

const aliceToken = mintToken({
  oid: "7f1c9a52-3e4b-4d8a-9b6c-1a2b3c4d5e6f",
  upn: "alice@contoso.com",
  name: "Alice Example",
  ipaddr: "198.51.100.23",
  tid: "72f988bf-86f1-41af-91ab-2d7cd011db47",
});
const guardianToken = mintToken({
  oid: "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d",
  appid: "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
  idtyp: "app",
});

const POLICY = `version: 1
trustedSources: [${TUNNEL_IP}/32]
rules:
  - name: storage-selected-networks-only
    rule: storage-network-access
    mode: remediate
    severity: critical
  - name: storage-ip-allow-list
    rule: storage-ip-rules
    mode: remediate
    severity: high
    options: { allowedAddresses: [198.51.100.0/24], requiredAddresses: [${TUNNEL_IP}] }
  - name: storage-approved-subnets
    rule: storage-vnet-rules
    mode: remediate
    severity: high
    options: { subnets: ["${PRIVATE_SUBNET}"] }
  - name: storage-trusted-services-on
    rule: storage-trusted-services
    mode: remediate
    severity: high
  - name: storage-no-anonymous-blobs
    rule: storage-blob-public-access
    mode: alert
    severity: medium
`;

type Json = Record<string, unknown>;
let emu: ArmEmulator;
let sink: WebhookSink;
let dir: string;
let alice: StorageManagementClient;

beforeAll(async () => {
  [emu, sink] = await Promise.all([startArmEmulator({ lroPolls: 0 }), startWebhookSink()]);
  dir = await mkdtemp(path.join(tmpdir(), "guardian-storage-"));
  await writeFile(path.join(dir, "ca.pem"), emu.ca);
  await writeFile(path.join(dir, "policy.yaml"), POLICY);
  alice = storageClientFor(emu, aliceToken);
});
afterAll(async () => {
  await Promise.all([emu?.stop(), sink?.stop()]);
});
beforeEach(() => {
  emu.reset();
  sink.received.length = 0;
  // The closed-endpoint estate: private subnet, tunnel server's IP, trusted services on.
  emu.seed(closedAccount());
});

function depsFactory(extra: Record<string, string> = {}, wrap?: (d: GuardianDeps) => GuardianDeps) {
  const audit: AuditRecord[] = [];
  const factory = async (log: Logger) => {
    const cfg = parseConfig({
      GUARDIAN_POLICY_FILE: path.join(dir, "policy.yaml"),
      AZURE_ARM_ENDPOINT: emu.url,
      AZURE_ARM_CA_FILE: path.join(dir, "ca.pem"),
      AZURE_ARM_POLL_INTERVAL_MS: "0",
      SLACK_WEBHOOK_URL: sink.slackUrl,
      TEAMS_WEBHOOK_URL: sink.teamsUrl,
      ...extra,
    });
    const deps = await azureGuardianDeps(cfg, log, { credential: staticTokenCredential(guardianToken) });
    const recorded = { ...deps, audit: { record: async (r: AuditRecord) => void audit.push(r) } };
    return wrap ? wrap(recorded) : recorded;
  };
  return { factory, audit };
}

/** qubole-closed.json in the emulator's subscription. */
function closedAccount(): Json {
  const fixture = loadStorageFixture("qubole-closed.json");
  return JSON.parse(JSON.stringify(fixture).replaceAll(FIXTURE_SUB, SUB)) as Json;
}

const context = () => new InvocationContext({ invocationId: crypto.randomUUID(), functionName: "onChange" });

async function deliver(handler: ReturnType<typeof createOnChangeHandler>, from: number) {
  const results = [];
  for (const event of emu.events.slice(from) as EventGridEvent[])
    results.push(await handler(event, context()));
  return results;
}

const aclsNow = () =>
  ((emu.get(ID) as { properties: Json }).properties.networkAcls ?? {}) as Json & {
    ipRules: Json[];
    virtualNetworkRules: Json[];
  };
const patches = () => emu.requests.filter((r) => r.method === "PATCH").length;

/** What someone does in the portal: "All networks", the tunnel IP gone, their home IP added. */
async function openItUp(): Promise<void> {
  await alice.storageAccounts.update(RG, NAME, {
    networkRuleSet: {
      defaultAction: "Allow",
      bypass: "AzureServices",
      virtualNetworkRules: [
        { virtualNetworkResourceId: PRIVATE_SUBNET, action: "Allow", state: "Succeeded" },
      ],
      ipRules: [
        { iPAddressOrRange: "198.51.100.7", action: "Allow" },
        { iPAddressOrRange: "192.0.2.77", action: "Allow" },
      ],
    },
  });
}

describe("Azure Function onChange → storage account in the ARM emulator → webhooks", () => {
  it("restores the closed endpoints in one PATCH, keeps allowed entries byte for byte, and ignores its own write", async () => {
    const { factory, audit } = depsFactory();
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await openItUp();
    const opened = structuredClone(aclsNow());
    const before = patches();
    const gets = emu.requests.filter((r) => r.method === "GET").length;

    const [result] = await deliver(handler, mark);
    // API economy: the read that evaluates, the read right before the PATCH (no etag), one PATCH.
    expect(emu.requests.filter((r) => r.method === "GET").length - gets).toBe(2);
    expect(result?.outcomes[0]?.actions.map((a) => [a.finding.policyRule, a.outcome])).toEqual([
      ["storage-selected-networks-only", "applied"],
      ["storage-ip-allow-list", "applied"],
    ]);
    expect(patches() - before).toBe(1);

    expect(aclsNow()).toEqual({
      ...opened,
      defaultAction: "Deny",
      // The allowed entry as it was, then the tunnel server put back; the home IP gone.
      ipRules: [opened.ipRules[0], { value: TUNNEL_IP, action: "Allow" }],
    });
    expect(aclsNow().virtualNetworkRules).toEqual(opened.virtualNetworkRules);
    expect((emu.get(ID) as { properties: Json }).properties).toMatchObject({
      publicNetworkAccess: "Enabled",
    });

    expect(audit.map((r) => [r.policyRule, r.outcome, r.remediation])).toEqual([
      ["storage-selected-networks-only", "applied", "storage-close-network"],
      ["storage-ip-allow-list", "applied", "storage-close-network"],
    ]);
    expect(audit[0]?.before).toEqual({ networkAcls: opened });
    expect(audit[1]?.after).toEqual(audit[0]?.after);
    expect(audit[0]?.actor).toMatchObject({ name: "alice@contoso.com" });

    await sink.waitFor(2);
    const slack = JSON.stringify(sink.received.find((r) => r.path.startsWith("/slack"))?.body);
    expect(slack).toContain("alice@contoso.com");
    expect(slack).toContain("put back required IP rule 203.0.113.10");
    expect(slack).toContain("removed IP rule 192.0.2.77");

    // The guardian's PATCH raised an event carrying its own claims: a self-change, no second write, no alert.
    const own = await deliver(handler, mark + 1);
    expect(own.flatMap((r) => r?.outcomes.map((o) => o.status))).toEqual(["skipped-self"]);
    expect(patches() - before).toBe(1);
    expect(sink.received).toHaveLength(2);
  });

  it("handles the same storage write delivered in the CloudEvents 1.0 schema", async () => {
    const { factory, audit } = depsFactory();
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await openItUp();
    // Event Grid's CloudEvents mapping of the same event: type, source (the topic), subject, id, time, data.
    for (const e of emu.events.slice(mark) as {
      id: string;
      topic: string;
      subject: string;
      eventType: string;
      eventTime: string;
      data: unknown;
    }[]) {
      const cloudEvent = {
        specversion: "1.0",
        type: e.eventType,
        source: e.topic,
        subject: e.subject,
        id: e.id,
        time: e.eventTime,
        data: e.data,
      };
      await handler(cloudEvent as unknown as EventGridEvent, context());
    }
    expect(aclsNow().defaultAction).toBe("Deny");
    expect(audit.map((r) => [r.outcome, r.actor.name])).toEqual([
      ["applied", "alice@contoso.com"],
      ["applied", "alice@contoso.com"],
    ]);
  });

  it("a person changing ipRules between the guardian's read and its write is never overwritten", async () => {
    let interfered = false;
    const { factory, audit } = depsFactory({}, (deps) => {
      const port = deps.clouds.azure;
      if (!port) throw new Error("no Azure port");
      return {
        ...deps,
        clouds: {
          azure: {
            ...port,
            writer: {
              async apply(change, snapshot) {
                if (!interfered) {
                  interfered = true;
                  // Between the guardian's read and its PATCH, Bob adds an allowed office address.
                  const acls = aclsNow();
                  await alice.storageAccounts.update(RG, NAME, {
                    networkRuleSet: {
                      defaultAction: acls.defaultAction as "Allow",
                      bypass: String(acls.bypass),
                      virtualNetworkRules: acls.virtualNetworkRules.map((v) => ({
                        virtualNetworkResourceId: String(v.id),
                      })),
                      ipRules: [...acls.ipRules, { value: "198.51.100.99" }].map((r) => ({
                        iPAddressOrRange: String(r.value),
                      })),
                    },
                  });
                }
                return port.writer.apply(change, snapshot);
              },
            },
          },
        },
      };
    });
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await openItUp();
    const before = patches();
    await deliver(handler, mark);

    // Bob's PATCH, then exactly one guardian PATCH, planned from the account as Bob left it.
    expect(patches() - before).toBe(2);
    expect(aclsNow().ipRules.map((r) => r.value)).toEqual(["198.51.100.7", "198.51.100.99", TUNNEL_IP]);
    expect(aclsNow().defaultAction).toBe("Deny");
    expect(audit.map((r) => r.outcome)).toEqual(["applied", "applied"]);
  });

  it("writes nothing when a concurrent edit already closed the account", async () => {
    const { factory, audit } = depsFactory({}, (deps) => {
      const port = deps.clouds.azure;
      if (!port) throw new Error("no Azure port");
      let once = false;
      return {
        ...deps,
        clouds: {
          azure: {
            ...port,
            writer: {
              async apply(change, snapshot) {
                if (!once) {
                  once = true;
                  await alice.storageAccounts.update(RG, NAME, {
                    networkRuleSet: {
                      defaultAction: "Deny",
                      bypass: "AzureServices",
                      virtualNetworkRules: [{ virtualNetworkResourceId: PRIVATE_SUBNET, state: "Succeeded" }],
                      ipRules: [{ iPAddressOrRange: TUNNEL_IP }],
                    },
                  });
                }
                return port.writer.apply(change, snapshot);
              },
            },
          },
        },
      };
    });
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await openItUp();
    const before = patches();
    await deliver(handler, mark);
    expect(patches() - before).toBe(1); // only the person's
    expect(audit.map((r) => r.outcome)).toEqual(["already-compliant", "already-compliant"]);
    expect(sink.received).toHaveLength(0);
  });

  it("puts trusted services back for ADLS, and only alerts on anonymous blob access (alert mode)", async () => {
    const { factory, audit } = depsFactory();
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await alice.storageAccounts.update(RG, NAME, { allowBlobPublicAccess: true });
    await alice.storageAccounts.update(RG, NAME, {
      networkRuleSet: {
        defaultAction: "Deny",
        bypass: "Logging, Metrics",
        virtualNetworkRules: [{ virtualNetworkResourceId: PRIVATE_SUBNET, state: "Succeeded" }],
        ipRules: [{ iPAddressOrRange: TUNNEL_IP }],
      },
    });
    const changed = structuredClone(aclsNow());
    await deliver(handler, mark);
    expect(aclsNow()).toEqual({ ...changed, bypass: "Logging, Metrics, AzureServices" });
    expect((emu.get(ID) as { properties: Json }).properties.allowBlobPublicAccess).toBe(true);
    expect(audit.map((r) => [r.policyRule, r.outcome])).toContainEqual([
      "storage-no-anonymous-blobs",
      "skipped-mode",
    ]);
    expect(audit.map((r) => [r.policyRule, r.outcome])).toContainEqual([
      "storage-trusted-services-on",
      "applied",
    ]);
  });

  it("a PATCH the RP applied but never answered is settled by reading: credited to the guardian, alerted once", async () => {
    const { factory, audit } = depsFactory({ AZURE_ARM_TIMEOUT_MS: "300" });
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await openItUp();
    emu.injectFault({ method: "PATCH", kind: "hang-after", times: 1 });
    await deliver(handler, mark);
    expect(aclsNow().defaultAction).toBe("Deny");
    expect(aclsNow().ipRules.map((r) => r.value)).toEqual(["198.51.100.7", TUNNEL_IP]);
    expect(audit.map((r) => r.outcome)).toEqual(["applied", "applied"]);
    expect(audit[0]?.reason).toMatch(/confirmed by reading/);
    await sink.waitFor(2);
    expect(sink.received).toHaveLength(2);
  });

  it("throttled PATCHes are retried by the SDK; a PATCH the RP rejects fails once for both entries, the account left as read", async () => {
    const { factory, audit } = depsFactory();
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await openItUp();
    emu.injectFault({ method: "PATCH", status: 429, retryAfterSeconds: 0, times: 1 });
    await deliver(handler, mark);
    expect(aclsNow().defaultAction).toBe("Deny");
    expect(audit.map((r) => r.outcome)).toEqual(["applied", "applied"]);

    const again = emu.events.length;
    await openItUp();
    emu.injectFault({ method: "PATCH", status: 400, code: "InvalidValuesForRequestParameters", times: 1 });
    const patchesBefore = patches();
    // Permanent: the event fails (to its dead-letter path), and the one write is not tried again for the other entry.
    await expect(deliver(handler, again)).rejects.toThrow(/InvalidValuesForRequestParameters/);
    expect(patches() - patchesBefore).toBe(1);
    expect(aclsNow().defaultAction).toBe("Allow");
    expect(audit.slice(2).map((r) => [r.policyRule, r.outcome])).toEqual([
      ["storage-selected-networks-only", "failed"],
      ["storage-ip-allow-list", "failed"],
    ]);
  });

  it("in dry-run plans the same single PATCH for both findings and writes nothing", async () => {
    const { factory, audit } = depsFactory({ GUARDIAN_DRY_RUN: "true" });
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await openItUp();
    const before = patches();
    await deliver(handler, mark);
    expect(patches()).toBe(before);
    expect(audit.map((r) => r.outcome)).toEqual(["dry-run", "dry-run"]);
    expect(audit[1]?.after).toEqual(audit[0]?.after);
  });
});

describe("Resource Notifications for storage accounts (booleans as 1/0)", () => {
  let rn: ArmEmulator;
  beforeAll(async () => {
    rn = await startArmEmulator({
      lroPolls: 0,
      emitResourceNotifications: true,
      notificationBooleansAsNumbers: true,
    });
  });
  afterAll(async () => {
    await rn.stop();
  });

  it("acts on the notification after reading the account itself, never from the event's copy", async () => {
    await writeFile(path.join(dir, "ca-rn.pem"), rn.ca);
    const { factory, audit } = depsFactory({
      AZURE_ARM_ENDPOINT: rn.url,
      AZURE_ARM_CA_FILE: path.join(dir, "ca-rn.pem"),
    });
    const handler = createOnChangeHandler(factory);
    rn.seed(closedAccount());
    const person = storageClientFor(rn, aliceToken);
    await person.storageAccounts.update(RG, NAME, {
      networkRuleSet: {
        defaultAction: "Allow",
        virtualNetworkRules: [{ virtualNetworkResourceId: PRIVATE_SUBNET, state: "Succeeded" }],
        ipRules: [{ iPAddressOrRange: TUNNEL_IP }],
      },
    });
    const notification = rn.events.find(
      (e) =>
        (e as { eventType?: string }).eventType ===
        "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated",
    ) as EventGridEvent;
    expect(JSON.stringify(notification.data)).toContain('"allowBlobPublicAccess":0');
    const gets = rn.requests.filter((r) => r.method === "GET").length;
    const result = await handler(notification, context());
    expect(result.outcomes[0]?.actions.map((a) => a.outcome)).toEqual(["applied"]);
    // Read again before writing: the event's copy decided that something needed doing, not what to write.
    expect(rn.requests.filter((r) => r.method === "GET").length).toBeGreaterThan(gets);
    expect(((rn.get(ID) as { properties: Json }).properties.networkAcls as Json).defaultAction).toBe("Deny");
    expect(audit[0]?.actor).toEqual({});
  });
});
