// The ARM emulator's SQL servers and Cosmos DB accounts as Private Link targets, over raw HTTPS (the wire shape is
// the point). Expected shapes: Azure/azure-rest-api-specs Microsoft.Sql stable/2023-08-01 (Servers.json,
// PrivateEndpointConnections.json; examples ServerGet.json, PrivateEndpointConnectionGet.json,
// PrivateEndpointConnectionUpdate.json, PrivateEndpointConnectionList.json) and Microsoft.DocumentDB stable/2024-11-15
// (cosmos-db.json, privateEndpointConnection.json; examples CosmosDBDatabaseAccountGet.json,
// CosmosDBPrivateEndpointConnectionGet.json, CosmosDBPrivateEndpointConnectionUpdate.json).

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { normaliseEventGrid } from "../../shared/events/azure.ts";
import {
  type ArmEmulator,
  mintToken,
  DEFAULT_SUBSCRIPTION_ID as OURS,
  rawArmRequest,
  startArmEmulator,
} from "../harness/arm-emulator/index.ts";

const PARTNER = "3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f";
const SQL = `/subscriptions/${OURS}/resourceGroups/rg-data/providers/Microsoft.Sql/servers/sql-lake`;
const COSMOS = `/subscriptions/${OURS}/resourceGroups/rg-data/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-orders`;
const SQL_API = "api-version=2023-08-01";
const COSMOS_API = "api-version=2024-11-15";
const owner = mintToken({
  oid: "7f1c9a52-3e4b-4d8a-9b6c-1a2b3c4d5e6f",
  tid: "72f988bf-86f1-41af-91ab-2d7cd011db47",
  upn: "alice@contoso.com",
});
const partner = mintToken({
  oid: "11111111-2222-4333-8444-555555555555",
  tid: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
  appid: "11111111-2222-4333-8444-555555555555",
  idtyp: "app",
});

type Json = Record<string, unknown>;
let emu: ArmEmulator;

beforeAll(async () => {
  emu = await startArmEmulator({ lroPolls: 1 });
});
afterAll(async () => {
  await emu.stop();
});
beforeEach(() => emu.reset());

const at = (url: string) => {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
};
const props = (body: unknown) => (body as { properties: Json }).properties;

async function createSqlServer(): Promise<void> {
  const put = await rawArmRequest(emu, "PUT", `${SQL}?${SQL_API}`, {
    token: owner,
    body: {
      location: "westeurope",
      properties: { administratorLogin: "dummylogin", administratorLoginPassword: "Placeholder#1234" },
    },
  });
  // Servers_CreateOrUpdate: 202 Accepted with a Location; the Location answers 202, then the server.
  expect(put.status).toBe(202);
  expect(put.body).toBeUndefined();
  const location = String(put.headers.location);
  expect(location).toContain("/providers/Microsoft.Sql/locations/westeurope/operationResults/");
  expect((await rawArmRequest(emu, "GET", at(location), { token: owner })).status).toBe(202);
  const done = await rawArmRequest(emu, "GET", at(location), { token: owner });
  expect(done.status).toBe(200);
  expect((done.body as Json).id).toBe(SQL);
}

async function createCosmosAccount(): Promise<void> {
  const put = await rawArmRequest(emu, "PUT", `${COSMOS}?${COSMOS_API}`, {
    token: owner,
    body: {
      location: "westeurope",
      kind: "GlobalDocumentDB",
      properties: {
        databaseAccountOfferType: "Standard",
        locations: [{ locationName: "West Europe", failoverPriority: 0, isZoneRedundant: false }],
      },
    },
  });
  // DatabaseAccounts_CreateOrUpdate: 200 with the account and a Location while its operation runs.
  expect(put.status).toBe(200);
  expect(put.headers.location).toBeDefined();
  expect(put.headers["azure-asyncoperation"]).toBeUndefined();
}

/** A partner creates a private endpoint in its own subscription asking for one sub-resource of our target. */
async function requestEndpoint(name: string, target: string, groupId: string | undefined) {
  const id = `/subscriptions/${PARTNER}/resourceGroups/rg-requester/providers/Microsoft.Network/privateEndpoints/${name}`;
  const mark = emu.events.length;
  const res = await rawArmRequest(emu, "PUT", `${id}?api-version=2026-01-01`, {
    token: partner,
    body: {
      location: "westeurope",
      properties: {
        subnet: {
          id: `/subscriptions/${PARTNER}/resourceGroups/rg-requester/providers/Microsoft.Network/virtualNetworks/vnet/subnets/pe`,
        },
        manualPrivateLinkServiceConnections: [
          {
            name: `${name}-conn`,
            properties: {
              privateLinkServiceId: target,
              // A Private Link Service has no sub-resources: its requests name none.
              ...(groupId === undefined ? {} : { groupIds: [groupId] }),
              requestMessage: "please approve",
            },
          },
        ],
      },
    },
  });
  expect(res.status).toBe(201);
  return { id, events: emu.events.slice(mark) as Json[] };
}

