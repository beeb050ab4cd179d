// SQL servers and Cosmos DB accounts as Private Link targets, kind by kind: the registry entries, the events that
// announce them (both Event Grid schemas), their connections as the REST spec examples show them (SQL `groupIds`,
// Cosmos DB the singular `groupId`), the rule's decisions and the planned PUT. Fixtures: test/fixtures/azure/private-link
// (README: ServerGet.json and CosmosDBDatabaseAccountGet.json are the spec examples' bodies verbatim) and
// test/fixtures/events/azure.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { azureKindOf, azureParentKindOf } from "../../../shared/clouds/azure/kinds/index.ts";
import { azureSnapshot } from "../../../shared/clouds/azure/snapshot.ts";
import { normaliseArmBooleans, normaliseEventGrid } from "../../../shared/events/azure.ts";
import { decidePrivateEndpointConnection } from "../../../shared/remediation/decide-private-endpoint-connection.ts";
import {
  privateEndpointConnections,
  privateEndpointConnectionsOptions,
} from "../../../shared/rules/private-endpoint-connections.ts";
import { connectionsOf } from "../../../shared/rules/private-link/connections.ts";
import { CONNECTION_TARGET_TYPES } from "../../../shared/rules/private-link/types.ts";
import type { Finding, Snapshot } from "../../../shared/types.ts";
import { snapshotsFromJson } from "../../../shared/usecases/snapshots.ts";
import { SWEPT_TYPES } from "../../../shared/usecases/sweep-private-endpoints.ts";

const SQL = "microsoft.sql/servers";
const COSMOS = "microsoft.documentdb/databaseaccounts";
const DATABRICKS = "3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f";
const OLD = "0f1e2d3c-4b5a-4968-8776-655443322110";
const ctx = { trustedSources: [] };

const json = (path: string): unknown => JSON.parse(readFileSync(path, "utf8"));
const resource = (name: string, type: string): Snapshot => {
  const s = azureSnapshot(json(`test/fixtures/azure/private-link/${name}`), type);
  if (!s) throw new Error(name);
  return s;
};
const sqlServer = () => resource("sql-server-with-connections.json", SQL);
const cosmosAccount = () => resource("cosmos-db-account-with-connections.json", COSMOS);
const event = (name: string) => json(`test/fixtures/events/azure/${name}`);

function decide(options: unknown, snapshot: Snapshot) {
  return privateEndpointConnections.evaluate(snapshot, privateEndpointConnectionsOptions.parse(options), ctx);
}
const decisions = (vs: ReturnType<typeof decide>) =>
  vs.map((v) => `${String(v.matched[0]?.name).split(/[.-]/)[1]}:${String(v.matched[0]?.decision)}`);
const asFinding = (v: ReturnType<typeof decide>[number], snapshot: Snapshot): Finding => ({
  policyRule: "p",
  ruleId: "private-endpoint-connections",
  resourceId: snapshot.resourceId,
  resourceType: snapshot.resourceType,
  severity: "high",
  message: v.message,
  controls: [],
  matched: v.matched,
  ...(v.key ? { key: v.key } : {}),
});

