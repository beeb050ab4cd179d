// storage-close-network plans one PATCH of the account's network settings from real-shaped findings: every allowed
// entry goes back byte for byte (unknown fields included), only the offending parts change, and the parts written
// are recorded as evaluated so the writer can compare them with a fresh read.
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { InputError } from "../../../shared/errors.ts";
import { storageCloseNetwork } from "../../../shared/remediation/storage-close-network.ts";
import { storageBlobPublicAccess } from "../../../shared/rules/storage-blob-public-access.ts";
import { storageIpRules } from "../../../shared/rules/storage-ip-rules.ts";
import { storageNetworkAccess } from "../../../shared/rules/storage-network-access.ts";
import { storageTrustedServices } from "../../../shared/rules/storage-trusted-services.ts";
import { storageVnetRules } from "../../../shared/rules/storage-vnet-rules.ts";
import type { RuleDefinition } from "../../../shared/rules/types.ts";
import type { Finding, PlannedChange, Snapshot } from "../../../shared/types.ts";
import {
  account,
  acls,
  FOREIGN_SUBNET,
  loadStorageFixture,
  PRIVATE_SUBNET,
  snapshotOf,
  TUNNEL_IP,
} from "../../fixtures/azure/storage/storage.ts";

type Json = Record<string, unknown>;

function findingOf<O extends z.ZodType>(
  rule: RuleDefinition<O>,
  snapshot: Snapshot,
  options: unknown = {},
): Finding {
  const [v] = rule.evaluate(snapshot, rule.options.parse(options) as z.infer<O>, { trustedSources: [] });
  if (!v) throw new Error(`${rule.id} found nothing`);
  return {
    policyRule: rule.id,
    ruleId: rule.id,
    resourceId: snapshot.resourceId,
    resourceType: snapshot.resourceType,
    severity: "high",
    message: v.message,
    controls: v.controls ?? [],
    matched: v.matched,
  };
}

const ipOptions = { allowedAddresses: ["198.51.100.0/24"], requiredAddresses: [TUNNEL_IP] };
/** The PATCH body's properties of a plan that must exist. */
function bodyOf(planned: PlannedChange | undefined): Json & { networkAcls: Json } {
  if (!planned) throw new Error("no plan");
  return (planned.operation.body as { properties: Json & { networkAcls: Json } }).properties;
}

const plan = (snapshot: Snapshot, finding: Finding, siblings: Finding[] = []) =>
  storageCloseNetwork.plan(snapshot, finding, { trustedSources: [], siblings });

