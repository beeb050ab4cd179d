// `*` patterns over ARM ids and names, compared case-insensitively as ARM compares ids. `*` matches any run of
// characters (slashes included), so `/subscriptions/*/resourceGroups/databricks-*/*` is one pattern.

const cache = new Map<string, RegExp>();

export function globMatches(pattern: string, value: string): boolean {
  let re = cache.get(pattern);
  if (!re) {
    const body = pattern
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*");
    re = new RegExp(`^${body}$`, "is");
    if (cache.size > 1000) cache.clear();
    cache.set(pattern, re);
  }
  return re.test(value);
}

export function anyGlob(patterns: readonly string[] | undefined, value: string | undefined): boolean {
  return value !== undefined && (patterns ?? []).some((p) => globMatches(p, value));
}

export function sameId(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
}
