// What a VPC endpoint policy lets through. An endpoint policy is an IAM resource policy (PrivateLink guide, "Control
// access to VPC endpoints using endpoint policies"): Allow statements name principals, actions and resources, may be
// narrowed by conditions, and Deny statements take precedence. The default policy allows everyone everything.
//
// Who: an Allow whose principal is `*` (or `{"AWS": "*"}`, or a NotPrincipal) admits everyone unless a condition
// pins the caller to allow-listed principals (aws:PrincipalAccount, aws:PrincipalOrgID, aws:PrincipalArn with
// StringEquals/StringLike/ArnEquals/ArnLike), or a blanket Deny (everyone, every action, every resource) refuses
// everyone else (the same keys with StringNotEquals/StringNotLike/ArnNotEquals/ArnNotLike). `…IfExists` operators
// restrict nothing (an absent key passes).
// A statement pinned to AWS service principals (Bool aws:PrincipalIsAWSService "true", as AWS's data perimeter
// examples write it) admits only AWS services acting on their own, and is not an exfiltration path.
// What: Resource patterns must fall within the allowed resources (ARN patterns); `*` passes only when pinned to
// allowed accounts or organizations by aws:ResourceAccount, s3:ResourceAccount or aws:ResourceOrgID, the same two ways.

import { globCovers } from "./glob.ts";
import { type AllowList, outsideAllowList, parsePrincipal } from "./principals.ts";

type Json = Record<string, unknown>;

export interface PolicyProblem {
  statement: string;
  problem: string;
}

export interface ResourceAllowList {
  patterns: readonly string[];
  accounts: ReadonlySet<string>;
  organizations: ReadonlySet<string>;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : value === undefined ? [] : [value];
}

