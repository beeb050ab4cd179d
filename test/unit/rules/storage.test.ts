// The five storage account rules over real-shaped ARM JSON (test/fixtures/azure/storage/README.md): the REST spec's
// GetProperties example, the Qubole closed-endpoint account, and variants of it with one part changed.
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { storageAccount } from "../../../shared/clouds/azure/kinds/storage-account.ts";
import { VNET_TYPE } from "../../../shared/clouds/azure/kinds/virtual-network.ts";
import { azureSnapshot } from "../../../shared/clouds/azure/snapshot.ts";
import { PolicyError, parsePolicy } from "../../../shared/policy/load.ts";
import { storageBlobPublicAccess } from "../../../shared/rules/storage-blob-public-access.ts";
import { storageIpRules } from "../../../shared/rules/storage-ip-rules.ts";
import { storageNetworkAccess } from "../../../shared/rules/storage-network-access.ts";
import { storageTrustedServices } from "../../../shared/rules/storage-trusted-services.ts";
import { storageVnetRules } from "../../../shared/rules/storage-vnet-rules.ts";
import type { RuleContext, RuleDefinition, SubnetRole } from "../../../shared/rules/types.ts";
import type { Snapshot, UnreadableResource } from "../../../shared/types.ts";
import {
  account,
  acls,
  FOREIGN_SUBNET,
  loadStorageFixture,
  OTHER_SUB,
  PRIVATE_SUBNET,
  PUBLIC_SUBNET,
  SUB,
  snapshotOf,
  TUNNEL_IP,
} from "../../fixtures/azure/storage/storage.ts";
import { SUB as VNET_FIXTURE_SUB, vnet as vnetFixture } from "../../fixtures/azure/subnet/subnet.ts";

type Json = Record<string, unknown>;
const noContext: RuleContext = { trustedSources: [] };

function run<O extends z.ZodType>(
  rule: RuleDefinition<O>,
  resource: Json,
  options: unknown = {},
  context = noContext,
) {
  return rule.evaluate(snapshotOf(resource), rule.options.parse(options) as z.infer<O>, context);
}
const matched = <O extends z.ZodType>(
  rule: RuleDefinition<O>,
  resource: Json,
  options: unknown = {},
  context = noContext,
) => run(rule, resource, options, context).flatMap((v) => v.matched);

describe("storage-network-access", () => {
  it("flags the REST spec example: default action Allow, publicNetworkAccess not set", () => {
    const [v] = run(storageNetworkAccess, loadStorageFixture("StorageAccountGetProperties.json"));
    expect(v?.matched).toEqual([
      { part: "networkAcls.defaultAction", value: "Allow", publicNetworkAccess: "Enabled (not set)" },
    ]);
    expect(v?.controls).toEqual([
      "CIS Azure v2.0.0 3.8",
      "CIS Azure v3.0.0 4.7",
      "CIS Azure v3.0.0 4.6",
      "MCSB v1 NS-2",
    ]);
    expect(v?.message).toMatch(/accepts traffic from all networks/);
  });

  it("passes the closed-endpoint account", () => {
    expect(run(storageNetworkAccess, account())).toEqual([]);
  });

  it.each([
    ["no networkAcls at all", (p: Json) => delete p.networkAcls, "Allow (no network rules)"],
    ["a networkAcls without defaultAction", (p: Json) => delete acls(p).defaultAction, "Allow (not set)"],
    ["defaultAction in lower case", (p: Json) => (acls(p).defaultAction = "allow"), "allow"],
  ])("treats %s as Allow", (_what, edit, value) => {
    expect(matched(storageNetworkAccess, account(edit))).toEqual([
      { part: "networkAcls.defaultAction", value, publicNetworkAccess: "Enabled" },
    ]);
  });

  it.each(["Disabled", "disabled", "SecuredByPerimeter"])(
    "leaves an account whose publicNetworkAccess is %s alone, even with default action Allow",
    (value) => {
      const resource = account((p) => {
        p.publicNetworkAccess = value;
        acls(p).defaultAction = "Allow";
      });
      expect(run(storageNetworkAccess, resource)).toEqual([]);
    },
  );

  it("with publicNetworkAccess: disabled, an open public endpoint is a finding even behind Deny", () => {
    expect(matched(storageNetworkAccess, account(), { publicNetworkAccess: "disabled" })).toEqual([
      { part: "publicNetworkAccess", value: "Enabled" },
    ]);
    const open = account((p) => (acls(p).defaultAction = "Allow"));
    expect(
      matched(storageNetworkAccess, open, { publicNetworkAccess: "disabled" }).map((m) => m.part),
    ).toEqual(["networkAcls.defaultAction", "publicNetworkAccess"]);
  });

  it("rejects unknown options", () => {
    expect(storageNetworkAccess.options.safeParse({ publicNetworkAcess: "disabled" }).success).toBe(false);
  });
});

