import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startWebhookSink, summarizeDelivery } from "../test/harness/webhook-sink.ts";
import type { AwsDemoEstate } from "./aws.ts";
import { type AzureDemoEstate, type Check, runAzureScenario } from "./azure.ts";
import { runAzurePrivateLinkScenario } from "./azure-private-link.ts";
import { runDemoScan } from "./scan.ts";

export interface DemoOptions {
  /** Where the scan's report goes; a new folder under the system's temporary directory by default. */
  reportDir?: string;
  /**
   * `guardian demo --serve`: the emulators stay up after the demo, with the environment that points `guardian scan`
   * at them printed, until this settles (Ctrl-C).
   */
  serveUntil?: Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * `npm start`: the emulators, real-shaped changes, the guardian's decisions, the alerts as delivered, and a
 * summary. Everything it starts is stopped before it returns; false when an expected outcome did not happen.
 */
export async function runDemo(
  io: { print(text: string): void },
  options: DemoOptions = {},
): Promise<boolean> {
  const { print } = io;
  let azure: AzureDemoEstate | undefined;
  let awsEstate: AwsDemoEstate | undefined;
  const sink = await startWebhookSink({
    onReceive: (r) => print(`  alert delivered → ${summarizeDelivery(r)}`),
  });
  const checks: Check[] = [];
  try {
    print(
      "network-guardian demo\n=====================\n\nAzure: an Azure Function on Event Grid, the real ARM SDK, a local ARM emulator",
    );
    const policyFile = path.join(here, "policy.yaml");
    checks.push(
      ...(await runAzureScenario({
        print,
        sink,
        policyFile,
        keep: (estate) => {
          azure = estate;
        },
      })),
    );
    checks.push(
      ...(await runAzurePrivateLinkScenario({
        print,
        sink,
        policyFile,
        privateLinkPolicyFile: path.join(here, "private-link-policy.yaml"),
      })),
    );
    const aws = await import("./aws.ts").catch(() => undefined);
    if (aws) {
      print("\nAWS: a Lambda (middy) on EventBridge, the real EC2 SDK, moto's server");
      const ok = await aws.runAwsScenario({
        print,
        sink,
        keep: (estate) => {
          awsEstate = estate;
        },
      });
      checks.push({ name: "AWS scenario: only the /0 revoked, alert names the actor", ok });
    }
    if (azure) {
      print("\nScan: drift that no event announced, found by `guardian scan` over both clouds (report-only)");
      const dir = options.reportDir ?? (await mkdtemp(path.join(tmpdir(), "guardian-demo-report-")));
      const scan = await runDemoScan({
        print,
        azure,
        ...(awsEstate ? { aws: awsEstate } : {}),
        policyFile,
        dir,
      });
      const found = new Set(scan.report.findings.map((f) => f.resourceId));
      checks.push({
        name: "the scan found the drift no event announced, covered everything and wrote the HTML report and SARIF",
        ok: scan.missed.every((id) => found.has(id)) && scan.report.complete,
      });
      if (options.serveUntil) await serve(print, azure, awsEstate, dir, options.serveUntil);
    }
  } finally {
    await sink.stop();
    await Promise.all([azure?.emulator.stop(), awsEstate?.moto.stop()]);
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

/** Prints how to point `guardian scan` at the running emulators and waits. */
async function serve(
  print: (text: string) => void,
  azure: AzureDemoEstate,
  aws: AwsDemoEstate | undefined,
  dir: string,
  until: Promise<void>,
): Promise<void> {
  const ca = path.join(dir, "arm-ca.pem");
  await writeFile(ca, azure.emulator.ca);
  const env = [
    `export AZURE_ARM_ENDPOINT=${azure.emulator.url}`,
    `export AZURE_ARM_CA_FILE=${ca}`,
    `export GUARDIAN_AZURE_ACCESS_TOKEN=${azure.token}`,
    ...(aws
      ? [
          `export GUARDIAN_EC2_ENDPOINT=${aws.moto.endpoint}`,
          `export AWS_REGION=${aws.region} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing`,
        ]
      : []),
  ];
  const targets = `--azure-subscription ${azure.subscriptionId}${aws ? ` --aws-region ${aws.region}` : ""}`;
  print(
    `\nThe emulators keep running (Ctrl-C stops them). In another shell:\n\n${env.join("\n")}\n` +
      `npm run guardian -- scan ${targets} --format html --output report.html\n`,
  );
  await until;
}
