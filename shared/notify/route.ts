// Routing by policy: which destinations get a decision, by severity, kind, cloud, subscription or account, resource
// group or tag. Every matching route adds its destinations; a decision no route matches goes to every destination,
// so a routing gap never loses an alert (a route with `to: []` drops on purpose, and the drop is logged).
import type { AlertDecision } from "./model.ts";

export interface Route {
  to: readonly string[];
  severities?: readonly string[];
  kinds?: readonly string[];
  clouds?: readonly string[];
  accounts?: readonly string[];
  resourceGroups?: readonly string[];
  /** Every one must match; value `*` = any value. Own keys only. */
  tags?: Readonly<Record<string, string>>;
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export function routeMatches(route: Route, d: AlertDecision): boolean {
  if (route.severities && !route.severities.includes(d.severity)) return false;
  if (route.kinds && !route.kinds.includes(d.kind)) return false;
  if (route.clouds && !route.clouds.includes(d.cloud)) return false;
  if (route.accounts && !route.accounts.some((a) => same(a, d.account))) return false;
  if (route.resourceGroups) {
    const rg = d.resourceGroup;
    if (rg === undefined || !route.resourceGroups.some((g) => same(g, rg))) return false;
  }
  if (route.tags) {
    for (const key of Object.keys(route.tags)) {
      const want = route.tags[key];
      const have = Object.hasOwn(d.tags, key) ? d.tags[key] : undefined;
      if (have === undefined || (want !== "*" && want !== have)) return false;
    }
  }
  return true;
}

/** The destination names a decision goes to; `all` are the configured destinations' names. */
export function destinationsFor(
  d: AlertDecision,
  routes: readonly Route[] | undefined,
  all: readonly string[],
): string[] {
  if (!routes || routes.length === 0) return [...all];
  const matched = routes.filter((r) => routeMatches(r, d));
  if (matched.length === 0) return [...all];
  return [...new Set(matched.flatMap((r) => r.to))];
}
