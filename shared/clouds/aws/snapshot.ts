/** Tags of a Describe item as a flat map (the shape scope and exemption checks use). */
export function awsTagMap(tags: unknown): Record<string, string> {
  if (!Array.isArray(tags)) return {};
  const entries: [string, string][] = [];
  for (const tag of tags as { Key?: unknown; Value?: unknown }[]) {
    if (typeof tag?.Key === "string") entries.push([tag.Key, typeof tag.Value === "string" ? tag.Value : ""]);
  }
  // fromEntries defines own properties: a tag named `__proto__` stays a tag instead of vanishing into the prototype.
  return Object.fromEntries(entries);
}
