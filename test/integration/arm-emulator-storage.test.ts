// The ARM emulator's storage accounts through the real @azure/arm-storage client (and raw HTTPS where the wire shape
// matters). Expected shapes: Azure/azure-rest-api-specs Microsoft.Storage stable/2025-08-01 (storage.json, examples
// StorageAccountGetProperties.json, StorageAccountCreate.json, StorageAccountUpdate.json) and
// MicrosoftDocs/azure-docs event-schema-subscriptions.md / event-schema-resources.md.

import type { StorageManagementClient } from "@azure/arm-storage";
import { RestError } from "@azure/core-rest-pipeline";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { normaliseEventGrid } from "../../shared/events/azure.ts";
import { loadStorageFixture } from "../fixtures/azure/storage/storage.ts";
import {
  type ArmEmulator,
  mintToken,
  rawArmRequest,
  DEFAULT_SUBSCRIPTION_ID as SUB,
  startArmEmulator,
  storageClientFor,
} from "../harness/arm-emulator/index.ts";

const RG = "rg-qubole";
const NAME = "qubolelake";
const ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${NAME}`;
const API = "api-version=2025-08-01";
const token = mintToken({
  oid: "a1b2c3d4-0000-4000-8000-000000000001",
  upn: "alice@contoso.example",
  tid: "11111111-2222-4333-8444-555555555555",
  ipaddr: "198.51.100.23",
});

type Json = Record<string, unknown>;
let emu: ArmEmulator;
let client: StorageManagementClient;

beforeAll(async () => {
  emu = await startArmEmulator({
    lroPolls: 0,
    emitResourceNotifications: true,
    notificationBooleansAsNumbers: true,
  });
  client = storageClientFor(emu, token);
});
afterAll(async () => {
  await emu.stop();
});
beforeEach(() => emu.reset());

const raw = (method: string, body?: unknown, path = ID) =>
  rawArmRequest(emu, method, `${path}?${API}`, { token, body });
const propsOf = (r: { body: unknown }) => (r.body as { properties: Json }).properties;

async function createAccount(): Promise<void> {
  await client.storageAccounts.create(RG, NAME, {
    sku: { name: "Standard_LRS" },
    kind: "StorageV2",
    location: "westeurope",
    isHnsEnabled: true,
  });
}

describe("storage accounts in the ARM emulator", () => {
  it("creates an account with the spec's defaults, without an etag, and reads it back as raw ARM JSON", async () => {
    await createAccount();
    const got = await raw("GET");
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      id: ID,
      name: NAME,
      type: "Microsoft.Storage/storageAccounts",
      kind: "StorageV2",
    });
    expect((got.body as Json).etag).toBeUndefined();
    expect(propsOf(got)).toMatchObject({
      provisioningState: "Succeeded",
      isHnsEnabled: true,
      allowBlobPublicAccess: false,
      networkAcls: { bypass: "AzureServices", virtualNetworkRules: [], ipRules: [], defaultAction: "Allow" },
    });
  });

  it("replays the spec's Update example: a PATCH with networkAcls replaces that object, filling the defaults", async () => {
    emu.seed({ ...loadStorageFixture("qubole-closed.json"), id: ID });
    const example = {
      networkAcls: {
        defaultAction: "Allow",
        resourceAccessRules: [
          {
            resourceId:
              "/subscriptions/a7e99807-abbf-4642-bdec-2c809a96a8bc/resourceGroups/res9407/providers/Microsoft.Synapse/workspaces/testworkspace",
            tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47",
          },
        ],
      },
    };
    const patched = await raw("PATCH", { properties: example });
    expect(patched.status).toBe(200);
    // StorageAccountUpdate.json's response: the IP and VNet rules the body did not carry are gone.
    expect(propsOf(patched).networkAcls).toEqual({
      bypass: "AzureServices",
      defaultAction: "Allow",
      ipRules: [],
      resourceAccessRules: example.networkAcls.resourceAccessRules,
      virtualNetworkRules: [],
    });
    // Other properties are untouched.
    expect(propsOf(patched)).toMatchObject({
      allowBlobPublicAccess: false,
      isHnsEnabled: true,
      publicNetworkAccess: "Enabled",
    });
  });

  it("a PATCH of another property leaves networkAcls as it was, and entries keep every field as sent", async () => {
    emu.seed({ ...loadStorageFixture("qubole-closed.json"), id: ID });
    const before = propsOf(await raw("GET")).networkAcls;
    await raw("PATCH", { properties: { allowBlobPublicAccess: true } });
    expect(propsOf(await raw("GET"))).toMatchObject({ allowBlobPublicAccess: true, networkAcls: before });
    const acls = { defaultAction: "Deny", ipRules: [{ value: "203.0.113.10", action: "Allow", extra: 1 }] };
    await raw("PATCH", { properties: { networkAcls: acls } });
    expect(propsOf(await raw("GET")).networkAcls).toMatchObject({
      ipRules: acls.ipRules,
      virtualNetworkRules: [],
    });
  });

  it("the SDK's update (what a person's tooling sends) lands the same way", async () => {
    await createAccount();
    await client.storageAccounts.update(RG, NAME, {
      networkRuleSet: {
        defaultAction: "Deny",
        ipRules: [{ iPAddressOrRange: "203.0.113.10" }],
        bypass: "None",
      },
    });
    expect(propsOf(await raw("GET")).networkAcls).toEqual({
      bypass: "None",
      defaultAction: "Deny",
      ipRules: [{ value: "203.0.113.10", action: "Allow" }],
      virtualNetworkRules: [],
    });
  });

  it.each([
    [{ networkAcls: { ipRules: [] } }, 400, "InvalidRequestFormat"],
    [
      { networkAcls: { defaultAction: "Deny", bypass: "Everything" } },
      400,
      "InvalidValuesForRequestParameters",
    ],
    [{ publicNetworkAccess: "Sometimes" }, 400, "InvalidRequestFormat"],
  ])("rejects %j", async (properties, status, code) => {
    await createAccount();
    const r = await raw("PATCH", { properties });
    expect(r.status).toBe(status);
    expect((r.body as { error: { code: string } }).error.code).toBe(code);
  });

  it("answers ResourceNotFound for an absent account, and lists by resource group and subscription", async () => {
    await expect(client.storageAccounts.getProperties(RG, "nothere")).rejects.toMatchObject({
      statusCode: 404,
    });
    const missing = await raw("GET", undefined, `${ID}x`);
    expect((missing.body as { error: { code: string } }).error.code).toBe("ResourceNotFound");
    await createAccount();
    emu.seed({
      ...loadStorageFixture("qubole-closed.json"),
      id: ID.replace(RG, "rg-other").replace(NAME, "other"),
    });
    const byGroup = await rawArmRequest(
      emu,
      "GET",
      `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts?${API}`,
      { token },
    );
    expect((byGroup.body as { value: Json[] }).value.map((a) => a.name)).toEqual([NAME]);
    const names: string[] = [];
    for await (const a of client.storageAccounts.list()) names.push(a.name ?? "");
    expect(names.sort()).toEqual(["other", NAME]);
  });

  it("raises ResourceWriteSuccess with the caller's claims and Resource Notifications with 1/0 booleans", async () => {
    await createAccount();
    emu.events.length = 0;
    await raw("PATCH", { properties: { networkAcls: { defaultAction: "Allow" } } });
    const [write, notification] = emu.events as Json[];
    expect(write).toMatchObject({
      eventType: "Microsoft.Resources.ResourceWriteSuccess",
      subject: ID,
      data: {
        operationName: "Microsoft.Storage/storageAccounts/write",
        claims: { "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": "alice@contoso.example" },
        httpRequest: { method: "PATCH", clientIpAddress: expect.any(String) },
      },
    });
    expect(notification).toMatchObject({
      eventType: "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated",
      data: {
        resourceInfo: { id: ID, properties: { allowBlobPublicAccess: 0, supportsHttpsTrafficOnly: 1 } },
      },
    });
    // The guardian reads both as a change to this account, by this person.
    const { changes } = normaliseEventGrid(emu.events);
    expect(
      changes.map((c) => [c.resourceType, c.actor.name ?? "(Resource Notifications: no caller)"]),
    ).toEqual([
      ["microsoft.storage/storageaccounts", "alice@contoso.example"],
      ["microsoft.storage/storageaccounts", "(Resource Notifications: no caller)"],
    ]);
    expect(changes[1]?.resource).toMatchObject({ properties: { allowBlobPublicAccess: false } });
  });

  it("deletes, then answers 204 for an absent one with no event", async () => {
    await createAccount();
    emu.events.length = 0;
    expect((await raw("DELETE")).status).toBe(200);
    expect((emu.events as Json[]).map((e) => e.eventType)).toEqual([
      "Microsoft.Resources.ResourceDeleteSuccess",
      "Microsoft.ResourceNotifications.Resources.Deleted",
    ]);
    expect((await raw("DELETE")).status).toBe(204);
    await expect(client.storageAccounts.getProperties(RG, NAME)).rejects.toBeInstanceOf(RestError);
  });
});