describe("the kinds", () => {
  it("are registered with their child type, api-version, list scopes, read permission and portal link", () => {
    const sql = azureKindOf(SQL);
    const cosmos = azureKindOf(COSMOS);
    expect(sql).toMatchObject({
      id: "sql-server",
      armType: "Microsoft.Sql/servers",
      read: { apiVersion: "2023-08-01", call: "Servers_Get" },
      list: { apiVersion: "2023-08-01", scopes: ["subscription", "resourceGroup"] },
      writes: ["put-private-endpoint-connection"],
      readPermissions: ["Microsoft.Sql/servers/read"],
    });
    expect(cosmos).toMatchObject({
      id: "cosmos-db-account",
      armType: "Microsoft.DocumentDB/databaseAccounts",
      read: { apiVersion: "2024-11-15", call: "DatabaseAccounts_Get" },
      list: { apiVersion: "2024-11-15", scopes: ["subscription", "resourceGroup"] },
      writes: ["put-private-endpoint-connection"],
      readPermissions: ["Microsoft.DocumentDB/databaseAccounts/read"],
    });
    // A connection write re-evaluates its parent; the parent's other children (databases) are not kinds.
    expect(azureParentKindOf(`${SQL}/privateendpointconnections`)?.id).toBe("sql-server");
    expect(azureParentKindOf(`${COSMOS}/privateendpointconnections`)?.id).toBe("cosmos-db-account");
    expect(azureParentKindOf(`${SQL}/databases`)).toBeUndefined();
    const id = sqlServer().resourceId;
    expect(sql?.consoleUrl(id, "72f988bf-86f1-41af-91ab-2d7cd011db47")).toBe(
      `https://portal.azure.com/#@72f988bf-86f1-41af-91ab-2d7cd011db47/resource${id}`,
    );
  });

  it("are connection targets (so the rule, the remediation and the sweep cover them) with write permissions", () => {
    expect(CONNECTION_TARGET_TYPES).toEqual(expect.arrayContaining([SQL, COSMOS]));
    expect(SWEPT_TYPES).toEqual(expect.arrayContaining([SQL, COSMOS]));
    expect(privateEndpointConnections.resourceTypes).toEqual(expect.arrayContaining([SQL, COSMOS]));
    expect(decidePrivateEndpointConnection.resourceTypes).toEqual(expect.arrayContaining([SQL, COSMOS]));
    expect(decidePrivateEndpointConnection.permissions).toEqual(
      expect.arrayContaining([
        "Microsoft.Sql/servers/privateEndpointConnections/write",
        "Microsoft.DocumentDB/databaseAccounts/privateEndpointConnections/write",
      ]),
    );
  });

  it("turn the REST spec's booleans back from Resource Notifications' 1/0, and only those", () => {
    const out = normaliseArmBooleans(COSMOS, {
      isVirtualNetworkFilterEnabled: 0,
      enableAutomaticFailover: 1,
      locations: [{ locationName: "East US", failoverPriority: 0, isZoneRedundant: 1 }],
      consistencyPolicy: { maxIntervalInSeconds: 5, maxStalenessPrefix: 100 },
    });
    expect(out).toEqual({
      isVirtualNetworkFilterEnabled: false,
      enableAutomaticFailover: true,
      locations: [{ locationName: "East US", failoverPriority: 0, isZoneRedundant: true }],
      consistencyPolicy: { maxIntervalInSeconds: 5, maxStalenessPrefix: 100 },
    });
    expect(
      normaliseArmBooleans(SQL, {
        administrators: { azureADOnlyAuthentication: 1 },
        publicNetworkAccess: "Disabled",
        retentionDays: 1,
      }),
    ).toEqual({
      administrators: { azureADOnlyAuthentication: true },
      publicNetworkAccess: "Disabled",
      retentionDays: 1,
    });
  });
});

describe("events", () => {
  it("a SQL connection write, in either schema, is a change of its server with the same details", () => {
    const eg = normaliseEventGrid(event("resource-write-success-sql-pec.eventgrid.json"));
    const ce = normaliseEventGrid(event("resource-write-success-sql-pec.cloudevents.json"));
    expect(eg.skipped).toEqual([]);
    expect(ce.skipped).toEqual([]);
    const server =
      "/subscriptions/8f2c1e4a-6b3d-4f9a-a7c5-2d1e0b9f3c64/resourceGroups/rg-data/providers/Microsoft.Sql/servers/sql-lake";
    expect(eg.changes[0]).toMatchObject({
      resourceId: server,
      resourceType: SQL,
      operation: "write",
      operationName: "Microsoft.Sql/servers/privateEndpointConnections/write",
    });
    expect(eg.changes[0]?.subjectId).toMatch(/privateEndpointConnections\/pe-dbx-sql-/);
    const { details: egDetails, ...egRest } = eg.changes[0] ?? {};
    const { details: ceDetails, ...ceRest } = ce.changes[0] ?? {};
    expect(ceRest).toEqual(egRest);
    expect(ceDetails).toEqual({ ...egDetails, schema: "cloudevents" });
  });

  it("a Cosmos DB account write and a connection write (CloudEvents) are changes of the account", () => {
    const account =
      "/subscriptions/8f2c1e4a-6b3d-4f9a-a7c5-2d1e0b9f3c64/resourceGroups/rg-data/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-orders";
    const own = normaliseEventGrid(event("resource-write-success-cosmos.eventgrid.json"));
    expect(own.changes[0]).toMatchObject({ resourceId: account, resourceType: COSMOS, operation: "write" });
    const pec = normaliseEventGrid(event("resource-write-success-cosmos-pec.cloudevents.json"));
    expect(pec.skipped).toEqual([]);
    expect(pec.changes[0]).toMatchObject({
      resourceId: account,
      resourceType: COSMOS,
      operationName: "Microsoft.DocumentDB/databaseAccounts/privateEndpointConnections/write",
    });
  });
});

