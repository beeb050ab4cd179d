// `guardian scan` over SQL servers and Cosmos DB accounts: the scan is generic over the Azure kind registry (each
// kind listed by its own ARM list call, pages followed), so the new Private Link targets are listed, judged by the
// private-endpoint-connections rule and, with --remediate, decided through the event path's pipeline; their findings
// equal what `guardian evaluate` says of the same bodies.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { memoryAuditSink } from "../../shared/audit/index.ts";
import { azurePort } from "../../shared/clouds/azure/index.ts";
import { AzureNetwork } from "../../shared/clouds/azure/network.ts";
import { pageLister } from "../../shared/clouds/listers.ts";
import { memoryLogger } from "../../shared/log.ts";
import type { GuardianDeps } from "../../shared/pipeline.ts";
import { parsePolicy } from "../../shared/policy/load.ts";
import { evaluateSnapshots } from "../../shared/usecases/offline.ts";
import { type ScanTarget, scanEstate } from "../../shared/usecases/scan.ts";
import { snapshotsFromJson } from "../../shared/usecases/snapshots.ts";
import {
  type ArmEmulator,
  mintToken,
  DEFAULT_SUBSCRIPTION_ID as OURS,
  rawArmRequest,
  startArmEmulator,
  staticTokenCredential,
} from "../harness/arm-emulator/index.ts";

const GUARDIAN = "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d";
const DATABRICKS = "3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f";
const STRANGER = "e1d2c3b4-a596-4788-9900-aabbccddeeff";
const serverId = (name: string) =>
  `/subscriptions/${OURS}/resourceGroups/rg-data/providers/Microsoft.Sql/servers/${name}`;
const COSMOS = `/subscriptions/${OURS}/resourceGroups/rg-data/providers/Microsoft.DocumentDB/databaseAccounts/cosmos-orders`;
const partner = (tid: string) =>
  mintToken({
    oid: "11111111-2222-4333-8444-555555555555",
    tid,
    appid: "11111111-2222-4333-8444-555555555555",
  });

const policy = parsePolicy(`version: 1
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
`);

let emu: ArmEmulator;
let network: AzureNetwork;

beforeAll(async () => {
  // Pages of one: the SQL servers' list needs its nextLink followed.
  emu = await startArmEmulator({ lroPolls: 1, pageSize: 1, connectionEvents: false });
  network = new AzureNetwork({
    credential: staticTokenCredential(mintToken({ oid: GUARDIAN })),
    endpoint: emu.url,
    ca: emu.ca,
    retryDelayInMs: 5,
    maxRetries: 2,
    pollIntervalMs: 0,
  });
});
afterAll(async () => {
  await emu?.stop();
});

async function requestEndpoint(subscription: string, name: string, target: string, group: string) {
  const id = `/subscriptions/${subscription}/resourceGroups/rg-requester/providers/Microsoft.Network/privateEndpoints/${name}`;
  const res = await rawArmRequest(emu, "PUT", `${id}?api-version=2026-01-01`, {
    token: partner("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"),
    body: {
      location: "westeurope",
      properties: {
        subnet: {
          id: `/subscriptions/${subscription}/resourceGroups/rg-requester/providers/Microsoft.Network/virtualNetworks/v/subnets/pe`,
        },
        manualPrivateLinkServiceConnections: [
          { name, properties: { privateLinkServiceId: target, groupIds: [group] } },
        ],
      },
    },
  });
  expect(res.status).toBe(201);
}

beforeEach(async () => {
  emu.reset();
  for (const name of ["sql-lake", "sql-quiet"])
    emu.seed({ id: serverId(name), location: "westeurope", properties: {} });
  emu.seed({
    id: COSMOS,
    location: "westeurope",
    properties: { databaseAccountOfferType: "Standard", locations: [{ locationName: "West Europe" }] },
  });
  await requestEndpoint(DATABRICKS, "pe-dbx-sql", serverId("sql-lake"), "sqlServer");
  await requestEndpoint(STRANGER, "pe-stranger-cosmos", COSMOS, "Sql");
});

function deps(withPolicy = policy): GuardianDeps {
  return {
    policy: withPolicy,
    clouds: { azure: azurePort(network) },
    outbox: { enqueue: async () => [] },
    audit: memoryAuditSink(),
    selfIdentities: [],
    dryRun: false,
    log: memoryLogger(),
  };
}
const targets: ScanTarget[] = [{ cloud: "azure", subscriptionId: OURS }];
const found = (findings: readonly { resourceId: string; matched: readonly unknown[] }[]) =>
  findings
    .map(
      (f) => `${f.resourceId.split("/").at(-1)}:${String((f.matched[0] as { decision?: string }).decision)}`,
    )
    .sort();

