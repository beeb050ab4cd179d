import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SecurityRule } from "@azure/arm-network";
import { type EventGridEvent, InvocationContext } from "@azure/functions";
import { createOnChangeHandler } from "../functions/on-change.ts";
import { azureGuardianDeps } from "../shared/clouds/azure/runtime.ts";
import { parseConfig } from "../shared/config.ts";
import type { AuditRecord } from "../shared/types.ts";
import {
  type ArmEmulator,
  DEFAULT_SUBSCRIPTION_ID,
  mintToken,
  networkClientFor,
  startArmEmulator,
  staticTokenCredential,
  storageClientFor,
} from "../test/harness/arm-emulator/index.ts";
import { type SinkRequest, summarizeDelivery, type WebhookSink } from "../test/harness/webhook-sink.ts";
import {
  type Check,
  type DemoIO,
  decisionLines,
  inboundLines,
  slackLines,
  stateBlock,
  storageFirewallLines,
} from "./words.ts";

export type { Check } from "./words.ts";
/** What the Azure scenarios take (the Private Link scenario too). */
export type { AzureDemoIO as DemoIO };

export interface AzureDemoIO extends DemoIO {
  sink: WebhookSink;
  policyFile: string;
  /**
   * Given, the emulator is left running after the scenario and handed over (with the token of the guardian's
   * identity) to the caller, who stops it; the demo's scan and `guardian demo --serve` use it.
   */
  keep?: (estate: AzureDemoEstate) => void;
}

export interface AzureDemoEstate {
  emulator: ArmEmulator;
  subscriptionId: string;
  resourceGroup: string;
  /** A bearer token of the guardian's identity (GUARDIAN_AZURE_ACCESS_TOKEN). */
  token: string;
}

const RG = "rg-qubole";
const SUB = DEFAULT_SUBSCRIPTION_ID;
const nsgId = (name: string) =>
  `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/networkSecurityGroups/${name}`;
