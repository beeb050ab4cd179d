// `guardian scan`, run (cli/scan.ts registers its options and imports this when the command runs): lists every resource of every kind in the given subscriptions and regions, evaluates each through
// the event path's pipeline and writes a report. Report-only unless --remediate (which asks first on a terminal).
// Endpoints and the CA come from the runtime's configuration (AZURE_ARM_ENDPOINT, AZURE_ARM_CA_FILE,
// GUARDIAN_EC2_ENDPOINT), so the same command points at the emulators.

import { readFile, writeFile } from "node:fs/promises";
import { createInterface } from "node:readline/promises";
import type { EC2Client } from "@aws-sdk/client-ec2";
import type { TokenCredential } from "@azure/core-auth";
import { outboxFor } from "../shared/alerts-runtime.ts";
import { logAuditSink } from "../shared/audit/index.ts";
import { createEc2Client } from "../shared/clouds/aws/client.ts";
import { awsPort } from "../shared/clouds/aws/runtime.ts";
import { azurePort } from "../shared/clouds/azure/index.ts";
import { AzureNetwork } from "../shared/clouds/azure/network.ts";
import { pageLister } from "../shared/clouds/listers.ts";
import { parseConfig } from "../shared/config.ts";
import { InputError } from "../shared/errors.ts";
import { memoryLogger } from "../shared/log.ts";
import { type GuardianDeps, ResourceLocks } from "../shared/pipeline.ts";
import { loadPolicyFile } from "../shared/policy/file.ts";
import { diffReports, parsePrevious, type ScanDiff } from "../shared/report/diff.ts";
import { renderHtml } from "../shared/report/html.ts";
import { toSarif } from "../shared/report/sarif.ts";
import { renderScanTable } from "../shared/report/table.ts";
import { type ScanProgress, type ScanReport, type ScanTarget, scanEstate } from "../shared/usecases/scan.ts";

import type { ScanCliOptions } from "./scan.ts";

export const TOOL_VERSION = "0.1.0";

/** A credential that returns a bearer token given in the environment (`az account get-access-token`, emulators). */
function tokenCredential(token: string): TokenCredential {
  return { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) };
}

async function azureCredential(env: NodeJS.ProcessEnv, clientId?: string): Promise<TokenCredential> {
  const token = env.GUARDIAN_AZURE_ACCESS_TOKEN;
  if (token) return tokenCredential(token);
  const { DefaultAzureCredential } = await import("@azure/identity");
  return new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
}

function targetsOf(opts: ScanCliOptions): ScanTarget[] {
  const targets: ScanTarget[] = [];
  for (const subscriptionId of opts.azureSubscription ?? []) {
    targets.push({
      cloud: "azure",
      subscriptionId,
      ...(opts.azureResourceGroup ? { resourceGroup: opts.azureResourceGroup } : {}),
    });
  }
  for (const region of opts.awsRegion ?? []) targets.push({ cloud: "aws", region });
  if (targets.length === 0)
    throw new InputError("name what to scan: --azure-subscription ID ... and/or --aws-region R ...");
  return targets;
}

