import { clip, InputError } from "../errors.ts";
import { ruleRegistry } from "../rules/index.ts";
import type { RuleContext, RuleDefinition } from "../rules/types.ts";
import type { Finding, Mode, Snapshot } from "../types.ts";
import type { Policy, PolicyEntry } from "./schema.ts";

export interface EvaluatedFinding {
  finding: Finding;
  entry: PolicyEntry;
}

export function ruleFor(entry: PolicyEntry): RuleDefinition {
  // Own properties only: a name such as `constructor` must not reach Object.prototype.
  const rule = Object.hasOwn(ruleRegistry, entry.rule)
    ? (ruleRegistry as Record<string, RuleDefinition>)[entry.rule]
    : undefined;
  if (!rule) throw new InputError(`unknown rule ${JSON.stringify(clip(String(entry.rule), 100))}`);
  return rule;
}

/** Prefixes trusted for this entry: the policy's plus the entry's own option. */
export function trustedSourcesFor(policy: Policy, entry: PolicyEntry): string[] {
  const own = (entry.options as { trustedSources?: string[] } | undefined)?.trustedSources ?? [];
  return [...policy.trustedSources, ...own];
}

/** An entry's options with the rule's defaults applied, parsed once per loaded policy. */
function optionsFor(entry: PolicyEntry, rule: RuleDefinition): unknown {
  let options = parsedOptions.get(entry);
  if (options === undefined) {
    options = rule.options.parse(entry.options ?? {});
    parsedOptions.set(entry, options);
  }
  return options;
}

const parsedOptions = new WeakMap<PolicyEntry, unknown>();

/**
 * Pure: every finding of every enabled, in-scope entry on this snapshot. `change` is the triggering change, if any,
 * which rules may cite as evidence.
 */
export function evaluatePolicy(
  policy: Policy,
  snapshot: Snapshot,
  change?: RuleContext["change"],
): EvaluatedFinding[] {
  const out: EvaluatedFinding[] = [];
  for (const entry of policy.rules) {
    if (!entry.enabled) continue;
    const rule = ruleFor(entry);
    if (!rule.resourceTypes.includes(snapshot.resourceType) || !inScope(entry, snapshot)) continue;
    const options = optionsFor(entry, rule);
    const context: RuleContext = { trustedSources: policy.trustedSources, ...(change ? { change } : {}) };
    for (const violation of rule.evaluate(snapshot, options, context)) {
      out.push({
        entry,
        finding: {
          policyRule: entry.name,
          ruleId: rule.id,
          resourceId: snapshot.resourceId,
          resourceType: snapshot.resourceType,
          severity: entry.severity,
          message: violation.message,
          controls: [...new Set([...(violation.controls ?? rule.controls), ...(entry.controls ?? [])])],
          matched: violation.matched,
          ...(violation.alertOnly === undefined ? {} : { alertOnly: violation.alertOnly }),
          ...(violation.key !== undefined ? { key: violation.key } : {}),
          ...(violation.kind === undefined ? {} : { kind: violation.kind }),
          ...(violation.maxMode === undefined ? {} : { maxMode: violation.maxMode }),
        },
      });
    }
  }
  return out;
}

const MODE_RANK: Record<Mode, number> = { report: 0, alert: 1, remediate: 2 };

/** The mode a finding is handled with: its entry's, lowered to the finding's own ceiling when it has one. */
export function modeFor(entry: PolicyEntry, finding: Finding): Mode {
  const cap = finding.maxMode;
  return cap !== undefined && MODE_RANK[cap] < MODE_RANK[entry.mode] ? cap : entry.mode;
}

export function inScope(entry: PolicyEntry, snapshot: Snapshot): boolean {
  const scope = entry.scope;
  if (!scope) return true;
  const eq = (list: string[] | undefined, value: string | undefined) =>
    list === undefined || (value !== undefined && list.some((v) => v.toLowerCase() === value.toLowerCase()));
  if (snapshot.cloud === "azure" && !eq(scope.subscriptions, snapshot.account)) return false;
  if (snapshot.cloud === "aws" && !eq(scope.accounts, snapshot.account)) return false;
  if (!eq(scope.resourceGroups, snapshot.resourceGroup)) return false;
  if (!eq(scope.regions, snapshot.region)) return false;
  for (const [key, value] of Object.entries(scope.tags ?? {})) {
    // Own tags only: `tags: {constructor: "*"}` must not match an untagged resource through Object.prototype.
    const actual = Object.hasOwn(snapshot.tags, key) ? snapshot.tags[key] : undefined;
    if (typeof actual !== "string" || (value !== "*" && actual !== value)) return false;
  }
  return true;
}

/** Why this finding is exempt, or undefined. Expired policy exemptions no longer apply. */
export function exemptionFor(
  policy: Policy,
  entry: PolicyEntry,
  snapshot: Snapshot,
  now: Date,
): string | undefined {
  const tag = Object.entries(snapshot.tags).find(([k]) => k.toLowerCase() === policy.exemptTag.toLowerCase());
  if (tag) {
    const value = tag[1].trim();
    const names = value.split(",").map((s) => s.trim().toLowerCase());
    if (value === "" || value.toLowerCase() === "true" || value === "*" || names.includes(entry.name)) {
      return `resource tag ${tag[0]}=${value}`;
    }
  }
  const today = now.toISOString().slice(0, 10);
  const listed = entry.exemptions.find(
    (e) => e.resourceId.toLowerCase() === snapshot.resourceId.toLowerCase() && today < e.expires,
  );
  return listed ? `policy exemption until ${listed.expires}: ${listed.reason}` : undefined;
}
