// `guardian scan`'s command line: its options only. The scan itself (cli/scan-run.ts) and the cloud SDKs it needs are
// imported when the command runs, so `guardian --version`, `--help` and `evaluate` never load them.

import { type Command, Option } from "commander";

export interface ScanCliOptions {
  azureSubscription?: string[];
  azureResourceGroup?: string;
  awsRegion?: string[];
  policy: string;
  remediate?: boolean;
  yes?: boolean;
  maxWrites: string;
  format: string;
  output?: string;
  diff?: string;
}

/** Default scan-wide cap on remediation writes; --max-writes changes it. */
export const DEFAULT_SCAN_MAX_WRITES = 50;

export function registerScan(
  cmd: Command,
  io: { print: (text: string) => void; exit: (code: number) => Error; policyDefault: string },
): void {
  cmd
    .command("scan")
    .description(
      "list and evaluate every resource in Azure subscriptions and AWS regions (report-only unless --remediate)",
    )
    .option("--azure-subscription <id...>", "Azure subscription ids to scan")
    .option("--azure-resource-group <name>", "only this resource group of each subscription")
    .option("--aws-region <region...>", "AWS regions to scan")
    .addOption(
      new Option("--policy <file>", "policy file").default(io.policyDefault, "policies/baseline.yaml"),
    )
    .option("--remediate", "apply the policy's remediations (asks for confirmation on a terminal)")
    .option("--yes", "confirm --remediate without asking (required when not on a terminal)")
    .option(
      "--max-writes <n>",
      "blast-radius cap: remediation writes across the whole scan",
      String(DEFAULT_SCAN_MAX_WRITES),
    )
    .addOption(
      new Option("--format <format>", "report format")
        .choices(["table", "json", "sarif", "html"])
        .default("table"),
    )
    .option("--output <file>", "write the report to this file instead of stdout")
    .option("--diff <previous.json>", "mark findings new or resolved since a previous JSON report")
    .action(async (opts: ScanCliOptions) => {
      const { runScanCli } = await import("./scan-run.ts");
      const code = await runScanCli(opts, io.print);
      if (code !== 0) throw io.exit(code);
    });
}
