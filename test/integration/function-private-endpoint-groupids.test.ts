// Allow entries by sub-resource (groupIds) end to end: Databricks-style requesters create private endpoints in their
// own subscriptions against the ARM emulator; the storage account's connections, as the Storage RP returns them,
// record no sub-resource, so the guardian reads each requesting endpoint (the real @azure/arm-network client) through
// the deployed Function handlers (Event Grid onChange and the timer sweep). A readable endpoint asking for blob is
// approved by an entry `groupIds: [blob, dfs]`; one asking for file is held; one the guardian may not read (403,
// another tenant) is held with the reason, never rejected, though a later entry says reject; a read that keeps
// failing (503) fails the evaluation (retried), and nothing is written.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { TransientError } from "../../shared/errors.ts";
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
// A second Databricks workspace's subscription, in a tenant where the guardian has no role.
const DATABRICKS_FOREIGN = "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a";
const STRANGER = "e1d2c3b4-a596-4788-9900-aabbccddeeff";
const LAKE = `/subscriptions/${OURS}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/datalake`;
const GUARDIAN = "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d";

const databricksToken = mintToken({
  oid: "11111111-2222-4333-8444-555555555555",
  appid: "11111111-2222-4333-8444-555555555555",
  idtyp: "app",
  tid: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
});
const guardianToken = mintToken({
  oid: GUARDIAN,
  appid: GUARDIAN,
  idtyp: "app",
  tid: "72f988bf-86f1-41af-91ab-2d7cd011db47",
});

// The rule's own example: Databricks may reach the lake's blob and dfs endpoints; anything else from the foreign
// workspace is rejected by a later entry, which an unknown sub-resource must never reach.
const POLICY = `version: 1
rules:
  - name: private-link-requests
    rule: private-endpoint-connections
    mode: remediate
    severity: high
    options:
      allow:
        - name: databricks-serverless
          subscriptions: ['${DATABRICKS}', '${DATABRICKS_FOREIGN}']
          groupIds: [blob, dfs]
        - name: foreign-workspace-otherwise
          subscriptions: ['${DATABRICKS_FOREIGN}']
          decision: reject
      unlisted: hold
`;

let emu: ArmEmulator;
let sink: WebhookSink;
let dir: string;

