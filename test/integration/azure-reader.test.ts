// The generic Azure reader and lister (shared/clouds/azure/reader.ts) over the real SDK pipeline and the ARM
// emulator: one GET per read with the raw ARM JSON, 404 → gone, a type with no kind refused before any call, and
// lists by subscription and resource group that follow `nextLink` page by page.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { azureKindRegistry } from "../../shared/clouds/azure/kinds/index.ts";
import { AzureNetwork } from "../../shared/clouds/azure/network.ts";
import { AzureResourceReader, listAzure } from "../../shared/clouds/azure/reader.ts";
import { InputError, RefusedError, TransientError } from "../../shared/errors.ts";
import {
  type ArmEmulator,
  mintToken,
  DEFAULT_SUBSCRIPTION_ID as SUB,
  startArmEmulator,
  staticTokenCredential,
} from "../harness/arm-emulator/index.ts";

const nsgKind = azureKindRegistry["network-security-group"];
const nsgId = (rg: string, name: string) =>
  `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.Network/networkSecurityGroups/${name}`;
const nsg = (rg: string, name: string) => ({
  id: nsgId(rg, name),
  name,
  type: "Microsoft.Network/networkSecurityGroups",
  location: "westeurope",
  etag: 'W/"00000000-0000-0000-0000-000000000001"',
  tags: { owner: "platform" },
  properties: { provisioningState: "Succeeded", securityRules: [], defaultSecurityRules: [] },
});

let emu: ArmEmulator;
let clients: AzureNetwork;

beforeAll(async () => {
  emu = await startArmEmulator({ lroPolls: 0, pageSize: 2 });
  clients = new AzureNetwork({
    credential: staticTokenCredential(mintToken({ oid: "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d" })),
    endpoint: emu.url,
    ca: emu.ca,
    retryDelayInMs: 5,
  });
});
afterAll(async () => {
  await emu.stop();
});
beforeEach(() => {
  emu.reset();
  clients.counter.reads = 0;
  for (const [rg, name] of [
    ["rg-a", "nsg-1"],
    ["rg-a", "nsg-2"],
    ["rg-a", "nsg-3"],
    ["rg-b", "nsg-4"],
  ] as const) {
    emu.seed(nsg(rg, name));
  }
});

const ref = (resourceId: string, resourceType: string = nsgKind.type) => ({
  cloud: "azure" as const,
  resourceId,
  resourceType,
  account: SUB,
});

describe("AzureResourceReader", () => {
  it("reads the raw ARM JSON of a registered kind with one GET", async () => {
    const snapshot = await new AzureResourceReader(clients).read(ref(nsgId("rg-a", "nsg-2")));
    expect(snapshot).toMatchObject({
      cloud: "azure",
      resourceId: nsgId("rg-a", "nsg-2"),
      resourceType: nsgKind.type,
      resourceGroup: "rg-a",
      account: SUB,
      region: "westeurope",
      tags: { owner: "platform" },
    });
    expect(snapshot?.etag).toMatch(/^W\/"/);
    // The REST shape, not the SDK model: `properties` stays nested.
    expect(snapshot?.resource).toMatchObject({ properties: { securityRules: [] } });
    expect(clients.counter.reads).toBe(1);
  });

  it("answers undefined for a resource that is gone", async () => {
    expect(await new AzureResourceReader(clients).read(ref(nsgId("rg-a", "nsg-gone")))).toBeUndefined();
  });

  it("tells a refusal (401/403: no permission, another tenant) from a failure that may pass (429/5xx)", async () => {
    const reader = new AzureResourceReader(clients);
    emu.injectFault({ method: "GET", status: 403, code: "AuthorizationFailed", times: 1 });
    await expect(reader.read(ref(nsgId("rg-a", "nsg-1")))).rejects.toThrow(RefusedError);
    emu.injectFault({ method: "GET", status: 401, code: "InvalidAuthenticationTokenTenant", times: 1 });
    await expect(reader.read(ref(nsgId("rg-a", "nsg-1")))).rejects.toThrow(/refused \(401\)/);
    // The SDK's retry policy tries four times; then the failure is transient (the event is retried), not a refusal.
    emu.injectFault({ method: "GET", status: 503, retryAfterSeconds: 0, times: 4 });
    await expect(reader.read(ref(nsgId("rg-a", "nsg-1")))).rejects.toThrow(TransientError);
    expect(emu.requests.map((r) => r.status)).toEqual([403, 401, 503, 503, 503, 503]);
  });

  it("refuses a type no kind declares, and an id that is not of the kind, before any call", async () => {
    const reader = new AzureResourceReader(clients);
    await expect(
      reader.read(ref(nsgId("rg-a", "nsg-1"), "microsoft.compute/virtualmachines")),
    ).rejects.toThrow(InputError);
    await expect(
      reader.read(
        ref(`/subscriptions/${SUB}/resourceGroups/rg-a/providers/Microsoft.Compute/virtualMachines/vm`),
      ),
    ).rejects.toThrow(/not a network security group id/);
    expect(emu.requests).toHaveLength(0);
  });
});

describe("listAzure", () => {
  const names = async (scope: { subscriptionId: string; resourceGroup?: string }) => {
    const out: string[] = [];
    for await (const s of listAzure(clients, nsgKind, scope)) out.push(s.resourceId.split("/").at(-1) ?? "");
    return out.sort();
  };

  it("lists a subscription across pages (nextLink), as snapshots of the raw JSON", async () => {
    expect(await names({ subscriptionId: SUB })).toEqual(["nsg-1", "nsg-2", "nsg-3", "nsg-4"]);
    // Four resources, two per page: two GETs, the second at the emulator's nextLink.
    expect(clients.counter.reads).toBe(2);
    expect(emu.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      `GET /subscriptions/${SUB}/providers/Microsoft.Network/networkSecurityGroups 200`,
      `GET /subscriptions/${SUB}/providers/Microsoft.Network/networkSecurityGroups 200`,
    ]);
  });

  it("lists a resource group", async () => {
    expect(await names({ subscriptionId: SUB, resourceGroup: "rg-a" })).toEqual(["nsg-1", "nsg-2", "nsg-3"]);
    expect(await names({ subscriptionId: SUB, resourceGroup: "rg-empty" })).toEqual([]);
  });
});
