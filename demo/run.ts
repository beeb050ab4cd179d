import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureMoto, MotoUnavailableError } from "../test/harness/moto.ts";
import { startWebhookSink, summarizeDelivery } from "../test/harness/webhook-sink.ts";
import { type Check, runAzureScenario } from "./azure.ts";
import { runAzurePrivateLinkScenario } from "./azure-private-link.ts";

const here = path.dirname(fileURLToPath(import.meta.url));

/** moto's server for the AWS half, set up on first use; when it cannot be, the one line saying why. */
function findMoto(print: (text: string) => void): { ok: true } | { ok: false; reason: string } {
  try {
    ensureMoto((line) => print(`  ${line}`));
    return { ok: true };
  } catch (error) {
    if (error instanceof MotoUnavailableError) return { ok: false, reason: error.message };
    throw error;
  }
}

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
    print("\nAWS: a Lambda (middy) on EventBridge, the real EC2 SDK, moto's server");
    const moto = findMoto(print);
    if (moto.ok) {
      const { runAwsScenario } = await import("./aws.ts");
      const ok = await runAwsScenario({ print, sink });
      checks.push({ name: "AWS scenario: only the /0 revoked, alert names the actor", ok });
    } else {
      print(`  ${moto.reason}`);
      checks.push({ name: "AWS scenario ran (it needs moto: see above)", ok: false });
    }
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
