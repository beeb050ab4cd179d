import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { azureSnapshot } from "../../../shared/clouds/azure/snapshot.ts";
import { decidePrivateEndpointConnection } from "../../../shared/remediation/decide-private-endpoint-connection.ts";
import { narrowPrivateLinkService } from "../../../shared/remediation/narrow-private-link-service.ts";
import {
  privateEndpointConnections,
  privateEndpointConnectionsOptions,
} from "../../../shared/rules/private-endpoint-connections.ts";
import {
  privateEndpointTargets,
  privateEndpointTargetsOptions,
} from "../../../shared/rules/private-endpoint-targets.ts";
import {
  narrowed,
  privateLinkServiceLists,
  privateLinkServiceListsOptions,
} from "../../../shared/rules/private-link-service-lists.ts";
import type { RuleContext, TenantLookup } from "../../../shared/rules/types.ts";
import type { Finding, Snapshot } from "../../../shared/types.ts";

const fixture = (name: string, type: string): Snapshot => {
  const json = JSON.parse(readFileSync(`test/fixtures/azure/private-link/${name}`, "utf8")) as unknown;
  const s = azureSnapshot(json, type);
  if (!s) throw new Error(name);
  return s;
};
const vault = () => fixture("key-vault-with-connections.json", "microsoft.keyvault/vaults");
const pls = () => fixture("private-link-service.json", "microsoft.network/privatelinkservices");
const endpoint = () => fixture("private-endpoint-foreign.json", "microsoft.network/privateendpoints");
const DATABRICKS = "3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f";
const OLD = "0f1e2d3c-4b5a-4968-8776-655443322110";
const ctx = { trustedSources: [] };

function connections(options: unknown, snapshot = vault()) {
  return privateEndpointConnections.evaluate(snapshot, privateEndpointConnectionsOptions.parse(options), ctx);
}
const decisions = (vs: ReturnType<typeof connections>) =>
  vs.map((v) => `${String(v.matched[0]?.name).split(".")[0]}:${String(v.matched[0]?.decision)}`);