describe("storage-ip-rules", () => {
  const options = { allowedAddresses: ["198.51.100.0/24"], requiredAddresses: [TUNNEL_IP] };

  it("passes the closed account: the tunnel server is required and present", () => {
    expect(run(storageIpRules, account(), options)).toEqual([]);
  });

  it("flags an entry outside the allowed addresses, naming list, place and value", () => {
    const resource = account((p) => acls(p).ipRules.push({ value: "192.0.2.77", action: "Allow" }));
    expect(matched(storageIpRules, resource, options)).toEqual([
      { part: "networkAcls.ipRules", index: 1, value: "192.0.2.77", reason: "not-allowed" },
    ]);
  });

  it("allows entries inside the allowed ranges and the policy's trusted sources", () => {
    const resource = account((p) =>
      acls(p).ipRules.push(
        { value: "198.51.100.7", action: "Allow" },
        { value: "192.0.2.0/28", action: "Allow" },
      ),
    );
    expect(run(storageIpRules, resource, options, { trustedSources: ["192.0.2.0/24"] })).toEqual([]);
  });

  it("flags the world and very wide ranges even inside the allowed addresses", () => {
    const resource = account((p) =>
      acls(p).ipRules.push(
        { value: "0.0.0.0/0", action: "Allow" },
        { value: "198.0.0.0/8", action: "Allow" },
      ),
    );
    expect(matched(storageIpRules, resource, { ...options, allowedAddresses: ["0.0.0.0/0"] })).toEqual([
      { part: "networkAcls.ipRules", index: 1, value: "0.0.0.0/0", reason: "too-wide" },
      { part: "networkAcls.ipRules", index: 2, value: "198.0.0.0/8", reason: "too-wide" },
    ]);
  });

  it("flags a value that is not an address", () => {
    const resource = account((p) => acls(p).ipRules.push({ value: "010.0.0.1", action: "Allow" }));
    expect(matched(storageIpRules, resource, options)).toEqual([
      { part: "networkAcls.ipRules", index: 1, value: "010.0.0.1", reason: "unparseable" },
    ]);
  });

  it("flags a missing required entry, written back as Storage takes it (a bare IP for a /32)", () => {
    const resource = account((p) => (acls(p).ipRules = []));
    expect(matched(storageIpRules, resource, { requiredAddresses: [`${TUNNEL_IP}/32`] })).toEqual([
      { part: "networkAcls.ipRules", missing: TUNNEL_IP, reason: "required-missing" },
    ]);
  });

  it("counts a required address covered only by an offending entry as missing", () => {
    const resource = account((p) => (acls(p).ipRules = [{ value: "203.0.0.0/8", action: "Allow" }]));
    expect(matched(storageIpRules, resource, options)).toEqual([
      { part: "networkAcls.ipRules", index: 0, value: "203.0.0.0/8", reason: "too-wide" },
      { part: "networkAcls.ipRules", missing: TUNNEL_IP, reason: "required-missing" },
    ]);
  });

  it("judges IPv6 rules the same way", () => {
    const resource = account((p) => (acls(p).ipv6Rules = [{ value: "2001:db8::/16", action: "Allow" }]));
    expect(matched(storageIpRules, resource, { ...options, allowedAddresses: ["2001:db8::/32"] })).toEqual([
      { part: "networkAcls.ipv6Rules", index: 0, value: "2001:db8::/16", reason: "too-wide" },
    ]);
  });

  it("rejects a bad address in the options", () => {
    expect(storageIpRules.options.safeParse({ allowedAddresses: ["office"] }).success).toBe(false);
  });
});

