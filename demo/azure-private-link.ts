// The Private Link scenario (seeds 001 step 9, 003, 000): a Databricks-serverless-style request to our data vault is
// approved within the run; a request from a subscription nobody listed stays pending and alerts; the Cassandra
// operator's request to our Private Link Service is approved; someone creates a private endpoint in our subscription
// to a storage account in an unknown tenant, and the alert names it. Event Grid events go to the onChange Function;
// the stranger's request raises none and is found by the timer sweep.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type EventGridEvent, InvocationContext, type Timer } from "@azure/functions";
import { createOnChangeHandler } from "../functions/on-change.ts";
import { createSweepHandler } from "../functions/sweep-private-endpoints.ts";
import { azureGuardianDeps } from "../shared/clouds/azure/runtime.ts";
import { parseConfig } from "../shared/config.ts";
import { memoryDecisionStore } from "../shared/decisions.ts";
import {
  mintToken,
  DEFAULT_SUBSCRIPTION_ID as OURS,
  rawArmRequest,
  startArmEmulator,
  staticTokenCredential,
} from "../test/harness/arm-emulator/index.ts";
import type { Check, DemoIO } from "./azure.ts";

const DATABRICKS = "3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f";
const STRANGER = "e1d2c3b4-a596-4788-9900-aabbccddeeff";
const CASSANDRA = "5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f";
const ELSEWHERE = "0f1e2d3c-4b5a-4968-8776-655443322110";
const VAULT = `/subscriptions/${OURS}/resourceGroups/rg-lake/providers/Microsoft.KeyVault/vaults/kv-lake`;
const PLS = `/subscriptions/${OURS}/resourceGroups/rg-cassandra/providers/Microsoft.Network/privateLinkServices/pls-cassandra`;
const LAKE = `/subscriptions/${OURS}/resourceGroups/rg-lake/providers/Microsoft.Storage/storageAccounts/datalake`;
const DROP = `/subscriptions/${ELSEWHERE}/resourceGroups/rg-x/providers/Microsoft.Storage/storageAccounts/dropzone`;

const tok = (oid: string, extra: Record<string, string>) => mintToken({ oid, ...extra });
const people = {
  databricks: tok("11111111-2222-4333-8444-555555555555", { appid: "databricks-serverless", idtyp: "app" }),
  stranger: tok("66666666-7777-4888-9999-000000000000", { upn: "someone@fabrikam.example" }),
  cassandra: tok("12121212-3434-4565-8787-909090909090", { appid: "cassandra-operator", idtyp: "app" }),
  mallory: tok("abababab-cdcd-4efe-8a8a-bcbcbcbcbcbc", { upn: "mallory@contoso.com", name: "Mallory" }),
  guardian: tok("0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d", {
    appid: "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
    idtyp: "app",
  }),
};

