// Private Link end to end: requesters create private endpoints in their own subscriptions against the ARM emulator,
// connections appear Pending on our Key Vault and Private Link Service, and the guardian decides through the deployed
// Function handlers (Event Grid onChange and the timer sweep), writing through the real SDK pipeline and alerting the
// webhook sink.
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
const CASSANDRA = "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f";
const ROGUE = "0f1e2d3c-4b5a-4968-8776-655443322110";

const VAULT = `/subscriptions/${OURS}/resourceGroups/rg-data/providers/Microsoft.KeyVault/vaults/kv-lake`;
const PLS = `/subscriptions/${OURS}/resourceGroups/rg-cassandra/providers/Microsoft.Network/privateLinkServices/pls-cassandra`;
const LAKE = `/subscriptions/${OURS}/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/datalake`;
const ROGUE_STORAGE = `/subscriptions/${ROGUE}/resourceGroups/rg-x/providers/Microsoft.Storage/storageAccounts/dropzone`;
const ROGUE_VAULT = `/subscriptions/${ROGUE}/resourceGroups/rg-x/providers/Microsoft.KeyVault/vaults/kv-drop`;

const token = (oid: string, tid: string, upn?: string) =>
  mintToken({ oid, tid, ...(upn ? { upn } : { appid: oid, idtyp: "app" }) });
const databricksToken = token("11111111-2222-4333-8444-555555555555", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
const strangerToken = token("66666666-7777-4888-9999-000000000000", "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff");
const cassandraToken = token("12121212-3434-4565-8787-909090909090", "cccccccc-dddd-4eee-8fff-000000000000");
const aliceToken = token(
  "7f1c9a52-3e4b-4d8a-9b6c-1a2b3c4d5e6f",
  "72f988bf-86f1-41af-91ab-2d7cd011db47",
  "alice@contoso.com",
);
const guardianToken = token("0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d", "72f988bf-86f1-41af-91ab-2d7cd011db47");

const policy = (extra = "") => `version: 1
rules:
  - name: private-link-requests
    rule: private-endpoint-connections
    mode: remediate
    severity: high
    options:
      allow:
        - name: databricks-serverless
          subscriptions: ['${DATABRICKS}']
        - name: cassandra-operator
          subscriptions: ['${CASSANDRA}']
          targets: { types: [Microsoft.Network/privateLinkServices] }
        - name: blocked-partner
          subscriptions: ['${ROGUE}']
          decision: reject
      unlisted: hold
      noLongerAllowed: alert
  - name: private-endpoint-targets
    rule: private-endpoint-targets
    mode: alert
    severity: high
    options:
      allow:
        - name: our-subscription
          subscriptions: ['${OURS}']
  - name: private-link-service-lists
    rule: private-link-service-lists
    mode: remediate
    severity: high
    options:
      autoApproval: []
      visibility: ['${CASSANDRA}']
${extra}`;

let emu: ArmEmulator;
let sink: WebhookSink;
let dir: string;

beforeAll(async () => {
  [emu, sink] = await Promise.all([startArmEmulator({ lroPolls: 0 }), startWebhookSink()]);
  dir = await mkdtemp(path.join(tmpdir(), "guardian-pe-"));
  await writeFile(path.join(dir, "ca.pem"), emu.ca);
});
afterAll(async () => {
  await Promise.all([emu?.stop(), sink?.stop()]);
});
beforeEach(async () => {
  emu.reset();
  emu.connectionEvents(true);
  sink.received.length = 0;
  await writeFile(path.join(dir, "policy.yaml"), policy());
  emu.seed({
    id: VAULT,
    location: "westeurope",
    properties: { tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47" },
  });
  emu.seed({
    id: PLS,
    location: "westeurope",
    properties: { visibility: { subscriptions: [CASSANDRA] }, autoApproval: { subscriptions: [] } },
  });
  emu.seed({ id: ROGUE_VAULT, location: "westeurope", properties: {} });
  // Storage accounts as StorageAccounts_GetProperties returns them (test/fixtures/azure/storage), closed to the Internet.
  for (const id of [LAKE, ROGUE_STORAGE]) {
    emu.seed({
      id,
      location: "westeurope",
      kind: "StorageV2",
      sku: { name: "Standard_LRS", tier: "Standard" },
      properties: {
        publicNetworkAccess: "Disabled",
        networkAcls: { bypass: "AzureServices", defaultAction: "Deny", ipRules: [], virtualNetworkRules: [] },
      },
    });
  }
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

/** A requester creates a private endpoint in its own subscription, as `az network private-endpoint create` does. */
async function requestEndpoint(
  tokenOf: string,
  subscription: string,
  name: string,
  target: string,
  opts: { manual?: boolean; groupIds?: string[] } = {},
) {
  const list =
    opts.manual === false ? "privateLinkServiceConnections" : "manualPrivateLinkServiceConnections";
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
        [list]: [
          {
            name: `${name}-conn`,
            properties: {
              privateLinkServiceId: target,
              groupIds: opts.groupIds ?? ["vault"],
              requestMessage: "please approve",
            },
          },
        ],
      },
    },
  });
  expect(res.status).toBe(201);
  return { id, events: emu.events.slice(mark) };
}

