// Storage firewall VNet rules approved by subnet role, end to end: the Azure Function's Event Grid handler, the real
// @azure/arm-storage and @azure/arm-network clients against the ARM emulator, the webhook sink. The role selects
// subnets by their virtual network's tags (subnets carry none), so the guardian reads each network a VNet rule names,
// once per evaluation: a rule into the tagged network is kept byte for byte, one into another network is removed; a
// network that cannot be read approves nothing (gone: removed; refused: alerted and left); a network read that keeps
// failing fails the evaluation (retried), and nothing is written.

import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { StorageManagementClient } from "@azure/arm-storage";
import { type EventGridEvent, InvocationContext } from "@azure/functions";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createOnChangeHandler } from "../../functions/on-change.ts";
import { azureGuardianDeps } from "../../shared/clouds/azure/runtime.ts";
import { parseConfig } from "../../shared/config.ts";
import { TransientError } from "../../shared/errors.ts";
import type { Logger } from "../../shared/log.ts";
import type { AuditRecord } from "../../shared/types.ts";
import { SUB as FIXTURE_SUB, loadStorageFixture } from "../fixtures/azure/storage/storage.ts";
import {
  type ArmEmulator,
  mintToken,
  networkClientFor,
  DEFAULT_SUBSCRIPTION_ID as SUB,
  startArmEmulator,
  staticTokenCredential,
  storageClientFor,
} from "../harness/arm-emulator/index.ts";
import { startWebhookSink, type WebhookSink } from "../harness/webhook-sink.ts";

const RG = "rg-qubole";
const NAME = "qubolelake";
const ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${NAME}`;
const NET = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network`;
const subnet = (vnet: string, name: string) => `${NET}/virtualNetworks/${vnet}/subnets/${name}`;
const PRIVATE = subnet("vnet-qubole", "snet-private");
const SANDBOX = subnet("vnet-sandbox", "default");
const PARTNER = subnet("vnet-partner", "default");
const GONE = subnet("vnet-decommissioned", "default");

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

// The Qubole data subnets are those of the network tagged workload=qubole, whatever their names.
const POLICY = `version: 1
subnetRoles:
  private: { tags: { workload: qubole } }
rules:
  - name: storage-selected-networks-only
    rule: storage-network-access
    mode: remediate
    severity: critical
  - name: storage-approved-subnets
    rule: storage-vnet-rules
    mode: remediate
    severity: high
    options: { roles: [private] }
`;

type Json = Record<string, unknown>;
let emu: ArmEmulator;
let sink: WebhookSink;
let dir: string;
let alice: StorageManagementClient;

beforeAll(async () => {
  [emu, sink] = await Promise.all([startArmEmulator({ lroPolls: 0 }), startWebhookSink()]);
  dir = await mkdtemp(path.join(tmpdir(), "guardian-storage-roles-"));
  await writeFile(path.join(dir, "ca.pem"), emu.ca);
  await writeFile(path.join(dir, "policy.yaml"), POLICY);
  alice = storageClientFor(emu, aliceToken);
});
afterAll(async () => {
  await Promise.all([emu?.stop(), sink?.stop()]);
});
beforeEach(async () => {
  emu.reset();
  sink.received.length = 0;
  const platform = networkClientFor(emu, aliceToken);
  const network = (name: string, tags: Record<string, string>, prefix: string, subnets: string[]) =>
    platform.virtualNetworks.createOrUpdate(RG, name, {
      location: "westeurope",
      tags,
      addressSpace: { addressPrefixes: [prefix] },
      subnets: subnets.map((s, i) => ({
        name: s,
        addressPrefix: prefix.replace(/\.0\.0\/16$/, `.${i + 1}.0/24`),
        serviceEndpoints: [{ service: "Microsoft.Storage" }],
      })),
    });
  await network("vnet-qubole", { workload: "qubole" }, "10.10.0.0/16", ["snet-private"]);
  await network("vnet-sandbox", { workload: "sandbox" }, "10.20.0.0/16", ["default"]);
  await network("vnet-partner", { workload: "qubole" }, "10.30.0.0/16", ["default"]);
  // The closed-endpoint account, its VNet rule moved to the tagged network's private subnet.
  const fixture = loadStorageFixture("qubole-closed.json");
  const text = JSON.stringify(fixture)
    .replaceAll(FIXTURE_SUB, SUB)
    .replace("vnet-qubole/subnets/private", "vnet-qubole/subnets/snet-private");
  emu.seed(JSON.parse(text) as Json);
});

