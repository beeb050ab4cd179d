// Untrusted input before anything looks inside it: bytes decoded strictly (files), and parsed values measured
// (events, files) without recursion, so nothing downstream (zod, the logger, structuredClone, snapshot extraction)
// meets a value deep enough to overflow the stack or large enough to exhaust memory.

import { readFile, stat } from "node:fs/promises";
import { clip, fileProblem, InputError } from "./errors.ts";

export interface InputLimits {
  /** Nesting of objects and arrays (the value itself is depth 0). */
  maxDepth: number;
  /** Objects, arrays and scalars in all. */
  maxNodes: number;
  /** Approximate serialised size: string and key characters plus a few per node. */
  maxChars: number;
}

/**
 * One delivery from a trigger. The largest real ones: an Event Grid event is at most 1 MB, an SQS message or an
 * asynchronous Lambda payload at most 1 MiB, and ARM and CloudTrail bodies nest about a dozen levels. Four times the
 * size and five times the depth leave room for what a cloud adds later, and stay far below what overflows a stack.
 */
export const EVENT_LIMITS: InputLimits = { maxDepth: 64, maxNodes: 250_000, maxChars: 4 * 1024 * 1024 };

/**
 * Throws InputError when `value` is nested deeper or is larger than `limits`. Iterative (an explicit stack), and it
 * stops at the first limit crossed, so its own cost is bounded by the limits, not by the input.
 */
