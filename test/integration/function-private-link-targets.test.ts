// SQL servers and Cosmos DB accounts as Private Link targets, end to end: partners create private endpoints in their
// own subscriptions against the ARM emulator, connections appear Pending on our server and account (each provider's
// shape: SQL `groupIds` and provisioningState Ready, Cosmos DB `groupId`; no etag on either), and the guardian decides
// through the deployed Function handlers (Event Grid onChange and the timer sweep). Decisions are long-running PUTs
// (202; SQL with Azure-AsyncOperation, Cosmos DB with a Location only), written through the real SDK pipeline from a
// fresh read of the connection, and alerted to the webhook sink.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type ArmEmulator,
  mintToken,
  DEFAULT_SUBSCRIPTION_ID as OURS,
  rawArmRequest,
  startArmEmulator,
} from "../harness/arm-emulator/index.ts";
import { startWebhookSink, type WebhookSink } from "../harness/webhook-sink.ts";
import { privateLinkHandlers } from "./helpers/private-link-harness.ts";

const DATABRICKS = "3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f";
const STRANGER = "e1d2c3b4-a596-4788-9900-aabbccddeeff";
const SQL = `/subscriptions/${OURS}/resourceGroups/rg-data/providers/Microsoft.Sql/servers/sql-lake`;
const COSMOS = `/subscriptions/${OURS}/resourceGroups/rg-data/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-orders`;
const GUARDIAN = "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d";

const token = (oid: string, tid: string, upn?: string) =>
  mintToken({ oid, tid, ...(upn ? { upn } : { appid: oid, idtyp: "app" }) });