describe("SQL servers", () => {
  it("answers a GET with the spec's server shape: no etag, no provisioningState, no password", async () => {
    await createSqlServer();
    const got = await rawArmRequest(emu, "GET", `${SQL}?${SQL_API}`, { token: owner });
    expect(got.body).toMatchObject({
      id: SQL,
      name: "sql-lake",
      type: "Microsoft.Sql/servers",
      kind: "v12.0",
      location: "westeurope",
      properties: {
        administratorLogin: "dummylogin",
        version: "12.0",
        state: "Ready",
        fullyQualifiedDomainName: "sql-lake.database.windows.net",
        privateEndpointConnections: [],
      },
    });
    expect((got.body as Json).etag).toBeUndefined();
    expect(props(got.body).provisioningState).toBeUndefined();
    expect(props(got.body).administratorLoginPassword).toBeUndefined();
    const listed = await rawArmRequest(
      emu,
      "GET",
      `/subscriptions/${OURS}/providers/Microsoft.Sql/servers?${SQL_API}`,
      {
        token: owner,
      },
    );
    expect((listed.body as { value: Json[] }).value.map((s) => s.id)).toEqual([SQL]);
  });

  it("shows a partner's request Pending inline as {id, properties}, and in full on the connection's own GET and list", async () => {
    await createSqlServer();
    const pe = await requestEndpoint("pe-dbx-sql", SQL, "sqlServer");
    const ours = pe.events.filter((e) => String(e.topic).includes(OURS));
    expect(ours.map((e) => (e.data as Json).operationName)).toEqual([
      "Microsoft.Sql/servers/privateEndpointConnections/write",
    ]);
    // Normalised, the event is a change of the server.
    expect(normaliseEventGrid(ours).changes[0]).toMatchObject({
      resourceId: SQL,
      resourceType: "microsoft.sql/servers",
    });
    const server = await rawArmRequest(emu, "GET", `${SQL}?${SQL_API}`, { token: owner });
    const [inline] = props(server.body).privateEndpointConnections as Json[];
    expect(Object.keys(inline ?? {}).sort()).toEqual(["id", "properties"]);
    expect(inline?.properties).toEqual({
      provisioningState: "Ready",
      privateEndpoint: { id: pe.id },
      groupIds: ["sqlServer"],
      privateLinkServiceConnectionState: {
        status: "Pending",
        description: "please approve",
        actionsRequired: "None",
      },
    });
    const id = String(inline?.id);
    expect(id).toMatch(new RegExp(`^${SQL}/privateEndpointConnections/pe-dbx-sql-[0-9a-f-]{36}$`));
    const own = await rawArmRequest(emu, "GET", `${id}?${SQL_API}`, { token: owner });
    expect(own.body).toMatchObject({ id, type: "Microsoft.Sql/servers/privateEndpointConnections" });
    expect((own.body as Json).etag).toBeUndefined();
    const list = await rawArmRequest(emu, "GET", `${SQL}/privateEndpointConnections?${SQL_API}`, {
      token: owner,
    });
    expect((list.body as { value: Json[] }).value.map((c) => c.id)).toEqual([id]);
  });

  it("approves as a long-running PUT (202, Azure-AsyncOperation and Location), Approving until done, then Ready", async () => {
    await createSqlServer();
    const pe = await requestEndpoint("pe-dbx-sql", SQL, "sqlServer");
    const id = String((props(emu.get(SQL)).privateEndpointConnections as Json[])[0]?.id);
    const put = await rawArmRequest(emu, "PUT", `${id}?${SQL_API}`, {
      token: owner,
      body: { properties: { privateLinkServiceConnectionState: { status: "Approved", description: "ok" } } },
    });
    expect(put.status).toBe(202);
    expect(put.body).toBeUndefined();
    expect(String(put.headers["azure-asyncoperation"])).toContain(
      "/providers/Microsoft.Sql/locations/westeurope/operations/",
    );
    expect(String(put.headers.location)).toContain(
      "/providers/Microsoft.Sql/locations/westeurope/operationResults/",
    );
    const during = await rawArmRequest(emu, "GET", `${id}?${SQL_API}`, { token: owner });
    expect(props(during.body)).toMatchObject({
      provisioningState: "Approving",
      privateLinkServiceConnectionState: { status: "Approved", description: "ok" },
    });
    const status = at(String(put.headers["azure-asyncoperation"]));
    expect((await rawArmRequest(emu, "GET", status, { token: owner })).body).toEqual({
      status: "InProgress",
    });
    expect((await rawArmRequest(emu, "GET", status, { token: owner })).body).toEqual({ status: "Succeeded" });
    const after = await rawArmRequest(emu, "GET", `${id}?${SQL_API}`, { token: owner });
    expect(props(after.body).provisioningState).toBe("Ready");
    // The write raised its event, and the requester's endpoint shows the decision.
    expect(emu.events.at(-1)).toMatchObject({
      data: { operationName: "Microsoft.Sql/servers/privateEndpointConnections/write" },
    });
    const endpoint = emu.get(pe.id) as { properties: { manualPrivateLinkServiceConnections: Json[] } };
    expect(props(endpoint.properties.manualPrivateLinkServiceConnections[0])).toMatchObject({
      privateLinkServiceConnectionState: { status: "Approved" },
    });
  });

  it("refuses a status other than Approved or Rejected, and a Rejected connection never comes back", async () => {
    await createSqlServer();
    await requestEndpoint("pe-dbx-sql", SQL, "sqlServer");
    const id = String((props(emu.get(SQL)).privateEndpointConnections as Json[])[0]?.id);
    const set = (status: string) =>
      rawArmRequest(emu, "PUT", `${id}?${SQL_API}`, {
        token: owner,
        body: { properties: { privateLinkServiceConnectionState: { status, description: "x" } } },
      });
    const pending = await set("Disconnected");
    expect(pending.status).toBe(400);
    expect(pending.body).toMatchObject({
      error: { code: "IncorrectPrivateLinkServiceConnectionStateStatus" },
    });
    expect((await set("Rejected")).status).toBe(202);
    expect((await set("Approved")).status).toBe(400);
  });
});

