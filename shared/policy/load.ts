import { isNode, LineCounter, parseDocument } from "yaml";
import { dedupe, flattenIssues, formatPath, PolicyError } from "./file.ts";
import { type Policy, policySchema } from "./schema.ts";

export { formatProblem, loadPolicyFile, PolicyError, type PolicyProblem } from "./file.ts";

export function parsePolicy(text: string, file = "policy.yaml"): Policy {
  return parsePolicyDocument(text, file).policy;
}

/** The validated policy and the plain document it came from (what `guardian policy compile` writes as JSON). */
export function parsePolicyDocument(text: string, file = "policy.yaml"): { policy: Policy; data: unknown } {
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
  if (result.success) return { policy: result.data, data };
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
