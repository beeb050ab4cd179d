// Allow entries by sub-resource (groupIds). SQL and Cosmos DB record the sub-resource on the connection; Storage,
// Key Vault and Private Link Service connections do not (their specs' PrivateEndpointConnectionProperties), so it is
// read from the requesting private endpoint's connections to this resource. An endpoint that cannot be read leaves the
// sub-resource unknown: the request is held with the reason, never approved and never rejected.
//
// Shapes: the storage connection as StorageAccountGetPrivateEndpointConnection.json (Microsoft.Storage 2023-05-01)
// returns it (`actionRequired`, no groupIds); the endpoint as private-endpoint-foreign.json (PrivateEndpointGet.json).

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { azureKindOf } from "../../../shared/clouds/azure/kinds/index.ts";
import { azureSnapshot } from "../../../shared/clouds/azure/snapshot.ts";
import { relatedWanted } from "../../../shared/policy/evaluate.ts";
import { parsePolicy } from "../../../shared/policy/load.ts";
import {
  privateEndpointConnections,
  privateEndpointConnectionsOptions,
} from "../../../shared/rules/private-endpoint-connections.ts";
import type { RuleContext } from "../../../shared/rules/types.ts";
import type { Snapshot, UnreadableResource } from "../../../shared/types.ts";
import { ACCOUNT_ID, account, snapshotOf } from "../../fixtures/azure/storage/storage.ts";

type Json = Record<string, unknown>;
const DATABRICKS = "3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f";
const PE_TYPE = "microsoft.network/privateendpoints";
const endpointId = (name: string, sub = DATABRICKS) =>
  `/subscriptions/${sub}/resourceGroups/databricks-serverless/providers/Microsoft.Network/privateEndpoints/${name}`;

/** A storage connection as the Storage RP returns it: no groupIds. */
const storageConnection = (endpoint: string, status = "Pending"): Json => ({
  id: `${ACCOUNT_ID}/privateEndpointConnections/${endpoint.split("/").pop()}.1`,
  name: `${endpoint.split("/").pop()}.1`,
  type: "Microsoft.Storage/storageAccounts/privateEndpointConnections",
  properties: {
    privateEndpoint: { id: endpoint },
    privateLinkServiceConnectionState: { status, description: "", actionRequired: "None" },
    provisioningState: "Succeeded",
  },
});

function lake(...connections: Json[]): Snapshot {
  return snapshotOf(
    account((p) => {
      p.privateEndpointConnections = connections;
    }),
  );
}

/** The requesting endpoint (private-endpoint-foreign.json reshaped): `connections` as [list, target, groupIds]. */
function endpoint(
  id: string,
  connections: [
    "privateLinkServiceConnections" | "manualPrivateLinkServiceConnections",
    string,
    string[] | undefined,
  ][],
): Snapshot {
  const json = JSON.parse(
    readFileSync("test/fixtures/azure/private-link/private-endpoint-foreign.json", "utf8"),
  ) as Json & { properties: Json };
  json.id = id;
  json.name = id.split("/").pop();
  json.properties.privateLinkServiceConnections = [];
  json.properties.manualPrivateLinkServiceConnections = [];
  connections.forEach(([list, target, groupIds], i) => {
    (json.properties[list] as Json[]).push({
      name: `c${i}`,
      id: `${id}/${list}/c${i}`,
      properties: {
        privateLinkServiceId: target,
        ...(groupIds ? { groupIds } : {}),
        requestMessage: "",
        privateLinkServiceConnectionState: { status: "Pending", description: "", actionsRequired: "None" },
      },
    });
  });
  const s = azureSnapshot(json, PE_TYPE);
  if (!s) throw new Error("endpoint");
  return s;
}

const contextWith = (related: Record<string, Snapshot | UnreadableResource | null>): RuleContext => ({
  trustedSources: [],
  related: (id) => {
    const key = Object.keys(related).find((k) => k.toLowerCase() === id.toLowerCase());
    return key === undefined ? undefined : related[key];
  },
});

const BLOB_DFS = { name: "databricks-serverless", subscriptions: [DATABRICKS], groupIds: ["blob", "dfs"] };

function run(options: unknown, snapshot: Snapshot, context: RuleContext = { trustedSources: [] }) {
  const parsed = privateEndpointConnectionsOptions.parse(options);
  return privateEndpointConnections.evaluate(snapshot, parsed, context);
}
const decision = (v: { matched: unknown[] } | undefined) =>
  (v?.matched[0] as { decision?: string } | undefined)?.decision;

