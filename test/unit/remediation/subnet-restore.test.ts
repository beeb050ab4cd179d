// subnet-restore: one subnet PUT carrying the whole subnet as read, only the offending parts changed, with its etag.
import { describe, expect, it } from "vitest";
import { evaluatePolicy } from "../../../shared/policy/evaluate.ts";
import { parsePolicy } from "../../../shared/policy/load.ts";
import { subnetRestore } from "../../../shared/remediation/subnet-restore.ts";
import type { Finding, Snapshot } from "../../../shared/types.ts";
import {
  type Json,
  load,
  nsgRef,
  routeTableSnap,
  rtRef,
  sepRef,
  subnetIn,
  subnetSnap,
  vnet,
  withSubnet,
} from "../../fixtures/azure/subnet/subnet.ts";

const policy = parsePolicy(`version: 1
subnetRoles:
  private: { names: [snet-private] }
  public: { names: [snet-public] }
firewalls:
  hub: { privateIp: 10.0.1.4 }
rules:
  - name: private
    rule: subnet-role
    mode: remediate
    options:
      role: private
      storageEndpoint: required
      nsg: [${nsgRef("nsg-private")}]
      serviceEndpointPolicies: [${sepRef("sep-datalake")}]
      routeTable: ${rtRef("rt-egress")}
      firewall: hub
  - name: public
    rule: subnet-role
    mode: remediate
    options: { role: public, storageEndpoint: forbidden }
  - name: nsg
    rule: subnet-nsg-required
    mode: remediate
    options: { attach: ${nsgRef("nsg-default")} }
`);

const rt = load("rt-egress.json");
const related = new Map<string, Snapshot | null>([[rtRef("rt-egress").toLowerCase(), routeTableSnap(rt)]]);

function finding(snapshot: Snapshot, entry: string): Finding {
  const found = evaluatePolicy(policy, snapshot, undefined, related).find((e) => e.entry.name === entry);
  if (!found) throw new Error(`no finding of ${entry}`);
  return found.finding;
}

const ctx = { trustedSources: [] };

/** The properties of the subnet a planned PUT sends. */
function propsOf(change: { operation: Record<string, unknown> } | undefined): Json {
  if (!change) throw new Error("nothing planned");
  return (change.operation.subnet as { properties: Json }).properties;
}