describe("both schemas, every operation", () => {
  // Event Grid's CloudEvents 1.0 mapping of an Event Grid event: type, source (the topic), subject, id, time, data.
  const asCloudEvent = (e: Record<string, unknown>) => ({
    specversion: "1.0",
    type: e.eventType,
    source: e.topic,
    subject: e.subject,
    id: e.id,
    time: e.eventTime,
    data: e.data,
  });
  const asEventGrid = (e: Record<string, unknown>) => ({
    topic: e.source,
    subject: e.subject,
    eventType: e.type,
    eventTime: e.time,
    id: e.id,
    data: e.data,
    dataVersion: "2",
    metadataVersion: "1",
  });

  it.each([
    ["resource-write-success-sql.eventgrid.json", SQL, "Microsoft.Sql/servers/write"],
    [
      "resource-write-success-sql-pec.eventgrid.json",
      SQL,
      "Microsoft.Sql/servers/privateEndpointConnections/write",
    ],
    ["resource-write-success-cosmos.eventgrid.json", COSMOS, "Microsoft.DocumentDB/databaseAccounts/write"],
    [
      "resource-write-success-cosmos-pec.cloudevents.json",
      COSMOS,
      "Microsoft.DocumentDB/databaseAccounts/privateEndpointConnections/write",
    ],
  ])("%s gives the same change of a %s in either schema", (name, type, operationName) => {
    const [original] = event(name) as Record<string, unknown>[];
    if (!original) throw new Error(name);
    const other = name.endsWith(".cloudevents.json") ? asEventGrid(original) : asCloudEvent(original);
    const a = normaliseEventGrid([original]);
    const b = normaliseEventGrid([other]);
    expect(a.skipped).toEqual([]);
    expect(b.skipped).toEqual([]);
    expect(a.changes[0]).toMatchObject({ resourceType: type, operation: "write", operationName });
    const strip = (c: (typeof a.changes)[number] | undefined) => {
      const { details, ...rest } = c ?? ({} as NonNullable<typeof c>);
      const { schema: _schema, ...detail } = details ?? {};
      return { ...rest, details: detail };
    };
    expect(strip(b.changes[0])).toEqual(strip(a.changes[0]));
  });
});

