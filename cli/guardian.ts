#!/usr/bin/env node
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Command, Option } from "commander";
import { isOwnAwsIdentity } from "../shared/clouds/aws/identity.ts";
import { fileProblem, InputError } from "../shared/errors.ts";
import { expiredExemptions } from "../shared/policy/evaluate.ts";
import { isJsonPolicyFile, readPolicyText } from "../shared/policy/file.ts";
import { formatProblem, loadPolicyFile, PolicyError, parsePolicyDocument } from "../shared/policy/load.ts";
import { policyJsonSchema } from "../shared/policy/schema.ts";
import { ruleRegistry } from "../shared/rules/index.ts";
import type { Snapshot } from "../shared/types.ts";
import { type RecognisedInput, recogniseInput } from "../shared/usecases/inputs.ts";
import { explainEvent, OfflineEvaluation, statesFromEvents } from "../shared/usecases/offline.ts";
import { snapshotsFromJson } from "../shared/usecases/snapshots.ts";
import { readJsonInput } from "./input.ts";
import { count, renderExplanation, renderFindings } from "./output.ts";
import { registerScan } from "./scan.ts";

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

/**
 * Exit codes, documented in the README: 0 evaluated and compliant; 1 findings; 2 bad input or set-up (a file that
 * cannot be read or recognised, an invalid policy, a resource no rule evaluates), reported even when other files had
 * findings, because the run is incomplete; 3 nothing was evaluated (an empty list, events that show no resource).
 */
export const EXIT = { compliant: 0, findings: 1, badInput: 2, nothingEvaluated: 3 } as const;

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
  new Option("--policy <file>", "policy file").default(defaultPolicy, "the shipped policies/baseline.yaml");

/** Item by item: spreading a list into push() fails above about 125,000 items. */
function append<T>(target: T[], items: readonly T[]): void {
  for (const item of items) target.push(item);
}

function warn(kind: "error" | "note" | "warning", text: string) {
  process.stderr.write(`${kind}: ${text}\n`);
}

/** A resource file's snapshots; events in it count only for what they show of a resource (stateFromEvent). */
function snapshotsOf(
  input: RecognisedInput,
  notes: string[],
): { snapshots: Snapshot[]; unevaluated: string[] } {
  const snapshots: Snapshot[] = [];
  for (const r of input.resources) append(snapshots, snapshotsFromJson(r.value, r.source));
  const { states, unevaluated } = statesFromEvents(input.events);
  for (const s of states) {
    snapshots.push(s.snapshot);
    notes.push(`${s.source}: ${s.note}`);
  }
  return { snapshots, unevaluated: unevaluated.map((u) => `${u.source}: ${u.reason}`) };
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `--tenant sub=tenant` pairs; InputError naming a malformed one. */
function tenantOption(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const [sub, tenant, ...rest] = pair.split("=");
    if (!sub || !tenant || rest.length > 0 || !GUID.test(sub) || !GUID.test(tenant)) {
      throw new InputError(`--tenant ${pair}: expected <subscription id>=<tenant id>, two GUIDs`);
    }
    // Two answers for one subscription is a typo, not a preference: the last one silently winning could approve
    // a request under the wrong tenant.
    const key = sub.toLowerCase();
    const previous = out[key];
    if (previous !== undefined && previous !== tenant.toLowerCase()) {
      throw new InputError(`--tenant ${pair}: subscription ${key} was already given tenant ${previous}`);
    }
    out[key] = tenant.toLowerCase();
  }
  return out;
}

