// The exfiltration guard (seeds 001-003 on the Qubole set-up of seed 000): the private subnet's service endpoint
// policy removed (alerted by the baseline entry, re-attached by the opted-in role entry), the policy widened to a whole
// other subscription (restored), and an outbound Allow to the Internet put above the Deny on the Databricks subnet's
// NSG (removed). Event Grid events go to the onChange Function; the guardian's own writes come back and are skipped.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SecurityRule } from "@azure/arm-network";
import { type EventGridEvent, InvocationContext } from "@azure/functions";
import { createOnChangeHandler } from "../functions/on-change.ts";
import { azureGuardianDeps } from "../shared/clouds/azure/runtime.ts";
import { parseConfig } from "../shared/config.ts";
import type { ActionResult, AuditRecord } from "../shared/types.ts";
import {
  DEFAULT_SUBSCRIPTION_ID,
  mintToken,
  networkClientFor,
  startArmEmulator,
  staticTokenCredential,
} from "../test/harness/arm-emulator/index.ts";
import type { WebhookSink } from "../test/harness/webhook-sink.ts";
import { type Check, type DemoIO, decisionLines } from "./words.ts";

const RG = "rg-qubole";
const SUB = DEFAULT_SUBSCRIPTION_ID;
const fast = { updateIntervalInMs: 0 };

const people = {
  platform: mintToken({
    oid: "1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b",
    upn: "platform-bot@contoso.com",
    name: "Platform pipeline",
  }),
  alice: mintToken({ oid: "7f1c9a52-3e4b-4d8a-9b6c-1a2b3c4d5e6f", upn: "alice@contoso.com", name: "Alice" }),
  bob: mintToken({ oid: "8a2d0b63-4f5c-4e9b-8c7d-2b3c4d5e6f70", upn: "bob@contoso.com", name: "Bob" }),
  carol: mintToken({ oid: "9b3e1c74-5a6d-4fa0-9d8e-3c4d5e6f7081", upn: "carol@contoso.com", name: "Carol" }),
  guardian: mintToken({
    oid: "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d",
    appid: "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
    idtyp: "app",
  }),
};