export async function runAzurePrivateLinkScenario(
  io: DemoIO & { privateLinkPolicyFile: string },
): Promise<Check[]> {
  const { print, sink } = io;
  const emu = await startArmEmulator({ lroPolls: 0 });
  const dir = await mkdtemp(path.join(tmpdir(), "guardian-demo-pl-"));
  try {
    await writeFile(path.join(dir, "arm-ca.pem"), emu.ca);
    const decisions = memoryDecisionStore();
    const factory = async (log: Parameters<Parameters<typeof createOnChangeHandler>[0]>[0]) =>
      azureGuardianDeps(
        parseConfig({
          GUARDIAN_POLICY_FILE: io.privateLinkPolicyFile,
          AZURE_ARM_ENDPOINT: emu.url,
          AZURE_ARM_CA_FILE: path.join(dir, "arm-ca.pem"),
          AZURE_ARM_POLL_INTERVAL_MS: "0",
          SLACK_WEBHOOK_URL: sink.slackUrl,
        }),
        log,
        { credential: staticTokenCredential(people.guardian), decisions },
      );
    const onChange = createOnChangeHandler(factory);
    const sweep = createSweepHandler(factory, () => OURS);
    // Decision lines go to the Functions host log, not the demo transcript.
    const ctx = () =>
      new InvocationContext({
        invocationId: crypto.randomUUID(),
        functionName: "demo",
        logHandler: () => undefined,
      });
    const ours = (events: readonly object[]) =>
      events.filter((e) => String((e as { topic?: string }).topic).includes(OURS));
    const deliver = async (events: readonly object[]) => {
      for (const e of events) await onChange(e as EventGridEvent, ctx());
    };
    const endpoint = async (token: string, sub: string, name: string, target: string) => {
      const id = `/subscriptions/${sub}/resourceGroups/rg-pe/providers/Microsoft.Network/privateEndpoints/${name}`;
      const mark = emu.events.length;
      await rawArmRequest(emu, "PUT", `${id}?api-version=2026-01-01`, {
        token,
        body: {
          location: "westeurope",
          properties: {
            subnet: {
              id: `/subscriptions/${sub}/resourceGroups/rg-pe/providers/Microsoft.Network/virtualNetworks/vnet/subnets/pe`,
            },
            manualPrivateLinkServiceConnections: [
              {
                name: `${name}-conn`,
                properties: {
                  privateLinkServiceId: target,
                  // The sub-resource as each provider names it; a Private Link Service has none.
                  groupIds: target.includes("/storageAccounts/")
                    ? ["blob"]
                    : target.includes("/vaults/")
                      ? ["vault"]
                      : [],
                  requestMessage: "please approve",
                },
              },
            ],
          },
        },
      });
      return { id, events: emu.events.slice(mark) };
    };
    const stateOf = (target: string, pe: string) =>
      (
        emu.get(target) as {
          properties: {
            privateEndpointConnections: {
              properties: {
                privateEndpoint: { id: string };
                privateLinkServiceConnectionState: { status: string; description: string };
              };
            }[];
          };
        }
      ).properties.privateEndpointConnections.find(
        (c) => c.properties.privateEndpoint.id.toLowerCase() === pe.toLowerCase(),
      )?.properties.privateLinkServiceConnectionState;
    const alertsBefore = () => sink.received.length;

    emu.seed({ id: VAULT, location: "westeurope", properties: {} });
    emu.seed({
      id: PLS,
      location: "westeurope",
      properties: { visibility: { subscriptions: [CASSANDRA] }, autoApproval: { subscriptions: [] } },
    });
    const closedAccount = {
      location: "westeurope",
      kind: "StorageV2",
      sku: { name: "Standard_LRS", tier: "Standard" },
      properties: {
        publicNetworkAccess: "Disabled",
        networkAcls: { bypass: "AzureServices", defaultAction: "Deny", ipRules: [], virtualNetworkRules: [] },
      },
    };
    emu.seed({ id: LAKE, ...closedAccount });
    emu.seed({ id: DROP, ...closedAccount });
    print(
      "\nPrivate Link: our storage account datalake, vault kv-lake and the Cassandra operator's Private Link Service pls-cassandra",
    );

    print(
      "\n▶ Databricks serverless asks for a private endpoint to the storage account datalake (allow-listed subscription)",
    );
    const a0 = alertsBefore();
    const dbx = await endpoint(people.databricks, DATABRICKS, "pe-databricks", LAKE);
    await deliver(ours(dbx.events));
    const dbxState = stateOf(LAKE, dbx.id);
    print(`  connection is now ${dbxState?.status}: "${dbxState?.description}"`);

    print("\n▶ Someone in an unknown subscription asks too; the request raises no event in our subscription");
    emu.connectionEvents(false);
    const stranger = await endpoint(people.stranger, STRANGER, "pe-unknown", VAULT);
    emu.connectionEvents(true);
    print(`  events in our subscription: ${ours(stranger.events).length}; the timer sweep runs`);
    await sweep({ isPastDue: false } as unknown as Timer, ctx());
    await sweep({ isPastDue: false } as unknown as Timer, ctx());
    print(
      `  connection is ${stateOf(VAULT, stranger.id)?.status} (held for a person; the second sweep stayed silent)`,
    );

    print("\n▶ The Cassandra operator requests a connection to pls-cassandra");
    const op = await endpoint(people.cassandra, CASSANDRA, "pe-operator", PLS);
    await deliver(ours(op.events));
    print(`  connection is now ${stateOf(PLS, op.id)?.status}`);

    print(
      "\n▶ Mallory creates a private endpoint in our subscription to a storage account in an unknown tenant",
    );
    const exfil = await endpoint(people.mallory, OURS, "pe-backup", DROP);
    await deliver(ours(exfil.events));
    await sink.waitFor(a0 + 3, 5_000).catch(() => undefined);
    const texts = sink.received.slice(a0).map((r) => JSON.stringify(r.body));
    const exfilAlert = texts.find((t) => t.includes("dropzone"));
    print(
      exfilAlert
        ? "  alert names the storage account dropzone and the subscription it lives in"
        : "  (no alert?)",
    );

    return [
      {
        name: "Private Link: Databricks-style request approved within the run",
        ok: dbxState?.status === "Approved",
      },
      {
        name: "Private Link: unknown subscription's silent request found by the sweep, held, alerted once",
        ok:
          stateOf(VAULT, stranger.id)?.status === "Pending" &&
          texts.filter((t) => t.includes(STRANGER)).length === 1,
      },
      {
        name: "Private Link: Cassandra operator's connection to the PLS approved",
        ok: stateOf(PLS, op.id)?.status === "Approved",
      },
      {
        name: "Private Link: endpoint to a storage account in an unknown tenant alerted, naming it",
        ok: exfilAlert?.includes(ELSEWHERE) === true,
      },
    ];
  } finally {
    await emu.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