const fast = { updateIntervalInMs: 0 };
const LAKE = "qubolelake";
const lakeId = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/${LAKE}`;
const privateSubnetId = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/virtualNetworks/vnet-qubole/subnets/snet-private`;
const sandboxSubnetId = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/virtualNetworks/vnet-sandbox/subnets/snet-sandbox`;
const TUNNEL_IP = "203.0.113.10";

const people = {
  platform: mintToken({
    oid: "1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b",
    upn: "platform-bot@contoso.com",
    name: "Platform pipeline",
  }),
  alice: mintToken({
    oid: "7f1c9a52-3e4b-4d8a-9b6c-1a2b3c4d5e6f",
    upn: "alice@contoso.com",
    name: "Alice",
    ipaddr: "198.51.100.23",
  }),
  bob: mintToken({
    oid: "8a2d0b63-4f5c-4e9b-8c7d-2b3c4d5e6f70",
    upn: "bob@contoso.com",
    name: "Bob",
    ipaddr: "198.51.100.41",
  }),
  carol: mintToken({
    oid: "9b3e1c74-5a6d-4fa0-9d8e-3c4d5e6f7081",
    upn: "carol@contoso.com",
    name: "Carol",
    ipaddr: "198.51.100.77",
  }),
  dave: mintToken({
    oid: "4c5d6e7f-8091-4a2b-9c3d-4e5f60718293",
    upn: "dave@contoso.com",
    name: "Dave",
    ipaddr: "192.0.2.77",
  }),
  guardian: mintToken({
    oid: "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d",
    appid: "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
    idtyp: "app",
  }),
};

function inbound(
  priority: number,
  port: string,
  source: string | string[],
  extra: Partial<SecurityRule> = {},
): SecurityRule {
  return {
    protocol: "Tcp",
    sourcePortRange: "*",
    destinationPortRange: port,
    ...(Array.isArray(source) ? { sourceAddressPrefixes: source } : { sourceAddressPrefix: source }),
    destinationAddressPrefix: "*",
    access: "Allow",
    priority,
    direction: "Inbound",
    ...extra,
  };
}

/** The Azure half of `npm start`: returns whether every expected outcome happened. */
export async function runAzureScenario(io: AzureDemoIO): Promise<Check[]> {
  const { print, sink } = io;
  const emu = await startArmEmulator({ lroPolls: 1 });
  const dir = await mkdtemp(path.join(tmpdir(), "guardian-demo-"));
  let kept = false;
  try {
    await writeFile(path.join(dir, "arm-ca.pem"), emu.ca);
    const client = (token: string) => networkClientFor(emu, token);
    if (io.verbose) print(`ARM emulator on ${emu.url} (HTTPS, self-signed); webhook sink on ${sink.url}`);

    // The estate, modelled on Qubole on Azure with closed storage endpoints and a bastion.
    const platform = client(people.platform);
    await platform.networkSecurityGroups.createOrUpdate(
      RG,
      "nsg-bastion",
      {
        location: "westeurope",
        securityRules: [{ name: "allow-tunnel-ssh", ...inbound(100, "22", "203.0.113.10/32") }],
      },
      fast,
    );
    await platform.networkSecurityGroups.createOrUpdate(
      RG,
      "nsg-private",
      {
        location: "westeurope",
        securityRules: [
          { name: "allow-bastion-ssh", ...inbound(100, "22", "10.10.0.0/27") },
          {
            name: "deny-internet-inbound",
            ...inbound(4000, "*", "Internet", { protocol: "*", access: "Deny" }),
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
        // The storage firewall approves the subnets of this network by its tag (policy subnetRoles: qubole).
        tags: { workload: "qubole" },
        addressSpace: { addressPrefixes: ["10.10.0.0/16"] },
        subnets: [
          {
            name: "snet-bastion",
            addressPrefix: "10.10.0.0/27",
            networkSecurityGroup: { id: nsgId("nsg-bastion") },
          },
          {
            name: "snet-private",
            addressPrefix: "10.10.1.0/24",
            networkSecurityGroup: { id: nsgId("nsg-private") },
          },
        ],
      },
      fast,
    );
    // A sandbox network, not the Qubole one (no workload tag): its subnets have no business in the lake's firewall.
    await platform.virtualNetworks.createOrUpdate(
      RG,
      "vnet-sandbox",
      {
        location: "westeurope",
        addressSpace: { addressPrefixes: ["10.30.0.0/16"] },
        subnets: [{ name: "snet-sandbox", addressPrefix: "10.30.1.0/24" }],
      },
      fast,
    );
    // The data lake behind closed endpoints (ADLS Gen2): the private subnet, the tunnel server's IP, trusted services.
    await storageClientFor(emu, people.platform).storageAccounts.create(RG, LAKE, {
      location: "westeurope",
      kind: "StorageV2",
      sku: { name: "Standard_LRS" },
      isHnsEnabled: true,
      allowBlobPublicAccess: false,
      networkRuleSet: {
        defaultAction: "Deny",
        bypass: "AzureServices",
        ipRules: [{ iPAddressOrRange: TUNNEL_IP, action: "Allow" }],
        virtualNetworkRules: [{ virtualNetworkResourceId: privateSubnetId, action: "Allow" }],
      },
    });
    print(
      "Seeded: vnet-qubole (snet-bastion, snet-private; tagged workload=qubole), vnet-sandbox, nsg-bastion (SSH from the tunnel server only), nsg-private,\n" +
        `  and storage account ${LAKE} with closed endpoints (snet-private, the tunnel server ${TUNNEL_IP}, trusted services).`,
    );

    const audit: AuditRecord[] = [];
    const handler = createOnChangeHandler(async (log) => {
      const cfg = parseConfig({
        GUARDIAN_POLICY_FILE: io.policyFile,
        AZURE_ARM_ENDPOINT: emu.url,
        AZURE_ARM_CA_FILE: path.join(dir, "arm-ca.pem"),
        AZURE_ARM_POLL_INTERVAL_MS: "0",
        SLACK_WEBHOOK_URL: sink.slackUrl,
        TEAMS_WEBHOOK_URL: sink.teamsUrl,
      });
      const deps = await azureGuardianDeps(cfg, log, { credential: staticTokenCredential(people.guardian) });
      return {
        ...deps,
        audit: {
          record: async (r) => {
            audit.push(r);
          },
        },
      };
    });

    // Event Grid delivers each event to the function; the guardian's own writes come back as events too.
    let delivered = emu.events.length;
    const skippedSelf: string[] = [];
    const drain = async () => {
      while (delivered < emu.events.length) {
        const event = emu.events[delivered++] as EventGridEvent;
        const context = new InvocationContext({ functionName: "onChange", logHandler: () => undefined });
        const result = await handler(event, context);
        for (const o of result.outcomes) {
          if (o.status === "skipped-self") {
            skippedSelf.push(event.id);
            if (io.verbose) print("  guardian: its own write came back as an event: recognised, left alone");
          }
          for (const line of decisionLines(o.actions)) print(`  guardian: ${line}`);
        }
      }
    };
    await drain();

    const checks: Check[] = [];
    let slackShown = false;
    const step = async (title: string, who: string, state: () => string[], act: () => Promise<unknown>) => {
      const before = { audit: audit.length, alerts: sink.received.length };
      print(`\n▶ ${title}\n  by ${who}`);
      print(stateBlock("before", state()));
      await act();
      print(stateBlock("after the change", state()));
      await drain();
      const decisions = audit.slice(before.audit);
      if (decisions.length === 0) print("  guardian: compliant, nothing to do");
      const alerts = sink.received.slice(before.alerts);
      if (alerts.length > 0) {
        const channels = alerts.map((a) => (a.path.startsWith("/slack") ? "Slack" : "Teams")).join(" and ");
        print(
          `  alerted:  ${channels}: "${summarizeDelivery(alerts[0] as SinkRequest).replace(/^\S+\s+\d+\s+/, "")}"`,
        );
      }
      print(stateBlock("after the guardian", state()));
      const slack = alerts.find((r) => r.path.startsWith("/slack"));
      if (slack && !slackShown) {
        slackShown = true;
        for (const line of slackLines(slack.body)) print(line);
      }
      return { decisions, alerts: alerts.length };
    };
    const nsgState = (nsg: string) => () => inboundLines(emu.get(nsgId(nsg)));
    const ruleNow = (nsg: string, rule: string) =>
      emu.get(`${nsgId(nsg)}/securityRules/${rule}`) as { properties: Record<string, unknown> } | undefined;

    const s1 = await step(
      "Someone opens SSH to nsg-bastion from the Internet",
      "alice@contoso.com",
      nsgState("nsg-bastion"),
      () =>
        client(people.alice).securityRules.createOrUpdate(
          RG,
          "nsg-bastion",
          "allow-ssh-anywhere",
          inbound(110, "22", "Internet"),
          fast,
        ),
    );
    checks.push(
      {
        name: "SSH-from-Internet rule deleted",
        ok: ruleNow("nsg-bastion", "allow-ssh-anywhere") === undefined,
      },
      {
        name: "the tunnel server's rule untouched",
        ok: ruleNow("nsg-bastion", "allow-tunnel-ssh") !== undefined,
      },
      { name: "Slack and Teams alerted once each", ok: s1.alerts === 2 },
    );

    const s2 = await step(
      "Someone opens RDP on nsg-private to 0.0.0.0/0 through a plural prefix list next to the private subnet",
      "bob@contoso.com",
      nsgState("nsg-private"),
      () =>
        client(people.bob).securityRules.createOrUpdate(
          RG,
          "nsg-private",
          "allow-rdp-admins",
          inbound(200, "3389", ["10.10.1.0/24", "0.0.0.0/0"]),
          fast,
        ),
    );
    const rdp = ruleNow("nsg-private", "allow-rdp-admins")?.properties;
    const rdpSources = (rdp?.sourceAddressPrefixes as string[] | undefined)?.length
      ? (rdp?.sourceAddressPrefixes as string[])
      : [rdp?.sourceAddressPrefix];
    checks.push(
      {
        name: "only 0.0.0.0/0 removed from the RDP rule",
        ok: JSON.stringify(rdpSources) === JSON.stringify(["10.10.1.0/24"]),
      },
      { name: "RDP change alerted", ok: s2.alerts === 2 },
    );

    const s3 = await step(
      "A compliant change: HTTPS from the virtual network",
      "carol@contoso.com",
      nsgState("nsg-private"),
      () =>
        client(people.carol).securityRules.createOrUpdate(
          RG,
          "nsg-private",
          "allow-vnet-https",
          inbound(300, "443", "VirtualNetwork"),
          fast,
        ),
    );
    checks.push(
      {
        name: "compliant rule left alone",
        ok: ruleNow("nsg-private", "allow-vnet-https") !== undefined && s3.decisions.length === 0,
      },
      { name: "no alert for a compliant change", ok: s3.alerts === 0 },
      { name: "the guardian's own writes were recognised and not acted on", ok: skippedSelf.length >= 2 },
    );
    type Acls = {
      defaultAction?: string;
      bypass?: string;
      ipRules?: { value?: string }[];
      virtualNetworkRules?: { id?: string }[];
    };
    const lakeAcls = () => (emu.get(lakeId) as { properties: { networkAcls: Acls } }).properties.networkAcls;
    const patches = () => emu.requests.filter((r) => r.method === "PATCH").length;
    const before = { patches: 0 };
    const s4 = await step(
      `Someone flips ${LAKE} to "All networks", drops the tunnel server's IP, adds their home IP and a sandbox subnet`,
      "dave@contoso.com",
      () => storageFirewallLines(lakeAcls()),
      async () => {
        await storageClientFor(emu, people.dave).storageAccounts.update(RG, LAKE, {
          networkRuleSet: {
            defaultAction: "Allow",
            bypass: "AzureServices",
            ipRules: [{ iPAddressOrRange: "192.0.2.77", action: "Allow" }],
            virtualNetworkRules: [
              { virtualNetworkResourceId: privateSubnetId, action: "Allow" },
              { virtualNetworkResourceId: sandboxSubnetId, action: "Allow" },
            ],
          },
        });
        before.patches = patches();
      },
    );
    const acls = lakeAcls();
    const ips = (acls.ipRules ?? []).map((r) => r.value);
    checks.push(
      { name: "storage firewall back to selected networks (Deny)", ok: acls.defaultAction === "Deny" },
      {
        name: "the tunnel server's IP put back, the home IP removed",
        ok: JSON.stringify(ips) === JSON.stringify([TUNNEL_IP]),
      },
      {
        name: "the private subnet's VNet rule (its network tagged workload=qubole) and trusted services kept",
        ok: acls.virtualNetworkRules?.[0]?.id === privateSubnetId && acls.bypass === "AzureServices",
      },
      {
        name: "the sandbox subnet's VNet rule (an untagged network) removed",
        ok: acls.virtualNetworkRules?.length === 1,
      },
      { name: "restored in one PATCH", ok: patches() - before.patches === 1 },
      { name: "storage change alerted once per channel", ok: s4.alerts === 2 },
    );

    if (io.verbose) {
      print(
        `\n  The guardian's own writes raised ${skippedSelf.length} events; each was recognised as its own and skipped.`,
      );
      print(
        `  ARM requests: ${emu.requests.length} (${emu.requests.filter((r) => r.method !== "GET").length} writes incl. polls).`,
      );
    }
    if (io.keep) {
      io.keep({ emulator: emu, subscriptionId: SUB, resourceGroup: RG, token: people.guardian });
      kept = true;
    }
    return checks;
  } finally {
    if (!kept) await emu.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
