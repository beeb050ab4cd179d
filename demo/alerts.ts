// The alerts part of `npm start`: a storm of 40 rule writes (an ARM deployment) through the deployed path, Function →
// Storage queue outbox (Azurite) → sender Function → webhooks, collapsing into one message per channel; then every
// alert the demo delivered is written to a folder as the exact payloads plus an HTML page showing the Slack and
// Teams renderings.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { TableClient } from "@azure/data-tables";
import { type EventGridEvent, InvocationContext } from "@azure/functions";
import { QueueClient } from "@azure/storage-queue";
import { createOnChangeHandler } from "../functions/on-change.ts";
import { createSendAlertsHandler } from "../functions/send-alerts.ts";
import { senderDeps } from "../shared/alerts-runtime.ts";
import { azureGuardianDeps, azureSenderParts } from "../shared/clouds/azure/runtime.ts";
import { parseConfig } from "../shared/config.ts";
import { parsePolicy } from "../shared/policy/load.ts";
import { perInstanceSender } from "../shared/runtime.ts";
import {
  mintToken,
  networkClientFor,
  startArmEmulator,
  staticTokenCredential,
} from "../test/harness/arm-emulator/index.ts";
import { startAzurite } from "../test/harness/azurite.ts";
import { compressedClock, driveStorageQueue, scaledQueue } from "../test/harness/queue-triggers.ts";
import { type SinkRequest, summarizeDelivery, type WebhookSink } from "../test/harness/webhook-sink.ts";
import type { Check } from "./azure.ts";
import { type PreviewItem, previewPage } from "./preview-html.ts";

const POLICY = `version: 1
rules:
  - name: no-admin-ports-from-internet
    rule: nsg-inbound-exposure
    mode: remediate
    severity: critical
    remediation: delete-rule
    options: { ports: [22, 3389, "8000-8099"] }
alerts:
  collapseSeconds: 30
`;

const deployer = mintToken({
  oid: "1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b",
  appid: "3c2b1a09-8f7e-4d6c-b5a4-93827160f5e4",
  idtyp: "app",
  ipaddr: "20.50.2.10",
});
const guardian = mintToken({
  oid: "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d",
  appid: "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
  idtyp: "app",
});

