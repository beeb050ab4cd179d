// Matching resource names and tags as policies select them: shared by scopes, subnet roles and rules. Pure.
import { posix } from "node:path";

/** Whether a resource name matches a pattern (`*` any run, `?` one character), without case, as ARM names compare. */
export function nameMatches(name: string, pattern: string): boolean {
  return posix.matchesGlob(name.toLowerCase(), pattern.toLowerCase());
}

/** The resource's own name: the last segment of its id. */
export function resourceName(resourceId: string): string {
  return (
    resourceId
      .split("/")
      .filter((s) => s.length > 0)
      .at(-1) ?? ""
  );
}

/**
 * Whether `tags` carry every one of `wanted` (value `*` = any value). Values compare exactly; keys compare exactly too
 * unless `keysIgnoreCase`: Azure tag names are case-insensitive ("A tag name ... is case-insensitive", Tags - Create
 * Or Update in the ARM Resources API), so `Egress` is the tag a policy names `egress`; AWS tag keys are case-sensitive.
 */
export function tagsMatch(
  tags: Readonly<Record<string, string>>,
  wanted: Readonly<Record<string, string>> = {},
  keysIgnoreCase = false,
): boolean {
  for (const [key, value] of Object.entries(wanted)) {
    // Own tags only: `tags: {constructor: "*"}` must not match an untagged resource through Object.prototype.
    let actual = Object.hasOwn(tags, key) ? tags[key] : undefined;
    if (actual === undefined && keysIgnoreCase) {
      const lower = key.toLowerCase();
      const own = Object.keys(tags).find((k) => k.toLowerCase() === lower);
      actual = own === undefined ? undefined : tags[own];
    }
    if (typeof actual !== "string" || (value !== "*" && actual !== value)) return false;
  }
  return true;
}
