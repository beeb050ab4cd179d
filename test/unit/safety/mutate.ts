// Mutations of real-shaped fixtures for the fuzz tests: a few edits at random places of a copy (a value replaced by a
// hostile one, a field removed, a key renamed, an item duplicated), so inputs stay close enough to the real shapes to
// reach deep into the normalisers, rules and planners rather than being refused at the first field.

import fc from "fast-check";

type Path = (string | number)[];

/**
 * Paths no deeper than this take mutations: deeper than every fixture (ARM and CloudTrail bodies nest about a dozen
 * levels), yet never inside a deep hostile value inserted before. Two 1,500-level values stacked into one (3,000
 * levels) overflowed V8's stack in structuredClone, in this harness or in a planner's copy, about once a full run: a
 * depth no input reaches in production, since the entries refuse anything over 64 levels (shared/input.ts).
 */
const MAX_MUTATION_DEPTH = 16;

/** Every path in `value` (root included) down to `maxDepth`, breadth first; small fixtures only. */
export function pathsOf(value: unknown, maxDepth = Number.POSITIVE_INFINITY): Path[] {
  const out: Path[] = [[]];
  const queue: { node: unknown; path: Path }[] = [{ node: value, path: [] }];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    const { node, path } = next;
    if (typeof node !== "object" || node === null || path.length >= maxDepth) continue;
    const entries: [string | number, unknown][] = Array.isArray(node)
      ? node.map((v, i) => [i, v])
      : Object.entries(node);
    for (const [key, child] of entries) {
      const p = [...path, key];
      out.push(p);
      queue.push({ node: child, path: p });
    }
  }
  return out;
}

function nested(levels: number): unknown {
  let value: unknown = "leaf";
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { a: value };
  return value;
}

/** Values an attacker or a careless colleague would put in a field. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  {
    weight: 4,
    arbitrary: fc.constantFrom<unknown>(
      null,
      "",
      " ",
      "*",
      "Internet",
      "internet",
      "Any",
      "0.0.0.0/0",
      "010.0.0.0/8",
      "::/0",
      "0.0.0.0/33",
      "-1",
      -1,
      0,
      22,
      "22",
      "0-65535",
      "65536",
      65536,
      1.5,
      Number.MAX_SAFE_INTEGER,
      true,
      [],
      {},
      "Allow",
      "Deny",
      "Inbound",
      "tcp",
      "Tcp",
      "6",
      "constructor",
      "__proto__",
      "2024-05-31T09:12:04Z",
      "not a date",
      "/subscriptions/00000000-0000-0000-0000-000000000000",
      "sg-0123456789abcdef0",
    ),
  },
  { weight: 1, arbitrary: fc.constant(JSON.parse('{"__proto__": {"polluted": true}, "constructor": "*"}')) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 2_000 }).map((n) => "x".repeat(n * 50)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 1_500 }).map(nested) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 1_500 }).map((n) => Array.from({ length: n }, (_, i) => i)),
  },
);

const hostileKey = fc.constantFrom(
  "__proto__",
  "constructor",
  "toString",
  "",
  " ",
  "id",
  "type",
  "eventType",
  "x",
);

export type Mutation =
  | { kind: "set"; at: number; value: unknown }
  | { kind: "delete"; at: number }
  | { kind: "rename"; at: number; key: string }
  | { kind: "duplicate"; at: number };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: hostileValue }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("rename" as const), at: fc.nat(), key: hostileKey }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("duplicate" as const), at: fc.nat() }) },
);

/** Defines an own data property, as JSON.parse would (plain assignment of `__proto__` would set the prototype). */
function put(container: object, key: string | number, value: unknown): void {
  if (Array.isArray(container) && typeof key === "number") container[key] = value;
  else Object.defineProperty(container, key, { value, enumerable: true, writable: true, configurable: true });
}

/** A copy of `value` with the mutations applied in order; each picks its place among the copy's current paths. */
export function applyMutations(value: unknown, mutations: readonly Mutation[]): unknown {
  let root = structuredClone(value);
  for (const m of mutations) {
    const paths = pathsOf(root, MAX_MUTATION_DEPTH);
    const path = paths[m.at % paths.length] ?? [];
    // Copies: fast-check hands the same constant to many runs, and later mutations edit what was inserted.
    if (path.length === 0) {
      if (m.kind === "set") root = structuredClone(m.value);
      continue;
    }
    const parentPath = path.slice(0, -1);
    const key = path.at(-1) as string | number;
    let parent: unknown = root;
    for (const k of parentPath) parent = (parent as Record<string | number, unknown>)[k];
    if (typeof parent !== "object" || parent === null) continue;
    const current = (parent as Record<string | number, unknown>)[key];
    switch (m.kind) {
      case "set":
        put(parent, key, structuredClone(m.value));
        break;
      case "delete":
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else delete (parent as Record<string, unknown>)[key];
        break;
      case "rename":
        if (Array.isArray(parent)) break;
        delete (parent as Record<string, unknown>)[key];
        put(parent, m.key, current);
        break;
      case "duplicate":
        if (Array.isArray(parent)) parent.splice(Number(key), 0, structuredClone(current));
        else put(parent, `${String(key)}_copy`, structuredClone(current));
        break;
    }
  }
  return root;
}

/** A fixture picked from `fixtures`, mutated 0 to `max` times. */
export function mutated(fixtures: readonly unknown[], max = 4): fc.Arbitrary<unknown> {
  return fc
    .record({ pick: fc.nat({ max: fixtures.length - 1 }), mutations: fc.array(mutation, { maxLength: max }) })
    .map(({ pick, mutations }) => applyMutations(fixtures[pick], mutations));
}