/** A storm through the outbox: 40 rule writes, one message per channel. */
export async function runAlertStorm(io: { print(text: string): void; sink: WebhookSink }): Promise<Check[]> {
  const { print, sink } = io;
  const [emu, azurite] = await Promise.all([startArmEmulator({ lroPolls: 1 }), startAzurite()]);
  const dir = await mkdtemp(path.join(tmpdir(), "guardian-demo-alerts-"));
  try {
    await writeFile(path.join(dir, "ca.pem"), emu.ca);
    const queue = new QueueClient(azurite.connectionString, "guardian-alerts");
    const poison = new QueueClient(azurite.connectionString, "guardian-alerts-poison");
    await Promise.all([queue.create(), poison.create()]);
    await TableClient.fromConnectionString(azurite.connectionString, "guardianalerts", {
      allowInsecureConnection: true,
    }).createTable();
    const cfg = parseConfig({
      AZURE_ARM_ENDPOINT: emu.url,
      AZURE_ARM_CA_FILE: path.join(dir, "ca.pem"),
      AZURE_ARM_POLL_INTERVAL_MS: "0",
      GUARDIAN_ALERT_QUEUE: "guardian-alerts",
      GUARDIAN_ALERT_TABLE: "guardianalerts",
      GUARDIAN_ALERTS_STORAGE: azurite.connectionString,
      SLACK_WEBHOOK_URL: sink.slackUrl,
      TEAMS_WEBHOOK_URL: sink.teamsUrl,
    });
    const policy = parsePolicy(POLICY);
    print(
      `\nAlerts: the deployed path, Function → Storage queue outbox (Azurite) → sender Function → webhooks`,
    );
    const client = networkClientFor(emu, deployer);
    await client.networkSecurityGroups.createOrUpdate(
      "rg-data",
      "nsg-etl",
      { location: "westeurope", tags: { owner: "data-platform@contoso.com", env: "prod" } },
      { updateIntervalInMs: 0 },
    );
    const onChange = createOnChangeHandler((log) =>
      azureGuardianDeps(cfg, log, { credential: staticTokenCredential(guardian), policy }),
    );
    print(
      "\n▶ A pipeline's ARM deployment writes 40 rules opening ports 8000-8039 to the Internet on nsg-etl",
    );
    const before = sink.received.length;
    let decisions = 0;
    for (let port = 8000; port < 8040; port++) {
      const mark = emu.events.length;
      await client.securityRules.createOrUpdate(
        "rg-data",
        "nsg-etl",
        `allow-${port}`,
        {
          protocol: "Tcp",
          sourcePortRange: "*",
          destinationPortRange: String(port),
          sourceAddressPrefix: "Internet",
          destinationAddressPrefix: "*",
          access: "Allow",
          priority: 200 + port - 8000,
          direction: "Inbound",
        },
        { updateIntervalInMs: 0 },
      );
      for (const event of emu.events.slice(mark) as EventGridEvent[]) {
        const context = new InvocationContext({ functionName: "onChange", logHandler: () => undefined });
        const result = await onChange(event, context);
        decisions += result.outcomes.reduce((n, o) => n + o.actions.length, 0);
      }
    }
    print(
      `  guardian: ${decisions} decisions (each rule deleted), each queued on the outbox; nothing posted yet`,
    );
    const posted = sink.received.length - before;
    // The collapse window (30 s) runs on a clock 60 times faster, so the demo does not wait for it.
    const clock = compressedClock(60);
    const sender = createSendAlertsHandler(
      perInstanceSender(async (log) => {
        const parts = await azureSenderParts(cfg, { clock });
        return senderDeps({ ...parts, queue: scaledQueue(parts.queue, clock.factor) }, policy, cfg, log);
      }),
    );
    await driveStorageQueue(queue, poison, sender, { idleMs: 1500, timeoutMs: 30_000 });
    const storm = sink.received.slice(before);
    const slack = storm.filter((r) => r.path.startsWith("/slack/"));
    const teams = storm.filter((r) => r.path.startsWith("/teams/"));
    print(
      `  sender: ${storm.length} message(s) for ${decisions} decisions: ${slack.length} Slack, ${teams.length} Teams`,
    );
    return [
      { name: "a storm of 40 rule writes: nothing posted by the on-change function", ok: posted === 0 },
      {
        name: "the storm collapsed into one Slack message and one Teams card listing all 40",
        ok:
          decisions === 40 &&
          slack.length === 1 &&
          teams.length === 1 &&
          JSON.stringify(slack[0]?.body).includes("40 decisions from 40 events"),
      },
    ];
  } finally {
    await Promise.all([emu.stop(), azurite.stop()]);
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes every delivered alert (exact payloads) and index.html (the Slack and Teams renderings) to `dir`. */
export async function writeAlertPreview(delivered: readonly SinkRequest[], dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const items = new Map<string, PreviewItem>();
  const files: string[] = [];
  let n = 0;
  for (const request of delivered) {
    const channel = request.path.split("/")[1] ?? "other";
    const file = `${String(++n).padStart(2, "0")}-${channel}.json`;
    await writeFile(path.join(dir, file), `${JSON.stringify(request.body, null, 2)}\n`);
    files.push(file);
    // A Slack message and a Teams card about the same thing share their headline.
    const title = summarizeDelivery(request).replace(/^\S+\s+\d+\s+/, "");
    const item = items.get(title) ?? { title, files: [] };
    item.files.push(file);
    if (channel === "slack") item.slack = request.body;
    if (channel === "teams") item.teams = request.body;
    items.set(title, item);
  }
  await writeFile(path.join(dir, "index.html"), previewPage([...items.values()]));
  return [...files, "index.html"];
}