const databricksToken = token("11111111-2222-4333-8444-555555555555", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
const strangerToken = token("66666666-7777-4888-9999-000000000000", "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff");
const aliceToken = token(
  "7f1c9a52-3e4b-4d8a-9b6c-1a2b3c4d5e6f",
  "72f988bf-86f1-41af-91ab-2d7cd011db47",
  "alice@contoso.com",
);
const guardianToken = token(GUARDIAN, "72f988bf-86f1-41af-91ab-2d7cd011db47");

// The allow entry names each provider's own sub-resource: SQL's `sqlServer`, Cosmos DB's `Sql` (its NoSQL API).
const POLICY = `version: 1
rules:
  - name: private-link-requests
    rule: private-endpoint-connections
    mode: remediate
    severity: high
    options:
      allow:
        - name: databricks-serverless
          subscriptions: ['${DATABRICKS}']
          groupIds: [sqlServer, Sql]
      unlisted: hold
      noLongerAllowed: alert
`;

let emu: ArmEmulator;
let sink: WebhookSink;
let dir: string;

beforeAll(async () => {
  // One InProgress poll per operation: the decisions are long-running, as both specs say.
  [emu, sink] = await Promise.all([startArmEmulator({ lroPolls: 1 }), startWebhookSink()]);
  dir = await mkdtemp(path.join(tmpdir(), "guardian-pe-targets-"));
  await writeFile(path.join(dir, "ca.pem"), emu.ca);
  await writeFile(path.join(dir, "policy.yaml"), POLICY);
});
afterAll(async () => {
  await Promise.all([emu?.stop(), sink?.stop()]);
});
beforeEach(() => {
  emu.reset();
  emu.connectionEvents(true);
  sink.received.length = 0;
  // As Servers_Get and DatabaseAccounts_Get return them (test/fixtures/azure/private-link), closed to the Internet.
  emu.seed({
    id: SQL,
    location: "westeurope",
    properties: { administratorLogin: "dummylogin", publicNetworkAccess: "Disabled" },
  });
  emu.seed({
    id: COSMOS,
    location: "westeurope",
    kind: "GlobalDocumentDB",
    properties: {
      databaseAccountOfferType: "Standard",
      publicNetworkAccess: "Disabled",
      locations: [{ locationName: "West Europe", failoverPriority: 0 }],
    },
  });
});

function harness() {
  return privateLinkHandlers({
    armUrl: emu.url,
    dir,
    slackUrl: sink.slackUrl,
    token: guardianToken,
    subscription: OURS,
  });
}

/** A partner creates a private endpoint in its own subscription, as `az network private-endpoint create` does. */
async function requestEndpoint(
  tokenOf: string,
  subscription: string,
  name: string,
  target: string,
  group: string,
) {
  const id = `/subscriptions/${subscription}/resourceGroups/rg-requester/providers/Microsoft.Network/privateEndpoints/${name}`;
  const mark = emu.events.length;
  const res = await rawArmRequest(emu, "PUT", `${id}?api-version=2026-01-01`, {
    token: tokenOf,
    body: {
      location: "westeurope",
      properties: {
        subnet: {
          id: `/subscriptions/${subscription}/resourceGroups/rg-requester/providers/Microsoft.Network/virtualNetworks/vnet/subnets/pe`,
        },
        manualPrivateLinkServiceConnections: [
          {
            name: `${name}-conn`,
            properties: { privateLinkServiceId: target, groupIds: [group], requestMessage: "please approve" },
          },
        ],
      },
    },
  });
  expect(res.status).toBe(201);
  return { id, events: emu.events.slice(mark) };
}

type Connection = {
  id: string;
  properties: {
    provisioningState: string;
    privateEndpoint: { id: string };
    privateLinkServiceConnectionState: { status: string; description: string; actionsRequired: string };
  };
};
const connectionOf = (target: string, endpoint: string) =>
  (
    emu.get(target) as { properties: { privateEndpointConnections: Connection[] } }
  ).properties.privateEndpointConnections.find(
    (c) => c.properties.privateEndpoint.id.toLowerCase() === endpoint.toLowerCase(),
  );
/** The provider-side events only (what the guardian's subscription topic delivers). */
const ours = (events: readonly object[]) =>
  events.filter((e) => String((e as { topic?: string }).topic).includes(OURS));
const guardianPuts = () =>
  emu.requests.filter(
    (r) => r.method === "PUT" && r.caller === GUARDIAN && /privateEndpointConnections/i.test(r.path),
  );

describe("SQL servers and Cosmos DB accounts through the Function handlers", () => {
  it("approves an allow-listed request to a SQL server (groupId sqlServer) from a fresh read, without If-Match, polling its 202", async () => {
    const h = harness();
    const pe = await requestEndpoint(databricksToken, DATABRICKS, "pe-dbx-sql", SQL, "sqlServer");
    const events = ours(pe.events);
    expect(events.map((e) => (e as { data: { operationName: string } }).data.operationName)).toEqual([
      "Microsoft.Sql/servers/privateEndpointConnections/write",
    ]);
    const [result, again] = await h.deliver([...events, ...events]);
    expect(result?.outcomes[0]?.actions.map((a) => a.outcome)).toEqual(["approved"]);
    expect(again?.outcomes[0]?.actions ?? []).toEqual([]);
    const conn = connectionOf(SQL, pe.id);
    expect(conn?.properties).toMatchObject({
      // The operation completed: Approving settled to Ready.
      provisioningState: "Ready",
      privateLinkServiceConnectionState: { status: "Approved", actionsRequired: "None" },
    });
    expect(conn?.properties.privateLinkServiceConnectionState.description).toMatch(
      /^Approved by network-guardian: allow entry databricks-serverless/,
    );
    // One PUT, no etag to carry: the connection was read right before it, and the PUT sent that body back.
    const puts = guardianPuts();
    expect(puts).toHaveLength(1);
    const putAt = emu.requests.indexOf(puts[0] as (typeof emu.requests)[number]);
    expect(emu.requests[putAt - 1]).toMatchObject({ method: "GET", caller: GUARDIAN });
    expect(emu.requests[putAt - 1]?.path.toLowerCase()).toBe(puts[0]?.path.toLowerCase());
    expect(puts[0]).toMatchObject({ status: 202 });
    expect(puts[0]?.body).toMatchObject({
      properties: {
        groupIds: ["sqlServer"],
        privateEndpoint: { id: pe.id },
        privateLinkServiceConnectionState: { status: "Approved" },
      },
    });
    // The 202's operation was followed to its end before the write was reported.
    expect(
      emu.requests.some(
        (r) => r.caller === GUARDIAN && /Microsoft\.Sql\/locations\/.*\/operations\//.test(r.path),
      ),
    ).toBe(true);
    expect(h.audit.filter((a) => a.outcome === "approved")).toHaveLength(1);
    await sink.waitFor(1);
    expect(JSON.stringify(sink.received[0]?.body)).toContain("sql-lake");
  });

  it("holds a Cosmos DB request (groupId Sql) from an unknown subscription, once, and writes nothing", async () => {
    const h = harness();
    const pe = await requestEndpoint(strangerToken, STRANGER, "pe-stranger", COSMOS, "Sql");
    const events = ours(pe.events);
    expect(events.map((e) => (e as { data: { operationName: string } }).data.operationName)).toEqual([
      "Microsoft.DocumentDB/databaseAccounts/privateEndpointConnections/write",
    ]);
    const results = await h.deliver([...events, ...events]);
    expect(results[0]?.outcomes[0]?.actions.map((a) => a.outcome)).toEqual(["held"]);
    expect(results[1]?.outcomes[0]?.actions ?? []).toEqual([]);
    expect(connectionOf(COSMOS, pe.id)?.properties.privateLinkServiceConnectionState.status).toBe("Pending");
    expect(guardianPuts()).toHaveLength(0);
    expect(h.audit.filter((a) => a.outcome === "held")).toHaveLength(1);
    await sink.waitFor(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(sink.received).toHaveLength(1);
    expect(JSON.stringify(sink.received[0]?.body)).toContain(STRANGER);
  });

  it("approves a Cosmos DB request delivered in the CloudEvents schema, through its Location-only 202", async () => {
    const h = harness();
    const pe = await requestEndpoint(databricksToken, DATABRICKS, "pe-dbx-cosmos", COSMOS, "Sql");
    // Event Grid's CloudEvents 1.0 mapping of the same event: type, source (the topic), subject, id, time, data.
    const cloudEvents = (ours(pe.events) as Record<string, unknown>[]).map((e) => ({
      specversion: "1.0",
      type: e.eventType,
      source: e.topic,
      subject: e.subject,
      id: e.id,
      time: e.eventTime,
      data: e.data,
    }));
    expect(cloudEvents).toHaveLength(1);
    const [result] = await h.deliver(cloudEvents);
    expect(result?.outcomes[0]?.change.details).toMatchObject({ schema: "cloudevents" });
    expect(connectionOf(COSMOS, pe.id)?.properties).toMatchObject({
      provisioningState: "Succeeded",
      privateLinkServiceConnectionState: { status: "Approved" },
    });
    const [put] = guardianPuts();
    expect(put).toMatchObject({ status: 202, body: { properties: { groupId: "Sql" } } });
    expect(
      emu.requests.some(
        (r) =>
          r.caller === GUARDIAN && /Microsoft\.DocumentDB\/locations\/.*\/operationResults\//.test(r.path),
      ),
    ).toBe(true);
  });

  it("a Cosmos DB decision whose operation fails (its Location answers the error) is not taken as made: re-read, written again", async () => {
    const h = harness();
    const pe = await requestEndpoint(databricksToken, DATABRICKS, "pe-dbx-failing", COSMOS, "Sql");
    // Accepted (202), then the operation ends Failed and the service rolls the change back.
    emu.injectFault({
      method: "PUT",
      pathIncludes: "/privateEndpointConnections/",
      kind: "lro-failed",
      code: "InternalServerError",
      times: 1,
    });
    const [result] = await h.deliver(ours(pe.events));
    const mine = emu.requests
      .filter((r) => r.caller === GUARDIAN)
      .map((r) => `${r.method} ${r.path.split("/").at(-2)} ${r.status}`);
    expect(mine).toEqual([
      "GET databaseAccounts 200",
      "GET privateEndpointConnections 200",
      "PUT privateEndpointConnections 202",
      "GET operationResults 202",
      // The operation's end: an error, not a result. The outcome is unknown, so the guardian reads again ...
      "GET operationResults 400",
      "GET databaseAccounts 200",
      // ... finds the request still Pending (rolled back), and decides it again from a fresh read.
      "GET privateEndpointConnections 200",
      "PUT privateEndpointConnections 202",
      "GET operationResults 202",
      "GET operationResults 200",
    ]);
    expect(connectionOf(COSMOS, pe.id)?.properties.privateLinkServiceConnectionState.status).toBe("Approved");
    expect(result?.outcomes[0]?.actions.map((a) => a.outcome)).toEqual(["approved"]);
    expect(h.audit.filter((a) => a.outcome === "approved")).toHaveLength(1);
  });

  it("the sweep finds a Pending SQL and a Pending Cosmos DB connection that raised no event", async () => {
    const h = harness();
    emu.connectionEvents(false);
    const sql = await requestEndpoint(databricksToken, DATABRICKS, "pe-silent-sql", SQL, "sqlServer");
    const cosmos = await requestEndpoint(strangerToken, STRANGER, "pe-silent-cosmos", COSMOS, "Sql");
    expect(ours([...sql.events, ...cosmos.events])).toHaveLength(0);
    const result = await h.sweep();
    expect(result.listed).toMatchObject({
      "microsoft.sql/servers": 1,
      "microsoft.documentdb/databaseaccounts": 1,
    });
    expect(connectionOf(SQL, sql.id)?.properties.privateLinkServiceConnectionState.status).toBe("Approved");
    expect(connectionOf(COSMOS, cosmos.id)?.properties.privateLinkServiceConnectionState.status).toBe(
      "Pending",
    );
    const outcomes = result.outcomes.flatMap((o) => o.actions.map((a) => a.outcome)).sort();
    expect(outcomes).toEqual(["approved", "held"]);
    // The next tick meets the approved connection (still allowed) and the held request: nothing new.
    const next = await h.sweep();
    expect(next.outcomes.flatMap((o) => o.actions)).toEqual([]);
    expect(guardianPuts()).toHaveLength(1);
    await sink.waitFor(2);
  });

  it("a subscription not registered for Microsoft.Sql or Microsoft.DocumentDB holds none of them: the sweep goes on", async () => {
    const h = harness();
    emu.reset();
    // No SQL server or Cosmos DB account can exist there (ARM refuses to unregister a provider in use); a vault does.
    const vault = `/subscriptions/${OURS}/resourceGroups/rg-data/providers/Microsoft.KeyVault/vaults/kv-lake`;
    emu.seed({ id: vault, location: "westeurope", properties: {} });
    emu.unregisteredNamespaces(["Microsoft.Sql", "Microsoft.DocumentDB"]);
    emu.connectionEvents(false);
    const pe = await requestEndpoint(databricksToken, DATABRICKS, "pe-dbx-vault", vault, "vault");
    const result = await h.sweep();
    expect(result.listed).toMatchObject({
      "microsoft.sql/servers": 0,
      "microsoft.documentdb/databaseaccounts": 0,
    });
    expect(
      emu.requests.filter((r) => r.status === 409 && /Microsoft\.(Sql|DocumentDB)\//i.test(r.path)),
    ).toHaveLength(2);
    // The vault's request is still decided (the entry's groupIds name only SQL and Cosmos DB groups: held).
    expect(result.outcomes.flatMap((o) => o.actions.map((a) => a.outcome))).toEqual(["held"]);
    expect(connectionOf(vault, pe.id)?.properties.privateLinkServiceConnectionState.status).toBe("Pending");
  });

  it("never overrides a person's decision made between the guardian's read and its write (no etag: it compares)", async () => {
    const h = harness();
    const pe = await requestEndpoint(databricksToken, DATABRICKS, "pe-raced", SQL, "sqlServer");
    // Right after the guardian's read of the server, someone rejects the request by hand.
    let raced = false;
    const off = emu.beforeAnswer(async (entry) => {
      if (raced || entry.caller !== GUARDIAN || entry.method !== "GET") return;
      if (entry.path.toLowerCase() !== SQL.toLowerCase()) return;
      raced = true;
      const id = connectionOf(SQL, pe.id)?.id ?? "";
      const res = await rawArmRequest(emu, "PUT", `${id}?api-version=2023-08-01`, {
        token: aliceToken,
        body: {
          properties: { privateLinkServiceConnectionState: { status: "Rejected", description: "by hand" } },
        },
      });
      expect(res.status).toBe(202);
    });
    try {
      await h.deliver(ours(pe.events));
    } finally {
      off();
    }
    expect(raced).toBe(true);
    expect(connectionOf(SQL, pe.id)?.properties.privateLinkServiceConnectionState).toMatchObject({
      status: "Rejected",
      description: "by hand",
    });
    expect(guardianPuts()).toHaveLength(0);
    expect(h.audit.some((a) => a.outcome === "approved")).toBe(false);
  });
});
