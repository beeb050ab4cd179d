// The exfiltration guard end to end: the Event Grid Function, the real SDK clients against the ARM emulator, the
// webhook sink. Someone removes the service endpoint policy from the private subnet, widens the policy to a whole
// other subscription, rewrites the network from a template, turns the default route to the Internet; the guardian
// alerts (or puts things back in remediate mode), never overwrites a concurrent edit and recognises its own writes.

import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Subnet } from "@azure/arm-network";
import { type EventGridEvent, InvocationContext } from "@azure/functions";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createOnChangeHandler } from "../../functions/on-change.ts";
import { azureGuardianDeps } from "../../shared/clouds/azure/runtime.ts";
import { parseConfig } from "../../shared/config.ts";
import { type Logger, memoryLogger } from "../../shared/log.ts";
import type { AuditRecord } from "../../shared/types.ts";
import {
  type ArmEmulator,
  DEFAULT_SUBSCRIPTION_ID,
  mintToken,
  networkClientFor,
  rawArmRequest,
  startArmEmulator,
  staticTokenCredential,
} from "../harness/arm-emulator/index.ts";
import { startWebhookSink, type WebhookSink } from "../harness/webhook-sink.ts";

const SUB = DEFAULT_SUBSCRIPTION_ID;
const DATA = "0b7e5c3a-1d2f-4a6b-8c9d-e0f1a2b3c4d5";
const ROGUE = "6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a";
const RG = "rg-qubole";
const NET = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network`;
const VNET_ID = `${NET}/virtualNetworks/vnet-qubole`;
const PRIVATE_ID = `${VNET_ID}/subnets/snet-private`;
const SEP_ID = `${NET}/serviceEndpointPolicies/sep-datalake`;
const LAKE = `/subscriptions/${DATA}/resourceGroups/rg-datalake/providers/Microsoft.Storage/storageAccounts/stqubolelake`;
const LOGS = `/subscriptions/${DATA}/resourceGroups/rg-logs`;
const API = "api-version=2026-01-01";
const fast = { updateIntervalInMs: 0 };

const GUARDIAN_OID = "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d";
const guardianToken = mintToken({
  oid: GUARDIAN_OID,
  appid: "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
  idtyp: "app",
});
const aliceToken = mintToken({
  oid: "7f1c9a52-3e4b-4d8a-9b6c-1a2b3c4d5e6f",
  upn: "alice@contoso.com",
  name: "Alice",
});
const bobToken = mintToken({
  oid: "8a2d0b63-4f5c-4e9b-8c7d-2b3c4d5e6f70",
  upn: "bob@contoso.com",
  name: "Bob",
});

const policy = (mode: "alert" | "remediate") => `version: 1
subnetRoles:
  private: { names: [snet-private] }
  public: { names: [snet-public] }
firewalls:
  hub: { privateIp: 10.0.1.4 }
rules:
  - name: storage-endpoint-needs-policy
    rule: subnet-storage-endpoint-policy
    mode: alert
    severity: high
  - name: private-subnet
    rule: subnet-role
    mode: ${mode}
    severity: critical
    options:
      role: private
      storageEndpoint: required
      nsg: [${NET}/networkSecurityGroups/nsg-private]
      serviceEndpointPolicies: [${SEP_ID}]
      routeTable: ${NET}/routeTables/rt-egress
      firewall: hub
  - name: public-subnet
    rule: subnet-role
    mode: ${mode}
    options: { role: public, storageEndpoint: forbidden }
  - name: data-lake-only
    rule: sep-allowed-resources
    mode: ${mode}
    severity: critical
    options: { allow: [${LAKE}, ${LOGS}] }
  - name: egress-locked
    rule: nsg-egress-lockdown
    mode: ${mode}
    severity: critical
    scope: { tags: { egress: deny-by-default } }
    options: { firewall: hub }
