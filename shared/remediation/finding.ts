import { InputError } from "../errors.ts";
import type { Finding } from "../types.ts";

/**
 * The parts a finding matched, checked: a finding travels through audit, alerts and maybe a queue as plain JSON, so a
 * planner re-validates it rather than trusting its type. A finding without a `matched` list is an InputError (the
 * change is dead-lettered), never a TypeError deep inside a planner. Each part is then parsed by the planner's own
 * schema, which skips parts that are not its own.
 */
export function matchedOf(finding: Finding): readonly unknown[] {
  const value: unknown = finding;
  if (typeof value !== "object" || value === null) {
    throw new InputError("a remediation was given no finding", { path: "finding" });
  }
  const matched: unknown = (value as { matched?: unknown }).matched;
  if (!Array.isArray(matched)) {
    const got = matched === undefined ? "missing" : matched === null ? "null" : `a ${typeof matched}`;
    throw new InputError(`the finding's matched parts are not a list (${got})`, { path: "finding.matched" });
  }
  return matched;
}
