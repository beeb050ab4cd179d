/** Structured logging: one JSON object per line, so log queries can filter on any field. */
export interface Logger {
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

export type LogLine = { level: "info" | "warn" | "error"; message: string } & Record<string, unknown>;

/**
 * The longest line the guardian writes, in characters. Application Insights keeps 32,768 characters of a trace
 * message and CloudWatch Logs up to 256 KB per event: the tighter bound serves both. Whatever a caller logs (an event
 * an attacker sent, a whole delivery), one line never grows past it.
 */
export const MAX_LOG_LINE = 32_768;

/** How much of a value a line shows: the first pass keeps most of it, the second only its outline. */
interface Shape {
  depth: number;
  string: number;
  items: number;
}
const SHAPES: readonly Shape[] = [
  { depth: 10, string: 4_096, items: 200 },
  { depth: 4, string: 256, items: 10 },
];

/**
 * Field names the logger owns: data never overwrites them (a `message` in the data would hide the event name). A
 * `time` in the data is the record's own time (an audit decision's) and stands for the line's.
 */
const OWN_FIELDS = new Set(["level", "message", "data"]);

/**
 * One log line: `head` (the event name as `message`, level, the invocation's id) and then `data`. A data field
 * named like a head field is kept under `data` instead, so a query for `message = "guardian.write-failed"` finds every
 * such line whatever its data holds. Values are copied to a bounded depth and size (strings, lists and nesting are
 * cut with a marker saying how much was left out), so no input can overflow the stack, fail to serialise
 * (BigInt, cycles, throwing getters) or flood the log.
 */
export function formatLogLine(head: Record<string, unknown>, data?: Record<string, unknown>): string {
  const owned = new Set([...OWN_FIELDS, ...Object.keys(head)]);
  const fields: Record<string, unknown> = {};
  const moved: Record<string, unknown> = {};
  for (const key of data === undefined ? [] : ownKeys(data)) {
    const value = read(data as object, key);
    setOwn(owned.has(key) ? moved : fields, key, value);
  }
  if (Object.keys(moved).length > 0) fields.data = moved;
  const [first] = SHAPES as [Shape];
  // Most lines are plain JSON well within the first shape: written as they are, without a copy.
  if (fits(fields, first, first.depth)) {
    const line = JSON.stringify({ ...head, ...fields });
    if (line.length <= MAX_LOG_LINE) return line;
  }
  for (const shape of SHAPES) {
    const line = JSON.stringify({ ...head, ...(bounded(fields, shape, shape.depth) as object) });
    if (line.length <= MAX_LOG_LINE) return line;
  }
  // Even the outline is too long (wide and deep at once): the event name, the short scalar fields (ids, times,
  // counts), and the names of the fields left out.
  const kept: Record<string, unknown> = {};
  const dropped: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    const short =
      typeof value === "number" ||
      typeof value === "boolean" ||
      (typeof value === "string" && value.length <= 256);
    if (short && Object.keys(kept).length < 20 && key.length <= 64)
      kept[key] = bounded(value, SHAPES[1] as Shape, 0);
    else dropped.push(clipString(key, 64));
  }
  return JSON.stringify({
    ...head,
    ...kept,
    truncated: `${dropped.length} field(s) left out to keep the line under ${MAX_LOG_LINE} characters`,
    fields: dropped.slice(0, 20),
  });
}

/** Sets a field; a key named `__proto__` stays data instead of becoming the object's prototype. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else target[key] = value;
}

function ownKeys(value: object): string[] {
  try {
    return Object.keys(value);
  } catch {
    return [];
  }
}

function read(value: object, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch (error) {
    return `[unreadable: ${error instanceof Error ? error.name : "error"}]`;
  }
}

function clipString(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…[+${text.length - max} chars]`;
}

/**
 * True when `value` is plain JSON within `shape` (what `bounded` would copy unchanged), checked without copying.
 * Anything else (a class instance, a BigInt, a getter that throws) takes the copying path.
 */
function fits(value: unknown, shape: Shape, depth: number): boolean {
  try {
    return fitsUnchecked(value, shape, depth);
  } catch {
    return false;
  }
}

function fitsUnchecked(value: unknown, shape: Shape, depth: number): boolean {
  switch (typeof value) {
    case "string":
      return value.length <= shape.string;
    case "number":
      return Number.isFinite(value);
    case "boolean":
    case "undefined":
      return true;
    case "object":
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth <= 0) return false;
  if (Array.isArray(value)) {
    if (value.length > shape.items) return false;
    for (const item of value) if (item === undefined || !fitsUnchecked(item, shape, depth - 1)) return false;
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  let count = 0;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (++count > shape.items || key.length > 256) return false;
    if (!fitsUnchecked((value as Record<string, unknown>)[key], shape, depth - 1)) return false;
  }
  return true;
}

/** A JSON-safe copy of `value` within `shape`; recursion is bounded by `depth`, never by the input. */
function bounded(value: unknown, shape: Shape, depth: number): unknown {
  switch (typeof value) {
    case "string":
      return clipString(value, shape.string);
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "boolean":
      return value;
    case "bigint":
      return value.toString();
    case "undefined":
    case "function":
    case "symbol":
      return undefined;
  }
  if (value === null) return null;
  if (value instanceof Error) {
    return { name: clipString(value.name, 64), message: clipString(value.message, shape.string) };
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
  if (depth <= 0) return Array.isArray(value) ? "[list nested too deep]" : "[object nested too deep]";
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    const shown = Math.min(value.length, shape.items);
    for (let i = 0; i < shown; i++) out.push(bounded(read(value, String(i)), shape, depth - 1) ?? null);
    if (value.length > shown) out.push(`…[+${value.length - shown} items]`);
    return out;
  }
  const out: Record<string, unknown> = {};
  const keys = ownKeys(value as object);
  const shown = Math.min(keys.length, shape.items);
  for (let i = 0; i < shown; i++) {
    const key = keys[i] as string;
    const copy = bounded(read(value as object, key), shape, depth - 1);
    if (copy !== undefined) setOwn(out, clipString(key, 256), copy);
  }
  if (keys.length > shown) out["…"] = `+${keys.length - shown} fields`;
  return out;
}

/**
 * JSON lines to stdout (or `write`). `base` fields (an invocation's request id) come right after the event name on
 * every line and, like the event name, are never overwritten by data.
 */
export function jsonLogger(
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  base: Record<string, unknown> = {},
): Logger {
  const emit = (level: LogLine["level"], message: string, data?: Record<string, unknown>) =>
    write(formatLogLine({ level, message, ...base }, { time: new Date().toISOString(), ...data }));
  return {
    info: (m, d) => emit("info", m, d),
    warn: (m, d) => emit("warn", m, d),
    error: (m, d) => emit("error", m, d),
  };
}

/**
 * Collects lines in memory: for the CLI's quiet mode and for tests that assert on what was logged. Values are kept
 * as given (nothing is serialised), with the same rule as the JSON lines: data never overwrites the event name.
 */
export function memoryLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const push = (level: LogLine["level"], message: string, data?: Record<string, unknown>) => {
    const fields: Record<string, unknown> = {};
    const moved: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(data ?? {})) {
      setOwn(OWN_FIELDS.has(key) ? moved : fields, key, value);
    }
    lines.push({ ...fields, ...(Object.keys(moved).length > 0 ? { data: moved } : {}), level, message });
  };
  return {
    lines,
    info: (m, d) => push("info", m, d),
    warn: (m, d) => push("warn", m, d),
    error: (m, d) => push("error", m, d),
  };
}