/** Exit code: 0 clean, 1 findings (with --diff: new findings), 2 bad input, 3 the scan did not cover everything. */
export async function runScanCli(
  opts: ScanCliOptions,
  print: (text: string) => void,
  env: NodeJS.ProcessEnv = process.env,
  terminal: { stdin: NodeJS.ReadStream; stderr: NodeJS.WriteStream } = {
    stdin: process.stdin,
    stderr: process.stderr,
  },
): Promise<number> {
  const targets = targetsOf(opts);
  const maxWrites = Number(opts.maxWrites);
  if (!Number.isInteger(maxWrites) || maxWrites < 0)
    throw new InputError(`--max-writes ${opts.maxWrites}: not a count`);
  const cfg = parseConfig(env);
  const policy = await loadPolicyFile(opts.policy);
  const previous =
    opts.diff === undefined
      ? undefined
      : parsePrevious(JSON.parse(await readFile(opts.diff, "utf8")), opts.diff);
  const tty = terminal.stderr.isTTY === true && terminal.stdin.isTTY === true;
  if (opts.remediate && !opts.yes) {
    if (!tty) throw new InputError("--remediate needs --yes when not run on a terminal");
    const rl = createInterface({ input: terminal.stdin, output: terminal.stderr });
    const answer = await rl.question(
      `Remediate drift in ${targets.length} target(s) with ${opts.policy}: at most ${maxWrites} write(s) in this scan ` +
        `(blast-radius cap), at most ${policy.maxWritesPerEvent} per resource${policy.dryRun ? " (the policy is dry-run: nothing will be written)" : ""}. Proceed? [y/N] `,
    );
    rl.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      terminal.stderr.write("not confirmed: nothing was scanned or changed\n");
      return 2;
    }
  }

  const clouds: GuardianDeps["clouds"] = {};
  let network: AzureNetwork | undefined;
  if (targets.some((t) => t.cloud === "azure")) {
    const ca = cfg.azure.caFile ? await readFile(cfg.azure.caFile, "utf8") : undefined;
    network = new AzureNetwork({
      credential: await azureCredential(env, cfg.azure.clientId),
      ...(cfg.azure.endpoint ? { endpoint: cfg.azure.endpoint } : {}),
      ...(ca ? { ca } : {}),
      ...(cfg.azure.pollIntervalMs !== undefined ? { pollIntervalMs: cfg.azure.pollIntervalMs } : {}),
      ...(cfg.azure.requestTimeoutMs !== undefined ? { requestTimeoutMs: cfg.azure.requestTimeoutMs } : {}),
    });
    clouds.azure = azurePort(network, cfg.azure.tenantId ? { tenantId: cfg.azure.tenantId } : {});
  }
  const ec2 = new Map<string, EC2Client>();
  const ec2For = (region: string | undefined) => {
    const r = region ?? cfg.aws.region ?? "us-east-1";
    let client = ec2.get(r);
    if (!client) {
      client = createEc2Client({
        region: r,
        ...(cfg.aws.ec2Endpoint ? { endpoint: cfg.aws.ec2Endpoint } : {}),
      });
      ec2.set(r, client);
    }
    return client;
  };
  if (targets.some((t) => t.cloud === "aws")) clouds.aws = awsPort(ec2For, cfg.selfIdentities);

  const log = memoryLogger();
  const deps: GuardianDeps = {
    policy,
    clouds,
    // Report-only: nothing is sent; with --remediate the alerts are posted to the configured destinations (inline:
    // a CLI run has no sender behind it).
    outbox: opts.remediate ? await outboxFor(undefined, policy, cfg, log) : { enqueue: async () => [] },
    audit: opts.remediate ? logAuditSink(stderrLogger()) : { record: async () => {} },
    selfIdentities: cfg.selfIdentities,
    dryRun: cfg.dryRun,
    log,
    locks: new ResourceLocks(),
  };
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once("SIGINT", onSigint);
  const bar = tty ? progressBar(terminal.stderr) : undefined;
  let report: ScanReport;
  try {
    report = await scanEstate(
      targets,
      deps,
      pageLister({ ...(network ? { azure: network } : {}), aws: ec2For }),
      {
        remediate: opts.remediate === true,
        maxWrites,
        signal: abort.signal,
        ...(bar ? { onProgress: bar.update } : {}),
      },
    );
  } finally {
    process.off("SIGINT", onSigint);
    bar?.done();
  }
  const diff: ScanDiff | undefined =
    previous && opts.diff ? diffReports(report, previous, opts.diff) : undefined;
  const text = render(report, opts.format, diff);
  if (opts.output) {
    await writeFile(opts.output, text);
    if (opts.format !== "table") print(renderScanTable(report, diff).split("\n")[0] ?? "");
    print(`report written to ${opts.output}`);
  } else print(text);
  if (!report.complete) return 3;
  if (diff) return diff.added.length > 0 ? 1 : 0;
  return report.totals.findings > 0 ? 1 : 0;
}

function render(report: ScanReport, format: string, diff?: ScanDiff): string {
  switch (format) {
    case "json":
      return JSON.stringify(diff ? { ...report, diff } : report, null, 2);
    case "sarif":
      return JSON.stringify(toSarif(report, TOOL_VERSION), null, 2);
    case "html":
      return renderHtml(report, diff);
    default:
      return renderScanTable(report, diff);
  }
}

function stderrLogger() {
  const line = (level: string) => (message: string, data?: Record<string, unknown>) => {
    process.stderr.write(`${JSON.stringify({ level, message, ...data })}\n`);
  };
  return { info: line("info"), warn: line("warn"), error: line("error") };
}

/** One line redrawn in place on the terminal: resources listed, evaluated, findings so far. */
function progressBar(out: NodeJS.WriteStream) {
  let last = 0;
  let shown: ScanProgress = { listed: 0, evaluated: 0, findings: 0, pages: 0 };
  const draw = () => {
    const width = 24;
    const done = shown.listed === 0 ? 0 : Math.round((shown.evaluated / shown.listed) * width);
    out.write(
      `\r[${"#".repeat(done)}${".".repeat(width - done)}] listed ${shown.listed}  evaluated ${shown.evaluated}  findings ${shown.findings}  `,
    );
  };
  return {
    update: (p: ScanProgress) => {
      shown = p;
      const now = Date.now();
      if (now - last >= 100) {
        last = now;
        draw();
      }
    },
    done: () => {
      draw();
      out.write("\n");
    },
  };
}
