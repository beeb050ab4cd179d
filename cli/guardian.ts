#!/usr/bin/env node
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Command, Option } from "commander";
import { isOwnAwsIdentity } from "../shared/clouds/aws/identity.ts";
import { InputError } from "../shared/errors.ts";
import { isJsonPolicyFile, readPolicyText } from "../shared/policy/file.ts";
import { formatProblem, loadPolicyFile, PolicyError, parsePolicyDocument } from "../shared/policy/load.ts";
import { policyJsonSchema } from "../shared/policy/schema.ts";
import { ruleRegistry } from "../shared/rules/index.ts";
import { evaluateSnapshots, explainEvent } from "../shared/usecases/offline.ts";
import { snapshotsFromJson } from "../shared/usecases/snapshots.ts";
import { readJsonInput } from "./input.ts";
import { registerScan } from "./scan.ts";
import { renderTable } from "./table.ts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const defaultPolicy = path.join(root, "policies", "baseline.yaml");

/** Exit codes: 0 compliant, 1 findings, 2 bad input. */
class Exit extends Error {
  readonly code: number;
  constructor(code: number) {
    super(`exit ${code}`);
    this.code = code;
  }
}

const formatOption = () =>
  new Option("--format <format>", "output format").choices(["table", "json"]).default("table");
const policyOption = () =>
  new Option("--policy <file>", "policy file").default(defaultPolicy, "policies/baseline.yaml");

