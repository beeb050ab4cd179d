import { type Alias, isNode, LineCounter, parseDocument, visit } from "yaml";
import { clip } from "../errors.ts";
import {
  checkPolicySize,
  dedupe,
  EMPTY_POLICY,
  flattenIssues,
  formatPath,
  PolicyError,
  PROTO_KEY,
  protoKeyPath,
} from "./file.ts";
import { type Policy, policySchema } from "./schema.ts";

export { formatProblem, loadPolicyFile, PolicyError, type PolicyProblem } from "./file.ts";

export function parsePolicy(text: string, file = "policy.yaml"): Policy {
  return parsePolicyDocument(text, file).policy;
}

/** The validated policy and the plain document it came from (what `guardian policy compile` writes as JSON). */
export function parsePolicyDocument(text: string, file = "policy.yaml"): { policy: Policy; data: unknown } {
  checkPolicySize(text, file);
  try {
    return parseChecked(text, file);
  } catch (error) {
    if (error instanceof PolicyError) throw error;
    // Whatever the YAML library or the validation throws (an alias without its anchor is a ReferenceError, input
    // nested deep enough overflows the stack) is a problem of this file: the caller only ever gets a policy error.
    const what = error instanceof Error ? error.message : String(error);
    throw new PolicyError(file, [
      { path: "", line: undefined, message: `YAML: ${clip(what.split("\n")[0] ?? "", 300)}` },
    ]);
  }
}

/**
 * Aliases may expand to at most this many nodes in all (the yaml library's maxAliasCount). A policy has no use for
 * more; a few nested aliases can otherwise expand a small file into billions of nodes ("billion laughs").
 */
const MAX_ALIAS_COUNT = 50;

function parseChecked(text: string, file: string): { policy: Policy; data: unknown } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new PolicyError(
      file,
      doc.errors.map((e) => ({
        path: "",
        line: e.linePos?.[0]?.line,
        message: `YAML syntax: ${clip(e.message.split("\n")[0] ?? "", 300)}`,
      })),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // The library throws a ReferenceError for an alias without its anchor and for an alias bomb.
    const message = error instanceof Error ? error.message : String(error);
    const bomb = /excessive alias count/i.test(message);
    const offset = bomb ? undefined : unresolvedAlias(doc)?.range?.[0];
    throw new PolicyError(file, [
      {
        path: "",
        line: offset === undefined ? undefined : lineCounter.linePos(offset).line,
        message: bomb
          ? `YAML aliases expand to more than ${MAX_ALIAS_COUNT} nodes; write the entries out instead`
          : `YAML: ${clip(message, 300)}`,
      },
    ]);
  }
  if (data === null || data === undefined) throw new PolicyError(file, [EMPTY_POLICY]);
  const proto = protoKeyPath(data);
  if (proto) {
    const offset = nearestNode(doc, proto)?.range?.[0];
    throw new PolicyError(file, [
      {
        path: formatPath(proto),
        line: offset === undefined ? undefined : lineCounter.linePos(offset).line,
        message: PROTO_KEY,
      },
    ]);
  }
  const result = policySchema.safeParse(data);
  if (result.success) return { policy: result.data, data };
  const problems = flattenIssues(result.error.issues, data).map((issue) => {
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

type YamlDoc = ReturnType<typeof parseDocument>;

/** The first alias whose anchor is not set before it (`rules: *x` with no `&x`). */
function unresolvedAlias(doc: YamlDoc): Alias | undefined {
  let found: Alias | undefined;
  visit(doc, {
    Alias(_, node) {
      if (node.resolve(doc) !== undefined) return undefined;
      found = node;
      return visit.BREAK;
    },
  });
  return found;
}

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
