import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadPolicyFile } from "../shared/policy/file.ts";
import { ensureMoto, MotoUnavailableError } from "../test/harness/moto.ts";
import { startWebhookSink } from "../test/harness/webhook-sink.ts";
import type { AwsDemoEstate } from "./aws.ts";
import type { AzureDemoEstate } from "./azure.ts";
import type { Check } from "./words.ts";

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
export const DEMO_POLICY = path.join(here, "policy.yaml");

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
 * The Function entry registers itself with the Functions host when imported; outside the host, @azure/functions
 * says on console.warn that it switched to test mode and skipped the registration. The demo calls the handler
 * directly, so for it those lines are noise: they are left out while the entry loads, and nothing else is.
 */
async function importQuietly<T>(load: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (typeof args[0] === "string" && args[0].includes('"@azure/functions" package')) return;
    warn(...args);
  };
  try {
    return await load();
  } finally {
    console.warn = warn;
  }
}

/**
 * `npm start`: the emulators, real-shaped changes, the guardian's decisions, the alerts as delivered, and what
 * each change left behind. Everything it starts is stopped before it returns; false when an expected outcome did not
 * happen. `verbose` adds request counters and the whole checklist.
 */
export async function runDemo(
  io: { print(text: string): void; verbose?: boolean },
  options: DemoOptions = {},
): Promise<boolean> {
  const { print } = io;
  let azure: AzureDemoEstate | undefined;
  let awsEstate: AwsDemoEstate | undefined;
  let proxy: { endpoint: string; stop(): Promise<void> } | undefined;
  const verbose = io.verbose ?? false;
  const policy = await loadPolicyFile(DEMO_POLICY);
  const sink = await startWebhookSink();
  const checks: Check[] = [];
  try {
    print("network-guardian demo\n=====================\n");
    print(
      `Policy: ${path.relative(process.cwd(), DEMO_POLICY) || DEMO_POLICY} for both clouds (the Private Link scenario reads demo/private-link-policy.yaml, the exfiltration guard demo/exfiltration.yaml):`,
    );
    for (const entry of policy.rules) {
      const remediation =
        "remediation" in entry && entry.mode === "remediate" ? `, ${String(entry.remediation)}` : "";
      print(`  ${entry.name} (${entry.rule}): ${entry.mode}${remediation}, ${entry.severity}`);
    }
    print("\nAzure: an Azure Function on Event Grid, the real ARM SDK, a local ARM emulator");
    const { runAzureScenario } = await importQuietly(() => import("./azure.ts"));
    checks.push(
      ...(await runAzureScenario({
        print,
        verbose,
        sink,
        policyFile: DEMO_POLICY,
        keep: (estate) => {
          azure = estate;
        },
      })),
    );
    const { runAzurePrivateLinkScenario } = await importQuietly(() => import("./azure-private-link.ts"));
    checks.push(
      ...(await runAzurePrivateLinkScenario({
        print,
        verbose,
        sink,
        policyFile: DEMO_POLICY,
        privateLinkPolicyFile: path.join(here, "private-link-policy.yaml"),
      })),
    );
    const { runExfiltrationScenario } = await importQuietly(() => import("./azure-exfiltration.ts"));
    checks.push(
      ...(await runExfiltrationScenario({
        print,
        verbose,
        sink,
        exfiltrationPolicyFile: path.join(here, "exfiltration.yaml"),
      })),
    );
    print("\nAWS: a Lambda (middy) on EventBridge, the real EC2 SDK, moto's server");
    const moto = findMoto(print);
    if (moto.ok) {
      const { runAwsScenario } = await import("./aws.ts");
      checks.push(
        ...(await runAwsScenario({
          print,
          verbose,
          sink,
          policyFile: DEMO_POLICY,
          keep: (estate) => {
            awsEstate = estate;
          },
        })),
      );
      print(
        "\nAWS PrivateLink: the endpoint service in front of the bastion, its connection requests (SNS, sweep)",
      );
      const { runPrivateLinkScenario } = await import("./aws-privatelink.ts");
      checks.push(...(await runPrivateLinkScenario({ print, verbose, sink, policyFile: DEMO_POLICY })));
    } else {
      print(`  ${moto.reason}`);
      checks.push({ name: "AWS scenario ran (it needs moto: see above)", ok: false });
    }
    checks.push(...(await alertsPart(print, sink)));
    if (azure) {
      print("\nScan: drift that no event announced, found by `guardian scan` over both clouds (report-only)");
      const dir = options.reportDir ?? (await mkdtemp(path.join(tmpdir(), "guardian-demo-report-")));
      const { runDemoScan } = await import("./scan.ts");
      // moto has no endpoint service connections: the PrivateLink proxy answers them (none here) and passes the rest.
      const aws = awsEstate as AwsDemoEstate | undefined;
      if (aws) {
        const { startPrivateLinkProxy } = await import("../test/harness/privatelink/proxy.ts");
        proxy = await startPrivateLinkProxy({ target: aws.moto.endpoint });
      }
      const scanAws = aws && proxy ? { endpoint: proxy.endpoint, region: aws.region } : undefined;
      const scan = await runDemoScan({
        print,
        azure,
        ...(scanAws ? { aws: scanAws } : {}),
        policyFile: DEMO_POLICY,
        dir,
      });
      const found = new Set(scan.report.findings.map((f) => f.resourceId));
      checks.push({
        name: "the scan found the drift no event announced, covered everything and wrote the HTML report and SARIF",
        ok: scan.missed.every((id) => found.has(id)) && scan.report.complete,
      });
      if (options.serveUntil) await serve(print, azure, scanAws, dir, options.serveUntil);
    }
  } finally {
    await sink.stop();
    const estates: [AzureDemoEstate | undefined, AwsDemoEstate | undefined] = [azure, awsEstate];
    await proxy?.stop();
    await Promise.all([estates[0]?.emulator.stop(), estates[1]?.moto.stop()]);
  }
  const failed = checks.filter((c) => !c.ok);
  if (verbose) {
    print("\nExpected outcomes\n-----------------");
    for (const c of checks) print(`  ${c.ok ? "✔" : "✘"} ${c.name}`);
  } else if (failed.length > 0) {
    print("\nExpected outcomes that did not happen:");
    for (const c of failed) print(`  ✘ ${c.name}`);
  }
  print(
    failed.length === 0
      ? `\nAll ${checks.length} expected outcomes happened${verbose ? "" : " (--verbose lists them, with request counts)"}.`
      : `\n${failed.length} of ${checks.length} expected outcomes did not happen.`,
  );
  return failed.length === 0;
}

/** The alert storm and the preview folder; kept apart from the scenarios' decision lines. */
async function alertsPart(
  print: (text: string) => void,
  sink: Awaited<ReturnType<typeof startWebhookSink>>,
): Promise<Check[]> {
  const { runAlertStorm, writeAlertPreview } = await importQuietly(() => import("./alerts.ts"));
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

/** Prints how to point `guardian scan` at the running emulators and waits. */
async function serve(
  print: (text: string) => void,
  azure: AzureDemoEstate,
  aws: { endpoint: string; region: string } | undefined,
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
          `export GUARDIAN_EC2_ENDPOINT=${aws.endpoint}`,
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