describe("connections as the providers spell them", () => {
  it("reads the spec examples unchanged (SQL's inline {id, properties}; Cosmos DB's without name or groupId)", () => {
    const [sql] = connectionsOf(resource("ServerGet.json", SQL));
    expect(sql).toEqual({
      id: "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/sqlcrudtest-7398/providers/Microsoft.Sql/servers/sqlcrudtest-4645/privateEndpointConnections/private-endpoint-name-00000000-1111-2222-3333-444444444444",
      name: "private-endpoint-name-00000000-1111-2222-3333-444444444444",
      status: "Approved",
      description: "Auto-approved",
      privateEndpointId:
        "/subscriptions/55555555-6666-7777-8888-999999999999/resourceGroups/Default-Network/providers/Microsoft.Network/privateEndpoints/private-endpoint-name",
      subscriptionId: "55555555-6666-7777-8888-999999999999",
      resourceGroup: "Default-Network",
    });
    const [cosmos] = connectionsOf(resource("CosmosDBDatabaseAccountGet.json", COSMOS));
    expect(cosmos).toMatchObject({
      name: "pe1",
      status: "Approved",
      description: "",
      subscriptionId: "subId",
    });
    expect(cosmos?.groupIds).toBeUndefined();
  });

  it("takes SQL's groupIds array and Cosmos DB's singular groupId alike", () => {
    expect(connectionsOf(sqlServer()).map((c) => c.groupIds)).toEqual([
      ["sqlServer"],
      ["sqlServer"],
      ["sqlServer"],
    ]);
    expect(connectionsOf(cosmosAccount()).map((c) => c.groupIds)).toEqual([["Sql"], ["MongoDB"], ["Sql"]]);
  });

  it("`guardian evaluate` recognises both bodies by their ids", () => {
    const snapshots = snapshotsFromJson(
      {
        value: [
          json("test/fixtures/azure/private-link/sql-server-with-connections.json"),
          json("test/fixtures/azure/private-link/cosmos-db-account-with-connections.json"),
        ],
      },
      "list.json",
    );
    expect(snapshots.map((s) => s.resourceType)).toEqual([SQL, COSMOS]);
  });
});

describe("decisions", () => {
  const entry = (groupIds: string[]) => ({
    allow: [{ name: "databricks", subscriptions: [DATABRICKS], groupIds }],
  });

  it("a sub-resource entry matches by the provider's own group names, case-insensitively", () => {
    expect(decisions(decide(entry(["sqlServer"]), sqlServer()))).toEqual([
      "databricks:approve",
      "stranger:hold",
      "old:hold",
    ]);
    expect(decisions(decide(entry(["SQL"]), cosmosAccount()))[0]).toBe("databricks:approve");
    // Cosmos DB's MongoDB endpoint is not its Sql one: the entry does not cover it.
    expect(decisions(decide(entry(["blob"]), sqlServer()))[0]).toBe("databricks:hold");
    const mongo = {
      allow: [{ name: "any", subscriptions: ["e1d2c3b4-a596-4788-9900-aabbccddeeff"], groupIds: ["Sql"] }],
    };
    expect(decisions(decide(mongo, cosmosAccount()))[1]).toBe("stranger:hold");
  });

  it("an entry's target types name the ARM type as the provider spells it", () => {
    const only = (type: string) => ({
      allow: [{ name: "d", subscriptions: [DATABRICKS], targets: { types: [type] } }],
    });
    expect(decisions(decide(only("Microsoft.Sql/servers"), sqlServer()))[0]).toBe("databricks:approve");
    expect(decisions(decide(only("Microsoft.Sql/servers"), cosmosAccount()))[0]).toBe("databricks:hold");
    expect(decisions(decide(only("Microsoft.DocumentDB/databaseAccounts"), cosmosAccount()))[0]).toBe(
      "databricks:approve",
    );
  });

  it("plans the PUT on the connection's own id, from the state it decided on, for both providers", () => {
    for (const snapshot of [sqlServer(), cosmosAccount()]) {
      const [approve] = decide(
        { allow: [{ name: "databricks", subscriptions: [DATABRICKS] }], noLongerAllowed: "reject" },
        snapshot,
      );
      if (!approve) throw new Error("finding");
      const planned = decidePrivateEndpointConnection.plan(snapshot, asFinding(approve, snapshot), ctx);
      const first = connectionsOf(snapshot)[0];
      expect(planned?.operation).toMatchObject({
        kind: "put-private-endpoint-connection",
        connectionId: first?.id,
        status: "Approved",
        expected: { status: "Pending", privateEndpointId: first?.privateEndpointId },
      });
    }
    const rejected = decide({ noLongerAllowed: "reject" }, sqlServer()).find((v) =>
      String(v.matched[0]?.name).includes(OLD),
    );
    expect(rejected?.matched[0]).toMatchObject({ decision: "reject", status: "Approved" });
  });
});
