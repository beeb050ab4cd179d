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

/** Whether `tags` carry every one of `wanted` (value `*` = any value). */
export function tagsMatch(
  tags: Readonly<Record<string, string>>,
  wanted: Readonly<Record<string, string>> = {},
): boolean {
  for (const [key, value] of Object.entries(wanted)) {
    // Own tags only: `tags: {constructor: "*"}` must not match an untagged resource through Object.prototype.
    const actual = Object.hasOwn(tags, key) ? tags[key] : undefined;
    if (typeof actual !== "string" || (value !== "*" && actual !== value)) return false;
  }
  return true;
}