describe("private-endpoint-connections: groupIds", () => {
  const PE = endpointId("pe-databricks");

  it("takes the sub-resource from the connection when the provider records it (SQL), and reads nothing", () => {
    const sql = JSON.parse(
      readFileSync("test/fixtures/azure/private-link/sql-server-with-connections.json", "utf8"),
    ) as Json;
    const server = azureSnapshot(sql, "microsoft.sql/servers");
    if (!server) throw new Error("sql");
    const parsed = privateEndpointConnectionsOptions.parse({
      allow: [{ name: "sql", endpointIds: ["*"], groupIds: ["SQLSERVER"] }],
    });
    expect(privateEndpointConnections.reads?.(server, parsed)).toEqual([]);
    const vs = privateEndpointConnections.evaluate(server, parsed, { trustedSources: [] });
    const pending = vs.find((v) => (v.matched[0] as Json).status === "Pending");
    expect(decision(pending)).toBe("approve");
    expect(pending?.matched[0]).toMatchObject({ groupIds: ["sqlServer"], groupIdsFrom: "connection" });
  });

  it("approves a storage request whose endpoint asks for listed sub-resources, and holds one asking for another", () => {
    const FILE = endpointId("pe-file");
    const snapshot = lake(storageConnection(PE), storageConnection(FILE));
    const ctx = contextWith({
      [PE]: endpoint(PE, [["manualPrivateLinkServiceConnections", ACCOUNT_ID.toUpperCase(), ["Blob"]]]),
      [FILE]: endpoint(FILE, [["manualPrivateLinkServiceConnections", ACCOUNT_ID, ["file"]]]),
    });
    const [blob, file] = run({ allow: [BLOB_DFS] }, snapshot, ctx);
    expect(decision(blob)).toBe("approve");
    expect(blob?.matched[0]).toMatchObject({ groupIds: ["Blob"], groupIdsFrom: "private endpoint" });
    // [file] is not within [blob, dfs]: the entry does not cover it, so the unlisted default decides.
    expect(decision(file)).toBe("hold");
    expect(file?.message).toContain("not allow-listed");
    // Determined, so `unlisted: reject` may reject it.
    expect(decision(run({ allow: [BLOB_DFS], unlisted: "reject" }, snapshot, ctx)[1])).toBe("reject");
  });

  it("reads the endpoint's automatic connections too, and every sub-resource asked must be listed", () => {
    const snapshot = lake(storageConnection(PE));
    const both = contextWith({
      [PE]: endpoint(PE, [["privateLinkServiceConnections", ACCOUNT_ID, ["blob", "dfs"]]]),
    });
    expect(decision(run({ allow: [BLOB_DFS] }, snapshot, both)[0])).toBe("approve");
    const wider = contextWith({
      [PE]: endpoint(PE, [["privateLinkServiceConnections", ACCOUNT_ID, ["blob", "queue"]]]),
    });
    expect(decision(run({ allow: [BLOB_DFS] }, snapshot, wider)[0])).toBe("hold");
  });

  it("ignores the endpoint's connections to other targets", () => {
    const OTHER = ACCOUNT_ID.replace("qubolelake", "otherlake");
    const snapshot = lake(storageConnection(PE));
    // The blob connection names another account; the one to ours asks for file.
    const ctx = contextWith({
      [PE]: endpoint(PE, [
        ["manualPrivateLinkServiceConnections", OTHER, ["blob"]],
        ["manualPrivateLinkServiceConnections", ACCOUNT_ID, ["file"]],
      ]),
    });
    const [v] = run({ allow: [BLOB_DFS], unlisted: "reject" }, snapshot, ctx);
    expect(decision(v)).toBe("reject");
    expect(v?.matched[0]).toMatchObject({ groupIds: ["file"] });
    // Only connections to other targets: the sub-resource asked of ours is unknown, so held, never rejected.
    const elsewhere = contextWith({
      [PE]: endpoint(PE, [["manualPrivateLinkServiceConnections", OTHER, ["blob"]]]),
    });
    const [held] = run({ allow: [BLOB_DFS], unlisted: "reject" }, snapshot, elsewhere);
    expect(decision(held)).toBe("hold");
    expect(held?.message).toContain("names no connection to this resource");
  });

  it("holds, with the reason, when the endpoint could not be read (403), is gone (404) or was not read; never rejects", () => {
    const snapshot = lake(storageConnection(PE));
    const options = {
      allow: [BLOB_DFS, { name: "reject-databricks", subscriptions: [DATABRICKS], decision: "reject" }],
      unlisted: "reject",
      noLongerAllowed: "reject",
    };
    const refused = `read ${PE} refused (403): AuthorizationFailed`;
    const cases: [Record<string, Snapshot | UnreadableResource | null>, RegExp][] = [
      [{ [PE]: { unreadable: refused } }, /could not be read: read .*refused \(403\)/],
      [{ [PE]: null }, /no longer exists \(404\)/],
      [{}, /was not read/],
    ];
    for (const [related, reason] of cases) {
      const [v] = run(options, snapshot, contextWith(related));
      expect(decision(v)).toBe("hold");
      expect(v?.message).toMatch(/^Hold for review: pending request/);
      expect(v?.message).toContain(
        "allow entry databricks-serverless names sub-resources (groupIds) and the sub-resource requested could not be determined",
      );
      expect(v?.message).toMatch(reason);
      expect(String((v?.matched[0] as Json | undefined)?.groupIdsUnknown)).toMatch(reason);
      expect(v?.matched[0]).toMatchObject({ allowEntry: "databricks-serverless", groupIds: null });
    }
    // An approved connection, too: held (alerted), not rejected by noLongerAllowed.
    const approved = lake(storageConnection(PE, "Approved"));
    expect(decision(run(options, approved, contextWith({ [PE]: null }))[0])).toBe("hold");
  });

  it("an entry another criterion rules out needs no sub-resource, and a later entry decides", () => {
    const snapshot = lake(storageConnection(PE));
    const options = {
      allow: [
        { name: "someone-else", subscriptions: ["e1d2c3b4-a596-4788-9900-aabbccddeeff"], groupIds: ["blob"] },
        { name: "databricks", subscriptions: [DATABRICKS] },
      ],
    };
    const parsed = privateEndpointConnectionsOptions.parse(options);
    // Nothing to read: the only entry by groupIds cannot match this requester.
    expect(privateEndpointConnections.reads?.(snapshot, parsed)).toEqual([]);
    expect(decision(run(options, snapshot, contextWith({ [PE]: null }))[0])).toBe("approve");
  });

  it("asks for the requesting endpoints only when an entry by groupIds may need them, and the kind names them", () => {
    const snapshot = lake(
      storageConnection(PE),
      storageConnection(PE.replace("pe-databricks", "pe-gone"), "Rejected"),
    );
    const reads = (options: unknown) =>
      privateEndpointConnections.reads?.(snapshot, privateEndpointConnectionsOptions.parse(options));
    expect(reads({ allow: [{ name: "d", subscriptions: [DATABRICKS] }] })).toEqual([]);
    expect(reads({ allow: [BLOB_DFS] })).toEqual([PE_TYPE]);
    // Only the endpoints such an entry may need: not a stranger's, whom the entry rules out by subscription.
    const STRANGER = endpointId("pe-stranger", "e1d2c3b4-a596-4788-9900-aabbccddeeff");
    const two = lake(storageConnection(PE), storageConnection(STRANGER));
    expect(
      privateEndpointConnections.readsOnly?.(
        two,
        privateEndpointConnectionsOptions.parse({ allow: [BLOB_DFS] }),
      ),
    ).toEqual([PE]);
    // Only pending and approved connections' endpoints, once each.
    expect(
      azureKindOf("microsoft.storage/storageaccounts")
        ?.related?.(snapshot)
        .filter((r) => r.resourceType === PE_TYPE),
    ).toEqual([{ resourceId: PE, resourceType: PE_TYPE }]);
  });

  it("a Private Link Service connection's endpoint may name the service by alias; a service has no sub-resource to list", () => {
    const json = JSON.parse(
      readFileSync("test/fixtures/azure/private-link/private-link-service.json", "utf8"),
    ) as Json & { properties: Json & { alias: string } };
    const service = azureSnapshot(
      { ...json, properties: { ...json.properties, privateEndpointConnections: [] } },
      "microsoft.network/privatelinkservices",
    );
    if (!service) throw new Error("pls");
    const withConnection = azureSnapshot(
      {
        ...json,
        properties: {
          ...json.properties,
          privateEndpointConnections: [
            {
              id: `${service.resourceId}/privateEndpointConnections/pe-databricks.1`,
              name: "pe-databricks.1",
              properties: {
                privateEndpoint: { id: PE },
                privateLinkServiceConnectionState: {
                  status: "Pending",
                  description: "",
                  actionsRequired: "None",
                },
              },
            },
          ],
        },
      },
      "microsoft.network/privatelinkservices",
    );
    if (!withConnection) throw new Error("pls");
    const ctx = contextWith({
      [PE]: endpoint(PE, [["manualPrivateLinkServiceConnections", json.properties.alias, undefined]]),
    });
    // Found by alias: determined, asks for no sub-resource, so an entry by groupIds does not cover it.
    const [v] = run({ allow: [BLOB_DFS], unlisted: "reject" }, withConnection, ctx);
    expect(decision(v)).toBe("reject");
    expect(v?.matched[0]).toMatchObject({ groupIds: [], groupIdsFrom: "private endpoint" });
  });
});