function strings(value: unknown): string[] {
  return asArray(value).filter((v): v is string => typeof v === "string");
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const PRINCIPAL_KEYS = new Set(["aws:principalaccount", "aws:principalorgid", "aws:principalarn"]);
const RESOURCE_KEYS = new Set(["aws:resourceaccount", "s3:resourceaccount", "aws:resourceorgid"]);
const POSITIVE = new Set(["stringequals", "stringlike", "arnequals", "arnlike", "stringequalsignorecase"]);
const NEGATED = new Set([
  "stringnotequals",
  "stringnotlike",
  "arnnotequals",
  "arnnotlike",
  "stringnotequalsignorecase",
]);

/** The values a condition block pins `keys` to, using the given operator family; undefined when it pins nothing. */
function pinned(condition: unknown, keys: ReadonlySet<string>, operators: ReadonlySet<string>): string[][] {
  if (!isObject(condition)) return [];
  const out: string[][] = [];
  for (const [operator, block] of Object.entries(condition)) {
    // Set operators (ForAnyValue:/ForAllValues:) concern multivalued keys; these keys are single-valued.
    if (!operators.has(operator.toLowerCase()) || !isObject(block)) continue;
    for (const [key, values] of Object.entries(block)) {
      if (keys.has(key.toLowerCase())) out.push(strings(values));
    }
  }
  return out;
}

/** Bool aws:PrincipalIsAWSService "true": only AWS service principals can use the statement. */
function onlyAwsServices(condition: unknown): boolean {
  if (!isObject(condition)) return false;
  return Object.entries(condition).some(
    ([operator, block]) =>
      operator.toLowerCase() === "bool" &&
      isObject(block) &&
      Object.entries(block).some(
        ([key, value]) =>
          key.toLowerCase() === "aws:principalisawsservice" &&
          strings(value).length > 0 &&
          strings(value).every((v) => v.toLowerCase() === "true"),
      ),
  );
}

function coversAll(value: unknown): boolean {
  return asArray(value).some((v) => v === "*");
}

/** Statements that refuse everyone every action on everything unless a negated condition holds. */
function blanketDenies(statements: Json[]): Json[] {
  return statements.filter(
    (s) =>
      s.Effect === "Deny" &&
      (s.Principal === undefined ||
        s.Principal === "*" ||
        (isObject(s.Principal) && coversAll(s.Principal.AWS))) &&
      s.NotPrincipal === undefined &&
      coversAll(s.Action) &&
      s.NotAction === undefined &&
      coversAll(s.Resource) &&
      s.NotResource === undefined,
  );
}

function principalValueAllowed(value: string, list: AllowList): boolean {
  // Account ids, ARNs and org ids as the condition keys spell them; a wildcard value must be covered by a pattern.
  if (value.includes("*") || value.includes("?")) return list.iamPatterns.some((p) => globCovers(p, value));
  return outsideAllowList(parsePrincipal(value), list) === undefined;
}

function resourceValueAllowed(value: string, allowed: ResourceAllowList): boolean {
  return allowed.accounts.has(value) || allowed.organizations.has(value);
}

/** Every way one endpoint policy document lets a principal or a resource outside the allow-lists through. */
export function endpointPolicyProblems(
  document: string | undefined,
  principals: AllowList,
  strictPrincipals: boolean,
  resources: ResourceAllowList | undefined,
): PolicyProblem[] {
  if (document === undefined || document.trim() === "") return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch {
    return [{ statement: "(document)", problem: "the policy document is not valid JSON" }];
  }
  if (!isObject(parsed))
    return [{ statement: "(document)", problem: "the policy document is not a JSON object" }];
  const statements = asArray(parsed.Statement).filter(isObject);
  const denies = blanketDenies(statements);
  const deniedPrincipals = denies.flatMap((d) => pinned(d.Condition, PRINCIPAL_KEYS, NEGATED));
  const deniedResources = denies.flatMap((d) => pinned(d.Condition, RESOURCE_KEYS, NEGATED));
  const problems: PolicyProblem[] = [];
  statements.forEach((s, index) => {
    if (s.Effect !== "Allow") return;
    const label = typeof s.Sid === "string" && s.Sid !== "" ? s.Sid : `Statement[${index}]`;
    if (onlyAwsServices(s.Condition)) return;
    const restrictedBy = [...pinned(s.Condition, PRINCIPAL_KEYS, POSITIVE), ...deniedPrincipals];
    const principalPinned =
      restrictedBy.length > 0 &&
      (!strictPrincipals ||
        restrictedBy.some(
          (values) => values.length > 0 && values.every((v) => principalValueAllowed(v, principals)),
        ));
    const everyone =
      s.NotPrincipal !== undefined ||
      s.Principal === undefined ||
      s.Principal === "*" ||
      (isObject(s.Principal) && coversAll(s.Principal.AWS));
    if (everyone && !principalPinned) {
      const named = [...new Set(restrictedBy.flat())];
      problems.push({
        statement: label,
        problem:
          named.length === 0
            ? "allows any principal (*)"
            : `allows any principal of ${named.join(", ")}, outside the allow-list`,
      });
    } else if (!everyone && strictPrincipals && !principalPinned && isObject(s.Principal)) {
      for (const named of strings(s.Principal.AWS)) {
        const reason = outsideAllowList(parsePrincipal(named), principals);
        if (reason !== undefined) problems.push({ statement: label, problem: `allows ${named}: ${reason}` });
      }
    }
    if (resources === undefined) return;
    const resourcePinned = [...pinned(s.Condition, RESOURCE_KEYS, POSITIVE), ...deniedResources].some(
      (values) => values.length > 0 && values.every((v) => resourceValueAllowed(v, resources)),
    );
    if (resourcePinned) return;
    if (s.NotResource !== undefined || s.Resource === undefined) {
      problems.push({ statement: label, problem: "allows every resource (NotResource or no Resource)" });
      return;
    }
    for (const resource of strings(s.Resource)) {
      if (!resources.patterns.some((p) => globCovers(p, resource))) {
        problems.push({
          statement: label,
          problem: `allows resource ${resource}, outside the allowed resources`,
        });
      }
    }
  });
  return problems;
}