describe("storage-vnet-rules", () => {
  it("passes an approved subnet (pattern, case-insensitive)", () => {
    const options = { subnets: [PRIVATE_SUBNET.toLowerCase().replace("/subnets/private", "/subnets/*")] };
    expect(run(storageVnetRules, account(), options)).toEqual([]);
  });

  it("flags an unapproved subnet of the same subscription and one of another subscription", () => {
    const resource = account((p) =>
      acls(p).virtualNetworkRules.push(
        { id: PUBLIC_SUBNET, action: "Allow", state: "Succeeded" },
        { id: FOREIGN_SUBNET, action: "Allow", state: "Succeeded" },
      ),
    );
    expect(matched(storageVnetRules, resource, { subnets: [PRIVATE_SUBNET] })).toEqual([
      { part: "networkAcls.virtualNetworkRules", index: 1, id: PUBLIC_SUBNET, reason: "not-approved" },
      { part: "networkAcls.virtualNetworkRules", index: 2, id: FOREIGN_SUBNET, reason: "other-subscription" },
    ]);
  });

  it("approves by subscription, or the account's own subscription when asked", () => {
    const resource = account((p) =>
      acls(p).virtualNetworkRules.push({ id: FOREIGN_SUBNET, action: "Allow", state: "Succeeded" }),
    );
    expect(run(storageVnetRules, resource, { ownSubscription: true, subscriptions: [OTHER_SUB] })).toEqual(
      [],
    );
    expect(matched(storageVnetRules, resource, { ownSubscription: true })).toEqual([
      { part: "networkAcls.virtualNetworkRules", index: 1, id: FOREIGN_SUBNET, reason: "other-subscription" },
    ]);
    expect(SUB).not.toBe(OTHER_SUB);
  });

  it("flags an id that is not a subnet", () => {
    const resource = account(
      (p) => (acls(p).virtualNetworkRules = [{ id: "/subscriptions/x/oops", action: "Allow" }]),
    );
    expect(matched(storageVnetRules, resource, { ownSubscription: true })).toEqual([
      {
        part: "networkAcls.virtualNetworkRules",
        index: 0,
        id: "/subscriptions/x/oops",
        reason: "not-a-subnet",
      },
    ]);
  });
});