describe("subnet-restore", () => {
  it("re-attaches the policy someone removed, everything else as read, guarded by the etag", () => {
    const original = vnet();
    const removed = withSubnet(original, "snet-private", (p) => {
      p.serviceEndpointPolicies = [];
    });
    const snapshot = subnetSnap(removed, "snet-private");
    const change = subnetRestore.plan(snapshot, finding(snapshot, "private"), ctx);
    expect(change?.summary).toBe("subnet snet-private: attach service endpoint policy sep-datalake");
    expect(change?.operation).toMatchObject({
      kind: "put-subnet",
      subnetId: snapshot.resourceId,
      ifMatch: snapshot.etag,
      expect: { serviceEndpointPolicies: [sepRef("sep-datalake")] },
    });
    // The body is the subnet as read (ip configurations, endpoints with their locations, delegations, ...), minus
    // the read-only provisioningState, with the policy back.
    const sent = change?.operation.subnet as Json;
    const { provisioningState: _, ...asRead } = subnetIn(original, "snet-private").properties as Json;
    expect(sent.properties).toEqual(asRead);
    expect(JSON.stringify(Object.keys(sent))).toBe(
      JSON.stringify(Object.keys(subnetIn(removed, "snet-private"))),
    );
    expect(change?.before).toEqual(subnetIn(removed, "snet-private"));
    expect(change?.complete).toBe(true);
  });

  it("puts every writable part back in one PUT and leaves the default route to a person", () => {
    const bare = withSubnet(vnet(), "snet-private", (p) => {
      delete p.networkSecurityGroup;
      delete p.routeTable;
      p.serviceEndpoints = [];
      p.serviceEndpointPolicies = [];
    });
    const snapshot = subnetSnap(bare, "snet-private");
    const f = finding(snapshot, "private");
    const change = subnetRestore.plan(snapshot, f, ctx);
    const props = propsOf(change);
    expect(props.networkSecurityGroup).toEqual({ id: nsgRef("nsg-private") });
    expect(props.routeTable).toEqual({ id: rtRef("rt-egress") });
    expect(props.serviceEndpoints).toEqual([{ service: "Microsoft.Storage" }]);
    expect(props.serviceEndpointPolicies).toEqual([{ id: sepRef("sep-datalake") }]);
    expect(change?.summary).toBe(
      "subnet snet-private: add service endpoint Microsoft.Storage; attach NSG nsg-private; attach service endpoint policy sep-datalake; attach route table rt-egress",
    );
    // What only a person can change is said so, not reported fixed.
    expect(subnetRestore.manual?.(snapshot, f)).toBe(
      "routes inside a route table are not the subnet's to change",
    );
  });

  it("detaches an unapproved policy and keeps the approved one as it was read", () => {
    const rogue = sepRef("sep-anything");
    const v = withSubnet(vnet(), "snet-private", (p) => {
      (p.serviceEndpointPolicies as Json[]).unshift({ id: rogue });
    });
    const snapshot = subnetSnap(v, "snet-private");
    const change = subnetRestore.plan(snapshot, finding(snapshot, "private"), ctx);
    expect(propsOf(change).serviceEndpointPolicies).toEqual([{ id: sepRef("sep-datalake") }]);
    expect(change?.summary).toBe("subnet snet-private: detach sep-anything");
  });

  it("removes a forbidden storage endpoint from a public subnet (and a policy that would be left without it)", () => {
    const v = withSubnet(vnet(), "snet-public", (p) => {
      p.serviceEndpoints = [
        { provisioningState: "Succeeded", service: "Microsoft.KeyVault", locations: ["*"] },
        {
          provisioningState: "Succeeded",
          service: "Microsoft.Storage",
          locations: ["westeurope", "northeurope"],
        },
      ];
    });
    const snapshot = subnetSnap(v, "snet-public");
    const change = subnetRestore.plan(snapshot, finding(snapshot, "public"), ctx);
    const props = propsOf(change);
    expect(props.serviceEndpoints).toEqual([
      { provisioningState: "Succeeded", service: "Microsoft.KeyVault", locations: ["*"] },
    ]);
    expect(change?.operation.expect).toEqual({
      serviceEndpointPolicies: [],
      serviceEndpoints: ["Microsoft.KeyVault"],
    });

    const withPolicy = withSubnet(vnet(), "snet-public", (p) => {
      p.serviceEndpoints = [
        { provisioningState: "Succeeded", service: "Microsoft.Storage", locations: ["westeurope"] },
      ];
      p.serviceEndpointPolicies = [{ id: sepRef("sep-datalake") }];
    });
    const s2 = subnetSnap(withPolicy, "snet-public");
    const c2 = subnetRestore.plan(s2, finding(s2, "public"), ctx);
    expect(propsOf(c2).serviceEndpointPolicies).toEqual([]);
    expect(c2?.summary).toBe(
      "subnet snet-public: remove service endpoint Microsoft.Storage, detach its service endpoint policies",
    );
  });

  it("attaches the NSG an entry names to an ordinary subnet without one", () => {
    const snapshot = subnetSnap(vnet(), "snet-scratch");
    const change = subnetRestore.plan(snapshot, finding(snapshot, "nsg"), ctx);
    expect(change?.summary).toBe("subnet snet-scratch: attach NSG nsg-default");
    expect(change?.operation.expect).toEqual({ networkSecurityGroup: nsgRef("nsg-default") });
  });

  it("plans nothing once the subnet holds what the finding asked (already fixed by someone else)", () => {
    const removed = withSubnet(vnet(), "snet-private", (p) => {
      p.serviceEndpointPolicies = [];
    });
    const f = finding(subnetSnap(removed, "snet-private"), "private");
    expect(subnetRestore.plan(subnetSnap(vnet(), "snet-private"), f, ctx)).toBeUndefined();
    expect(subnetRestore.manual?.(subnetSnap(vnet(), "snet-private"), f)).toBeUndefined();
  });
});

describe("subnet-restore plans together", () => {
  it("fixes the parts of every subnet entry in remediate mode with one PUT", () => {
    const bare = withSubnet(vnet(), "snet-scratch", (p) => {
      p.serviceEndpoints = [{ service: "Microsoft.Storage", locations: ["westeurope"] }];
    });
    const together = parsePolicy(`version: 1
rules:
  - name: sep
    rule: subnet-storage-endpoint-policy
    mode: remediate
    options: { attach: ${sepRef("sep-datalake")} }
  - name: nsg
    rule: subnet-nsg-required
    mode: remediate
    options: { attach: ${nsgRef("nsg-default")} }
`);
    const snapshot = subnetSnap(bare, "snet-scratch");
    const [first, second] = evaluatePolicy(together, snapshot).map((e) => e.finding);
    if (!first || !second) throw new Error("expected two findings");
    const change = subnetRestore.plan(snapshot, first, { trustedSources: [], siblings: [second] });
    expect(change?.summary).toBe(
      "subnet snet-scratch: attach service endpoint policy sep-datalake; attach NSG nsg-default",
    );
    expect(subnetRestore.planTogether).toBe(true);
  });
});

describe("undo", () => {
  it("subnet-restore: an az rest PUT of the subnet as it was, and the portal step", () => {
    const removed = withSubnet(vnet(), "snet-private", (p) => {
      p.serviceEndpointPolicies = [];
    });
    const snapshot = subnetSnap(removed, "snet-private");
    const change = subnetRestore.plan(snapshot, finding(snapshot, "private"), ctx);
    if (!change) throw new Error("nothing planned");
    const step = subnetRestore.undo?.(change);
    expect(step?.command).toMatch(
      /^az rest --method put \\\n {2}--url 'https:\/\/management\.azure\.com\/subscriptions\/.*\/subnets\/snet-private\?api-version=2026-01-01'/,
    );
    expect(step?.command).toContain('"serviceEndpointPolicies":[]');
    expect(step?.portal).toMatch(/Subnets › snet-private/);
  });
});