function depsFactory() {
  const audit: AuditRecord[] = [];
  const factory = async (log: Logger) => {
    const cfg = parseConfig({
      GUARDIAN_POLICY_FILE: path.join(dir, "policy.yaml"),
      AZURE_ARM_ENDPOINT: emu.url,
      AZURE_ARM_CA_FILE: path.join(dir, "ca.pem"),
      AZURE_ARM_POLL_INTERVAL_MS: "0",
      SLACK_WEBHOOK_URL: sink.slackUrl,
      TEAMS_WEBHOOK_URL: sink.teamsUrl,
    });
    const deps = await azureGuardianDeps(cfg, log, { credential: staticTokenCredential(guardianToken) });
    return { ...deps, audit: { record: async (r: AuditRecord) => void audit.push(r) } };
  };
  return { factory, audit };
}

const context = () => new InvocationContext({ invocationId: crypto.randomUUID(), functionName: "onChange" });

async function deliver(handler: ReturnType<typeof createOnChangeHandler>, from: number) {
  const results = [];
  for (const event of emu.events.slice(from) as EventGridEvent[])
    results.push(await handler(event, context()));
  return results;
}

const aclsNow = () =>
  (emu.get(ID) as { properties: { networkAcls: Json & { virtualNetworkRules: Json[]; ipRules: Json[] } } })
    .properties.networkAcls;
const patches = () => emu.requests.filter((r) => r.method === "PATCH").length;
const vnetReads = () =>
  emu.requests.filter(
    (r) => r.method === "GET" && /\/virtualNetworks\/[^/]+$/i.test(r.path.split("?")[0] ?? ""),
  );

/** What a person does: the firewall keeps its rules and gains VNet rules for other subnets. */
async function addVnetRules(ids: string[], defaultAction: "Allow" | "Deny" = "Deny"): Promise<void> {
  const acls = aclsNow();
  await alice.storageAccounts.update(RG, NAME, {
    networkRuleSet: {
      defaultAction,
      bypass: String(acls.bypass),
      ipRules: acls.ipRules.map((r) => ({ iPAddressOrRange: String(r.value), action: "Allow" })),
      virtualNetworkRules: [...acls.virtualNetworkRules.map((r) => String(r.id)), ...ids].map((id) => ({
        virtualNetworkResourceId: id,
        action: "Allow",
      })),
    },
  });
}

