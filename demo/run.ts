import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startWebhookSink, summarizeDelivery } from "../test/harness/webhook-sink.ts";
import { runAlertStorm, writeAlertPreview } from "./alerts.ts";
import { type Check, runAzureScenario } from "./azure.ts";
import { runAzurePrivateLinkScenario } from "./azure-private-link.ts";

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * `npm start`: the emulators, real-shaped changes, the guardian's decisions, the alerts as delivered, and a
 * summary. Everything it starts is stopped before it returns; false when an expected outcome did not happen.
 */
export async function runDemo(io: { print(text: string): void }): Promise<boolean> {
  const { print } = io;
  const sink = await startWebhookSink({
    onReceive: (r) => print(`  alert delivered → ${summarizeDelivery(r)}`),
  });
  const checks: Check[] = [];
  try {
    print(
      "network-guardian demo\n=====================\n\nAzure: an Azure Function on Event Grid, the real ARM SDK, a local ARM emulator",
    );
    checks.push(...(await runAzureScenario({ print, sink, policyFile: path.join(here, "policy.yaml") })));
    checks.push(
      ...(await runAzurePrivateLinkScenario({
        print,
        sink,
        policyFile: path.join(here, "policy.yaml"),
        privateLinkPolicyFile: path.join(here, "private-link-policy.yaml"),
      })),
    );
    const aws = await import("./aws.ts").catch(() => undefined);
    if (aws) {
      print("\nAWS: a Lambda (middy) on EventBridge, the real EC2 SDK, moto's server");
      const ok = await aws.runAwsScenario({ print, sink });
      checks.push({ name: "AWS scenario: only the /0 revoked, alert names the actor", ok });
    }
    checks.push(...(await alertsPart(print, sink)));
  } finally {
    await sink.stop();
  }
  print("\nSummary\n-------");
  for (const c of checks) print(`  ${c.ok ? "✔" : "✘"} ${c.name}`);
  const failed = checks.filter((c) => !c.ok).length;
  print(
    failed === 0
      ? `\nAll ${checks.length} expected outcomes happened.`
      : `\n${failed} expected outcome(s) did not happen.`,
  );
  return failed === 0;
}

/** The alert storm and the preview folder; kept apart from the scenarios' decision lines. */
async function alertsPart(
  print: (text: string) => void,
  sink: Awaited<ReturnType<typeof startWebhookSink>>,
): Promise<Check[]> {
  const checks = await runAlertStorm({ print, sink });
  const dir = process.env.GUARDIAN_DEMO_ALERTS_DIR ?? path.join(tmpdir(), "network-guardian-demo-alerts");
  const files = await writeAlertPreview(sink.received, dir);
  print(`\nEvery alert above, as delivered: ${files.length - 1} payload file(s) and a preview page`);
  print(`  open ${path.join(dir, "index.html")}`);
  checks.push({
    name: "alert payloads and an HTML preview of the Slack and Teams renderings written",
    ok: files.includes("index.html") && files.length > 2,
  });
  return checks;
}