`;

let emu: ArmEmulator;
let sink: WebhookSink;
let dir: string;
const alice = () => networkClientFor(emu, aliceToken);

beforeAll(async () => {
  [emu, sink] = await Promise.all([startArmEmulator({ lroPolls: 1 }), startWebhookSink()]);
  dir = await mkdtemp(path.join(tmpdir(), "guardian-subnets-"));
  await writeFile(path.join(dir, "ca.pem"), emu.ca);
  await writeFile(path.join(dir, "alert.yaml"), policy("alert"));
  await writeFile(path.join(dir, "remediate.yaml"), policy("remediate"));
});
afterAll(async () => Promise.all([emu?.stop(), sink?.stop()]));
beforeEach(() => {
  emu.reset();
  sink.received.length = 0;
});

function handlerFor(mode: "alert" | "remediate") {
  const audit: AuditRecord[] = [];
  const factory = async (log: Logger) => {
    const cfg = parseConfig({
      GUARDIAN_POLICY_FILE: path.join(dir, `${mode}.yaml`),
      AZURE_ARM_ENDPOINT: emu.url,
      AZURE_ARM_CA_FILE: path.join(dir, "ca.pem"),
      AZURE_ARM_POLL_INTERVAL_MS: "0",
      SLACK_WEBHOOK_URL: sink.slackUrl,
      TEAMS_WEBHOOK_URL: sink.teamsUrl,
    });
    const deps = await azureGuardianDeps(cfg, log, { credential: staticTokenCredential(guardianToken) });
    return { ...deps, audit: { record: async (r: AuditRecord) => void audit.push(r) } };
  };
  return { handler: createOnChangeHandler(factory), audit };
}

async function deliver(handler: ReturnType<typeof createOnChangeHandler>, from: number) {
  const results = [];
  for (const event of emu.events.slice(from) as EventGridEvent[]) {
    const ctx = new InvocationContext({
      functionName: "onChange",
      logHandler: () => memoryLogger() && undefined,
    });
    results.push(await handler(event, ctx));
  }
  return results;
}

const privateSubnet = (over: Partial<Subnet> = {}): Subnet => ({
  addressPrefix: "10.10.1.0/24",
  networkSecurityGroup: { id: `${NET}/networkSecurityGroups/nsg-private` },
  routeTable: { id: `${NET}/routeTables/rt-egress` },
  serviceEndpoints: [{ service: "Microsoft.Storage" }],
  serviceEndpointPolicies: [{ id: SEP_ID }],
  ...over,
});

/** The Qubole estate with the exfiltration guard in place, built by the platform team. */
async function seed() {
  const platform = alice();
  for (const nsg of ["nsg-private", "nsg-bastion"]) {
    await platform.networkSecurityGroups.createOrUpdate(RG, nsg, { location: "westeurope" }, fast);
  }
  await platform.routeTables.createOrUpdate(
    RG,
    "rt-egress",
    {
      location: "westeurope",
      disableBgpRoutePropagation: true,
      routes: [
        {
          name: "default-via-firewall",
          addressPrefix: "0.0.0.0/0",
          nextHopType: "VirtualAppliance",
          nextHopIpAddress: "10.0.1.4",
        },
      ],
    },
    fast,
  );
  await platform.serviceEndpointPolicies.createOrUpdate(
    RG,
    "sep-datalake",
    {
      location: "westeurope",
      serviceEndpointPolicyDefinitions: [
        {
          name: "datalake",
          description: "Qubole data lake",
          service: "Microsoft.Storage",
          serviceResources: [LAKE, LOGS],
        },
      ],
    },
    fast,
  );
  await platform.virtualNetworks.createOrUpdate(
    RG,
    "vnet-qubole",
    {
      location: "westeurope",
      tags: { workload: "qubole" },
      addressSpace: { addressPrefixes: ["10.10.0.0/16"] },
      subnets: [
        { name: "snet-private", ...privateSubnet() },
        {
          name: "snet-public",
          addressPrefix: "10.10.0.0/27",
          networkSecurityGroup: { id: `${NET}/networkSecurityGroups/nsg-bastion` },
        },
      ],
    },
    fast,
  );
}

type SubnetJson = { etag: string; properties: Record<string, unknown> };
const subnetNow = (name = "snet-private") => emu.get(`${VNET_ID}/subnets/${name}`) as SubnetJson;
const guardianWrites = () =>
  emu.requests.filter(
    (r) => r.caller === GUARDIAN_OID && r.method !== "GET" && !r.path.includes("/operations/"),
  );
const guardianReads = (pathEnd: string) =>
  emu.requests.filter(
    (r) =>
      r.caller === GUARDIAN_OID && r.method === "GET" && r.path.toLowerCase().endsWith(pathEnd.toLowerCase()),
  );

describe("exfiltration guard through the Function, the ARM emulator and the webhooks", () => {
  it("alerts (and writes nothing) when someone removes the private subnet's service endpoint policy", async () => {
    await seed();
    const { handler, audit } = handlerFor("alert");
    const mark = emu.events.length;
    await alice().subnets.createOrUpdate(
      RG,
      "vnet-qubole",
      "snet-private",
      privateSubnet({ serviceEndpointPolicies: [] }),
      fast,
    );
    const [result] = await deliver(handler, mark);
    expect(result?.outcomes[0]?.change.resourceId).toBe(PRIVATE_ID);
    expect(audit.map((a) => [a.policyRule, a.outcome])).toEqual([
      ["storage-endpoint-needs-policy", "skipped-mode"],
      ["private-subnet", "skipped-mode"],
    ]);
    expect(guardianWrites()).toHaveLength(0);
    // One read: the subnet's network (its route table too, for the egress check).
    expect(guardianReads("/virtualNetworks/vnet-qubole")).toHaveLength(1);
    await sink.waitFor(2);
    const slack = JSON.stringify(sink.received.find((r) => r.path.startsWith("/slack"))?.body);
    expect(slack).toContain("alice@contoso.com");
    expect(slack).toContain("no service endpoint policy");
  });

  it("in remediate mode re-attaches it with one PUT of the whole subnet as read, and recognises its own write", async () => {
    await seed();
    const { handler, audit } = handlerFor("remediate");
    const mark = emu.events.length;
    await alice().subnets.createOrUpdate(
      RG,
      "vnet-qubole",
      "snet-private",
      privateSubnet({ serviceEndpointPolicies: [] }),
      fast,
    );
    const asAliceLeftIt = structuredClone(subnetNow());
    await deliver(handler, mark);

    expect((subnetNow().properties.serviceEndpointPolicies as { id: string }[]).map((p) => p.id)).toEqual([
      SEP_ID,
    ]);
    const [put] = guardianWrites();
    expect(guardianWrites()).toHaveLength(1);
    expect(put?.path.toLowerCase()).toBe(`${PRIVATE_ID}`.toLowerCase());
    const { provisioningState: _, ...props } = asAliceLeftIt.properties;
    // Every other property goes back as read; the etag guards it.
    expect(put?.body).toEqual({
      ...asAliceLeftIt,
      properties: { ...props, serviceEndpointPolicies: [{ id: SEP_ID }] },
    });
    const applied = audit.find((a) => a.outcome === "applied");
    expect(applied).toMatchObject({ policyRule: "private-subnet", remediation: "subnet-restore" });
    expect((applied?.before as SubnetJson | undefined)?.properties.serviceEndpointPolicies).toEqual([]);
    // The alert-mode entry's finding was fixed by that write: decided as left, then reported fixed by it once the
    // subnet as it now stands no longer shows it; nothing was written for it.
    expect(audit.map((a) => [a.policyRule, a.outcome])).toEqual([
      ["storage-endpoint-needs-policy", "skipped-mode"],
      ["private-subnet", "applied"],
      ["storage-endpoint-needs-policy", "applied"],
    ]);
    expect(audit[2]).toMatchObject({
      mode: "alert",
      reason:
        "fixed by the change of policy entry private-subnet (subnet-restore); this entry is in alert mode and wrote nothing",
      summary: applied?.summary,
    });

    // The guardian's own PUT came back as an event: skipped, no second write, no loop.
    const own = await deliver(handler, mark + 1);
    expect(own.flatMap((r) => r.outcomes.map((o) => o.status))).toEqual(["skipped-self"]);
    expect(guardianWrites()).toHaveLength(1);
    await sink.waitFor(2);
    expect(sink.received).toHaveLength(2);
    const slack = JSON.stringify(sink.received.find((r) => r.path.startsWith("/slack"))?.body);
    expect(slack).toContain("Changed subnet snet-private: attached service endpoint policy sep-datalake");
    expect(slack).not.toContain("policy entry mode is alert");
  });

  it("restores the policy's definition someone widened to a whole other subscription, keeping the rest", async () => {
    await seed();
    const { handler, audit } = handlerFor("remediate");
    const mark = emu.events.length;
    await alice().serviceEndpointPolicyDefinitions.createOrUpdate(
      RG,
      "sep-datalake",
      "datalake",
      {
        description: "Qubole data lake",
        service: "Microsoft.Storage",
        serviceResources: [LAKE, LOGS, `/subscriptions/${ROGUE}`],
      },
      fast,
    );
    const etagBefore = (emu.get(SEP_ID) as { etag: string }).etag;
    await deliver(handler, mark);
    const def = emu.get(`${SEP_ID}/serviceEndpointPolicyDefinitions/datalake`) as SubnetJson;
    expect(def.properties.serviceResources).toEqual([LAKE, LOGS]);
    expect(def.properties.description).toBe("Qubole data lake");
    const [put] = guardianWrites();
    expect(put?.path).toMatch(/serviceEndpointPolicyDefinitions\/datalake$/);
    expect(audit.find((a) => a.outcome === "applied")?.matched).toEqual([
      expect.objectContaining({ resource: `/subscriptions/${ROGUE}` }),
    ]);
    expect(etagBefore).not.toBe((emu.get(SEP_ID) as { etag: string }).etag);
    await sink.waitFor(2);
    expect(JSON.stringify(sink.received[0]?.body)).toContain(ROGUE);
  });

  it("on a concurrent edit of the network (412) re-reads, re-plans and keeps the other person's change", async () => {
    await seed();
    const { handler, audit } = handlerFor("remediate");
    const mark = emu.events.length;
    await alice().subnets.createOrUpdate(
      RG,
      "vnet-qubole",
      "snet-private",
      privateSubnet({ serviceEndpointPolicies: [] }),
      fast,
    );
    // Bob adds a subnet right after the guardian has read the network: every subnet's etag moves with it.
    let edited = false;
    const off = emu.beforeAnswer(async (entry) => {
      if (
        edited ||
        entry.caller !== GUARDIAN_OID ||
        entry.method !== "GET" ||
        !/virtualNetworks\/vnet-qubole$/i.test(entry.path)
      )
        return;
      edited = true;
      await networkClientFor(emu, bobToken).subnets.createOrUpdate(
        RG,
        "vnet-qubole",
        "snet-batch",
        { addressPrefix: "10.10.7.0/24" },
        fast,
      );
    });
    try {
      await deliver(handler, mark);
    } finally {
      off();
    }
    const puts = guardianWrites();
    expect(puts.map((p) => p.status)).toEqual([412, 200]);
    expect(emu.get(`${VNET_ID}/subnets/snet-batch`)).toBeDefined();
    expect((subnetNow().properties.serviceEndpointPolicies as { id: string }[]).map((p) => p.id)).toEqual([
      SEP_ID,
    ]);
    // One write; the alert-mode entry's finding it fixed is credited to it, not written for.
    expect(audit.filter((a) => a.outcome === "applied").map((a) => [a.policyRule, a.mode])).toEqual([
      ["private-subnet", "remediate"],
      ["storage-endpoint-needs-policy", "alert"],
    ]);
  });

  it("evaluates every subnet of a network rewritten by a template from one read of the network", async () => {
    await seed();
    const { handler, audit } = handlerFor("remediate");
    const mark = emu.events.length;
    await alice().virtualNetworks.createOrUpdate(
      RG,
      "vnet-qubole",
      {
        location: "westeurope",
        tags: { workload: "qubole" },
        addressSpace: { addressPrefixes: ["10.10.0.0/16"] },
        subnets: [
          { name: "snet-private", ...privateSubnet({ serviceEndpointPolicies: [] }) },
          {
            name: "snet-public",
            addressPrefix: "10.10.0.0/27",
            networkSecurityGroup: { id: `${NET}/networkSecurityGroups/nsg-bastion` },
            serviceEndpoints: [{ service: "Microsoft.Storage" }],
          },
        ],
      },
      fast,
    );
    const [result] = await deliver(handler, mark);
    expect(result?.outcomes.map((o) => o.change.resourceId)).toEqual([
      VNET_ID,
      PRIVATE_ID,
      `${VNET_ID}/subnets/snet-public`,
    ]);
    expect(result?.outcomes[1]?.change).toMatchObject({
      subjectId: VNET_ID,
      operationName: "Microsoft.Network/virtualNetworks/write",
    });
    expect((subnetNow().properties.serviceEndpointPolicies as unknown[]).length).toBe(1);
    expect(subnetNow("snet-public").properties.serviceEndpoints).toEqual([]);
    // The network was read once for the event, once more for the second subnet after the first one's write moved
    // the shared etag (never a write against a state that is gone), and once after each subnet's write to tell
    // whether it also fixed the alert-mode entry's finding on that subnet.
    expect(guardianReads("/virtualNetworks/vnet-qubole")).toHaveLength(4);
    expect(guardianWrites().map((w) => w.status)).toEqual([200, 200]);
    expect(
      audit.filter((a) => a.outcome === "applied" && a.mode === "remediate").map((a) => a.policyRule),
    ).toEqual(["private-subnet", "public-subnet"]);
  });

  it("a default route turned to the Internet re-evaluates the subnets using the table, and is left for a person", async () => {
    await seed();
    const { handler, audit } = handlerFor("remediate");
    const mark = emu.events.length;
    await networkClientFor(emu, bobToken).routes.createOrUpdate(
      RG,
      "rt-egress",
      "default-via-firewall",
      { addressPrefix: "0.0.0.0/0", nextHopType: "Internet" },
      fast,
    );
    const [result] = await deliver(handler, mark);
    expect(result?.outcomes.map((o) => o.change.resourceId)).toEqual([
      `${NET}/routeTables/rt-egress`,
      PRIVATE_ID,
    ]);
    expect(audit).toEqual([
      expect.objectContaining({
        policyRule: "private-subnet",
        outcome: "skipped-mode",
        reason: "left for a person: routes inside a route table are not the subnet's to change",
      }),
    ]);
    expect(guardianWrites()).toHaveLength(0);
    // The table was read once: its read served the subnet's egress check too.
    expect(guardianReads("/routeTables/rt-egress")).toHaveLength(1);
    await sink.waitFor(2);
    expect(JSON.stringify(sink.received[0]?.body)).toMatch(/0\.0\.0\.0\/0 goes to Internet/);
  });

  it("reads the route table's subnets through their network: a deleted route is evaluated too", async () => {
    await seed();
    const { handler, audit } = handlerFor("alert");
    const mark = emu.events.length;
    const gone = await rawArmRequest(
      emu,
      "DELETE",
      `${NET}/routeTables/rt-egress/routes/default-via-firewall?${API}`,
      {
        token: bobToken,
      },
    );
    expect(gone.status).toBeLessThan(300);
    await deliver(handler, mark);
    expect(audit.map((a) => a.reason)).toEqual(["mode alert: not remediated"]);
    expect(JSON.stringify(audit[0]?.matched)).toMatch(/no 0\.0\.0\.0\/0 route/);
  });

  describe("deny-by-default egress on the Databricks subnet's NSG", () => {
    const NSG_ID = `${NET}/networkSecurityGroups/nsg-databricks`;
    const outbound = (
      priority: number,
      destinationAddressPrefix: string,
      access: "Allow" | "Deny" = "Allow",
    ) => ({
      protocol: "*" as const,
      sourcePortRange: "*",
      destinationPortRange: "*",
      sourceAddressPrefix: "VirtualNetwork",
      destinationAddressPrefix,
      access,
      priority,
      direction: "Outbound" as const,
    });
    async function seedNsg() {
      await alice().networkSecurityGroups.createOrUpdate(
        RG,
        "nsg-databricks",
        {
          location: "westeurope",
          tags: { egress: "deny-by-default" },
          securityRules: [
            { name: "allow-storage", ...outbound(100, "Storage") },
            { name: "allow-firewall", ...outbound(110, "10.0.1.4") },
            { name: "deny-internet", ...outbound(4000, "Internet", "Deny") },
          ],
        },
        fast,
      );
    }
    const ruleNames = () =>
      (
        (emu.get(NSG_ID) as { properties: { securityRules: { name: string }[] } }).properties.securityRules ??
        []
      ).map((r) => r.name);

    it("removes an outbound Allow to the Internet someone put above the Deny", async () => {
      await seedNsg();
      const { handler, audit } = handlerFor("remediate");
      const mark = emu.events.length;
      await networkClientFor(emu, bobToken).securityRules.createOrUpdate(
        RG,
        "nsg-databricks",
        "allow-https-out",
        { ...outbound(200, "Internet"), protocol: "Tcp", destinationPortRange: "443" },
        fast,
      );
      await deliver(handler, mark);
      expect(ruleNames()).toEqual(["allow-storage", "allow-firewall", "deny-internet"]);
      expect(guardianWrites().map((w) => w.method)).toEqual(["DELETE"]);
      expect(audit.find((a) => a.outcome === "applied")).toMatchObject({
        policyRule: "egress-locked",
        remediation: "nsg-egress-delete",
        actor: { name: "bob@contoso.com" },
      });
      await sink.waitFor(2);
      expect(JSON.stringify(sink.received[0]?.body)).toMatch(/allow-https-out/);
    });

    it("puts back the Deny someone deleted, as a new rule guarded by If-None-Match, and skips its own write", async () => {
      await seedNsg();
      const { handler } = handlerFor("remediate");
      const mark = emu.events.length;
      await alice().securityRules.beginDeleteAndWait(RG, "nsg-databricks", "deny-internet", fast);
      await deliver(handler, mark);
      const added = emu.get(`${NSG_ID}/securityRules/guardian-deny-internet-outbound`) as
        | { properties: Record<string, unknown> }
        | undefined;
      expect(added?.properties).toMatchObject({
        access: "Deny",
        direction: "Outbound",
        destinationAddressPrefix: "Internet",
        priority: 4096,
      });
      const [put] = guardianWrites();
      expect(put?.method).toBe("PUT");
      const own = await deliver(handler, mark + 1);
      expect(own.flatMap((r) => r.outcomes.map((o) => o.status))).toEqual(["skipped-self"]);
      expect(guardianWrites()).toHaveLength(1);
    });

    it("alerts without writing in alert mode", async () => {
      await seedNsg();
      const { handler, audit } = handlerFor("alert");
      const mark = emu.events.length;
      await alice().securityRules.createOrUpdate(
        RG,
        "nsg-databricks",
        "to-anywhere",
        outbound(300, "*"),
        fast,
      );
      await deliver(handler, mark);
      expect(audit.map((a) => [a.policyRule, a.outcome])).toEqual([["egress-locked", "skipped-mode"]]);
      expect(guardianWrites()).toHaveLength(0);
    });
  });
});
