// Reading CloudTrail's XML-derived JSON without trusting any field to be there or to have its documented type.

export type Json = Record<string, unknown>;

export function asObject(value: unknown): Json | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

export function nonEmptyString(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

/** CloudTrail's `{ items: [...] }` list; `{}` (an empty list) and anything else give []. */
export function items(value: unknown): Json[] {
  const list = asObject(value)?.items;
  if (!Array.isArray(list)) return [];
  return list.map(asObject).filter((item): item is Json => item !== undefined);
}