export function checkBounds(value: unknown, limits: InputLimits, what: string): void {
  // Two parallel stacks rather than one of {node, depth} pairs: no allocation per value on the hot path.
  const nodes: unknown[] = [value];
  const depths: number[] = [0];
  const tooLarge = () => new InputError(`${what} is too large: more than ${limits.maxNodes} values`);
  let count = 0;
  let chars = 0;
  while (nodes.length > 0) {
    const node = nodes.pop();
    const depth = depths.pop() as number;
    count++;
    chars += typeof node === "string" ? node.length + 2 : 4;
    if (count > limits.maxNodes) throw tooLarge();
    if (chars > limits.maxChars) {
      throw new InputError(`${what} is too large: more than ${limits.maxChars} characters`);
    }
    if (typeof node !== "object" || node === null) continue;
    if (depth >= limits.maxDepth) {
      throw new InputError(`${what} is nested too deep: more than ${limits.maxDepth} levels`);
    }
    if (Array.isArray(node)) {
      if (nodes.length + node.length > limits.maxNodes) throw tooLarge();
      for (let i = node.length - 1; i >= 0; i--) {
        nodes.push(node[i]);
        depths.push(depth + 1);
      }
      continue;
    }
    for (const key in node) {
      if (!Object.hasOwn(node, key)) continue;
      chars += key.length + 3;
      nodes.push((node as Record<string, unknown>)[key]);
      depths.push(depth + 1);
      if (nodes.length > limits.maxNodes) throw tooLarge();
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Text files

const UTF8_BOM = [0xef, 0xbb, 0xbf];
const UTF16LE_BOM = [0xff, 0xfe];
const UTF16BE_BOM = [0xfe, 0xff];

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((b, i) => bytes[i] === b);
}

/**
 * Decodes a text file's bytes: UTF-8 (with or without a byte order mark) or UTF-16 with a byte order mark, which is
 * what Windows PowerShell writes when output is redirected (`> file.json`). Invalid bytes are an InputError naming the
 * encoding and where, never silently replaced: a replaced byte inside `"Internet"` would hide a finding.
 */
export function decodeText(bytes: Uint8Array, source: string): string {
  if (startsWith(bytes, UTF16LE_BOM)) return decodeStrict(bytes.subarray(2), "utf-16le", source);
  if (startsWith(bytes, UTF16BE_BOM)) return decodeStrict(bytes.subarray(2), "utf-16be", source);
  const body = startsWith(bytes, UTF8_BOM) ? bytes.subarray(3) : bytes;
  // ASCII text saved as UTF-16 without a byte order mark: every other byte is zero. Valid UTF-8, useless as text.
  if (body.length >= 2 && (body[0] === 0) !== (body[1] === 0)) {
    throw new InputError(
      `${source} looks like UTF-16 without a byte order mark: save it as UTF-8, or as UTF-16 with a byte order mark`,
    );
  }
  return decodeStrict(body, "utf-8", source);
}

function decodeStrict(
  bytes: Uint8Array,
  encoding: "utf-8" | "utf-16le" | "utf-16be",
  source: string,
): string {
  try {
    return new TextDecoder(encoding, { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (cause) {
    const name = encoding.toUpperCase();
    if (cause instanceof TypeError) {
      throw new InputError(`${source} is not valid ${name} text${where(bytes, encoding)}: save it as UTF-8`, {
        cause,
      });
    }
    // A string longer than the engine allows (about 512 MiB): size limits stop files long before that.
    throw new InputError(`${source} cannot be decoded as ${name}: ${(cause as Error).message}`, { cause });
  }
}

/** ` at line 3 (byte 57)`: the first byte the strict decoder refused, found again with a lenient one. */
function where(bytes: Uint8Array, encoding: "utf-8" | "utf-16le" | "utf-16be"): string {
  const lenient = new TextDecoder(encoding, { ignoreBOM: true }).decode(bytes);
  const encoder = new TextEncoder();
  let index = lenient.indexOf("\uFFFD");
  while (index >= 0) {
    // A U+FFFD the file really holds is fine; the first one that stands for bad bytes is the place.
    const line = lenient.slice(0, index).split("\n").length;
    if (encoding !== "utf-8") return ` near line ${line}`;
    const offset = encoder.encode(lenient.slice(0, index)).length;
    const real = bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd;
    if (!real) return ` at line ${line} (byte ${offset})`;
    index = lenient.indexOf("\uFFFD", index + 1);
  }
  return "";
}

/**
 * Reads a text file strictly (see decodeText), refusing one over `maxBytes` before reading it: a policy or an input
 * that large is a mistake or an attack, and parsing it would take memory out of proportion (YAML: about 100 times).
 */
export async function readTextFile(
  file: string,
  options: { maxBytes: number; what: string; hint?: string },
): Promise<string> {
  let bytes: Uint8Array;
  try {
    const info = await stat(file);
    if (info.isFile() && info.size > options.maxBytes) {
      throw new InputError(
        `${options.what} ${clip(file, 200)} is ${formatBytes(info.size)}; the guardian reads at most ${formatBytes(options.maxBytes)}${options.hint ? `: ${options.hint}` : ""}`,
      );
    }
    bytes = await readFile(file);
  } catch (cause) {
    if (cause instanceof InputError) throw cause;
    throw new InputError(fileProblem(file, cause), { cause });
  }
  // A stream or a file that grew after stat: the same limit, measured on what was read.
  if (bytes.length > options.maxBytes) {
    throw new InputError(
      `${options.what} ${clip(file, 200)} is larger than ${formatBytes(options.maxBytes)}, the most the guardian reads`,
    );
  }
  return decodeText(bytes, clip(file, 200));
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Math.round((n / (1024 * 1024)) * 10) / 10} MiB`;
  if (n >= 1024) return `${Math.round((n / 1024) * 10) / 10} KiB`;
  return `${n} bytes`;
}

/**
 * A JSON file as a bounded value: strictly decoded, parsed, then measured (JSON.parse itself does not recurse, so a
 * deep file is caught here rather than where a later step recurses).
 */
export async function readJsonFile(
  file: string,
  options: { maxBytes: number; limits: InputLimits; what?: string; hint?: string },
): Promise<unknown> {
  const what = options.what ?? "file";
  const text = await readTextFile(file, { maxBytes: options.maxBytes, what, hint: options.hint });
  if (text.trim() === "") throw new InputError(`${clip(file, 200)} is empty`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new InputError(`${clip(file, 200)} is not valid JSON: ${clip((cause as Error).message, 200)}`, {
      cause,
    });
  }
  checkBounds(value, options.limits, clip(file, 200));
  return value;
}
