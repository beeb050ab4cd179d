import { clip, InputError } from "../errors.ts";
import { ruleRegistry } from "../rules/index.ts";
import type { RuleContext, RuleDefinition, TenantLookup } from "../rules/types.ts";
import type { Finding, Mode, Snapshot, UnreadableResource } from "../types.ts";
import { nameMatches, resourceName, tagsMatch } from "./match.ts";
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

/** Other resources read for an evaluation, by lower-cased id: null when gone, unreadable when refused (see RuleContext.related). */
export type RelatedResources = ReadonlyMap<string, Snapshot | UnreadableResource | null>;

/** Subscriptions' tenants resolved for an evaluation, by lower-cased subscription id (see RuleContext.tenantOf). */
export type SubscriptionTenants = ReadonlyMap<string, TenantLookup>;

/**
 * Pure: every finding of every enabled, in-scope entry on this snapshot. `change` is the triggering change, if any,
 * which rules may cite as evidence; `related` holds the other resources the entries' rules read
 * (`RuleDefinition.reads`), as `relatedTypes` names them; `tenants` the subscriptions' tenants `tenantSubscriptions`
 * named, as resolved (left out: nothing was looked up, and entries by tenant match nobody).
 */
export function evaluatePolicy(
  policy: Policy,
  snapshot: Snapshot,
  change?: RuleContext["change"],
  related?: RelatedResources,
  tenants?: SubscriptionTenants,
): EvaluatedFinding[] {
  const out: EvaluatedFinding[] = [];
  for (const entry of policy.rules) {
    if (!entry.enabled) continue;
    const rule = ruleFor(entry);
    if (!rule.resourceTypes.includes(snapshot.resourceType) || !inScope(entry, snapshot)) continue;
    const options = optionsFor(entry, rule);
    const context: RuleContext = {
      ...contextFor(policy, related),
      ...(tenants ? { tenantOf: (id: string) => tenants.get(id.toLowerCase()) } : {}),
      ...(change ? { change } : {}),
    };
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

/** The types of other resources the entries that apply to `snapshot` read (RuleDefinition.reads). */
export function relatedTypes(policy: Policy, snapshot: Snapshot): Set<string> {
  const types = new Set<string>();
  for (const entry of policy.rules) {
    if (!entry.enabled) continue;
    const rule = ruleFor(entry);
    if (!rule.reads || !rule.resourceTypes.includes(snapshot.resourceType) || !inScope(entry, snapshot))
      continue;
    for (const type of rule.reads(snapshot, optionsFor(entry, rule), contextFor(policy))) types.add(type);
  }
  return types;
}

/**
 * Which related resources the entries that apply to `snapshot` read: every one of a type some rule `reads` without
 * narrowing it, else only those its `readsOnly` names. Undefined when no entry reads any.
 */
export function relatedWanted(
  policy: Policy,
  snapshot: Snapshot,
): ((ref: { resourceId: string; resourceType: string }) => boolean) | undefined {
  const all = new Set<string>();
  const only = new Map<string, Set<string>>();
  for (const entry of policy.rules) {
    if (!entry.enabled) continue;
    const rule = ruleFor(entry);
    if (!rule.reads || !rule.resourceTypes.includes(snapshot.resourceType) || !inScope(entry, snapshot))
      continue;
    const options = optionsFor(entry, rule);
    const types = rule.reads(snapshot, options, contextFor(policy));
    if (types.length === 0) continue;
    const ids = rule.readsOnly?.(snapshot, options).map((id) => id.toLowerCase());
    for (const type of types) {
      if (ids === undefined) all.add(type);
      else only.set(type, new Set([...(only.get(type) ?? []), ...ids]));
    }
  }
  if (all.size === 0 && only.size === 0) return undefined;
  return (ref) =>
    all.has(ref.resourceType) || only.get(ref.resourceType)?.has(ref.resourceId.toLowerCase()) === true;
}

/** The subscriptions whose tenants the entries that apply to `snapshot` need (RuleDefinition.tenantsNeeded). */
export function tenantSubscriptions(policy: Policy, snapshot: Snapshot): Set<string> {
  const subs = new Set<string>();
  for (const entry of policy.rules) {
    if (!entry.enabled) continue;
    const rule = ruleFor(entry);
    if (
      !rule.tenantsNeeded ||
      !rule.resourceTypes.includes(snapshot.resourceType) ||
      !inScope(entry, snapshot)
    )
      continue;
    for (const sub of rule.tenantsNeeded(snapshot, optionsFor(entry, rule))) subs.add(sub.toLowerCase());
  }
  return subs;
}

function contextFor(policy: Policy, related?: RelatedResources): RuleContext {
  return {
    trustedSources: policy.trustedSources,
    subnetRoles: policy.subnetRoles,
    firewalls: policy.firewalls,
    ...(related ? { related: (id: string) => related.get(id.toLowerCase()) } : {}),
  };
}

export function inScope(entry: PolicyEntry, snapshot: Snapshot): boolean {
  const scope = entry.scope;
  if (!scope) return true;
  const eq = (list: string[] | undefined, value: string | undefined) =>
    list === undefined || (value !== undefined && list.some((v) => v.toLowerCase() === value.toLowerCase()));
  if (snapshot.cloud === "azure" && !eq(scope.subscriptions, snapshot.account)) return false;
  if (snapshot.cloud === "aws" && !eq(scope.accounts, snapshot.account)) return false;
  if (!eq(scope.resourceGroups, snapshot.resourceGroup)) return false;
  // Azure names a region `westeurope` and shows it as `West Europe`; either spelling in a policy means the same.
  const region = (r: string) => r.replace(/\s+/g, "");
  if (!eq(scope.regions?.map(region), snapshot.region && region(snapshot.region))) return false;
  if (!tagsMatch(snapshot.tags, scope.tags, snapshot.cloud === "azure")) return false;
  if (scope.names && !scope.names.some((p) => nameMatches(resourceName(snapshot.resourceId), p)))
    return false;
  return true;
}

/** The policy's exempt tag on a resource, read from the resource's own tags (key compared case-insensitively). */
export interface ExemptTag {
  key: string;
  value: string;
  /** `true`: every entry that accepts tag exemptions. */
  all: boolean;
  /** The entry names listed (lower-cased), when not `true`. */
  names: string[];
}

export function exemptTagOf(policy: Policy, snapshot: Snapshot): ExemptTag | undefined {
  const wanted = policy.exemptTag.toLowerCase();
  // Own keys only: a tag lookup must never reach Object.prototype.
  const key = Object.keys(snapshot.tags).find((k) => k.toLowerCase() === wanted);
  if (key === undefined) return undefined;
  const raw = Object.hasOwn(snapshot.tags, key) ? snapshot.tags[key] : undefined;
  const value = typeof raw === "string" ? raw.trim() : "";
  const all = value.toLowerCase() === "true";
  const names = all
    ? []
    : value
        .split(",")
        .map((n) => n.trim().toLowerCase())
        .filter((n) => n !== "");
  return { key, value, all, names };
}

/** Whether the exempt tag may exempt a resource from this entry: alert-mode entries that do not opt out. */
export function acceptsTagExemptions(entry: PolicyEntry): boolean {
  return entry.mode === "alert" && entry.tagExemptions !== false;
}

/**
 * What is wrong with the resource's exempt tag, if anything: a value that exempts nothing it seems meant to (empty,
 * `*`, a name no entry has, an entry that does not accept tag exemptions). Such a tag is no exemption, and is reported
 * so that whoever set it sees it had no effect.
 */
export function exemptTagProblem(policy: Policy, snapshot: Snapshot): string | undefined {
  const tag = exemptTagOf(policy, snapshot);
  if (!tag) return undefined;
  const expected = 'expected "true" or a comma-separated list of entry names';
  if (tag.value === "") return `tag ${tag.key} is empty: it exempts nothing (${expected})`;
  if (tag.all) {
    if (policy.rules.some((e) => e.enabled && acceptsTagExemptions(e))) return undefined;
    return `tag ${tag.key}=true exempts nothing: no entry of the policy accepts tag exemptions (only alert-mode entries can)`;
  }
  const byName = new Map(policy.rules.map((e) => [e.name, e] as const));
  const unknown = tag.names.filter((n) => !byName.has(n));
  const refused = tag.names.filter((n) => {
    const entry = byName.get(n);
    return entry !== undefined && !acceptsTagExemptions(entry);
  });
  const problems: string[] = [];
  if (unknown.length > 0) problems.push(`names no entry of the policy: ${unknown.join(", ")} (${expected})`);
  for (const n of refused) {
    const mode = byName.get(n)?.mode;
    problems.push(`entry ${n} does not accept tag exemptions (mode ${mode}; only alert-mode entries can)`);
  }
  if (problems.length === 0) return undefined;
  return `tag ${tag.key}=${tag.value} ${problems.join("; ")}: no exemption from ${[...unknown, ...refused].join(", ")}`;
}

/**
 * Why this finding is exempt, or undefined. The exempt tag counts only for entries that accept it (alert mode) and
 * only with a documented value; expired policy exemptions no longer apply.
 */
export function exemptionFor(
  policy: Policy,
  entry: PolicyEntry,
  snapshot: Snapshot,
  now: Date,
): string | undefined {
  const tag = exemptTagOf(policy, snapshot);
  if (tag && acceptsTagExemptions(entry) && (tag.all || tag.names.includes(entry.name))) {
    return `resource tag ${tag.key}=${tag.value}`;
  }
  const today = now.toISOString().slice(0, 10);
  const listed = entry.exemptions.find(
    (e) => e.resourceId.toLowerCase() === snapshot.resourceId.toLowerCase() && today < e.expires,
  );
  return listed ? `policy exemption until ${listed.expires}: ${listed.reason}` : undefined;
}

export interface ExpiredExemption {
  /** `rules[2].exemptions[0]`, as a policy error would name it. */
  path: string;
  entry: string;
  resourceId: string;
  expires: string;
  reason: string;
}

/** Exemptions that no longer apply (they end at the start of their `expires` day, UTC): worth a warning, not an error. */
export function expiredExemptions(policy: Policy, now: Date): ExpiredExemption[] {
  const today = now.toISOString().slice(0, 10);
  return policy.rules.flatMap((entry, i) =>
    entry.exemptions.flatMap((e, j) =>
      today >= e.expires
        ? [
            {
              path: `rules[${i}].exemptions[${j}]`,
              entry: entry.name,
              resourceId: e.resourceId,
              expires: e.expires,
              reason: e.reason,
            },
          ]
        : [],
    ),
  );
}
/** The finding that makes a useless exempt tag visible (alerted, recorded), or undefined when the tag is fine. */
export function exemptTagFinding(policy: Policy, snapshot: Snapshot): Finding | undefined {
  const problem = exemptTagProblem(policy, snapshot);
  const tag = exemptTagOf(policy, snapshot);
  if (!problem || !tag) return undefined;
  return {
    policyRule: EXEMPT_TAG_CHECK,
    ruleId: EXEMPT_TAG_CHECK,
    resourceId: snapshot.resourceId,
    resourceType: snapshot.resourceType,
    severity: "medium",
    message: problem,
    controls: [],
    matched: [{ tag: tag.key, value: tag.value }],
    kind: EXEMPT_TAG_CHECK,
  };
}

/** The name the exempt tag check reports under (it is the policy's own check, not a rule of the registry). */
export const EXEMPT_TAG_CHECK = "exempt-tag";