const asFinding = (v: ReturnType<typeof connections>[number], snapshot: Snapshot): Finding => ({
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

describe("private-endpoint-connections", () => {
  it("approves the allow-listed, holds the unlisted, and flags an approved connection nobody allows any more", () => {
    const vs = connections({ allow: [{ name: "databricks", subscriptions: [DATABRICKS] }] });
    expect(decisions(vs)).toEqual(["pe-databricks:approve", "pe-stranger:hold", "pe-old:hold"]);
    expect(vs[2]?.message).toContain("no longer allow-listed");
    // Keys name connection, state and decision: one decision per keyed finding.
    expect(new Set(vs.map((v) => v.key)).size).toBe(3);
  });

  it("rejects only when told: unlisted reject, per-entry reject, and noLongerAllowed reject", () => {
    expect(decisions(connections({ unlisted: "reject", noLongerAllowed: "reject" }))).toEqual([
      "pe-databricks:reject",
      "pe-stranger:reject",
      "pe-old:reject",
    ]);
    expect(
      decisions(connections({ allow: [{ name: "old", subscriptions: [OLD], decision: "reject" }] })),
    ).toEqual(["pe-databricks:hold", "pe-stranger:hold", "pe-old:reject"]);
  });

  it("first match wins; resource groups and endpoint ids match as case-insensitive patterns", () => {
    const vs = connections({
      allow: [
        { name: "hold-first", resourceGroups: ["DATABRICKS-*"], decision: "hold" },
        { name: "approve-later", endpointIds: ["*/providers/microsoft.network/privateendpoints/pe-*"] },
      ],
    });
    expect(decisions(vs)).toEqual(["pe-databricks:hold", "pe-stranger:approve"]);
  });

  it("a groupIds entry on a provider that does not report the sub-resource holds when the endpoint was not read", () => {
    const vs = connections({
      allow: [{ name: "d", subscriptions: [DATABRICKS], groupIds: ["vault"] }],
      unlisted: "reject",
    });
    expect(decisions(vs)[0]).toBe("pe-databricks:hold");
    expect(vs[0]?.message).toContain("sub-resource requested could not be determined");
  });

  it("names the subscriptions whose tenants it needs only when an entry names tenants", () => {
    const needs = (options: unknown) =>
      privateEndpointConnections.tenantsNeeded?.(vault(), privateEndpointConnectionsOptions.parse(options));
    expect(needs({ allow: [{ name: "d", subscriptions: [DATABRICKS] }] })).toEqual([]);
    expect(needs({ allow: [{ name: "t", tenants: [TENANT] }] })?.sort()).toEqual(
      [DATABRICKS, STRANGER, OLD].sort(),
    );
  });
});

const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TENANT = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
const STRANGER = "e1d2c3b4-a596-4788-9900-aabbccddeeff";

/** A rule context whose tenants were resolved as given (lower-cased subscription → tenant, or why not). */
function withTenants(tenants: Record<string, TenantLookup>): RuleContext {
  return { trustedSources: [], tenantOf: (id) => tenants[id.toLowerCase()] };
}
function tenantDecisions(options: unknown, context: RuleContext, snapshot = vault()) {
  return privateEndpointConnections.evaluate(
    snapshot,
    privateEndpointConnectionsOptions.parse(options),
    context,
  );
}

describe("private-endpoint-connections: allow entries by tenant", () => {
  const resolved = withTenants({
    [DATABRICKS]: { tenantId: TENANT },
    [STRANGER]: { tenantId: OTHER_TENANT },
    [OLD]: { tenantId: TENANT.toUpperCase() },
  });

  it("matches the requester's resolved tenant (case-insensitively) and nobody else's", () => {
    const vs = tenantDecisions({ allow: [{ name: "ours", tenants: [TENANT] }] }, resolved);
    // The approved connection from the same tenant is still allowed: no finding.
    expect(decisions(vs)).toEqual(["pe-databricks:approve", "pe-stranger:hold"]);
    expect(vs[0]?.matched[0]).toMatchObject({ requesterTenant: TENANT, allowEntry: "ours" });
    expect(vs[0]?.message).toContain(`tenant ${TENANT}`);
  });

  it("ANDs a tenant with the entry's other criteria", () => {
    const entry = { name: "t", tenants: [TENANT], resourceGroups: ["databricks-*"] };
    expect(decisions(tenantDecisions({ allow: [entry] }, resolved))).toEqual([
      "pe-databricks:approve",
      "pe-stranger:hold",
      "pe-old:hold",
    ]);
  });

  it("holds a request whose tenant could not be resolved, and says so, whatever the entry would decide", () => {
    const unresolved = withTenants({
      [DATABRICKS]: { unresolved: "ARM does not know subscription x" },
      [STRANGER]: { tenantId: OTHER_TENANT },
      [OLD]: { unresolved: "ARM could not be asked (ECONNRESET)" },
    });
    for (const decision of ["approve", "reject"] as const) {
      const vs = tenantDecisions({ allow: [{ name: "t", tenants: [TENANT], decision }] }, unresolved);
      const databricks = vs.find((v) => /pe-databricks/.test(String(v.matched[0]?.privateEndpointId)));
      expect(databricks?.matched[0]).toMatchObject({
        decision: "hold",
        requesterTenantUnknown: "ARM does not know subscription x",
        allowEntry: "t",
      });
      expect(databricks?.message).toMatch(
        /tenant could not be determined \(ARM does not know subscription x\)/,
      );
    }
  });

  it("never rejects on an unresolved tenant: not by a later entry, not by unlisted, not an approved connection", () => {
    const unresolved = withTenants({}); // nothing resolved (the lookup was not made)
    const options = {
      allow: [
        { name: "ours", tenants: [TENANT] },
        { name: "everyone-else", resourceGroups: ["*"], decision: "reject" },
      ],
      unlisted: "reject",
      noLongerAllowed: "reject",
    };
    const vs = tenantDecisions(options, unresolved);
    expect(decisions(vs)).toEqual(["pe-databricks:hold", "pe-stranger:hold", "pe-old:hold"]);
    expect(vs.every((v) => /could not be determined/.test(v.message))).toBe(true);
    // Without the undetermined tenant entry first, the same requesters are rejected as configured.
    expect(decisions(tenantDecisions({ ...options, allow: options.allow.slice(1) }, unresolved))).toEqual([
      "pe-databricks:reject",
      "pe-stranger:reject",
      "pe-old:reject",
    ]);
  });

  it("an entry another criterion already rules out is no reason to hold", () => {
    const unresolved = withTenants({});
    const options = {
      allow: [
        { name: "other-rg", tenants: [TENANT], resourceGroups: ["nowhere"] },
        { name: "databricks", subscriptions: [DATABRICKS] },
      ],
    };
    expect(decisions(tenantDecisions(options, unresolved))[0]).toBe("pe-databricks:approve");
  });

  it("offline (no lookup at all) a tenant entry matches nobody", () => {
    expect(decisions(connections({ allow: [{ name: "t", tenants: [TENANT] }] }))[0]).toBe(
      "pe-databricks:hold",
    );
  });
  it("targets narrow an entry to our resources by type, id pattern and tags", () => {
    const other = {
      name: "d",
      subscriptions: [DATABRICKS],
      targets: { types: ["Microsoft.Storage/storageAccounts"] },
    };
    expect(decisions(connections({ allow: [other] }))[0]).toBe("pe-databricks:hold");
    const tagged = { name: "d", subscriptions: [DATABRICKS], targets: { tags: { lake: "yes" } } };
    expect(decisions(connections({ allow: [tagged] }))[0]).toBe("pe-databricks:hold");
    const withTag = { ...vault(), tags: { lake: "yes" } };
    expect(decisions(connections({ allow: [tagged] }, withTag))[0]).toBe("pe-databricks:approve");
  });

  it("refuses an allow entry that names no requester", () => {
    expect(() =>
      privateEndpointConnectionsOptions.parse({ allow: [{ name: "x", groupIds: ["blob"] }] }),
    ).toThrow(/at least one of/);
  });

  it("plans a PUT with a description the requester can read, and nothing once the state moved on", () => {
    const snapshot = vault();
    const [approve, hold] = connections(
      { allow: [{ name: "databricks", subscriptions: [DATABRICKS] }] },
      snapshot,
    );
    if (!approve || !hold) throw new Error("findings");
    const planned = decidePrivateEndpointConnection.plan(snapshot, asFinding(approve, snapshot), ctx);
    expect(planned).toMatchObject({
      decision: "approved",
      operation: { kind: "put-private-endpoint-connection", status: "Approved" },
    });
    expect(String(planned?.operation.description)).toMatch(
      /^Approved by network-guardian: allow entry databricks/,
    );
    expect(decidePrivateEndpointConnection.plan(snapshot, asFinding(hold, snapshot), ctx)?.decision).toBe(
      "held",
    );
    const decided = structuredClone(snapshot);
    const item = (
      decided.resource as {
        properties: {
          privateEndpointConnections: {
            properties: { privateLinkServiceConnectionState: { status: string } };
          }[];
        };
      }
    ).properties.privateEndpointConnections[0];
    if (item) item.properties.privateLinkServiceConnectionState.status = "Approved";
    expect(decidePrivateEndpointConnection.plan(decided, asFinding(approve, snapshot), ctx)).toBeUndefined();
  });
});

describe("private-endpoint-targets", () => {
  it("flags an endpoint to a resource outside the allow-list and names it", () => {
    const options = privateEndpointTargetsOptions.parse({
      allow: [{ name: "ours", subscriptions: ["9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f"] }],
    });
    const [v] = privateEndpointTargets.evaluate(endpoint(), options, ctx);
    expect(v?.message).toContain("storageAccounts/dropzone");
    expect(v?.matched[0]).toMatchObject({ problem: "unknown-target", targetSubscription: OLD });
  });

  it("reports an allowed endpoint still pending, with how long it has waited", () => {
    const options = privateEndpointTargetsOptions.parse({ allow: [{ name: "old", subscriptions: [OLD] }] });
    const s = endpoint();
    (s.resource as Record<string, unknown>).systemData = { createdAt: "2026-01-01T00:00:00Z" };
    const [v] = privateEndpointTargets.evaluate(s, options, {
      ...ctx,
      change: { actor: {}, operationName: "sweep", time: "2026-01-01T05:30:00Z" },
    });
    expect(v?.matched[0]).toMatchObject({ problem: "pending", waited: "5 h" });
  });

  it("allows a target by its resolved tenant; an unresolved one is alerted (never removed), a foreign one flagged", () => {
    const byTenant = privateEndpointTargetsOptions.parse({
      allow: [{ name: "partner-tenant", tenants: [TENANT] }],
      reportPending: false,
    });
    expect(privateEndpointTargets.tenantsNeeded?.(endpoint(), byTenant)).toEqual([OLD]);
    const allowed = privateEndpointTargets.evaluate(
      endpoint(),
      byTenant,
      withTenants({ [OLD]: { tenantId: TENANT } }),
    );
    expect(allowed).toEqual([]);
    const foreign = privateEndpointTargets.evaluate(
      endpoint(),
      byTenant,
      withTenants({ [OLD]: { tenantId: OTHER_TENANT } }),
    );
    expect(foreign[0]?.matched[0]).toMatchObject({ problem: "unknown-target", targetTenant: OTHER_TENANT });
    const unknown = privateEndpointTargets.evaluate(
      endpoint(),
      byTenant,
      withTenants({ [OLD]: { unresolved: "ARM could not be asked (timeout)" } }),
    );
    expect(unknown[0]?.matched[0]).toMatchObject({ problem: "tenant-unknown", allowEntry: "partner-tenant" });
    expect(unknown[0]?.message).toContain("could not be determined (ARM could not be asked (timeout))");
    expect(unknown[0]?.alertOnly).toBeDefined();
  });

  it("an alias is allowed only by an alias pattern", () => {
    const s = endpoint();
    const conn = (
      s.resource as {
        properties: {
          manualPrivateLinkServiceConnections: { properties: { privateLinkServiceId: string } }[];
        };
      }
    ).properties.manualPrivateLinkServiceConnections[0];
    if (conn) conn.properties.privateLinkServiceId = "cassandra.0000.westeurope.azure.privatelinkservice";
    const bySub = privateEndpointTargetsOptions.parse({ allow: [{ name: "s", subscriptions: [OLD] }] });
    expect(privateEndpointTargets.evaluate(s, bySub, ctx)[0]?.matched[0]).toMatchObject({
      problem: "unknown-target",
    });
    const byAlias = privateEndpointTargetsOptions.parse({ allow: [{ name: "a", aliases: ["cassandra.*"] }] });
    expect(privateEndpointTargets.evaluate(s, byAlias, ctx)[0]?.matched[0]).toMatchObject({
      problem: "pending",
    });
  });
});

describe("private-link-service-lists", () => {
  it("flags * in autoApproval and visibility and narrows them to the allow-list in one etag-guarded PUT", () => {
    const s = pls();
    const options = privateLinkServiceListsOptions.parse({ visibility: [DATABRICKS] });
    const [v] = privateLinkServiceLists.evaluate(s, options, ctx);
    expect(v?.message).toContain("autoApproval is *");
    const finding = { ...asFinding(v as never, s), ruleId: "private-link-service-lists" };
    const planned = narrowPrivateLinkService.plan(s, finding, ctx);
    expect(planned?.after).toEqual({ autoApproval: [], visibility: [DATABRICKS] });
    const body = planned?.operation.body as { properties: { alias: string } };
    expect(body.properties.alias).toContain("pls-cassandra");
  });

  it("narrowing removes what the allow-list lacks and keeps what it has", () => {
    expect(narrowed(["a", "B", "c"], ["b"])).toEqual(["B"]);
    expect(narrowed(["*", "x"], ["y"])).toEqual(["y"]);
    expect(narrowed([], ["y"])).toEqual([]);
  });
});