type Connections = {
  properties: {
    privateEndpointConnections: {
      id: string;
      properties: {
        privateEndpoint: { id: string };
        privateLinkServiceConnectionState: { status: string; description: string };
      };
    }[];
  };
};
const connectionOf = (target: string, endpoint: string) =>
  (emu.get(target) as Connections).properties.privateEndpointConnections.find(
    (c) => c.properties.privateEndpoint.id.toLowerCase() === endpoint.toLowerCase(),
  )?.properties.privateLinkServiceConnectionState;
/** The provider-side events only (what the guardian's subscription topic delivers). */
const ours = (events: readonly object[]) =>
  events.filter((e) => String((e as { topic?: string }).topic).includes(OURS));
const guardianWrites = () =>
  emu.requests.filter((r) => r.method === "PUT" && /privateEndpointConnections/i.test(r.path));

describe("Private Link through the Function handlers", () => {
  it("approves a Databricks-style request to a storage account (no etag: re-read before the PUT; actionRequired kept)", async () => {
    const h = harness();
    const pe = await requestEndpoint(databricksToken, DATABRICKS, "pe-dbx-dfs", LAKE, { groupIds: ["dfs"] });
    const events = ours(pe.events);
    expect(events.map((e) => (e as { data: { operationName: string } }).data.operationName)).toEqual([
      "Microsoft.Storage/storageAccounts/privateEndpointConnections/write",
    ]);
    const [result] = await h.deliver([...events, ...events]);
    expect(result?.outcomes[0]?.actions.map((a) => a.outcome)).toEqual(["approved"]);
    const conn = (emu.get(LAKE) as Connections).properties.privateEndpointConnections[0] as unknown as {
      etag?: string;
      properties: { privateLinkServiceConnectionState: Record<string, string> };
    };
    expect(conn.properties.privateLinkServiceConnectionState).toMatchObject({
      status: "Approved",
      actionRequired: "None",
    });
    expect(conn.etag).toBeUndefined();
    // No etag to guard with: the connection is read right before the PUT, and the PUT follows that read.
    const putAt = emu.requests.findIndex(
      (r) => r.method === "PUT" && /privateEndpointConnections/i.test(r.path),
    );
    const before = emu.requests[putAt - 1];
    expect(before).toMatchObject({ method: "GET", caller: "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d" });
    expect(before?.path.toLowerCase()).toBe(emu.requests[putAt]?.path.toLowerCase());
    // Duplicate delivery: re-read shows Approved, nothing more is written or alerted.
    expect(guardianWrites()).toHaveLength(1);
    expect(h.audit.filter((a) => a.outcome === "approved")).toHaveLength(1);
  });

  it("alerts on our private endpoint to a storage account in another subscription and tenant, naming it", async () => {
    const h = harness();
    const pe = await requestEndpoint(aliceToken, OURS, "pe-rogue-blob", ROGUE_STORAGE, {
      groupIds: ["blob"],
    });
    const [result] = await h.deliver(ours(pe.events));
    expect(result?.outcomes[0]?.findings.map((f) => f.message).join()).toContain("storageAccounts/dropzone");
    await sink.waitFor(1);
    expect(JSON.stringify(sink.received[0]?.body)).toContain("dropzone");
    // The provider side (not ours) holds the request Pending; our endpoint shows it waiting.
    expect(connectionOf(ROGUE_STORAGE, pe.id)?.status).toBe("Pending");
  });

  it("approves an allow-listed request to a Key Vault within the delivery of its event, saying why", async () => {
    const h = harness();
    const pe = await requestEndpoint(databricksToken, DATABRICKS, "pe-databricks", VAULT);
    expect(connectionOf(VAULT, pe.id)?.status).toBe("Pending");
    const events = ours(pe.events);
    expect(events).toHaveLength(1);
    const [result] = await h.deliver(events);
    expect(result?.outcomes[0]?.actions.map((a) => a.outcome)).toEqual(["approved"]);
    const state = connectionOf(VAULT, pe.id);
    expect(state?.status).toBe("Approved");
    expect(state?.description).toMatch(/^Approved by network-guardian: allow entry databricks-serverless/);
    // The requester's own endpoint shows the decision.
    const endpoint = emu.get(pe.id) as {
      properties: {
        manualPrivateLinkServiceConnections: {
          properties: { privateLinkServiceConnectionState: { status: string } };
        }[];
      };
    };
    expect(
      endpoint.properties.manualPrivateLinkServiceConnections[0]?.properties.privateLinkServiceConnectionState
        .status,
    ).toBe("Approved");
    expect(h.audit[0]).toMatchObject({
      outcome: "approved",
      remediation: "decide-private-endpoint-connection",
    });
    await sink.waitFor(1);
    expect(JSON.stringify(sink.received[0]?.body)).toContain("Approved");
  });

  it("holds a request from an unknown subscription and alerts once, though the event comes twice", async () => {
    const h = harness();
    const pe = await requestEndpoint(strangerToken, STRANGER, "pe-stranger", VAULT);
    const events = ours(pe.events);
    const results = await h.deliver([...events, ...events]);
    expect(results[0]?.outcomes[0]?.actions.map((a) => a.outcome)).toEqual(["held"]);
    expect(results[1]?.outcomes[0]?.actions).toEqual([]);
    expect(connectionOf(VAULT, pe.id)?.status).toBe("Pending");
    expect(guardianWrites()).toHaveLength(0);
    expect(h.audit.filter((a) => a.outcome === "held")).toHaveLength(1);
    await sink.waitFor(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(sink.received).toHaveLength(1);
    expect(JSON.stringify(sink.received[0]?.body)).toContain(STRANGER);
    // The sweep meets the same held request: no second decision, no second alert.
    await h.sweep();
    await new Promise((r) => setTimeout(r, 100));
    expect(sink.received).toHaveLength(1);
  });

  it("rejects a request the policy lists for rejection; Azure refuses to approve it later", async () => {
    const h = harness();
    const pe = await requestEndpoint(strangerToken, ROGUE, "pe-blocked", VAULT);
    await h.deliver(ours(pe.events));
    expect(connectionOf(VAULT, pe.id)?.status).toBe("Rejected");
    const conn = (emu.get(VAULT) as Connections).properties.privateEndpointConnections[0];
    const retry = await rawArmRequest(emu, "PUT", `${conn?.id}?api-version=2024-11-01`, {
      token: aliceToken,
      body: {
        properties: { privateLinkServiceConnectionState: { status: "Approved", description: "by hand" } },
      },
    });
    expect(retry.status).toBe(400);
  });

  it("finds a request that raised no event with the sweep, and a duplicate delivery then decides nothing more", async () => {
    const h = harness();
    emu.connectionEvents(false);
    const pe = await requestEndpoint(databricksToken, DATABRICKS, "pe-silent", VAULT);
    expect(ours(pe.events)).toHaveLength(0);
    const result = await h.sweep();
    expect(result.swept).toBeGreaterThan(0);
    expect(connectionOf(VAULT, pe.id)?.status).toBe("Approved");
    expect(guardianWrites()).toHaveLength(1);
    await h.sweep();
    expect(guardianWrites()).toHaveLength(1);
    expect(h.audit.filter((a) => a.outcome === "approved")).toHaveLength(1);
  });

  it("approves a Cassandra-operator request to the Private Link Service and re-evaluates it once no longer allowed", async () => {
    const h = harness();
    const pe = await requestEndpoint(cassandraToken, CASSANDRA, "pe-operator", PLS);
    await h.deliver(ours(pe.events));
    expect(connectionOf(PLS, pe.id)?.status).toBe("Approved");
    // The operator's subscription is dropped from the allow-list: the approved connection becomes a finding.
    await writeFile(
      path.join(dir, "policy.yaml"),
      policy().replace(
        `- name: cassandra-operator\n          subscriptions: ['${CASSANDRA}']`,
        `- name: cassandra-operator\n          subscriptions: ['${STRANGER}']`,
      ),
    );
    const swept = await harness().sweep();
    const actions = swept.outcomes.flatMap((o) => o.actions);
    expect(actions.some((a) => a.outcome === "held" && a.reason.includes("no longer allow-listed"))).toBe(
      true,
    );
    expect(connectionOf(PLS, pe.id)?.status).toBe("Approved");
    // Policy says reject such connections: the sweep rejects it.
    await writeFile(
      path.join(dir, "policy.yaml"),
      policy()
        .replace(
          `subscriptions: ['${CASSANDRA}']\n          targets`,
          `subscriptions: ['${STRANGER}']\n          targets`,
        )
        .replace("noLongerAllowed: alert", "noLongerAllowed: reject"),
    );
    await harness().sweep();
    expect(connectionOf(PLS, pe.id)?.status).toBe("Rejected");
    expect(h.audit.length).toBeGreaterThan(0);
  });

  it("narrows a Private Link Service whose lists say * (etag-guarded PUT)", async () => {
    const h = harness();
    const alice = await rawArmRequest(emu, "PUT", `${PLS}?api-version=2026-01-01`, {
      token: aliceToken,
      body: {
        location: "westeurope",
        properties: { visibility: { subscriptions: ["*"] }, autoApproval: { subscriptions: ["*"] } },
      },
    });
    expect(alice.status).toBeLessThan(300);
    const events = ours(emu.events.slice(-1));
    await h.deliver(events);
    const pls = emu.get(PLS) as {
      properties: { visibility: { subscriptions: string[] }; autoApproval: { subscriptions: string[] } };
    };
    expect(pls.properties.visibility.subscriptions).toEqual([CASSANDRA]);
    expect(pls.properties.autoApproval.subscriptions).toEqual([]);
    const put = emu.requests
      .filter((r) => r.method === "PUT" && r.path.toLowerCase() === PLS.toLowerCase())
      .at(-1);
    expect(put?.caller).toBe("0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d");
  });

  it("alerts on our private endpoint to a vault in an unknown subscription and reports our pending endpoint", async () => {
    const h = harness();
    const rogue = await requestEndpoint(aliceToken, OURS, "pe-exfil", ROGUE_VAULT);
    const [result] = await h.deliver(ours(rogue.events));
    const finding = result?.outcomes[0]?.findings[0];
    expect(finding?.policyRule).toBe("private-endpoint-targets");
    expect(finding?.message).toContain(ROGUE_VAULT);
    expect(emu.get(rogue.id)).toBeDefined();
    await sink.waitFor(1);
    expect(JSON.stringify(sink.received[0]?.body)).toContain("kv-drop");
  });
});

describe("Private Link allow entries by tenant, resolved from ARM", () => {
  const PARTNER_TENANT = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
  const OTHER_TENANT = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff";
  const tenantPolicy = (unlisted: "hold" | "reject") => `version: 1
rules:
  - name: private-link-requests
    rule: private-endpoint-connections
    mode: remediate
    severity: high
    options:
      allow:
        - name: partner-tenant
          tenants: ['${PARTNER_TENANT}']
      unlisted: ${unlisted}
`;
  beforeEach(() => {
    // ARM knows the partner's and the stranger's subscriptions (each in its own tenant), not Cassandra's.
    emu.subscriptionTenant(DATABRICKS, PARTNER_TENANT);
    emu.subscriptionTenant(STRANGER, OTHER_TENANT);
    emu.subscriptionTenant(CASSANDRA, undefined);
  });

  it("approves a request from a subscription in the allow-listed tenant, holds one from another tenant and one whose tenant ARM cannot tell", async () => {
    await writeFile(path.join(dir, "policy.yaml"), tenantPolicy("hold"));
    const h = harness();
    const partner = await requestEndpoint(databricksToken, DATABRICKS, "pe-partner", VAULT);
    const other = await requestEndpoint(strangerToken, STRANGER, "pe-other-tenant", VAULT);
    const unknown = await requestEndpoint(cassandraToken, CASSANDRA, "pe-unknown-sub", VAULT);
    await h.deliver(ours(partner.events));
    expect(connectionOf(VAULT, partner.id)).toMatchObject({
      status: "Approved",
      description: expect.stringMatching(/^Approved by network-guardian: allow entry partner-tenant/),
    });
    await h.deliver(ours(other.events));
    await h.deliver(ours(unknown.events));
    expect(connectionOf(VAULT, other.id)?.status).toBe("Pending");
    expect(connectionOf(VAULT, unknown.id)?.status).toBe("Pending");
    expect(guardianWrites()).toHaveLength(1);
    const held = h.audit.filter((a) => a.outcome === "held").map((a) => a.reason);
    expect(held.some((r) => r.includes("not allow-listed"))).toBe(true);
    expect(held.some((r) => r.includes(`ARM does not know subscription ${CASSANDRA}`))).toBe(true);
    // The tenants were asked of ARM without a token (this harness builds its dependencies, and so the cache, per call).
    const lookups = emu.requests.filter((r) => /^\/subscriptions\/[^/]+$/i.test(r.path));
    expect(lookups.every((r) => r.caller === undefined)).toBe(true);
    const answers = new Set(lookups.map((r) => `${r.path.split("/")[2]} ${r.status}`));
    expect([...answers].sort()).toEqual([`${DATABRICKS} 401`, `${STRANGER} 401`, `${CASSANDRA} 404`].sort());
    // One read of the vault showed all three requests: one alert says what was decided about each.
    await sink.waitFor(1);
    const alerts = sink.received.map((r) => JSON.stringify(r.body)).join("\n");
    expect(alerts).toContain("pe-partner");
    expect(alerts).toContain("pe-other-tenant");
    expect(alerts).toContain("tenant could not be determined");
    expect(alerts).toContain(CASSANDRA);
  });

  it("rejects an unlisted tenant's request when told to, but never one whose tenant could not be determined", async () => {
    await writeFile(path.join(dir, "policy.yaml"), tenantPolicy("reject"));
    const h = harness();
    const other = await requestEndpoint(strangerToken, STRANGER, "pe-other-tenant", VAULT);
    const unknown = await requestEndpoint(cassandraToken, CASSANDRA, "pe-unknown-sub", VAULT);
    await h.deliver([...ours(other.events), ...ours(unknown.events)]);
    expect(connectionOf(VAULT, other.id)?.status).toBe("Rejected");
    expect(connectionOf(VAULT, unknown.id)?.status).toBe("Pending");
    // ARM answers the lookup with something other than a challenge: the tenant stays unknown, the request held.
    const later = await requestEndpoint(databricksToken, DATABRICKS, "pe-partner-late", VAULT);
    emu.injectFault({ method: "GET", pathIncludes: `/subscriptions/${DATABRICKS}`, times: 5, status: 400 });
    await harness().deliver(ours(later.events));
    expect(connectionOf(VAULT, later.id)?.status).toBe("Pending");
  });
});