describe("storage-vnet-rules by subnet role", () => {
  const VNET = PRIVATE_SUBNET.slice(0, PRIVATE_SUBNET.indexOf("/subnets/"));
  const FOREIGN_VNET = FOREIGN_SUBNET.slice(0, FOREIGN_SUBNET.indexOf("/subnets/"));
  /** vnet-qubole.json (the subnet fixtures' VNet GET body) in the storage fixtures' subscription, with `tags`. */
  function network(id: string, tags: Record<string, string>): Snapshot {
    const body = JSON.parse(
      JSON.stringify(vnetFixture()).replaceAll(
        `/subscriptions/${VNET_FIXTURE_SUB}/resourceGroups/rg-qubole/providers/Microsoft.Network/virtualNetworks/vnet-qubole`,
        id,
      ),
    ) as Json;
    const snapshot = azureSnapshot({ ...body, tags }, VNET_TYPE);
    if (!snapshot) throw new Error("not a VNet");
    return snapshot;
  }
  const contextWith = (
    roles: Record<string, SubnetRole>,
    networks?: Record<string, Snapshot | UnreadableResource | null>,
  ): RuleContext => {
    const map = new Map(Object.entries(networks ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    return {
      trustedSources: [],
      subnetRoles: roles,
      ...(networks ? { related: (id: string) => map.get(id.toLowerCase()) } : {}),
    };
  };
  const withRules = (...ids: string[]) =>
    account(
      (p) => (acls(p).virtualNetworkRules = ids.map((id) => ({ id, action: "Allow", state: "Succeeded" }))),
    );
  const reads = (resource: Json, options: unknown, context: RuleContext) =>
    storageVnetRules.reads(snapshotOf(resource), storageVnetRules.options.parse(options), context);

  it("approves by role only in the account's own subscription: a foreign subnet's name or network tags are its owner's choice", () => {
    const foreignName = FOREIGN_SUBNET.slice(FOREIGN_SUBNET.lastIndexOf("/") + 1);
    const byName = contextWith({ private: { names: [foreignName] } });
    const resource = withRules(FOREIGN_SUBNET);
    expect(matched(storageVnetRules, resource, { roles: ["private"] }, byName)).toEqual([
      { part: "networkAcls.virtualNetworkRules", index: 0, id: FOREIGN_SUBNET, reason: "other-subscription" },
    ]);
    const byTags = contextWith(
      { private: { tags: { workload: "qubole" } } },
      {
        [FOREIGN_VNET]: network(FOREIGN_VNET, { workload: "qubole" }),
      },
    );
    // Nothing to read: no role can approve a subnet of another subscription.
    expect(reads(resource, { roles: ["private"] }, byTags)).toEqual([]);
    expect(matched(storageVnetRules, resource, { roles: ["private"] }, byTags)).toEqual([
      { part: "networkAcls.virtualNetworkRules", index: 0, id: FOREIGN_SUBNET, reason: "other-subscription" },
    ]);
    // Approving that subscription (or the subnet's id) still works.
    const sub = FOREIGN_SUBNET.split("/")[2] ?? "";
    expect(matched(storageVnetRules, resource, { roles: ["private"], subscriptions: [sub] }, byName)).toEqual(
      [],
    );
  });

  it("approves by a role's subnet names, without reading any network", () => {
    const context = contextWith({ private: { names: ["PRIV*"] } });
    const resource = withRules(PRIVATE_SUBNET, PUBLIC_SUBNET);
    expect(reads(resource, { roles: ["private"] }, context)).toEqual([]);
    expect(matched(storageVnetRules, resource, { roles: ["private"] }, context)).toEqual([
      { part: "networkAcls.virtualNetworkRules", index: 1, id: PUBLIC_SUBNET, reason: "not-approved" },
    ]);
  });

  it("approves by a role's subnet ids, compared without case", () => {
    const context = contextWith({
      private: { ids: [PRIVATE_SUBNET.toUpperCase().replace("/SUBSCRIPTIONS/", "/subscriptions/")] },
    });
    const resource = withRules(PRIVATE_SUBNET.toLowerCase(), FOREIGN_SUBNET);
    expect(reads(resource, { roles: ["private"] }, context)).toEqual([]);
    expect(matched(storageVnetRules, resource, { roles: ["private"] }, context)).toEqual([
      { part: "networkAcls.virtualNetworkRules", index: 1, id: FOREIGN_SUBNET, reason: "other-subscription" },
    ]);
  });

  it("approves by the tags of the subnet's virtual network, read for the evaluation", () => {
    const roles = { private: { tags: { workload: "qubole" } } };
    const resource = withRules(PRIVATE_SUBNET, FOREIGN_SUBNET);
    // The networks are read only for an entry with a role by tags, and only when some rule needs one.
    expect(reads(resource, { roles: ["private"] }, contextWith(roles))).toEqual([VNET_TYPE]);
    expect(
      reads(
        resource,
        { roles: ["private"], ownSubscription: true, subscriptions: [OTHER_SUB] },
        contextWith(roles),
      ),
    ).toEqual([]);
    expect(reads(resource, {}, contextWith(roles))).toEqual([]);
    // The account kind names each rule's network once, by the id the rule writes (the pipeline compares without case).
    expect(
      storageAccount.related(
        snapshotOf(
          withRules(
            PRIVATE_SUBNET,
            PUBLIC_SUBNET.toUpperCase().replace("/SUBSCRIPTIONS/", "/subscriptions/"),
            FOREIGN_SUBNET,
            "/subscriptions/x/oops",
          ),
        ),
      ),
    ).toEqual([
      { resourceId: VNET, resourceType: VNET_TYPE },
      { resourceId: FOREIGN_VNET, resourceType: VNET_TYPE },
    ]);

    const context = contextWith(roles, {
      // Keyed as ARM spells it; the rule writes the id lower-cased: still the same network.
      [VNET.toUpperCase()]: network(VNET, { workload: "qubole" }),
      [FOREIGN_VNET]: network(FOREIGN_VNET, { workload: "other" }),
    });
    expect(
      matched(
        storageVnetRules,
        withRules(PRIVATE_SUBNET.toLowerCase(), FOREIGN_SUBNET),
        { roles: ["private"] },
        context,
      ),
    ).toEqual([
      { part: "networkAcls.virtualNetworkRules", index: 1, id: FOREIGN_SUBNET, reason: "other-subscription" },
    ]);
    // Tag values are compared as written: `Qubole` is not `qubole`.
    const wrongCase = contextWith(roles, { [VNET]: network(VNET, { workload: "Qubole" }) });
    expect(matched(storageVnetRules, withRules(PRIVATE_SUBNET), { roles: ["private"] }, wrongCase)).toEqual([
      { part: "networkAcls.virtualNetworkRules", index: 0, id: PRIVATE_SUBNET, reason: "not-approved" },
    ]);
  });

  it("with names and tags both must match: a name that does not match needs no network", () => {
    const roles = { private: { names: ["private"], tags: { workload: "qubole" } } };
    const resource = withRules(PRIVATE_SUBNET, PUBLIC_SUBNET);
    const context = contextWith(roles, { [VNET]: network(VNET, { workload: "qubole" }) });
    expect(matched(storageVnetRules, resource, { roles: ["private"] }, context)).toEqual([
      { part: "networkAcls.virtualNetworkRules", index: 1, id: PUBLIC_SUBNET, reason: "not-approved" },
    ]);
  });

  it("a network that no longer exists approves nothing: a finding the remediation removes, saying why", () => {
    const roles = { private: { tags: { workload: "qubole" } } };
    const [v, ...rest] = run(
      storageVnetRules,
      withRules(PRIVATE_SUBNET),
      { roles: ["private"] },
      contextWith(roles, { [VNET]: null }),
    );
    expect(rest).toEqual([]);
    expect(v?.alertOnly).toBeUndefined();
    expect(v?.matched).toEqual([
      { part: "networkAcls.virtualNetworkRules", index: 0, id: PRIVATE_SUBNET, reason: "network-gone" },
    ]);
    expect(v?.message).toMatch(/not approved: its virtual network could not be read \(it no longer exists\)/);
  });

  it("a network the cloud refused to show approves nothing: alerted with the reason, never removed", () => {
    const roles = { private: { tags: { workload: "qubole" } } };
    const refused = { unreadable: "read X refused (403): AuthorizationFailed" };
    const violations = run(
      storageVnetRules,
      withRules(PRIVATE_SUBNET, PUBLIC_SUBNET),
      { roles: ["private"], subnets: [PUBLIC_SUBNET] },
      contextWith(roles, { [VNET]: refused }),
    );
    expect(violations).toHaveLength(1);
    const [v] = violations;
    expect(v?.kind).toBe("network-unreadable");
    expect(v?.alertOnly).toMatch(/could not be read/);
    expect(v?.matched).toEqual([
      {
        part: "networkAcls.virtualNetworkRules",
        index: 0,
        id: PRIVATE_SUBNET,
        reason: "network-unreadable",
        detail: refused.unreadable,
      },
    ]);
    expect(v?.message).toContain("not approved: its virtual network could not be read (read X refused (403)");
  });

  it("a network not read (offline, its JSON not given) is not judged", () => {
    const roles = { private: { tags: { workload: "qubole" } } };
    expect(
      run(storageVnetRules, withRules(PRIVATE_SUBNET), { roles: ["private"] }, contextWith(roles, {})),
    ).toEqual([]);
    expect(
      run(storageVnetRules, withRules(PRIVATE_SUBNET), { roles: ["private"] }, contextWith(roles)),
    ).toEqual([]);
  });

  it("the policy loader names an unknown role by YAML path and line", () => {
    const text = `version: 1
subnetRoles:
  private: { names: [private] }
rules:
  - name: storage-approved-subnets
    rule: storage-vnet-rules
    options:
      roles:
        - private
        - privat
`;
    let problems: PolicyError["problems"] = [];
    try {
      parsePolicy(text, "p.yaml");
    } catch (error) {
      if (!(error instanceof PolicyError)) throw error;
      problems = error.problems;
    }
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ path: "rules[0].options.roles[1]", line: 10 });
    expect(problems[0]?.message).toMatch(/no subnet role "privat" in subnetRoles \(private\)/);
    expect(parsePolicy(text.replace("- privat\n", "")).rules).toHaveLength(1);
  });
});

