// Subnet rules over real-shaped ARM JSON: the REST spec examples and the Qubole estate (test/fixtures/azure/subnet).
import { describe, expect, it } from "vitest";
import { subnetSnapshot } from "../../../shared/clouds/azure/kinds/subnet.ts";
import { azureSnapshot } from "../../../shared/clouds/azure/snapshot.ts";
import { evaluatePolicy, relatedTypes } from "../../../shared/policy/evaluate.ts";
import { PolicyError, parsePolicy } from "../../../shared/policy/load.ts";
import type { Snapshot, UnreadableResource } from "../../../shared/types.ts";
import {
  type Json,
  load,
  nsgRef,
  routeTableSnap,
  rtRef,
  SUB,
  sepRef,
  subnetIn,
  subnetSnap,
  vnet,
  withSubnet,
} from "../../fixtures/azure/subnet/subnet.ts";

const roles = `subnetRoles:
  private: { names: [snet-private] }
  public: { names: [snet-public, "*-bastion"] }
  databricks: { tags: { workload: databricks } }
  pinned: { ids: [/subscriptions/${SUB}/resourceGroups/rg-qubole/providers/Microsoft.Network/virtualNetworks/vnet-qubole/subnets/snet-scratch] }
firewalls:
  hub: { privateIp: 10.0.1.4 }
`;

function policy(rules: string, extra = roles) {
  return parsePolicy(`version: 1\n${extra}rules:\n${rules}`);
}

const related = (...tables: Json[]) =>
  new Map<string, Snapshot | null>(tables.map((t) => [String(t.id).toLowerCase(), routeTableSnap(t)]));

function findings(rules: string, snapshot: Snapshot, rel?: Map<string, Snapshot | null>) {
  return evaluatePolicy(policy(rules), snapshot, undefined, rel).map((e) => e.finding);
}

const endpointPolicy = `  - name: sep
    rule: subnet-storage-endpoint-policy
`;

describe("subnet-storage-endpoint-policy", () => {
  it("flags the spec's subnet with the Microsoft.Storage endpoint and no policy", () => {
    const subnet = load("SubnetCreateServiceEndpoint.json");
    const snapshot = azureSnapshot(subnet, "microsoft.network/virtualnetworks/subnets") as Snapshot;
    const [f] = findings(endpointPolicy, snapshot);
    expect(f?.message).toMatch(
      /subnet1 has the Microsoft\.Storage service endpoint and no service endpoint policy/,
    );
    expect(f?.matched).toEqual([
      {
        part: "serviceEndpointPolicies",
        current: [],
        manual: "no service endpoint policy to attach is named (options.attach)",
        services: ["Microsoft.Storage"],
        why: "the Microsoft.Storage service endpoint has no service endpoint policy",
      },
    ]);
  });

  it("passes the spec's VNet whose subnet carries a policy", () => {
    const v = load("VirtualNetworkCreateServiceEndpointPolicy.json");
    const s = subnetSnapshot(v, subnetIn(v, "test-1")) as Snapshot;
    expect(findings(endpointPolicy, s)).toEqual([]);
  });

  it("counts Microsoft.Storage.Global and any spelling of the service, not other services", () => {
    expect(findings(endpointPolicy, subnetSnap(vnet(), "snet-scratch"))).toHaveLength(1);
    const lower = withSubnet(vnet(), "snet-scratch", (p) => {
      p.serviceEndpoints = [{ service: "microsoft.storage", locations: ["westeurope"] }];
    });
    expect(findings(endpointPolicy, subnetSnap(lower, "snet-scratch"))).toHaveLength(1);
    const sql = withSubnet(vnet(), "snet-scratch", (p) => {
      p.serviceEndpoints = [{ service: "Microsoft.Sql", locations: ["westeurope"] }];
    });
    expect(findings(endpointPolicy, subnetSnap(sql, "snet-scratch"))).toEqual([]);
    // A subnet with no endpoint at all needs no policy.
    expect(findings(endpointPolicy, subnetSnap(vnet(), "snet-public"))).toEqual([]);
    // Any policy satisfies the baseline rule (which one is the role rule's business).
    expect(findings(endpointPolicy, subnetSnap(vnet(), "snet-private"))).toEqual([]);
  });

  it("says what it would attach when the entry names a policy", () => {
    const [f] = findings(
      `  - name: sep\n    rule: subnet-storage-endpoint-policy\n    options: { attach: ${sepRef("sep-datalake")} }\n`,
      subnetSnap(vnet(), "snet-scratch"),
    );
    expect(f?.matched[0]).toMatchObject({ part: "serviceEndpointPolicies", want: [sepRef("sep-datalake")] });
  });
});

