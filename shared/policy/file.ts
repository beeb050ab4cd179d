// Reading GUARDIAN_POLICY_FILE at cold start: a compiled JSON policy (`guardian policy compile`) is validated by the
// same schema without loading the YAML parser, which only a YAML file pulls in, on demand.
import { readFile, stat } from "node:fs/promises";
import type { z } from "zod";
import { clip, fileProblem, InputError } from "../errors.ts";
import { decodeText, formatBytes } from "../input.ts";
import { ruleRegistry } from "../rules/index.ts";
import { type Policy, policyJsonSchema, policySchema } from "./schema.ts";

/** One problem in a policy file, located for the person who has to fix it. */
export interface PolicyProblem {
  /** YAML path such as `rules[2].options.ports[0]`; empty for the document itself. */
  path: string;
  line: number | undefined;
  message: string;
}

/** A policy that failed to load; `problems` lists every problem found, not just the first. */
export class PolicyError extends InputError {
  readonly problems: PolicyProblem[];
  readonly file: string;
  constructor(file: string, problems: PolicyProblem[]) {
    const first = problems[0];
    super(`${file}: ${problems.map(formatProblem).join("; ")}`, {
      path: first?.path,
      line: first?.line,
    });
    this.file = file;
    this.problems = problems;
  }
}

export function formatProblem(p: PolicyProblem): string {
  const where = [p.line !== undefined ? `line ${p.line}` : undefined, p.path || undefined]
    .filter(Boolean)
    .join(", ");
  return where ? `${where}: ${p.message}` : p.message;
}

/** True for a policy file to read as JSON (the output of `guardian policy compile`); anything else is YAML. */
export function isJsonPolicyFile(file: string): boolean {
  return /\.json$/i.test(file);
}

/** Validates an already parsed policy document; problems name the path (JSON carries no line to point at). */
export function policyFromData(data: unknown, file: string): Policy {
  if (data === null || data === undefined) throw new PolicyError(file, [EMPTY_POLICY]);
  const proto = protoKeyPath(data);
  if (proto) throw new PolicyError(file, [{ path: formatPath(proto), line: undefined, message: PROTO_KEY }]);
  const result = policySchema.safeParse(data);
  if (result.success) return result.data;
  throw new PolicyError(
    file,
    dedupe(
      flattenIssues(result.error.issues, data).map((issue) => ({
        path: formatPath(issue.path),
        line: undefined,
        message: issue.message,
      })),
    ),
  );
}

export function parseJsonPolicy(text: string, file = "policy.json"): Policy {
  checkPolicySize(text, file);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new PolicyError(file, [
      { path: "", line: undefined, message: `JSON syntax: ${clip((error as Error).message, 300)}` },
    ]);
  }
  try {
    return policyFromData(data, file);
  } catch (error) {
    if (error instanceof PolicyError) throw error;
    // A document nested deep enough to overflow validation is still only a bad policy.
    throw new PolicyError(file, [
      { path: "", line: undefined, message: `JSON: ${clip(String((error as Error)?.message), 300)}` },
    ]);
  }
}

/**
 * The largest policy file the guardian reads. A policy is a few KB (the baseline is under 3 KB; a thousand
 * exemptions are about 150 KB); parsing YAML takes about a hundred times its size in memory, so a 20 MB file would
 * need gigabytes. Larger files are refused before they are read.
 */
export const MAX_POLICY_BYTES = 512 * 1024;

const POLICY_SIZE_HINT = "a policy is a few KB; split exemptions out or remove unused entries";

/** Refuses a policy text over MAX_POLICY_BYTES (UTF-8), saying so. */
export function checkPolicySize(text: string, file: string): void {
  // A character is at least one byte, so only texts near the limit need measuring.
  if (text.length <= MAX_POLICY_BYTES / 3) return;
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > MAX_POLICY_BYTES) throw tooLarge(file, bytes);
}

/**
 * A policy file's text: UTF-8 (a byte order mark is fine) or UTF-16 with a byte order mark, at most MAX_POLICY_BYTES.
 * A file that cannot be read is an InputError; one too large or not valid text is a PolicyError, like any other
 * problem of its content.
 */
export async function readPolicyText(file: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    const info = await stat(file);
    if (info.isFile() && info.size > MAX_POLICY_BYTES) throw tooLarge(file, info.size);
    bytes = await readFile(file);
  } catch (cause) {
    if (cause instanceof PolicyError) throw cause;
    throw new InputError(fileProblem(file, cause, "read", "policy file"), { cause });
  }
  if (bytes.length > MAX_POLICY_BYTES) throw tooLarge(file, bytes.length);
  let text: string;
  try {
    text = decodeText(bytes, "the file");
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    throw new PolicyError(file, [{ path: "", line: undefined, message: error.message }]);
  }
  if (text.trim() === "") throw new PolicyError(file, [EMPTY_POLICY]);
  return text;
}

/** A policy file with nothing in it (or, in YAML, only comments). */
export const EMPTY_POLICY: PolicyProblem = {
  path: "",
  line: undefined,
  message: "the policy file is empty: it needs at least `version: 1` and `rules:` (see `guardian rules`)",
};