describe("storage-trusted-services", () => {
  it.each([
    ["AzureServices", true],
    ["Logging, Metrics, AzureServices", true],
    ["logging,azureservices", true],
    ["None", false],
    ["Logging, Metrics", false],
  ])("bypass %j: AzureServices %s", (bypass, present) => {
    const resource = account((p) => (acls(p).bypass = bypass));
    expect(run(storageTrustedServices, resource).length).toBe(present ? 0 : 1);
    expect(run(storageTrustedServices, resource, { azureServices: "forbidden" }).length).toBe(
      present ? 1 : 0,
    );
  });

  it("takes an absent bypass as the REST default, AzureServices", () => {
    const resource = account((p) => delete acls(p).bypass);
    expect(run(storageTrustedServices, resource)).toEqual([]);
    expect(matched(storageTrustedServices, resource, { azureServices: "forbidden" })).toEqual([
      { part: "networkAcls.bypass", value: null, azureServices: "remove" },
    ]);
  });

  it("names the part and the CIS control when required and missing", () => {
    const [v] = run(
      storageTrustedServices,
      account((p) => (acls(p).bypass = "None")),
    );
    expect(v?.matched).toEqual([{ part: "networkAcls.bypass", value: "None", azureServices: "add" }]);
    expect(v?.controls).toEqual(["CIS Azure v2.0.0 3.9", "CIS Azure v3.0.0 4.8", "MCSB v1 NS-2"]);
  });
});

describe("storage-blob-public-access", () => {
  it("passes an explicit false", () => {
    expect(run(storageBlobPublicAccess, account())).toEqual([]);
  });

  it.each([
    ["true", (p: Json) => (p.allowBlobPublicAccess = true), true],
    ["1 (Resource Notifications)", (p: Json) => (p.allowBlobPublicAccess = 1), true],
    ["absent", (p: Json) => delete p.allowBlobPublicAccess, null],
  ])("flags %s", (_what, edit, value) => {
    expect(matched(storageBlobPublicAccess, account(edit))).toEqual([
      { part: "allowBlobPublicAccess", value },
    ]);
  });

  it("takes 0 as false", () => {
    expect(
      run(
        storageBlobPublicAccess,
        account((p) => (p.allowBlobPublicAccess = 0)),
      ),
    ).toEqual([]);
  });

  it("flags the REST spec example, which never sets it", () => {
    expect(run(storageBlobPublicAccess, loadStorageFixture("StorageAccountGetProperties.json"))).toHaveLength(
      1,
    );
  });
});