describe("subnet-nsg-required", () => {
  const rule = `  - name: nsg\n    rule: subnet-nsg-required\n`;

  it("flags an ordinary subnet without an NSG (spec example and ours)", () => {
    const v = load("VirtualNetworkGet.json");
    expect(findings(rule, subnetSnapshot(v, subnetIn(v, "subnet1")) as Snapshot)[0]?.message).toBe(
      "Subnet subnet1 has no network security group",
    );
    expect(findings(rule, subnetSnap(vnet(), "snet-scratch"))).toHaveLength(1);
    expect(findings(rule, subnetSnap(vnet(), "snet-private"))).toEqual([]);
  });

  it.each([
    "GatewaySubnet",
    "AzureFirewallSubnet",
    "AzureFirewallManagementSubnet",
    "RouteServerSubnet",
    "AzureBastionSubnet",
  ])("never flags %s", (name) => {
    const v = withSubnet(vnet(), "snet-scratch", () => undefined);
    const s = subnetIn(v, "snet-scratch");
    s.name = name;
    s.id = String(s.id).replace("snet-scratch", name);
    expect(findings(rule, subnetSnapshot(v, s) as Snapshot)).toEqual([]);
  });

  it("never flags a subnet delegated to Dedicated HSM, and honours extra exempt names", () => {
    const hsm = withSubnet(vnet(), "snet-scratch", (p) => {
      p.delegations = [
        {
          name: "hsm",
          properties: { serviceName: "Microsoft.HardwareSecurityModules/dedicatedHSMs", actions: [] },
        },
      ];
    });
    expect(findings(rule, subnetSnap(hsm, "snet-scratch"))).toEqual([]);
    const exempt = `  - name: nsg\n    rule: subnet-nsg-required\n    options: { exemptNames: ["snet-scr*"] }\n`;
    expect(findings(exempt, subnetSnap(vnet(), "snet-scratch"))).toEqual([]);
  });
});

const privateRole = (extra: string) => `  - name: private
    rule: subnet-role
    options:
      role: private
${extra}`;