describe("a SQL decision whose operation fails", () => {
  it("rolls back by default; left applied, the connection says Failed and the server gains no provisioningState", async () => {
    await createSqlServer();
    await requestEndpoint("pe-dbx-sql", SQL, "sqlServer");
    const id = String((props(emu.get(SQL)).privateEndpointConnections as Json[])[0]?.id);
    const approve = async () => {
      const put = await rawArmRequest(emu, "PUT", `${id}?${SQL_API}`, {
        token: owner,
        body: {
          properties: { privateLinkServiceConnectionState: { status: "Approved", description: "ok" } },
        },
      });
      expect(put.status).toBe(202);
      const status = at(String(put.headers["azure-asyncoperation"]));
      await rawArmRequest(emu, "GET", status, { token: owner });
      return (await rawArmRequest(emu, "GET", status, { token: owner })).body;
    };
    emu.injectFault({
      method: "PUT",
      pathIncludes: "privateEndpointConnections",
      kind: "lro-failed",
      code: "OperationTimedOut",
      times: 1,
    });
    expect(await approve()).toMatchObject({ status: "Failed", error: { code: "OperationTimedOut" } });
    const connection = () => props((props(emu.get(SQL)).privateEndpointConnections as Json[])[0]);
    expect(connection()).toMatchObject({
      provisioningState: "Ready",
      privateLinkServiceConnectionState: { status: "Pending" },
    });
    // Rolled back without gaining an etag the provider does not have.
    expect((emu.get(SQL) as Json).etag).toBeUndefined();
    emu.injectFault({
      method: "PUT",
      pathIncludes: "privateEndpointConnections",
      kind: "lro-failed",
      code: "OperationTimedOut",
      applied: true,
      times: 1,
    });
    await approve();
    expect(connection()).toMatchObject({
      provisioningState: "Failed",
      privateLinkServiceConnectionState: { status: "Approved" },
    });
    expect(props(emu.get(SQL)).provisioningState).toBeUndefined();
  });
});

