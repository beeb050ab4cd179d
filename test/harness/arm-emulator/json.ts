// Small helpers for handling untrusted JSON bodies without `any`.

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** The `properties` bag of a stored ARM resource; created when absent so writers never branch on it. */
export function propsOf(resource: JsonObject): JsonObject {
  const existing = resource.properties;
  if (isObject(existing)) return existing;
  const created: JsonObject = {};
  resource.properties = created;
  return created;
}

export function objectArray(value: unknown): JsonObject[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

export function sameText(a: unknown, b: unknown): boolean {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}
