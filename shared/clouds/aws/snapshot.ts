/** Tags of a Describe item as a flat map (the shape scope and exemption checks use). */
export function awsTagMap(tags: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(tags)) return out;
  for (const tag of tags as { Key?: unknown; Value?: unknown }[]) {
    if (typeof tag?.Key === "string") out[tag.Key] = typeof tag.Value === "string" ? tag.Value : "";
  }
  return out;
}