export async function runExfiltrationScenario(
  io: DemoIO & { sink: WebhookSink; exfiltrationPolicyFile: string },
): Promise<Check[]> {
  const { print, sink, verbose } = io;
  const emu = await startArmEmulator({ lroPolls: 1 });
  const dir = await mkdtemp(path.join(tmpdir(), "guardian-demo-"));
  const net = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network`;
  const data = "/subscriptions/0b7e5c3a-1d2f-4a6b-8c9d-e0f1a2b3c4d5";
  const lake = `${data}/resourceGroups/rg-datalake/providers/Microsoft.Storage/storageAccounts/stqubolelake`;
  const logs = `${data}/resourceGroups/rg-logs`;
  const rogue = "/subscriptions/6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a";
  const sep = `${net}/serviceEndpointPolicies/sep-datalake`;
  try {
    await writeFile(path.join(dir, "arm-ca.pem"), emu.ca);
    const client = (token: string) => networkClientFor(emu, token);
    const platform = client(people.platform);
    const outbound = (
      priority: number,
      destinationAddressPrefix: string,
      access = "Allow",
    ): SecurityRule => ({
      protocol: "*",
      sourcePortRange: "*",
      destinationPortRange: "*",
      sourceAddressPrefix: "VirtualNetwork",
      destinationAddressPrefix,
      access,
      priority,
      direction: "Outbound",
    });
    for (const name of ["nsg-private", "nsg-public"]) {
      await platform.networkSecurityGroups.createOrUpdate(RG, name, { location: "westeurope" }, fast);
    }
    await platform.networkSecurityGroups.createOrUpdate(
      RG,
      "nsg-databricks",
      {
        location: "westeurope",
        tags: { egress: "deny-by-default" },
        securityRules: [
          { name: "allow-storage", ...outbound(100, "Storage") },
          { name: "allow-monitor", ...outbound(110, "AzureMonitor") },
          { name: "allow-firewall", ...outbound(120, "10.0.1.4") },
          { name: "deny-internet", ...outbound(4000, "Internet", "Deny") },
        ],
      },
      fast,
    );
    await platform.routeTables.createOrUpdate(
      RG,
      "rt-egress",
      {
        location: "westeurope",
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
          { name: "datalake", service: "Microsoft.Storage", serviceResources: [lake, logs] },
        ],
      },
      fast,
    );
    const privateSubnet = {
      addressPrefix: "10.10.1.0/24",
      networkSecurityGroup: { id: `${net}/networkSecurityGroups/nsg-private` },
      routeTable: { id: `${net}/routeTables/rt-egress` },
      serviceEndpoints: [{ service: "Microsoft.Storage" }],
      serviceEndpointPolicies: [{ id: sep }],
    };
    await platform.virtualNetworks.createOrUpdate(
      RG,
      "vnet-qubole",
      {
        location: "westeurope",
        addressSpace: { addressPrefixes: ["10.10.0.0/16"] },
        subnets: [
          { name: "snet-private", ...privateSubnet },
          {
            name: "snet-public",
            addressPrefix: "10.10.0.0/27",
            networkSecurityGroup: { id: `${net}/networkSecurityGroups/nsg-public` },
          },
          {
            name: "snet-databricks",
            addressPrefix: "10.10.2.0/24",
            networkSecurityGroup: { id: `${net}/networkSecurityGroups/nsg-databricks` },
            routeTable: { id: `${net}/routeTables/rt-egress` },
          },
        ],
      },
      fast,
    );
    print(
      "\nExfiltration guard: vnet-qubole (snet-private with the storage endpoint behind sep-datalake and egress via " +
        "the firewall, snet-public, snet-databricks behind nsg-databricks: deny-by-default outbound).",
    );

    const audit: AuditRecord[] = [];
    const handler = createOnChangeHandler(async (log) => {
      const cfg = parseConfig({
        GUARDIAN_POLICY_FILE: io.exfiltrationPolicyFile,
        AZURE_ARM_ENDPOINT: emu.url,
        AZURE_ARM_CA_FILE: path.join(dir, "arm-ca.pem"),
        AZURE_ARM_POLL_INTERVAL_MS: "0",
        SLACK_WEBHOOK_URL: sink.slackUrl,
        TEAMS_WEBHOOK_URL: sink.teamsUrl,
      });
      const deps = await azureGuardianDeps(cfg, log, { credential: staticTokenCredential(people.guardian) });
      return {
        ...deps,
        audit: { record: async (r: AuditRecord) => void audit.push(r) },
      };
    });
    let delivered = emu.events.length;
    let skippedSelf = 0;
    const drain = async () => {
      while (delivered < emu.events.length) {
        const event = emu.events[delivered++] as EventGridEvent;
        const context = new InvocationContext({ functionName: "onChange", logHandler: () => undefined });
        const result = await handler(event, context);
        skippedSelf += result.outcomes.filter((o) => o.status === "skipped-self").length;
        for (const line of decisionLines(result.outcomes.flatMap((o) => o.actions as ActionResult[]))) {
          print(`  guardian: ${line}`);
        }
      }
    };
    const step = async (title: string, who: string, act: () => Promise<unknown>) => {
      const before = { audit: audit.length, alerts: sink.received.length };
      print(`\n▶ ${title}\n  by ${who}`);
      await act();
      await drain();
      return { decisions: audit.slice(before.audit), alerts: sink.received.length - before.alerts };
    };
    const policiesOf = () =>
      (
        (
          emu.get(`${net}/virtualNetworks/vnet-qubole/subnets/snet-private`) as {
            properties: { serviceEndpointPolicies?: { id: string }[] };
          }
        ).properties.serviceEndpointPolicies ?? []
      ).map((p) => p.id.split("/").at(-1));

    const s1 = await step(
      "Someone removes the service endpoint policy from the private subnet",
      "alice@contoso.com",
      () =>
        client(people.alice).subnets.createOrUpdate(
          RG,
          "vnet-qubole",
          "snet-private",
          { ...privateSubnet, serviceEndpointPolicies: [] },
          fast,
        ),
    );
    print(`  read back: snet-private service endpoint policies ${JSON.stringify(policiesOf())}`);

    const s2 = await step("Someone widens the policy to a whole other subscription", "bob@contoso.com", () =>
      client(people.bob).serviceEndpointPolicyDefinitions.createOrUpdate(
        RG,
        "sep-datalake",
        "datalake",
        { service: "Microsoft.Storage", serviceResources: [lake, logs, rogue] },
        fast,
      ),
    );
    const listed = (
      emu.get(`${sep}/serviceEndpointPolicyDefinitions/datalake`) as {
        properties: { serviceResources: string[] };
      }
    ).properties.serviceResources;
    print(
      `  read back: sep-datalake/datalake lists ${listed.length} entries${listed.includes(rogue) ? " (rogue still there)" : ""}`,
    );

    const s3 = await step(
      "Someone opens HTTPS to the Internet on the Databricks subnet's NSG, above its Deny",
      "carol@contoso.com",
      () =>
        client(people.carol).securityRules.createOrUpdate(
          RG,
          "nsg-databricks",
          "allow-https-out",
          { ...outbound(200, "Internet"), protocol: "Tcp", destinationPortRange: "443" },
          fast,
        ),
    );
    const httpsOut = emu.get(`${net}/networkSecurityGroups/nsg-databricks/securityRules/allow-https-out`);
    print(`  read back: nsg-databricks/allow-https-out ${httpsOut ? "still there" : "no longer exists"}`);

    if (verbose) {
      const writes = emu.requests.filter((r) => r.method !== "GET").length;
      print(
        `\n  ARM requests in this scenario: ${emu.requests.length} (${writes} writes, the platform's set-up included).`,
      );
    }
    return [
      {
        name: "the private subnet's service endpoint policy re-attached and alerted",
        ok:
          JSON.stringify(policiesOf()) === JSON.stringify(["sep-datalake"]) &&
          s1.decisions.some((d) => d.outcome === "applied") &&
          s1.alerts === 2,
      },
      {
        name: "the whole other subscription removed from the policy, the data lake kept",
        ok: JSON.stringify(listed) === JSON.stringify([lake, logs]) && s2.alerts === 2,
      },
      { name: "the outbound Allow to the Internet removed", ok: httpsOut === undefined && s3.alerts === 2 },
      { name: "the guardian's own subnet, policy and NSG writes recognised", ok: skippedSelf >= 3 },
    ];
  } finally {
    await emu.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