function tooLarge(file: string, bytes: number): PolicyError {
  return new PolicyError(file, [
    {
      path: "",
      line: undefined,
      message: `the policy is ${formatBytes(bytes)}; the guardian reads policies up to ${formatBytes(MAX_POLICY_BYTES)} (${POLICY_SIZE_HINT})`,
    },
  ]);
}

/** A policy file, JSON or YAML by its extension. */
export async function loadPolicyFile(file: string): Promise<Policy> {
  const text = await readPolicyText(file);
  if (isJsonPolicyFile(file)) return parseJsonPolicy(text, file);
  // Bundled without code splitting this stays in the bundle, but its module (and the YAML parser's) is only
  // evaluated when a YAML policy is actually read.
  const { parsePolicy } = await import("./load.ts");
  return parsePolicy(text, file);
}

type Issue = z.core.$ZodIssue;

/**
 * A discriminated union reports "no matching discriminator" at the entry; a wrong field inside a known rule
 * comes back nested. Either way we want the deepest, most specific path.
 */
export function flattenIssues(
  issues: readonly Issue[],
  data?: unknown,
  prefix: readonly PropertyKey[] = [],
): { path: PropertyKey[]; message: string }[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      const nested = issue.errors.flatMap((errs) => flattenIssues(errs, data, path));
      if (nested.length > 0) return nested;
    }
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        path: [...path, key],
        message: `unknown field "${key}"${suggest(key)}`,
      }));
    }
    if (issue.code === "invalid_union" && "discriminator" in issue && issue.discriminator === "rule") {
      const at = path.at(-1) === "rule" ? path : [...path, "rule"];
      const given = valueAt(data, at);
      const near = typeof given === "string" ? closest(given, Object.keys(ruleRegistry), 3) : undefined;
      const hint = near ? `did you mean "${near}"? ` : "";
      return [{ path: at, message: `unknown rule (${hint}see \`guardian rules\` or policy.schema.json)` }];
    }
    return [{ path, message: issue.message }];
  });
}

let knownKeys: readonly string[] | undefined;

/**
 * Every field name the policy schema has anywhere (top level, entries, each rule's options, subnet roles, alerts),
 * read from the schema the editor gets, so a field added to a rule is suggested without a list to keep in sync.
 * Computed on the first typo only.
 */
function policyKeys(): readonly string[] {
  if (knownKeys) return knownKeys;
  const keys = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) for (const item of node) walk(item);
    else if (node !== null && typeof node === "object") {
      const properties = (node as { properties?: unknown }).properties;
      if (properties !== null && typeof properties === "object")
        for (const k of Object.keys(properties)) keys.add(k);
      for (const value of Object.values(node)) walk(value);
    }
  };
  walk(policyJsonSchema());
  knownKeys = [...keys];
  return knownKeys;
}

/** The closest known field within two edits (`nmes` → `names`, not the first within reach such as `name`). */
function suggest(key: string): string {
  const best = closest(key, policyKeys(), 2);
  return best ? ` (did you mean "${best}"?)` : "";
}

/** The candidate nearest to `given` (case aside) within `reach` edits, if any. */
function closest(given: string, candidates: readonly string[], reach: number): string | undefined {
  const lower = given.toLowerCase();
  let best: { key: string; distance: number } | undefined;
  for (const k of candidates) {
    const distance = k.toLowerCase() === lower ? 0 : editDistance(k.toLowerCase(), lower);
    if (distance <= reach && (!best || distance < best.distance)) best = { key: k, distance };
  }
  return best?.key;
}

/** The value at a validation path in the parsed document (own properties only), or undefined. */
function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let node = data;
  for (const key of path) {
    if (node === null || typeof node !== "object" || typeof key === "symbol") return undefined;
    if (!Object.hasOwn(node, key)) return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] ?? 0;
      row[j] = Math.min((row[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] ?? 0;
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((seg, i) => (typeof seg === "number" ? `[${seg}]` : i === 0 ? String(seg) : `.${String(seg)}`))
    .join("");
}

export function dedupe(problems: PolicyProblem[]): PolicyProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}|${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export const PROTO_KEY =
  'the key "__proto__" is not allowed (it would be dropped silently, e.g. widening a scope)';

/**
 * The path of the first `__proto__` key in a parsed document. JSON and YAML keep such a key as data, but zod drops it
 * without a word, so `scope: {tags: {__proto__: "*"}}` would become an empty scope that matches every resource.
 * Iterative: a document nested deep must not overflow the stack here either.
 */
export function protoKeyPath(data: unknown): PropertyKey[] | undefined {
  // Each entry points at its parent, so the path is built only for the key found, not for every node.
  interface Entry {
    node: unknown;
    key?: PropertyKey;
    parent?: Entry;
  }
  const stack: Entry[] = [{ node: data }];
  const pathOf = (entry: Entry | undefined, last: PropertyKey): PropertyKey[] => {
    const path = [last];
    for (let at = entry; at?.key !== undefined; at = at.parent) path.push(at.key);
    return path.reverse();
  };
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const { node } = top;
    if (typeof node !== "object" || node === null) continue;
    if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push({ node: node[i], key: i, parent: top });
      continue;
    }
    if (Object.hasOwn(node, "__proto__")) return pathOf(top, "__proto__");
    for (const [key, value] of Object.entries(node)) stack.push({ node: value, key, parent: top });
  }
  return undefined;
}
