import { readFile } from "node:fs/promises";
import { isNode, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { InputError } from "../errors.ts";
import { type Policy, policySchema } from "./schema.ts";

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

export function parsePolicy(text: string, file = "policy.yaml"): Policy {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PolicyError(
      file,
      doc.errors.map((e) => ({
        path: "",
        line: e.linePos?.[0]?.line,
        message: `YAML syntax: ${e.message.split("\n")[0]}`,
      })),
    );
  }
  const data: unknown = doc.toJS();
  const result = policySchema.safeParse(data);
  if (result.success) return result.data;
  const problems = flattenIssues(result.error.issues).map((issue) => {
    const node = nearestNode(doc, issue.path);
    const offset = node?.range?.[0];
    return {
      path: formatPath(issue.path),
      line: offset === undefined ? undefined : lineCounter.linePos(offset).line,
      message: issue.message,
    };
  });
  throw new PolicyError(file, dedupe(problems));
}

export async function loadPolicyFile(file: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    throw new InputError(`cannot read policy file ${file}: ${(cause as Error).message}`, { cause });
  }
  return parsePolicy(text, file);
}

type Issue = z.core.$ZodIssue;

/**
 * A discriminated union reports "no matching discriminator" at the entry; a wrong field inside a known rule
 * comes back nested. Either way we want the deepest, most specific path.
 */
function flattenIssues(
  issues: readonly Issue[],
  prefix: readonly PropertyKey[] = [],
): { path: PropertyKey[]; message: string }[] {
  return issues.flatMap((issue) => {
    const path = [...prefix, ...issue.path];
    if (issue.code === "invalid_union" && issue.errors.length > 0) {
      const nested = issue.errors.flatMap((errs) => flattenIssues(errs, path));
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
      return [{ path: at, message: "unknown rule (see `guardian rules` or policy.schema.json)" }];
    }
    return [{ path, message: issue.message }];
  });
}

const KNOWN_KEYS = [
  "version",
  "dryRun",
  "exemptTag",
  "trustedSources",
  "maxWritesPerEvent",
  "rules",
  "name",
  "description",
  "enabled",
  "mode",
  "severity",
  "controls",
  "scope",
  "exemptions",
  "rule",
  "remediation",
  "options",
  "ports",
  "protocols",
  "publicPrefixes",
  "subscriptions",
  "accounts",
  "resourceGroups",
  "regions",
  "tags",
  "resourceId",
  "expires",
  "reason",
];

function suggest(key: string): string {
  const lower = key.toLowerCase();
  const close = KNOWN_KEYS.find(
    (k) => k.toLowerCase() === lower || editDistance(k.toLowerCase(), lower) <= 2,
  );
  return close ? ` (did you mean "${close}"?)` : "";
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

type YamlDoc = ReturnType<typeof parseDocument>;

/** The node to point at for a path: the key of its last segment when present, else its nearest existing ancestor. */
function nearestNode(
  doc: YamlDoc,
  path: readonly PropertyKey[],
): { range?: readonly number[] | null } | undefined {
  const key = path.at(-1);
  if (typeof key === "string") {
    const parent = getNode(doc, path.slice(0, -1));
    const items: unknown = parent && "items" in parent ? parent.items : undefined;
    if (Array.isArray(items)) {
      for (const item of items) {
        const pairKey: unknown =
          typeof item === "object" && item !== null && "key" in item ? item.key : undefined;
        if (isNode(pairKey) && "value" in pairKey && pairKey.value === key) return pairKey;
      }
    }
  }
  for (let depth = path.length; depth >= 0; depth--) {
    const node = getNode(doc, path.slice(0, depth));
    if (node) return node;
  }
  return undefined;
}

function getNode(doc: YamlDoc, path: readonly PropertyKey[]) {
  const node = path.length === 0 ? doc.contents : doc.getIn(path as (string | number)[], true);
  return isNode(node) ? node : undefined;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((seg, i) => (typeof seg === "number" ? `[${seg}]` : i === 0 ? String(seg) : `.${String(seg)}`))
    .join("");
}

function dedupe(problems: PolicyProblem[]): PolicyProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}|${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
