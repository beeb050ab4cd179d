// The pipeline's fan-out and related reads over an in-memory Azure network: a network write read once and judged
// subnet by subnet, a route write judged on the subnets using the table, the table read once, a network carried by a
// Resource Notifications event never written from, the blast-radius cap across the fan-out.
import { describe, expect, it } from "vitest";
import { memoryAuditSink } from "../../../shared/audit/index.ts";
import { azureKindOf } from "../../../shared/clouds/azure/kinds/index.ts";
import { subnetSnapshot } from "../../../shared/clouds/azure/kinds/subnet.ts";
import { azureSnapshot } from "../../../shared/clouds/azure/snapshot.ts";
import type { ResourceRef } from "../../../shared/clouds/ports.ts";
import { InputError } from "../../../shared/errors.ts";
import { memoryLogger } from "../../../shared/log.ts";
import { type CloudPort, type GuardianDeps, handleChanges } from "../../../shared/pipeline.ts";
import { parsePolicy } from "../../../shared/policy/load.ts";
import type { PlannedChange, ResourceChange, Snapshot } from "../../../shared/types.ts";
import {
  type Json,
  load,
  rtRef,
  SUB,
  sepRef,
  subnetId,
  subnetIn,
  VNET_ID,
  vnet,
  withSubnet,
} from "../../fixtures/azure/subnet/subnet.ts";

const policyText = (mode: "alert" | "remediate", extra = "") => `version: 1
maxWritesPerEvent: 5
subnetRoles:
  private: { names: [snet-private] }
firewalls:
  hub: { privateIp: 10.0.1.4 }
rules:
  - name: storage-endpoint-needs-policy
    rule: subnet-storage-endpoint-policy
    mode: ${mode}
    options: { attach: ${sepRef("sep-datalake")} }
  - name: private-subnet
    rule: subnet-role
    mode: ${mode}
    options:
      role: private
      serviceEndpointPolicies: [${sepRef("sep-datalake")}]
      firewall: hub
${extra}`;

/** ARM as far as these tests need it: resources by id, subnets read through their network. */
function memoryNetwork(resources: Json[]) {
  const state = new Map(resources.map((r) => [String(r.id).toLowerCase(), structuredClone(r)]));
  const reads: string[] = [];
  const writes: PlannedChange[] = [];
  const read = (ref: ResourceRef): Snapshot | undefined => {
    reads.push(ref.resourceId.split("/").at(-1) ?? "");
    if (ref.resourceType === "microsoft.network/virtualnetworks/subnets") {
      const network = state.get(ref.resourceId.replace(/\/subnets\/[^/]+$/, "").toLowerCase());
      if (!network) return undefined;
      const s = ((network.properties as Json).subnets as Json[]).find(
        (x) => String(x.id).toLowerCase() === ref.resourceId.toLowerCase(),
      );
      return s && subnetSnapshot(network, s);
    }
    const r = state.get(ref.resourceId.toLowerCase());
    const snap = r && azureSnapshot(structuredClone(r), ref.resourceType);
    return snap && { ...snap, origin: "read" };
  };
  const refOf = (resourceId: string, resourceType: string): ResourceRef => ({
    cloud: "azure",
    resourceId,
    resourceType,
    account: SUB,
  });
  const port: CloudPort = {
    reader: { read: async (ref) => read(ref) },
    writer: {
      async apply(change: PlannedChange, snapshot: Snapshot) {
        if (snapshot.origin === "event") throw new InputError("refusing to write from an event's copy");
        writes.push(change);
        const op = change.operation as { subnetId: string; subnet: Json };
        const network = state.get(VNET_ID.toLowerCase()) as Json;
        const subnets = (network.properties as Json).subnets as Json[];
        const i = subnets.findIndex((s) => String(s.id).toLowerCase() === op.subnetId.toLowerCase());
        subnets[i] = structuredClone(op.subnet);
      },
    },
    snapshotFromEvent: (change) => {
      if (change.resource === undefined || azureKindOf(change.resourceType)?.carriedByEvents === false)
        return undefined;
      const s = azureSnapshot(change.resource, change.resourceType);
      return s && { ...s, origin: "event" };
    },
    fanOut: (snapshot) =>
      (azureKindOf(snapshot.resourceType)?.fanOut?.(snapshot) ?? []).map((t) => ({
        ref: refOf(t.resourceId, t.resourceType),
        ...(t.snapshot ? { snapshot: t.snapshot } : {}),
      })),
    related: (snapshot) =>
      (azureKindOf(snapshot.resourceType)?.related?.(snapshot) ?? []).map((r) =>
        refOf(r.resourceId, r.resourceType),
      ),
    consoleUrl: (r) => r.resourceId,
  };
  return { port, reads, writes, state };
}

