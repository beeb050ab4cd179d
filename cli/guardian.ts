#!/usr/bin/env node
import { existsSync, readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
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

/**
 * The package's root: `..` from cli/guardian.ts in a clone, `../../..` from the bundle in dist/cli/bundle/ of an
 * installed package. Found by walking up to the directory holding package.json and the shipped baseline policy.
 */
function packageRoot(): string {
  let dir = import.meta.dirname;
  for (let i = 0; i < 5; i++) {
    if (existsSync(path.join(dir, "package.json")) && existsSync(path.join(dir, "policies", "baseline.yaml")))
      return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(import.meta.dirname, "..");
}

const root = packageRoot();
const defaultPolicy = path.join(root, "policies", "baseline.yaml");
// The demo needs the emulators in test/harness: it runs from a clone (`npm start`), not from an installed package.
const demoModule = path.join(root, "demo", "run.ts");

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}

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
    .version(packageVersion(), "-v, --version", "print the version")
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
          `${count(evaluated, "resource")} evaluated, ${count(counted.length, "finding")}${exempt ? `, ${exempt} exempt` : ""}`,
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
      print(`${file}: valid (${count(policy.rules.length, "rule")}${policy.dryRun ? ", dry-run" : ""})`);
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
        `${opts.out}: compiled from ${file} (${count(policy.rules.length, "rule")}${policy.dryRun ? ", dry-run" : ""})`,
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

  if (existsSync(demoModule)) {
    cmd
      .command("demo")
      .description(
        "start the emulators, play real-shaped changes and show what the guardian does (npm start)",
      )
      .action(async () => {
        // Imported by a computed path so the bundled command does not carry the emulators.
        const { runDemo } = (await import(pathToFileURL(demoModule).href)) as typeof import("../demo/run.ts");
        const ok = await runDemo({ print });
        if (!ok) throw new Exit(1);
      });
  }

  registerScan(cmd, { print, exit: (code) => new Exit(code), policyDefault: defaultPolicy });
  return cmd;
}

/** `1 rule`, `3 rules`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function print(text: string) {
  process.stdout.write(`${text}\n`);
}

function shortId(id: string): string {
  const parts = id.split("/");
  return parts.length > 4 ? `${parts.at(-3) ?? ""}/${parts.at(-1) ?? ""}`.replace(/^\//, "") : id;
}

export async function main(argv: string[]): Promise<number> {
  // `guardian rules | head`: a reader that stops early is not an error worth a stack trace.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
    process.exit(process.exitCode ?? 0);
  });
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

// `node cli/guardian.ts` in a clone; the installed command runs through cli/run.ts instead.
if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