describe("storage-close-network", () => {
  it("the demo: flipped to all networks, tunnel IP removed, a public IP added: one PATCH restores it", () => {
    const original = account((p) =>
      acls(p).ipRules.push({ value: "198.51.100.7", action: "Allow", note: "kept as read" }),
    );
    const changed = structuredClone(original);
    const p = changed.properties as Json;
    acls(p).defaultAction = "Allow";
    acls(p).ipRules = [acls(p).ipRules[1] as Json, { value: "192.0.2.77", action: "Allow" }];
    const snapshot = snapshotOf(changed);

    const planned = plan(snapshot, findingOf(storageNetworkAccess, snapshot), [
      findingOf(storageIpRules, snapshot, ipOptions),
    ]);
    expect(planned?.operation).toEqual({
      kind: "patch-storage-network",
      accountId: snapshot.resourceId,
      expected: { networkAcls: (changed.properties as Json).networkAcls },
      body: {
        properties: {
          networkAcls: {
            bypass: "AzureServices",
            defaultAction: "Deny",
            // The allowed entry exactly as read (its unknown field too), then the required one put back.
            ipRules: [
              { value: "198.51.100.7", action: "Allow", note: "kept as read" },
              { value: TUNNEL_IP, action: "Allow" },
            ],
            resourceAccessRules: [],
            virtualNetworkRules: [{ id: PRIVATE_SUBNET, action: "Allow", state: "Succeeded" }],
          },
        },
      },
    });
    expect(planned?.complete).toBe(true);
    expect(planned?.summary).toBe(
      "close storage account qubolelake: firewall default action set to Deny (was Allow: all networks); " +
        "removed IP rule 192.0.2.77; put back required IP rule 203.0.113.10",
    );
    expect(planned?.before).toEqual({ networkAcls: (changed.properties as Json).networkAcls });
    // Everything but the networkAcls object is left out of the body: no other property is written.
    expect(Object.keys(bodyOf(planned))).toEqual(["networkAcls"]);
  });

  it("keeps the spec example's resource access rule byte for byte when closing it", () => {
    const snapshot = snapshotOf(loadStorageFixture("StorageAccountGetProperties.json"));
    const planned = plan(snapshot, findingOf(storageNetworkAccess, snapshot));
    const before = (snapshot.resource as { properties: Json }).properties.networkAcls as Json;
    expect(bodyOf(planned).networkAcls).toEqual({
      ...before,
      defaultAction: "Deny",
    });
  });

  it("writes a minimal rule set for an account read without one", () => {
    const snapshot = snapshotOf(account((p) => delete p.networkAcls));
    const planned = plan(snapshot, findingOf(storageNetworkAccess, snapshot));
    expect(planned?.operation).toMatchObject({
      expected: { networkAcls: null },
      body: { properties: { networkAcls: { defaultAction: "Deny" } } },
    });
  });

  it("removes only the VNet rules found unapproved, and only if still in their place", () => {
    const snapshot = snapshotOf(
      account((p) =>
        acls(p).virtualNetworkRules.push({ id: FOREIGN_SUBNET, action: "Allow", state: "Succeeded" }),
      ),
    );
    const finding = findingOf(storageVnetRules, snapshot, { subnets: [PRIVATE_SUBNET] });
    expect(bodyOf(plan(snapshot, finding)).networkAcls.virtualNetworkRules).toEqual([
      { id: PRIVATE_SUBNET, action: "Allow", state: "Succeeded" },
    ]);
    // The finding is stale: someone replaced that entry meanwhile. Nothing of theirs is removed.
    const moved = snapshotOf(
      account((p) => acls(p).virtualNetworkRules.push({ id: `${PRIVATE_SUBNET}2`, action: "Allow" })),
    );
    expect(plan(moved, finding)).toBeUndefined();
  });

  it.each([
    ["Logging, Metrics", "add", "Logging, Metrics, AzureServices"],
    ["None", "add", "AzureServices"],
    ["Logging, AzureServices", "remove", "Logging"],
    ["AzureServices", "remove", "None"],
  ])("bypass %j: %s AzureServices → %j", (bypass, want, after) => {
    const snapshot = snapshotOf(account((p) => (acls(p).bypass = bypass)));
    const options = { azureServices: want === "add" ? "required" : "forbidden" };
    const planned = plan(snapshot, findingOf(storageTrustedServices, snapshot, options));
    expect(bodyOf(planned).networkAcls.bypass).toBe(after);
  });

  it("turns anonymous blob access off and writes nothing else", () => {
    const snapshot = snapshotOf(account((p) => (p.allowBlobPublicAccess = true)));
    const planned = plan(snapshot, findingOf(storageBlobPublicAccess, snapshot));
    expect(planned?.operation).toMatchObject({
      expected: { allowBlobPublicAccess: true },
      body: { properties: { allowBlobPublicAccess: false } },
    });
    expect(planned?.before).toEqual({ allowBlobPublicAccess: true });
  });

  it("disables the public endpoint when the entry asks for it", () => {
    const snapshot = snapshotOf(account());
    const finding = findingOf(storageNetworkAccess, snapshot, { publicNetworkAccess: "disabled" });
    expect(plan(snapshot, finding)?.operation).toMatchObject({
      expected: { publicNetworkAccess: "Enabled" },
      body: { properties: { publicNetworkAccess: "Disabled" } },
    });
  });

  it("plans nothing when the account is already as required", () => {
    const closed = snapshotOf(account());
    const open = snapshotOf(account((p) => (acls(p).defaultAction = "Allow")));
    expect(plan(closed, findingOf(storageNetworkAccess, open))).toBeUndefined();
  });

  it("refuses a finding whose part it does not know, or with no list of parts", () => {
    const snapshot = snapshotOf(account());
    const finding = findingOf(
      storageBlobPublicAccess,
      snapshotOf(account((p) => (p.allowBlobPublicAccess = true))),
    );
    expect(() => plan(snapshot, { ...finding, matched: [{ part: "properties.kind" }] })).toThrow(InputError);
    expect(() => plan(snapshot, { ...finding, matched: "x" as unknown as Finding["matched"] })).toThrow(
      InputError,
    );
  });
});