export function program(): Command {
  const cmd = new Command("guardian")
    .description("network-guardian: evaluate cloud network resources and events against your policy")
    .version(packageVersion(), "-v, --version", "print the version")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .addHelpText(
      "after",
      "\nExit codes: 0 evaluated and compliant, 1 findings, 2 bad input, 3 nothing was evaluated.",
    );

  cmd
    .command("evaluate")
    .description(
      "evaluate resources as you captured them: ARM GET / az rest / az network nsg show output, aws ec2 describe-security-groups output, describe-vpc-endpoint-service-configurations (with describe-vpc-endpoint-service-permissions and describe-vpc-endpoint-connections in the same object), describe-vpcs with describe-vpc-endpoints, or events that carry the resource or the change (CloudTrail, EventBridge, SQS, Event Grid)",
    )
    .argument("<file...>", "JSON files; each is recognised by its shape")
    .addOption(policyOption())
    .addOption(formatOption())
    // Repeated rather than variadic: a variadic option would swallow the files that follow it
    // (`--tenant a=b kv.json` then said only "missing required argument 'file'").
    .option(
      "--tenant <subscription=tenant>",
      "the Entra tenant of a subscription, for allow entries by tenant; repeat it for several (offline, nothing is looked up: without it, what such entries would decide is shown as held)",
      (pair: string, pairs: string[]) => [...pairs, pair],
      [] as string[],
    )
    .action(async (files: string[], opts: { policy: string; format: string; tenant?: string[] }) => {
      const policy = await loadPolicyFile(opts.policy);
      // File by file: only findings are kept, so memory follows what is found, not how much is read.
      // Subnets whose route table comes in a later file wait for it (only those are kept in memory).
      const run = new OfflineEvaluation(policy, new Date(), tenantOption(opts.tenant ?? []));
      const errors: string[] = [];
      const notes: string[] = [];
      const unevaluated: string[] = [];
      // Reads run a few files ahead of evaluation, so the disk and the CPU overlap while memory stays bounded.
      const ahead = 16;
      // A read that fails ahead of its turn is reported in its turn, with its file named, not as an unhandled rejection.
      const readAhead = (file: string) => {
        const read = readJsonInput(file);
        read.catch(() => undefined);
        return read;
      };
      const reads: Promise<unknown>[] = files.slice(0, ahead).map(readAhead);
      for (const [i, file] of files.entries()) {
        const next = files[i + ahead];
        if (next !== undefined) reads.push(readAhead(next));
        try {
          const input = recogniseInput(await reads[i], file);
          reads[i] = Promise.resolve(undefined);
          append(notes, input.notes);
          append(errors, input.problems);
          const part = snapshotsOf(input, notes);
          append(unevaluated, part.unevaluated);
          run.add(part.snapshots);
          if (part.snapshots.length === 0 && part.unevaluated.length === 0) {
            unevaluated.push(`${file}: ${input.shape}, with nothing in it to evaluate`);
          }
        } catch (error) {
          // One bad file is reported; the others are still evaluated.
          if (!(error instanceof InputError)) throw error;
          reads[i] = Promise.resolve(undefined);
          errors.push(error.message);
        }
      }
      const { findings, notEvaluated, notes: evaluationNotes, evaluated } = run.finish();
      append(notes, evaluationNotes);
      for (const e of errors) warn("error", e);
      for (const n of notEvaluated) warn("error", `${n.resourceId}: ${n.reason}`);
      for (const n of notes) warn("note", n);
      for (const u of unevaluated) warn("note", `not evaluated: ${u}`);
      const counted = findings.filter((f) => f.exempt === undefined);
      if (opts.format === "json") {
        print(JSON.stringify({ evaluated, findings, notEvaluated, errors, notes, unevaluated }, null, 2));
      } else {
        const exempt = findings.length - counted.length;
        const left = errors.length + notEvaluated.length;
        print(
          `${count(evaluated, "resource")} evaluated, ${count(counted.length, "finding")}` +
            `${exempt ? ` (and ${exempt} exempt)` : ""}` +
            `${left ? `; ${count(left, "problem")} (see above)` : ""}`,
        );
        if (findings.length > 0) print(`\n${renderFindings(findings)}`);
      }
      if (errors.length > 0 || notEvaluated.length > 0) throw new Exit(EXIT.badInput);
      if (counted.length > 0) throw new Exit(EXIT.findings);
      if (evaluated === 0) {
        warn("error", "nothing was evaluated (see the notes above)");
        throw new Exit(EXIT.nothingEvaluated);
      }
    });

  cmd
    .command("explain")
    .description("show, offline, what the guardian would do with a captured event")
    .requiredOption(
      "--event <event.json>",
      "the captured event(s): Event Grid (either schema), EventBridge, an SQS/SNS batch, CloudTrail records or log files",
    )
    .option(
      "--resource <resource.json...>",
      "the resource as you captured it (as evaluate takes it), standing in for the read",
    )
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
        const input = recogniseInput(await readJsonInput(opts.event), opts.event);
        if (input.events.length === 0 && input.resources.length > 0) {
          throw new InputError(
            `${opts.event} is ${input.shape}, a resource rather than an event: pass it with --resource, or run guardian evaluate ${opts.event}`,
          );
        }
        const resources: Snapshot[] = [];
        for (const file of opts.resource ?? []) {
          const given = recogniseInput(await readJsonInput(file), file);
          if (given.events.length > 0) {
            throw new InputError(
              `${file} is ${given.shape}, an event rather than a resource: pass it with --event`,
            );
          }
          for (const note of given.notes) warn("note", note);
          for (const r of given.resources) append(resources, snapshotsFromJson(r.value, r.source));
        }
        const self =
          opts.self ??
          (process.env.GUARDIAN_SELF_IDENTITIES ?? "")
            .split(",")
            .map((s) => s.trim())
            .filter(Boolean);
        const result = await explainEvent(policy, input.events, resources, self, (actor) =>
          isOwnAwsIdentity(actor, self),
        );
        for (const p of input.problems) warn("error", p);
        for (const n of input.notes) warn("note", n);
        // explain shows every remediation it plans; with a dry-run policy the deployed guardian would write none.
        if (policy.dryRun && result.actions.some((a) => a.mode === "remediate")) {
          warn(
            "note",
            `${opts.policy} is dry-run (dryRun: true): the deployed guardian would only report the remediations listed, never write them`,
          );
        }
        const malformed = result.changes.filter((c) => "skipped" in c && c.skipped === "malformed");
        for (const c of malformed) if ("skipped" in c) warn("error", `malformed event: ${c.detail}`);
        // A Describe of many groups alongside one event is normal; a --resource matching nothing at all is a mistake.
        const noneUsed = resources.length > 0 && result.unusedResources.length === resources.length;
        if (noneUsed) {
          warn(
            "error",
            `no --resource matches a change in the event (${result.unusedResources.join(", ")}): it was not used`,
          );
        }
        const needsResource = result.changes.filter((c) => "needsResource" in c && c.needsResource === true);
        // The table says it in place; JSON readers get it on stderr too.
        if (opts.format === "json") {
          for (const c of needsResource)
            if ("resourceId" in c) warn("note", `${c.resourceId} not evaluated: ${c.note}`);
        }
        if (opts.format === "json") print(JSON.stringify(result, null, 2));
        else if (result.changes.length === 0) print(`${opts.event}: ${input.shape}, with no event in it`);
        else print(renderExplanation(result));
        if (malformed.length > 0 || noneUsed || input.problems.length > 0) throw new Exit(EXIT.badInput);
        if (result.findings.some((f) => f.exempt === undefined)) throw new Exit(EXIT.findings);
        if (needsResource.length > 0 || result.changes.length === 0) {
          warn(
            "error",
            result.changes.length === 0
              ? "nothing was evaluated: the input holds no event"
              : `nothing was evaluated for ${count(needsResource.length, "change")}: pass the resource with --resource`,
          );
          throw new Exit(EXIT.nothingEvaluated);
        }
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
      for (const e of expiredExemptions(policy, new Date())) {
        warn(
          "warning",
          `${e.path} (${e.entry}): the exemption of ${e.resourceId} expired on ${e.expires} and no longer applies (${e.reason})`,
        );
      }
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
      await writeOut(opts.out, `${JSON.stringify(data, null, 2)}\n`);
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
      if (opts.out) {
        await writeOut(opts.out, text);
        print(`${opts.out}: written`);
      } else process.stdout.write(text);
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

  if (existsSync(demoModule)) {
    cmd
      .command("demo")
      .description(
        "start the emulators, play real-shaped changes and show what the guardian does (npm start)",
      )
      .option("--verbose", "also show request counts and every expected outcome")
      .option(
        "--serve",
        "leave the emulators running afterwards and print how to point `guardian scan` at them",
      )
      .option("--report-dir <dir>", "where the demo scan writes report.html and report.sarif")
      .action(async (opts: { verbose?: boolean; serve?: boolean; reportDir?: string }) => {
        // Imported by a computed path so the bundled command does not carry the emulators.
        const { runDemo } = (await import(pathToFileURL(demoModule).href)) as typeof import("../demo/run.ts");
        const serveUntil = opts.serve
          ? new Promise<void>((resolve) => process.once("SIGINT", () => resolve()))
          : undefined;
        const ok = await runDemo(
          { print, verbose: opts.verbose === true },
          {
            ...(opts.reportDir ? { reportDir: opts.reportDir } : {}),
            ...(serveUntil ? { serveUntil } : {}),
          },
        );
        if (!ok) throw new Exit(1);
      });
  }

  registerScan(cmd, { print, exit: (code) => new Exit(code), policyDefault: defaultPolicy });
  return cmd;
}

/** Writes an output file, creating its folder when needed; a failure is a sentence, not a stack trace. */
async function writeOut(file: string, text: string): Promise<void> {
  try {
    await mkdir(path.dirname(path.resolve(file)), { recursive: true });
    await writeFile(file, text);
  } catch (cause) {
    throw new InputError(fileProblem(file, cause, "write"), { cause });
  }
}

function print(text: string) {
  process.stdout.write(`${text}\n`);
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