beforeAll(async () => {
  [emu, sink] = await Promise.all([startArmEmulator({ lroPolls: 0 }), startWebhookSink()]);
  dir = await mkdtemp(path.join(tmpdir(), "guardian-pe-groups-"));
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
  // As StorageAccounts_GetProperties returns it (test/fixtures/azure/storage), closed to the Internet.
  emu.seed({
    id: LAKE,
    location: "westeurope",
    kind: "StorageV2",
    sku: { name: "Standard_LRS", tier: "Standard" },
    properties: {
      publicNetworkAccess: "Disabled",
      isHnsEnabled: true,
      networkAcls: { bypass: "AzureServices", defaultAction: "Deny", ipRules: [], virtualNetworkRules: [] },
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

/** Databricks creates a private endpoint to the lake in its own subscription, asking for `groupIds`. */
async function requestEndpoint(subscription: string, name: string, groupIds: string[]) {
  const id = `/subscriptions/${subscription}/resourceGroups/databricks-serverless/providers/Microsoft.Network/privateEndpoints/${name}`;
  const mark = emu.events.length;
  const res = await rawArmRequest(emu, "PUT", `${id}?api-version=2026-01-01`, {
    token: databricksToken,
    body: {
      location: "westeurope",
      properties: {
        subnet: {
          id: `/subscriptions/${subscription}/resourceGroups/databricks-serverless/providers/Microsoft.Network/virtualNetworks/vnet/subnets/pe`,
        },
        manualPrivateLinkServiceConnections: [
          {
            name: `${name}-conn`,
            properties: { privateLinkServiceId: LAKE, groupIds, requestMessage: "Databricks serverless" },
          },
        ],
      },
    },
  });
  expect(res.status).toBe(201);
  // Only the provider-side events: what the guardian's subscription topic delivers.
  const events = emu.events.slice(mark).filter((e) => String((e as { topic?: string }).topic).includes(OURS));
  return { id, events };
}

type Connection = {
  properties: Record<string, unknown> & {
    privateEndpoint: { id: string };
    privateLinkServiceConnectionState: { status: string; description: string };
  };
};
const connections = () =>
  (emu.get(LAKE) as { properties: { privateEndpointConnections: Connection[] } }).properties
    .privateEndpointConnections;
const stateOf = (endpoint: string) =>
  connections().find((c) => c.properties.privateEndpoint.id.toLowerCase() === endpoint.toLowerCase())
    ?.properties.privateLinkServiceConnectionState;
const endpointReads = () =>
  emu.requests.filter(
    (r) => r.method === "GET" && r.caller === GUARDIAN && /\/privateEndpoints\/[^/?]+(\?|$)/i.test(r.path),
  );
const decisionsWritten = () =>
  emu.requests.filter((r) => r.method === "PUT" && /privateEndpointConnections/i.test(r.path));

describe("Private Link allow entries by groupIds, through the Function handlers", () => {
  it("approves [blob], holds [file], and holds the unreadable endpoint's request with the reason, never rejecting it", async () => {
    const h = harness();
    const blob = await requestEndpoint(DATABRICKS, "pe-dbx-blob", ["blob"]);
    const file = await requestEndpoint(DATABRICKS, "pe-dbx-file", ["file"]);
    // Someone no entry names: held as unlisted, and its endpoint is never read (no entry by groupIds could cover it).
    const stranger = await requestEndpoint(STRANGER, "pe-stranger", ["blob"]);
    const foreign = await requestEndpoint(DATABRICKS_FOREIGN, "pe-dbx-foreign", ["blob"]);
    // As the Storage spec has it: the connections record no sub-resource; the endpoints do.
    expect(connections()).toHaveLength(4);
    for (const c of connections()) {
      expect(c.properties).not.toHaveProperty("groupIds");
      expect(c.properties).not.toHaveProperty("groupId");
    }
    // The guardian has no role in the foreign workspace's tenant: reading its endpoint answers 403, every time.
    emu.injectFault({
      method: "GET",
      pathIncludes: "/privateEndpoints/pe-dbx-foreign",
      status: 403,
      code: "AuthorizationFailed",
      message:
        "The client does not have authorization to perform action 'Microsoft.Network/privateEndpoints/read' over scope",
      times: 50,
    });

    // The last connection event: the account then holds all three requests.
    const [result] = await h.deliver(foreign.events);
    const actions = result?.outcomes[0]?.actions ?? [];
    const byEndpoint = (name: string) =>
      actions.find((a) => JSON.stringify(a.finding.matched).includes(`/${name}"`));
    expect(byEndpoint("pe-dbx-blob")?.outcome).toBe("approved");
    expect(byEndpoint("pe-dbx-file")?.outcome).toBe("held");
    expect(byEndpoint("pe-dbx-foreign")?.outcome).toBe("held");
    expect(byEndpoint("pe-stranger")?.outcome).toBe("held");
    expect(byEndpoint("pe-dbx-blob")?.finding.matched[0]).toMatchObject({
      groupIds: ["blob"],
      groupIdsFrom: "private endpoint",
      allowEntry: "databricks-serverless",
    });
    expect(byEndpoint("pe-dbx-file")?.finding.message).toContain(
      "the requester is not allow-listed for sub-resources file",
    );
    expect(byEndpoint("pe-dbx-foreign")?.finding.message).toMatch(
      /^Hold for review: pending request pe-dbx-foreign.* \(allow entry databricks-serverless names sub-resources \(groupIds\) and the sub-resource requested could not be determined \(the provider does not report it and the private endpoint could not be read: read .*pe-dbx-foreign refused \(403\)/,
    );

    expect(stateOf(blob.id)?.status).toBe("Approved");
    expect(stateOf(file.id)?.status).toBe("Pending");
    // Not rejected by the later entry: Azure could never approve it again.
    expect(stateOf(foreign.id)?.status).toBe("Pending");
    expect(stateOf(stranger.id)?.status).toBe("Pending");
    expect(decisionsWritten()).toHaveLength(1);
    // The requesting endpoints an entry by groupIds may need, each read by the guardian; never the stranger's.
    const read = new Set(endpointReads().map((r) => r.path.split("?")[0]?.split("/").at(-1)));
    expect(read).toEqual(new Set(["pe-dbx-blob", "pe-dbx-file", "pe-dbx-foreign"]));

    // The alert says why the foreign request is held.
    // One alert for the change, with the held requests; the foreign one says why.
    await sink.waitFor(1);
    const alert = JSON.stringify(sink.received[0]?.body);
    expect(alert).toContain("Held: 4 decisions on datalake");
    expect(alert).toMatch(/pe-dbx-file[^`]*not allow-listed for sub-resources file/);
    expect(alert).toMatch(
      /pe-dbx-foreign[^`]*sub-resource requested could not be determined[^`]*refused \(403\)/,
    );
  });

  it("the sweep reads the requesting endpoint too: a request that raised no event is approved", async () => {
    const h = harness();
    emu.connectionEvents(false);
    const blob = await requestEndpoint(DATABRICKS, "pe-dbx-silent", ["dfs"]);
    expect(blob.events).toHaveLength(0);
    const result = await h.sweep();
    expect(result.swept).toBeGreaterThan(0);
    expect(stateOf(blob.id)?.status).toBe("Approved");
    expect(endpointReads().map((r) => r.path.split("?")[0]?.split("/").at(-1))).toContain("pe-dbx-silent");
    expect(h.audit.filter((a) => a.outcome === "approved")).toHaveLength(1);
  });

  it("an endpoint read that keeps failing (503) fails the evaluation: retried, nothing decided", async () => {
    const h = harness();
    const blob = await requestEndpoint(DATABRICKS, "pe-dbx-flaky", ["blob"]);
    // The first try and the SDK's three retries all answer 503.
    emu.injectFault({
      method: "GET",
      pathIncludes: "/privateEndpoints/pe-dbx-flaky",
      status: 503,
      retryAfterSeconds: 0,
      times: 4,
    });
    await expect(h.deliver(blob.events)).rejects.toBeInstanceOf(TransientError);
    expect(stateOf(blob.id)?.status).toBe("Pending");
    expect(decisionsWritten()).toHaveLength(0);
    expect(h.audit).toEqual([]);
    // The redelivery, once ARM answers, decides.
    await h.deliver(blob.events);
    expect(stateOf(blob.id)?.status).toBe("Approved");
  });
});
