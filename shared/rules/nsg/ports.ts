// Port sets as sorted, disjoint, non-adjacent closed intervals, so that precedence (Allow minus the
// Denies above it) is exact: a Deny of 22 under an Allow of 20-25 leaves exactly 20-21 and 23-25.

export type Interval = readonly [lo: number, hi: number];
export type PortSet = readonly Interval[];

export const MAX_PORT = 65535;
export const ALL_PORTS: PortSet = [[0, MAX_PORT]];
export const NO_PORTS: PortSet = [];

/**
 * Parses one ARM port spec: `*`, `22`, `20-25`. Undefined when it is not one (ARM validates specs on
 * write, so a stored rule should never hold one; callers decide what an unknown spec means for them).
 */
export function parsePortSpec(spec: string): Interval | undefined {
  // The same few specs recur across rules and entries; intervals are immutable, so parse each once.
  if (specCache.has(spec)) return specCache.get(spec);
  const parsed = parseSpecUncached(spec);
  if (specCache.size >= 10_000) specCache.clear();
  specCache.set(spec, parsed);
  return parsed;
}

const specCache = new Map<string, Interval | undefined>();

function parseSpecUncached(spec: string): Interval | undefined {
  const text = spec.trim();
  if (text === "*") return [0, MAX_PORT];
  const match = /^(\d{1,5})(?:\s*-\s*(\d{1,5}))?$/.exec(text);
  if (!match) return undefined;
  const lo = Number(match[1]);
  const hi = match[2] === undefined ? lo : Number(match[2]);
  if (lo > hi || hi > MAX_PORT) return undefined;
  return [lo, hi];
}

/** Normalises any list of intervals into a PortSet. */
export function portSet(intervals: Iterable<Interval>): PortSet {
  const sorted = [...intervals].filter(([lo, hi]) => lo <= hi).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out.at(-1);
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

export function union(a: PortSet, b: PortSet): PortSet {
  return portSet([...a, ...b]);
}

export function intersect(a: PortSet, b: PortSet): PortSet {
  // Both sides are sorted and disjoint, so the pairwise overlaps come out sorted and disjoint too: no re-normalising.
  const out: Interval[] = [];
  for (const [alo, ahi] of a) {
    for (const [blo, bhi] of b) {
      const lo = Math.max(alo, blo);
      const hi = Math.min(ahi, bhi);
      if (lo <= hi) out.push([lo, hi]);
    }
  }
  return out.length <= 1 ? out : portSet(out);
}

export function subtract(a: PortSet, b: PortSet): PortSet {
  let current: Interval[] = [...a];
  for (const [blo, bhi] of b) {
    const next: Interval[] = [];
    for (const [lo, hi] of current) {
      if (bhi < lo || blo > hi) {
        next.push([lo, hi]);
        continue;
      }
      if (lo < blo) next.push([lo, blo - 1]);
      if (hi > bhi) next.push([bhi + 1, hi]);
    }
    current = next;
  }
  return portSet(current);
}

export function isEmpty(set: PortSet): boolean {
  return set.length === 0;
}

/** ARM's spelling of an interval: `22` or `20-25` (never `*`, so the output is explicit). */
export function formatInterval([lo, hi]: Interval): string {
  return lo === hi ? String(lo) : `${lo}-${hi}`;
}

export function formatPorts(set: PortSet): string[] {
  return set.map(formatInterval);
}

/** Parses the `ports` strings a finding carries back into a set; unknown strings are dropped. */
export function parsePortList(specs: readonly string[]): PortSet {
  return portSet(specs.map(parsePortSpec).filter((i): i is Interval => i !== undefined));
}