function deps(port: CloudPort, mode: "alert" | "remediate", extra = ""): GuardianDeps {
  return {
    policy: parsePolicy(policyText(mode, extra)),
    clouds: { azure: port },
    outbox: { enqueue: async () => [] },
    audit: memoryAuditSink(),
    selfIdentities: [],
    dryRun: false,
    log: memoryLogger(),
  };
}

function change(
  resourceId: string,
  resourceType: string,
  over: Partial<ResourceChange> = {},
): ResourceChange {
  return {
    cloud: "azure",
    account: SUB,
    resourceId,
    resourceType,
    operation: "write",
    operationName: `${resourceType}/write`,
    actor: { name: "alice@contoso.com" },
    eventId: "evt-1",
    time: "2026-11-23T10:00:00Z",
    ...over,
  };
}

const VNET = "microsoft.network/virtualnetworks";
const SUBNET = "microsoft.network/virtualnetworks/subnets";
const RT = "microsoft.network/routetables";
const noPolicy = () =>
  withSubnet(vnet(), "snet-private", (p) => {
    p.serviceEndpointPolicies = [];
  });

describe("fan-out", () => {
  it("reads a written network once and judges each of its subnets (route table read once, for the role)", async () => {
    const net = memoryNetwork([noPolicy(), load("rt-egress.json")]);
    const outcomes = await handleChanges([change(VNET_ID, VNET)], deps(net.port, "alert"));
    expect(outcomes.map((o) => o.change.resourceId.split("/").at(-1))).toEqual([
      "vnet-qubole",
      "snet-private",
      "snet-public",
      "GatewaySubnet",
      "AzureBastionSubnet",
      "snet-scratch",
    ]);
    expect(outcomes[1]?.change).toMatchObject({ subjectId: VNET_ID, details: { via: VNET_ID } });
    expect(
      outcomes.flatMap((o) => o.findings.map((f) => [f.resourceId.split("/").at(-1), f.policyRule])),
    ).toEqual([
      ["snet-private", "storage-endpoint-needs-policy"],
      ["snet-private", "private-subnet"],
      ["snet-scratch", "storage-endpoint-needs-policy"],
    ]);
    expect(net.reads).toEqual(["vnet-qubole", "rt-egress"]);
  });

  it("a route write judges the subnets the table names, reusing the table's read for their egress check", async () => {
    const table = load("rt-egress.json");
    const route = (((table.properties as Json).routes as Json[])[0] as Json).properties as Json;
    route.nextHopType = "Internet";
    const net = memoryNetwork([vnet(), table]);
    const routeId = `${rtRef("rt-egress")}/routes/default-via-firewall`;
    const outcomes = await handleChanges(
      [
        change(rtRef("rt-egress"), RT, {
          subjectId: routeId,
          operationName: "Microsoft.Network/routeTables/routes/write",
        }),
      ],
      deps(net.port, "alert"),
    );
    expect(outcomes.map((o) => o.change.resourceId)).toEqual([rtRef("rt-egress"), subnetId("snet-private")]);
    expect(outcomes[1]?.change.subjectId).toBe(routeId);
    expect(outcomes[1]?.findings[0]?.message).toMatch(/0\.0\.0\.0\/0 goes to Internet/);
    expect(net.reads).toEqual(["rt-egress", "snet-private"]);
  });

  it("judges a subnet the delivery names itself once, not again as its network's fan-out", async () => {
    const net = memoryNetwork([noPolicy(), load("rt-egress.json")]);
    const outcomes = await handleChanges(
      [change(subnetId("snet-private"), SUBNET), change(VNET_ID, VNET, { eventId: "evt-2" })],
      deps(net.port, "alert"),
    );
    const ids = outcomes.map((o) => o.change.resourceId.split("/").at(-1));
    expect(ids.filter((id) => id === "snet-private")).toHaveLength(1);
  });

  it("writes from a read, never from the network a Resource Notifications event carried", async () => {
    const carried = noPolicy();
    const net = memoryNetwork([carried, load("rt-egress.json")]);
    const outcomes = await handleChanges(
      [
        change(VNET_ID, VNET, {
          resource: carried,
          operationName: "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated",
        }),
      ],
      deps(net.port, "remediate"),
    );
    // No read of the network for the event itself; the subnet to fix was read before the write.
    expect(net.reads[0]).not.toBe("vnet-qubole");
    expect(net.reads).toContain("snet-private");
    expect(outcomes.flatMap((o) => o.actions.map((a) => a.outcome))).toContain("applied");
    const after = subnetIn(net.state.get(VNET_ID.toLowerCase()) as Json, "snet-private");
    expect((after.properties as Json).serviceEndpointPolicies).toEqual([{ id: sepRef("sep-datalake") }]);
  });

  it("reads the subnets after one of them was written, and caps writes across the fan-out", async () => {
    const both = withSubnet(noPolicy(), "snet-scratch", (p) => {
      p.serviceEndpoints = [{ service: "Microsoft.Storage", locations: ["westeurope"] }];
    });
    const net = memoryNetwork([both, load("rt-egress.json")]);
    const d = deps(net.port, "remediate");
    const outcomes = await handleChanges([change(VNET_ID, VNET)], d);
    expect(net.writes.map((w) => (w.operation as { subnetId: string }).subnetId.split("/").at(-1))).toEqual([
      "snet-private",
      "snet-scratch",
    ]);
    // After the write to snet-private, the later subnets came from fresh reads, not the network's first body.
    expect(net.reads.filter((r) => r === "snet-scratch").length).toBeGreaterThan(0);
    // On snet-private both entries wanted the same policy back: one write fixed both (planned together).
    expect(
      outcomes.flatMap((o) =>
        o.actions
          .filter((a) => a.outcome === "applied")
          .map((a) => [a.finding.resourceId.split("/").at(-1), a.finding.policyRule]),
      ),
    ).toEqual([
      ["snet-private", "storage-endpoint-needs-policy"],
      ["snet-private", "private-subnet"],
      ["snet-scratch", "storage-endpoint-needs-policy"],
    ]);

    const capped = memoryNetwork([both, load("rt-egress.json")]);
    const one = {
      ...deps(capped.port, "remediate"),
      policy: parsePolicy(policyText("remediate").replace("maxWritesPerEvent: 5", "maxWritesPerEvent: 1")),
    };
    const out = await handleChanges([change(VNET_ID, VNET)], one);
    expect(capped.writes).toHaveLength(1);
    expect(out.flatMap((o) => o.actions.map((a) => a.outcome))).toContain("skipped-cap");
  });

  it("reads no route table for a subnet no firewall entry applies to", async () => {
    const net = memoryNetwork([vnet(), load("rt-egress.json")]);
    await handleChanges([change(subnetId("snet-scratch"), SUBNET)], deps(net.port, "alert"));
    expect(net.reads).toEqual(["snet-scratch"]);
    const gone = memoryNetwork([vnet()]);
    const [o] = await handleChanges([change(subnetId("snet-private"), SUBNET)], deps(gone.port, "alert"));
    // The table the subnet names no longer exists: its egress is judged as having none.
    expect(o?.findings[0]?.message).toMatch(/no route table/);
  });
});