describe("Cosmos DB accounts", () => {
  it("answers a GET with the Get example's shape: locations spelled out, no etag", async () => {
    await createCosmosAccount();
    const got = await rawArmRequest(emu, "GET", `${COSMOS}?${COSMOS_API}`, { token: owner });
    expect(got.body).toMatchObject({
      id: COSMOS,
      type: "Microsoft.DocumentDB/databaseAccounts",
      kind: "GlobalDocumentDB",
      properties: {
        documentEndpoint: "https://cosmos-orders.documents.azure.com:443/",
        databaseAccountOfferType: "Standard",
        writeLocations: [
          { id: "cosmos-orders-westeurope", locationName: "West Europe", failoverPriority: 0 },
        ],
        readLocations: [{ id: "cosmos-orders-westeurope" }],
        failoverPolicies: [
          { id: "cosmos-orders-westeurope", locationName: "West Europe", failoverPriority: 0 },
        ],
        privateEndpointConnections: [],
      },
    });
    expect((got.body as Json).etag).toBeUndefined();
  });

  it("refuses an account without databaseAccountOfferType or locations", async () => {
    for (const properties of [
      { locations: [{ locationName: "West Europe" }] },
      { databaseAccountOfferType: "Standard" },
    ]) {
      const put = await rawArmRequest(emu, "PUT", `${COSMOS}?${COSMOS_API}`, {
        token: owner,
        body: { location: "westeurope", properties },
      });
      expect(put.status).toBe(400);
    }
  });

  it("records the singular groupId, and decides with a 202 whose Location (no Azure-AsyncOperation) answers the connection", async () => {
    await createCosmosAccount();
    await requestEndpoint("pe-partner-cosmos", COSMOS, "Sql");
    const [c] = props(emu.get(COSMOS)).privateEndpointConnections as Json[];
    expect(c).toMatchObject({
      name: expect.stringMatching(/^pe-partner-cosmos\.[0-9a-f-]{36}$/),
      type: "Microsoft.DocumentDB/databaseAccounts/privateEndpointConnections",
      properties: {
        groupId: "Sql",
        provisioningState: "Succeeded",
        privateLinkServiceConnectionState: {
          status: "Pending",
          description: "please approve",
          actionsRequired: "None",
        },
      },
    });
    expect(props(c ?? {}).groupIds).toBeUndefined();
    const put = await rawArmRequest(emu, "PUT", `${String(c?.id)}?${COSMOS_API}`, {
      token: owner,
      body: { properties: { privateLinkServiceConnectionState: { status: "Rejected", description: "no" } } },
    });
    expect(put.status).toBe(202);
    expect(put.headers["azure-asyncoperation"]).toBeUndefined();
    expect(put.headers["retry-after"]).toBe("0");
    const location = at(String(put.headers.location));
    expect(location).toContain("/providers/Microsoft.DocumentDB/locations/");
    expect((await rawArmRequest(emu, "GET", location, { token: owner })).status).toBe(202);
    const done = await rawArmRequest(emu, "GET", location, { token: owner });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({
      id: c?.id,
      properties: {
        provisioningState: "Succeeded",
        privateLinkServiceConnectionState: { status: "Rejected" },
      },
    });
  });
});

describe("Storage, Key Vault and Private Link Service connections (no sub-resource on the connection)", () => {
  it("record no groupIds, as their specs' PrivateEndpointConnectionProperties; the requesting endpoint carries them", async () => {
    const LAKE = `/subscriptions/${OURS}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/datalake`;
    const VAULT = `/subscriptions/${OURS}/resourceGroups/rg-data/providers/Microsoft.KeyVault/vaults/kv-lake`;
    const PLS = `/subscriptions/${OURS}/resourceGroups/rg-data/providers/Microsoft.Network/privateLinkServices/pls-lake`;
    emu.seed({
      id: LAKE,
      location: "westeurope",
      kind: "StorageV2",
      sku: { name: "Standard_LRS", tier: "Standard" },
      properties: {},
    });
    emu.seed({
      id: VAULT,
      location: "westeurope",
      properties: { tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47" },
    });
    emu.seed({ id: PLS, location: "westeurope", properties: {} });
    const cases: [string, string | undefined, string, string][] = [
      [LAKE, "dfs", "api-version=2025-08-01", "actionRequired"],
      [VAULT, "vault", "api-version=2024-11-01", "actionsRequired"],
      [PLS, undefined, "api-version=2026-01-01", "actionsRequired"],
    ];
    for (const [target, groupId, api, actionField] of cases) {
      const pe = await requestEndpoint(`pe-${target.split("/").pop()}`, target, groupId);
      const got = await rawArmRequest(emu, "GET", `${target}/privateEndpointConnections?${api}`, {
        token: owner,
      });
      const [c] = (got.body as { value: { properties: Json }[] }).value;
      expect(c?.properties).toMatchObject({
        privateEndpoint: { id: pe.id },
        privateLinkServiceConnectionState: { status: "Pending", [actionField]: "None" },
      });
      expect(Object.keys(c?.properties ?? {}).filter((k) => /^groupIds?$/.test(k))).toEqual([]);
      const endpoint = await rawArmRequest(emu, "GET", `${pe.id}?api-version=2026-01-01`, { token: partner });
      const [own] = (
        endpoint.body as { properties: { manualPrivateLinkServiceConnections: { properties: Json }[] } }
      ).properties.manualPrivateLinkServiceConnections;
      expect(own?.properties).toMatchObject({ privateLinkServiceId: target });
      expect(own?.properties.groupIds).toEqual(groupId === undefined ? undefined : [groupId]);
    }
  });
});