export function program(): Command {
  const cmd = new Command("guardian")
    .description("network-guardian: evaluate cloud network resources and events against your policy")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  cmd
    .command("evaluate")
    .description(
      "evaluate resource snapshots exactly as the cloud APIs return them (ARM GET JSON, DescribeSecurityGroups)",
    )
    .argument("<resource.json...>", "files with one resource, a list response, or an array")
    .addOption(policyOption())
    .addOption(formatOption())
    .action(async (files: string[], opts: { policy: string; format: string }) => {
      const policy = await loadPolicyFile(opts.policy);
      // File by file: only findings are kept, so memory follows what is found, not how much is read.
      const result: ReturnType<typeof evaluateSnapshots> = { findings: [], notEvaluated: [] };
      let evaluated = 0;
      // Reads run a few files ahead of evaluation, so the disk and the CPU overlap while memory stays bounded.
      const ahead = 16;
      // A read that fails ahead of its turn is reported in its turn, with its file named, not as an unhandled rejection.
      const readAhead = (file: string) => {
        const read = readJsonInput(file);
        read.catch(() => undefined);
        return read;
      };
      const reads = files.slice(0, ahead).map(readAhead);
      for (const [i, file] of files.entries()) {
        const next = files[i + ahead];
        if (next !== undefined) reads.push(readAhead(next));
        const snapshots = snapshotsFromJson(await reads[i], file);
        reads[i] = Promise.resolve(undefined);
        const part = evaluateSnapshots(policy, snapshots);
        // One by one: spreading a list into push() fails above about 125,000 items.
        for (const finding of part.findings) result.findings.push(finding);
        for (const item of part.notEvaluated) result.notEvaluated.push(item);
        evaluated += snapshots.length;
      }
      const counted = result.findings.filter((f) => f.exempt === undefined);
      if (opts.format === "json") print(JSON.stringify(result, null, 2));
      else {
        const exempt = result.findings.length - counted.length;
        print(
          `${evaluated} resource(s) evaluated, ${counted.length} finding(s)${exempt ? `, ${exempt} exempt` : ""}`,
        );
        if (result.findings.length > 0) {
          print(
            renderTable(
              ["severity", "policy rule", "resource", "message"],
              result.findings.map((f) => [
                f.exempt ? `exempt (${f.severity})` : f.severity,
                f.policyRule,
                shortId(f.resourceId),
                f.exempt ? `${f.message} — ${f.exempt}` : f.message,
              ]),
            ),
          );
        }
      }
      if (result.notEvaluated.length > 0) {
        for (const n of result.notEvaluated) process.stderr.write(`error: ${n.resourceId}: ${n.reason}\n`);
        throw new Exit(2);
      }
      if (counted.length > 0) throw new Exit(1);
    });

  cmd
    .command("explain")
    .description("show, offline, what the guardian would do with a captured event")
    .requiredOption(
      "--event <event.json>",
      "one event, an array, or a batch (Event Grid, CloudEvents, EventBridge)",
    )
    .option("--resource <snapshot.json...>", "the resource as the API returns it, standing in for the read")
    .option(
      "--self <identity...>",
      "the guardian's own identities (object/app ids, role ARNs); default GUARDIAN_SELF_IDENTITIES",
    )
    .addOption(policyOption())
    .addOption(formatOption())
    .action(
      async (opts: {
        event: string;
        resource?: string[];
        self?: string[];
        policy: string;
        format: string;
      }) => {
        const policy = await loadPolicyFile(opts.policy);
        const event = await readJsonInput(opts.event);
        const resources = [];
        for (const file of opts.resource ?? []) {
          for (const snapshot of snapshotsFromJson(await readJsonInput(file), file)) resources.push(snapshot);
        }
        const self =
          opts.self ??
          (process.env.GUARDIAN_SELF_IDENTITIES ?? "")
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean);
        const result = await explainEvent(policy, event, resources, self, (actor) =>
          isOwnAwsIdentity(actor, self),
        );
        if (opts.format === "json") print(JSON.stringify(result, null, 2));
        else {
          print(
            renderTable(
              ["event", "what", "resource", "actor"],
              result.changes.map((c) =>
                "skipped" in c
                  ? [c.eventId ?? "-", `skipped: ${c.skipped}`, c.detail, ""]
                  : [
                      c.eventId,
                      `${c.operation} (${c.operationName})${c.note ? ` — ${c.note}` : ""}`,
                      shortId(c.resourceId),
                      c.actor.name ?? "-",
                    ],
              ),
            ),
          );
          if (result.findings.length > 0) {
            print(
              renderTable(
                ["severity", "policy rule", "message"],
                result.findings.map((f) => [f.severity, f.policyRule, f.message]),
              ),
            );
            print(
              renderTable(
                ["policy rule", "mode", "would do"],
                result.actions.map((a) => [a.policyRule, a.mode, a.wouldDo]),
              ),
            );
          }
        }
        const malformed = result.changes.filter((c) => "skipped" in c && c.skipped === "malformed");
        for (const c of malformed)
          if ("skipped" in c) process.stderr.write(`error: malformed event: ${c.detail}\n`);
        // A Describe of many groups alongside one event is normal; a --resource matching nothing at all is a mistake.
        const noneUsed = resources.length > 0 && result.unusedResources.length === resources.length;
        if (noneUsed) {
          process.stderr.write(
            `error: no --resource snapshot matches a change in the event (${result.unusedResources.join(", ")}): nothing was evaluated\n`,
          );
        }
        const unevaluated = result.changes.filter((c) => "evaluated" in c && !c.evaluated && c.note);
        for (const c of unevaluated) {
          if ("note" in c) process.stderr.write(`note: ${c.resourceId} not evaluated: ${c.note}\n`);
        }
        if (malformed.length > 0 || noneUsed) throw new Exit(2);
        if (result.findings.some((f) => f.exempt === undefined)) throw new Exit(1);
      },
    );

  const policyCmd = cmd.command("policy").description("work with policy files");
  policyCmd
    .command("validate")
    .argument("<file>", "policy file")
    .description("check a policy file; errors name the YAML path and line")
    .action(async (file: string) => {
      const policy = await loadPolicyFile(file);
      print(`${file}: valid (${policy.rules.length} rules${policy.dryRun ? ", dry-run" : ""})`);
    });
  policyCmd
    .command("compile")
    .argument("<file>", "YAML policy file")
    .requiredOption("--out <file>", "the JSON policy to write (its name must end in .json)")
    .description(
      "validate a YAML policy and write it as JSON, which the deployed guardian reads without a YAML parser",
    )
    .action(async (file: string, opts: { out: string }) => {
      if (!isJsonPolicyFile(opts.out)) {
        // The guardian picks the parser by extension: any other name would be read back as YAML.
        throw new InputError(`--out ${opts.out}: the compiled policy's file name must end in .json`);
      }
      const { policy, data } = parsePolicyDocument(await readPolicyText(file), file);
      // The document as written (defaults stay implicit), so reading it back validates to the same policy.
      await writeFile(opts.out, `${JSON.stringify(data, null, 2)}\n`);
      print(
        `${opts.out}: compiled from ${file} (${policy.rules.length} rules${policy.dryRun ? ", dry-run" : ""})`,
      );
    });
  policyCmd
    .command("schema")
    .description("print (or write) the policy JSON Schema for editors")
    .option("--out <file>", "write to this file instead of stdout")
    .action(async (opts: { out?: string }) => {
      const text = `${JSON.stringify(policyJsonSchema(), null, 2)}\n`;
      if (opts.out) await writeFile(opts.out, text);
      else process.stdout.write(text);
    });

  const alertsCmd = cmd.command("alerts").description("the alert outbox and its dead letters");
  alertsCmd
    .command("replay")
    .description(
      "move dead-lettered alerts back onto the outbox once the destination is fixed (GUARDIAN_ALERT_QUEUE, GUARDIAN_ALERT_DLQ and the cloud's credentials from the environment)",
    )
    .addOption(
      new Option("--cloud <cloud>", "where the guardian runs")
        .choices(["aws", "azure"])
        .makeOptionMandatory(),
    )
    .option("--max <n>", "replay at most this many", "1000")
    .action(async (opts: { cloud: "aws" | "azure"; max: string }) => {
      const { parseConfig } = await import("../shared/config.ts");
      const { replayDeadLetters } = await import("../shared/usecases/replay-alerts.ts");
      const cfg = parseConfig(process.env);
      const queues =
        opts.cloud === "aws"
          ? (await import("../shared/clouds/aws/runtime.ts")).awsAlertQueues(cfg)
          : await (await import("../shared/clouds/azure/runtime.ts")).azureAlertQueues(cfg);
      const max = Number.parseInt(opts.max, 10);
      if (!Number.isInteger(max) || max < 1)
        throw new InputError(`--max ${opts.max}: expected a positive integer`);
      const result = await replayDeadLetters(queues.deadLetters, queues.queue, { max });
      print(`replayed ${result.replayed} message(s) from ${queues.deadLetters.name} to ${queues.queue.name}`);
      for (const s of result.skipped) print(`  left on the dead-letter queue: ${s.reason}`);
      if (result.skipped.length > 0) throw new Exit(1);
    });
  alertsCmd
    .command("schema")
    .description(
      "print (or write) the JSON Schema of the generic webhook's payload (docs/alert-payload.schema.json)",
    )
    .option("--out <file>", "write to this file instead of stdout")
    .action(async (opts: { out?: string }) => {
      const { alertPayloadJsonSchema } = await import("../shared/notify/json.ts");
      const text = `${JSON.stringify(alertPayloadJsonSchema(), null, 2)}\n`;
      if (opts.out) await writeFile(opts.out, text);
      else process.stdout.write(text);
    });

  cmd
    .command("rules")
    .description("list the rules a policy can use, with an example entry each")
    .action(() => {
      for (const rule of Object.values(ruleRegistry)) {
        print(
          `${rule.id} (${rule.cloud}): ${rule.description}\n  remediations: ${rule.remediations.join(", ") || "-"}`,
        );
        print(rule.example.replace(/^/gm, "    "));
      }
    });

  cmd
    .command("demo")
    .description("start the emulators, play real-shaped changes and show what the guardian does (npm start)")
    .action(async () => {
      const { runDemo } = await import("../demo/run.ts");
      const ok = await runDemo({ print });
      if (!ok) throw new Exit(1);
    });

  registerScan(cmd, { print, exit: (code) => new Exit(code), policyDefault: defaultPolicy });
  return cmd;
}

function print(text: string) {
  process.stdout.write(`${text}\n`);
}

function shortId(id: string): string {
  const parts = id.split("/");
  return parts.length > 4 ? `${parts.at(-3) ?? ""}/${parts.at(-1) ?? ""}`.replace(/^\//, "") : id;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof Exit) return error.code;
    if (error instanceof PolicyError) {
      process.stderr.write(`error: invalid policy ${error.file}\n`);
      for (const p of error.problems) process.stderr.write(`  ${formatProblem(p)}\n`);
      return 2;
    }
    if (error instanceof InputError) {
      process.stderr.write(`error: ${error.message}\n`);
      return 2;
    }
    if (typeof error === "object" && error !== null && "code" in error && "exitCode" in error) {
      // commander already printed its message (unknown option, missing argument, --help).
      const code = (error as { code: string; exitCode: number }).code;
      return code === "commander.helpDisplayed" || code === "commander.version" ? 0 : 2;
    }
    process.stderr.write(
      `error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return 2;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