describe("relatedWanted: what the pipeline reads for a snapshot", () => {
  it("reads only the endpoints readsOnly names, and every network a rule reads without narrowing", () => {
    const PE = endpointId("pe-databricks");
    const STRANGER = endpointId("pe-stranger", "e1d2c3b4-a596-4788-9900-aabbccddeeff");
    const snapshot = lake(storageConnection(PE), storageConnection(STRANGER));
    const policy = parsePolicy(`version: 1
rules:
  - name: private-link-requests
    rule: private-endpoint-connections
    options:
      allow:
        - name: databricks-serverless
          subscriptions: ['${DATABRICKS}']
          groupIds: [blob, dfs]
`);
    const wanted = relatedWanted(policy, snapshot);
    const refs = azureKindOf("microsoft.storage/storageaccounts")?.related?.(snapshot) ?? [];
    expect(refs.filter((r) => wanted?.(r)).map((r) => r.resourceId)).toEqual([PE]);
    // A policy whose entries read nothing reads nothing.
    const none = parsePolicy(`version: 1
rules:
  - name: private-link-requests
    rule: private-endpoint-connections
    options: { allow: [{ name: d, subscriptions: ['${DATABRICKS}'] }] }
`);
    expect(relatedWanted(none, snapshot)).toBeUndefined();
  });
});