describe("subnet-role", () => {
  const full = privateRole(`      storageEndpoint: required
      nsg: [${nsgRef("nsg-private")}]
      serviceEndpointPolicies: [${sepRef("sep-datalake")}]
      routeTable: ${rtRef("rt-egress")}
      firewall: hub
`);
  const rt = load("rt-egress.json");

  it("passes the private subnet as built, and only evaluates subnets of the role", () => {
    expect(findings(full, subnetSnap(vnet(), "snet-private"), related(rt))).toEqual([]);
    expect(findings(full, subnetSnap(vnet(), "snet-scratch"), related(rt))).toEqual([]);
  });

  it("reports each missing part with what to put back, in one finding", () => {
    const bare = withSubnet(vnet(), "snet-private", (p) => {
      delete p.networkSecurityGroup;
      delete p.routeTable;
      p.serviceEndpoints = [];
      p.serviceEndpointPolicies = [];
    });
    const [f] = findings(full, subnetSnap(bare, "snet-private"), related(rt));
    expect(f?.matched).toEqual([
      expect.objectContaining({ part: "serviceEndpoints", add: ["Microsoft.Storage"] }),
      expect.objectContaining({ part: "networkSecurityGroup", current: null, attach: nsgRef("nsg-private") }),
      expect.objectContaining({
        part: "serviceEndpointPolicies",
        current: [],
        want: [sepRef("sep-datalake")],
      }),
      expect.objectContaining({ part: "routeTable", current: null, attach: rtRef("rt-egress") }),
      expect.objectContaining({ part: "defaultRoute", routeTable: null }),
    ]);
    expect(f?.message).toMatch(/no route table: 0\.0\.0\.0\/0 takes the system route to the Internet/);
  });

  it("flags an unapproved policy next to an approved one, and keeps the approved one", () => {
    const rogue = sepRef("sep-anything");
    const v = withSubnet(vnet(), "snet-private", (p) => {
      (p.serviceEndpointPolicies as Json[]).push({ id: rogue });
    });
    const [f] = findings(full, subnetSnap(v, "snet-private"), related(rt));
    expect(f?.matched).toEqual([
      expect.objectContaining({
        part: "serviceEndpointPolicies",
        current: [sepRef("sep-datalake"), rogue],
        want: [sepRef("sep-datalake")],
      }),
    ]);
  });

  it("compares ids without case, as ARM does", () => {
    const v = withSubnet(vnet(), "snet-private", (p) => {
      p.networkSecurityGroup = { id: nsgRef("nsg-private").toUpperCase() };
    });
    expect(findings(full, subnetSnap(v, "snet-private"), related(rt))).toEqual([]);
  });

  it("flags another NSG or route table, naming both", () => {
    const v = withSubnet(vnet(), "snet-private", (p) => {
      p.networkSecurityGroup = { id: nsgRef("nsg-open") };
      p.routeTable = { id: rtRef("rt-direct") };
    });
    const direct = { ...structuredClone(rt), id: rtRef("rt-direct"), name: "rt-direct" };
    const [f] = findings(full, subnetSnap(v, "snet-private"), related(direct));
    expect(f?.message).toMatch(/carries NSG nsg-open, not nsg-private/);
    expect(f?.message).toMatch(/uses route table rt-direct, not rt-egress/);
  });

  describe("egress through the firewall", () => {
    const egress = privateRole("      firewall: hub\n");
    const withRoutes = (routes: Json[]) => {
      const t = structuredClone(rt);
      (t.properties as Json).routes = routes;
      return t;
    };
    const route = (name: string, addressPrefix: string, nextHopType: string, nextHopIpAddress?: string) => ({
      name,
      properties: { addressPrefix, nextHopType, ...(nextHopIpAddress ? { nextHopIpAddress } : {}) },
    });
    const evalWith = (table: Json, options = egress) =>
      findings(options, subnetSnap(vnet(), "snet-private"), related(table));

    it("passes 0.0.0.0/0 to the firewall with private and gateway routes beside it", () => {
      expect(evalWith(rt)).toEqual([]);
      expect(
        evalWith(
          withRoutes([
            route("d", "0.0.0.0/0", "VirtualAppliance", "10.0.1.4"),
            route("blackhole", "203.0.113.0/24", "None"),
            route("vnet", "10.20.0.0/16", "VnetLocal"),
          ]),
        ),
      ).toEqual([]);
    });

    it("flags a default route to the Internet, another appliance, or none at all", () => {
      expect(evalWith(withRoutes([route("d", "0.0.0.0/0", "Internet")]))[0]?.message).toMatch(
        /0\.0\.0\.0\/0 goes to Internet, not the firewall \(VirtualAppliance 10\.0\.1\.4\)/,
      );
      expect(
        evalWith(withRoutes([route("d", "0.0.0.0/0", "VirtualAppliance", "10.0.1.5")]))[0]?.message,
      ).toMatch(/goes to VirtualAppliance 10\.0\.1\.5/);
      // The spec example's one route (to the gateway), as the subnet's table.
      const spec = { ...load("RouteTableGet.json"), id: rtRef("rt-egress") };
      expect(evalWith(spec)[0]?.message).toMatch(/no 0\.0\.0\.0\/0 route/);
    });

    it("flags more specific routes that send public destinations around the firewall", () => {
      const bypass = withRoutes([
        route("d", "0.0.0.0/0", "VirtualAppliance", "10.0.1.4"),
        route("half", "0.0.0.0/1", "Internet"),
        route("monitor", "AzureMonitor", "Internet"),
        route("private", "10.30.0.0/16", "Internet"),
      ]);
      const [f] = evalWith(bypass);
      expect(f?.matched.map((m) => m.route)).toEqual(["half", "monitor"]);
      const allowed = privateRole("      firewall: hub\n      bypassAllowed: [AzureMonitor]\n");
      expect(evalWith(bypass, allowed)[0]?.matched.map((m) => m.route)).toEqual(["half"]);
    });

    it("reads the route table only for subnets of the role, and judges nothing when it was not read", () => {
      const p = policy(egress);
      expect([...relatedTypes(p, subnetSnap(vnet(), "snet-private"))]).toEqual([
        "microsoft.network/routetables",
      ]);
      expect([...relatedTypes(p, subnetSnap(vnet(), "snet-scratch"))]).toEqual([]);
      expect(findings(egress, subnetSnap(vnet(), "snet-private"))).toEqual([]);
      const gone = new Map<string, Snapshot | null>([[rtRef("rt-egress").toLowerCase(), null]]);
      expect(findings(egress, subnetSnap(vnet(), "snet-private"), gone)[0]?.message).toMatch(
        /no route table/,
      );
      // A table ARM refused to show (403) cannot show egress through the firewall: said, never passed.
      const refused = new Map<string, Snapshot | UnreadableResource | null>([
        [
          rtRef("rt-egress").toLowerCase(),
          { unreadable: "read rt-egress refused (403): AuthorizationFailed" },
        ],
      ]);
      const [f] = evaluatePolicy(policy(egress), subnetSnap(vnet(), "snet-private"), undefined, refused);
      expect(f?.finding.message).toMatch(
        /route table rt-egress could not be read \(read rt-egress refused \(403\)/,
      );
      expect(f?.finding.matched).toEqual([
        expect.objectContaining({
          part: "defaultRoute",
          manual: expect.any(String),
          routeTable: rtRef("rt-egress"),
        }),
      ]);
    });
  });

  it("public subnets must not carry the storage endpoint", () => {
    const rule = `  - name: public
    rule: subnet-role
    options: { role: public, storageEndpoint: forbidden }
`;
    expect(findings(rule, subnetSnap(vnet(), "snet-public"))).toEqual([]);
    const opened = withSubnet(vnet(), "snet-public", (p) => {
      p.serviceEndpoints = [
        { service: "Microsoft.Storage", locations: ["westeurope"], provisioningState: "Succeeded" },
      ];
    });
    const [f] = findings(rule, subnetSnap(opened, "snet-public"));
    expect(f?.matched).toEqual([
      expect.objectContaining({ part: "serviceEndpoints", remove: ["Microsoft.Storage"] }),
    ]);
  });

  it("matches roles by name pattern, by the network's tags and by id", () => {
    const databricks = `  - name: dbx\n    rule: subnet-role\n    options: { role: databricks, nsg: any }\n`;
    const tagged = structuredClone(vnet());
    tagged.tags = { workload: "databricks" };
    // Every subnet of a network tagged for the role has it; subnets carry no tags of their own.
    expect(findings(databricks, subnetSnap(tagged, "snet-scratch"))).toHaveLength(1);
    expect(findings(databricks, subnetSnap(vnet(), "snet-scratch"))).toEqual([]);
    // Azure tag names are case-insensitive: a network tagged Workload has the role a policy gives `workload`.
    const capitalised = structuredClone(vnet());
    capitalised.tags = { Workload: "databricks" };
    expect(findings(databricks, subnetSnap(capitalised, "snet-scratch"))).toHaveLength(1);
    const pinned = `  - name: pin\n    rule: subnet-role\n    options: { role: pinned, nsg: any }\n`;
    expect(findings(pinned, subnetSnap(vnet(), "snet-scratch"))[0]?.matched[0]).toMatchObject({
      part: "networkSecurityGroup",
      manual: "the role asks for any NSG and names none to attach",
    });
  });
});

describe("policy checks for subnet entries", () => {
  const problems = (text: string) => {
    try {
      parsePolicy(text);
    } catch (error) {
      if (error instanceof PolicyError) return error.problems.map((p) => `${p.path}: ${p.message}`);
      throw error;
    }
    return [];
  };

  it("names an unknown role or firewall, and an unknown option, by YAML path", () => {
    expect(
      problems(
        `version: 1\n${roles}rules:\n${privateRole("      firewall: edge\n").replace("role: private", "role: privat")}`,
      ),
    ).toEqual([
      expect.stringMatching(/^rules\[0\]\.options\.role: no subnet role "privat"/),
      expect.stringMatching(/^rules\[0\]\.options\.firewall: no firewall "edge"/),
    ]);
    expect(problems(`version: 1\n${roles}rules:\n${privateRole("      nsgs: any\n")}`)[0]).toMatch(
      /rules\[0\]\.options.*nsgs/,
    );
    expect(problems(`version: 1\nsubnetRoles:\n  private: {}\nrules:\n${privateRole("")}`)[0]).toMatch(
      /subnetRoles\.private: a subnet role needs ids, names or tags/,
    );
  });

  it("refuses remediate where the remediation would have nothing to attach", () => {
    expect(
      problems(
        `version: 1\nrules:\n  - name: sep\n    rule: subnet-storage-endpoint-policy\n    mode: remediate\n`,
      ),
    ).toEqual(["rules[0].options.attach: remediate attaches a service endpoint policy: name it in attach"]);
    expect(
      problems(
        `version: 1\n${roles}rules:\n${privateRole("      nsg: any\n").replace("rule: subnet-role", "rule: subnet-role\n    mode: remediate")}`,
      ),
    ).toEqual([
      "rules[0].options.nsg: remediate re-attaches an NSG: list the approved NSG ids instead of any",
    ]);
  });
});
