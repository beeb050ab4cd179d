// The scan over storage accounts whose VNet rules a subnet role approves by its network's tags, against the ARM
// emulator: the listed copy cannot tell the verdict (the networks are read during the evaluation), so each such
// account takes its share of the scan's write cap before it is evaluated, and the cap holds.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { memoryAuditSink } from "../../shared/audit/index.ts";
import { azurePort } from "../../shared/clouds/azure/index.ts";
import { AzureNetwork } from "../../shared/clouds/azure/network.ts";
import { pageLister } from "../../shared/clouds/listers.ts";
import { memoryLogger } from "../../shared/log.ts";
import type { GuardianDeps } from "../../shared/pipeline.ts";
import { parsePolicy } from "../../shared/policy/load.ts";
import { scanEstate } from "../../shared/usecases/scan.ts";
import { SUB as FIXTURE_SUB, loadStorageFixture } from "../fixtures/azure/storage/storage.ts";
import {
  type ArmEmulator,
  mintToken,
  networkClientFor,
  DEFAULT_SUBSCRIPTION_ID as SUB,
  startArmEmulator,
  staticTokenCredential,
} from "../harness/arm-emulator/index.ts";

const RG = "rg-qubole";
const NET = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network`;
const SANDBOX = `${NET}/virtualNetworks/vnet-sandbox/subnets/default`;
const policy = parsePolicy(`version: 1
subnetRoles:
  private: { tags: { workload: qubole } }
rules:
  - name: storage-approved-subnets
    rule: storage-vnet-rules
    mode: remediate
    options: { roles: [private] }
`);

let emu: ArmEmulator;
let network: AzureNetwork;

beforeAll(async () => {
  emu = await startArmEmulator({ lroPolls: 0, pageSize: 2 });
  network = new AzureNetwork({
    credential: staticTokenCredential(mintToken({ oid: "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d" })),
    endpoint: emu.url,
    ca: emu.ca,
    retryDelayInMs: 5,
    maxRetries: 2,
  });
});
afterAll(async () => {
  await emu?.stop();
});
beforeEach(async () => {
  emu.reset();
  const platform = networkClientFor(emu, mintToken({ oid: "7f1c9a52-3e4b-4d8a-9b6c-1a2b3c4d5e6f" }));
  for (const [name, tags, prefix] of [
    ["vnet-qubole", { workload: "qubole" }, "10.10"],
    ["vnet-sandbox", {}, "10.20"],
  ] as const) {
    await platform.virtualNetworks.createOrUpdate(RG, name, {
      location: "westeurope",
      tags,
      addressSpace: { addressPrefixes: [`${prefix}.0.0/16`] },
      subnets: [{ name: name === "vnet-qubole" ? "private" : "default", addressPrefix: `${prefix}.1.0/24` }],
    });
  }
  // Three closed-endpoint accounts, each with a VNet rule into the tagged network and one into the sandbox.
  for (const name of ["lake1", "lake2", "lake3"]) {
    const text = JSON.stringify(loadStorageFixture("qubole-closed.json"))
      .replaceAll(FIXTURE_SUB, SUB)
      .replaceAll("qubolelake", name);
    const account = JSON.parse(text) as {
      properties: { networkAcls: { virtualNetworkRules: Record<string, unknown>[] } };
    };
    account.properties.networkAcls.virtualNetworkRules.push({
      id: SANDBOX,
      action: "Allow",
      state: "Succeeded",
    });
    emu.seed(account);
  }
});

function deps(): GuardianDeps {
  return {
    policy,
    clouds: { azure: azurePort(network) },
    outbox: { enqueue: async () => [] },
    audit: memoryAuditSink(),
    selfIdentities: [],
    dryRun: false,
    log: memoryLogger(),
  };
}

describe("scan: storage VNet rules approved by network tags", () => {
  it("finds the sandbox rule on every account, and the write cap bounds the PATCHes", async () => {
    const lister = pageLister({ azure: network });
    const report = await scanEstate([{ cloud: "azure", subscriptionId: SUB }], deps(), lister, {
      remediate: true,
      maxWrites: 1,
    });
    expect(report.complete).toBe(true);
    expect(report.findings.map((f) => f.resourceId.split("/").at(-1)).sort()).toEqual([
      "lake1",
      "lake2",
      "lake3",
    ]);
    expect(report.actions.map((a) => a.outcome).sort()).toEqual(["applied", "skipped-cap", "skipped-cap"]);
    expect(emu.requests.filter((r) => r.method === "PATCH")).toHaveLength(1);
  });
});