describe("Azure Function onChange → storage VNet rules approved by subnet role (network tags) → ARM emulator", () => {
  it("keeps the rule into the tagged network byte for byte and removes the one into another network, in one PATCH", async () => {
    const { factory, audit } = depsFactory();
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await addVnetRules([SANDBOX]);
    const opened = structuredClone(aclsNow());
    expect(opened.virtualNetworkRules.map((r) => r.id)).toEqual([PRIVATE, SANDBOX]);
    const reads = vnetReads().length;
    const before = patches();

    const [result] = await deliver(handler, mark);
    expect(result?.outcomes[0]?.actions.map((a) => [a.finding.policyRule, a.outcome])).toEqual([
      ["storage-approved-subnets", "applied"],
    ]);
    expect(result?.outcomes[0]?.findings[0]?.message).toMatch(
      /vnet-sandbox\/subnets\/default is not an approved subnet/,
    );
    // Each network read once for the evaluation, one PATCH.
    expect(
      vnetReads()
        .slice(reads)
        .map((r) => r.path.split("?")[0]?.split("/").at(-1)),
    ).toEqual(["vnet-qubole", "vnet-sandbox"]);
    expect(patches() - before).toBe(1);
    expect(aclsNow()).toEqual({ ...opened, virtualNetworkRules: [opened.virtualNetworkRules[0]] });
    expect(audit[0]?.before).toEqual({ networkAcls: opened });

    await sink.waitFor(2);
    const slack = JSON.stringify(sink.received.find((r) => r.path.startsWith("/slack"))?.body);
    expect(slack).toContain(`removed virtual network rule ${SANDBOX}`);

    // The guardian's own PATCH comes back as an event: recognised, nothing read or written again.
    const own = await deliver(handler, mark + 1);
    expect(own.flatMap((r) => r?.outcomes.map((o) => o.status))).toEqual(["skipped-self"]);
    expect(patches() - before).toBe(1);
  });

  it("a network that no longer exists approves nothing (removed); one ARM refuses to show (403) is alerted and left, also by the other entry's PATCH", async () => {
    const { factory, audit } = depsFactory();
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await addVnetRules([PARTNER, GONE], "Allow");
    const opened = structuredClone(aclsNow());
    // The guardian may not read the partner's network (no role there): every attempt answers 403.
    emu.injectFault({
      method: "GET",
      pathIncludes: "/virtualNetworks/vnet-partner",
      status: 403,
      code: "AuthorizationFailed",
      message:
        "The client does not have authorization to perform action 'Microsoft.Network/virtualNetworks/read' over scope",
      times: 10,
    });
    const before = patches();
    const [result] = await deliver(handler, mark);

    const actions = result?.outcomes[0]?.actions ?? [];
    // The network-access entry's PATCH also removes the gone network's rule (planned together), never the partner's.
    expect(actions.map((a) => [a.finding.policyRule, a.finding.kind ?? "-", a.outcome])).toEqual([
      ["storage-selected-networks-only", "-", "applied"],
      ["storage-approved-subnets", "-", "applied"],
      ["storage-approved-subnets", "network-unreadable", "alert-only"],
    ]);
    expect(actions[1]?.finding.message).toMatch(
      /vnet-decommissioned\/subnets\/default is not approved: its virtual network could not be read \(it no longer exists\)/,
    );
    expect(actions[2]?.finding.message).toMatch(
      /vnet-partner\/subnets\/default is not approved: its virtual network could not be read \(read .*vnet-partner refused \(403\)/,
    );
    expect(aclsNow().defaultAction).toBe("Deny");
    expect(patches() - before).toBe(1);
    // The gone network's rule removed; the private and partner rules as they were, in order.
    expect(aclsNow().virtualNetworkRules).toEqual([
      opened.virtualNetworkRules[0],
      opened.virtualNetworkRules[1],
    ]);
    expect(aclsNow().virtualNetworkRules.map((r) => r.id)).toEqual([PRIVATE, PARTNER]);
    expect(audit.map((r) => r.outcome)).toEqual(["applied", "applied", "alert-only"]);
  });

  it("a network read that keeps failing (503 beyond the SDK's retries) fails the evaluation: retried, nothing removed", async () => {
    const { factory, audit } = depsFactory();
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await addVnetRules([SANDBOX]);
    const opened = structuredClone(aclsNow());
    // The first try and the SDK's three retries all answer 503.
    emu.injectFault({
      method: "GET",
      pathIncludes: "/virtualNetworks/vnet-qubole",
      status: 503,
      retryAfterSeconds: 0,
      times: 4,
    });
    const before = patches();
    await expect(deliver(handler, mark)).rejects.toBeInstanceOf(TransientError);
    expect(patches() - before).toBe(0);
    expect(aclsNow()).toEqual(opened);
    expect(audit).toEqual([]);
    expect(sink.received).toHaveLength(0);

    // The redelivery, once ARM answers, judges as usual: the sandbox rule goes, the private one stays.
    await deliver(handler, mark);
    expect(aclsNow().virtualNetworkRules).toEqual([opened.virtualNetworkRules[0]]);
    expect(audit.map((r) => r.outcome)).toEqual(["applied"]);
  });
});