describe("guardian scan over SQL servers and Cosmos DB accounts", () => {
  it("lists both kinds through their pages and finds the approvable and the held request, as evaluate does", async () => {
    const report = await scanEstate(targets, deps(), pageLister({ azure: network }), { remediate: false });
    expect(report.complete).toBe(true);
    expect(report.coverage.find((c) => c.kind === "sql-server")).toMatchObject({
      listed: 2,
      pages: 2,
      complete: true,
    });
    expect(report.coverage.find((c) => c.kind === "cosmos-db-account")).toMatchObject({
      listed: 1,
      complete: true,
    });
    expect(found(report.findings)).toEqual(["cosmos-orders:hold", "sql-lake:approve"]);
    // Report-only: the guardian wrote nothing (the only writes are the partners' endpoints).
    expect(emu.requests.filter((r) => r.method !== "GET" && r.caller === GUARDIAN)).toEqual([]);
    // `guardian evaluate` on the same bodies says the same.
    const offline = evaluateSnapshots(
      policy,
      snapshotsFromJson(
        [emu.get(serverId("sql-lake")), emu.get(serverId("sql-quiet")), emu.get(COSMOS)],
        "bodies",
      ),
    );
    const key = (f: { resourceId: string; policyRule: string; message: string }) =>
      `${f.resourceId} ${f.policyRule} ${f.message}`;
    expect(report.findings.map(key).sort()).toEqual(offline.findings.map(key).sort());
  });

  it("--remediate approves the SQL request through the pipeline and leaves the Cosmos DB one Pending", async () => {
    const report = await scanEstate(targets, deps(), pageLister({ azure: network }), { remediate: true });
    expect(report.actions.map((a) => a.outcome).sort()).toEqual(["approved", "held"]);
    const state = (id: string) =>
      (
        emu.get(id) as {
          properties: {
            privateEndpointConnections: {
              properties: { privateLinkServiceConnectionState: { status: string } };
            }[];
          };
        }
      ).properties.privateEndpointConnections[0]?.properties.privateLinkServiceConnectionState.status;
    expect(state(serverId("sql-lake"))).toBe("Approved");
    expect(state(COSMOS)).toBe("Pending");
    const again = await scanEstate(targets, deps(), pageLister({ azure: network }), { remediate: false });
    expect(found(again.findings)).toEqual(["cosmos-orders:hold"]);
  });

  it("a subscription not registered for the providers lists none of their kinds, complete, rather than failing", async () => {
    emu.reset();
    emu.unregisteredNamespaces(["Microsoft.Sql", "Microsoft.DocumentDB"]);
    const report = await scanEstate(targets, deps(), pageLister({ azure: network }), { remediate: false });
    expect(report.complete).toBe(true);
    expect(report.coverage.find((c) => c.kind === "sql-server")).toMatchObject({ listed: 0, complete: true });
    expect(report.coverage.find((c) => c.kind === "cosmos-db-account")).toMatchObject({
      listed: 0,
      complete: true,
    });
    expect(emu.requests.filter((r) => r.status === 409)).toHaveLength(2);
  });
});

describe("guardian scan: a storage request judged by groupIds from the requesting endpoint", () => {
  it("reads the endpoint the connection names, approves [blob] and holds [file], as the event path does", async () => {
    const LAKE = `/subscriptions/${OURS}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/datalake`;
    emu.seed({
      id: LAKE,
      location: "westeurope",
      kind: "StorageV2",
      sku: { name: "Standard_LRS", tier: "Standard" },
      properties: {},
    });
    await requestEndpoint(DATABRICKS, "pe-dbx-blob", LAKE, "blob");
    await requestEndpoint(DATABRICKS, "pe-dbx-file", LAKE, "file");
    const byGroups = parsePolicy(`version: 1
rules:
  - name: private-link-requests
    rule: private-endpoint-connections
    mode: remediate
    severity: high
    options:
      allow:
        - name: databricks-serverless
          subscriptions: ['${DATABRICKS}']
          groupIds: [blob, dfs]
          targets: { types: [Microsoft.Storage/storageAccounts] }
`);
    const report = await scanEstate(targets, deps(byGroups), pageLister({ azure: network }), {
      remediate: true,
    });
    const lake = report.actions.filter((a) => a.resourceId === LAKE);
    const outcome = (name: string) => lake.find((a) => a.wouldDo.includes(`${name}.`))?.outcome;
    expect(outcome("pe-dbx-blob")).toBe("approved");
    expect(outcome("pe-dbx-file")).toBe("held");
    // Only the storage account's requesting endpoints were read; the SQL and Cosmos DB connections record theirs.
    const reads = emu.requests
      .filter(
        (r) =>
          r.method === "GET" && r.caller === GUARDIAN && /\/privateEndpoints\/[^/?]+(\?|$)/i.test(r.path),
      )
      .map((r) => r.path.split("?")[0]?.split("/").at(-1));
    expect(new Set(reads)).toEqual(new Set(["pe-dbx-blob", "pe-dbx-file"]));
  });
});
