// Reading the CLI's JSON inputs (resource snapshots, captured events): strictly decoded and bounded, so a file
// PowerShell wrote, a byte that is not UTF-8 or a file nested thousands of levels deep gets a clear InputError (exit 2)
// rather than a wrong answer or a stack overflow.
import { readJsonFile } from "../shared/input.ts";

/**
 * The largest input file: a list response of a large estate fits (an NSG is a few KB as ARM returns it), and the
 * parsed value, several times the file's size, still fits a default Node heap.
 */
export const MAX_INPUT_BYTES = 256 * 1024 * 1024;

/**
 * Nesting deeper than any ARM or EC2 response (about a dozen levels) is refused before anything walks the value; the
 * size is bounded by the file's.
 */
const INPUT_LIMITS = {
  maxDepth: 64,
  maxNodes: Number.MAX_SAFE_INTEGER,
  maxChars: Number.MAX_SAFE_INTEGER,
};

/** One JSON input file (UTF-8, or UTF-16 with a byte order mark), parsed and bounded. */
export function readJsonInput(file: string): Promise<unknown> {
  return readJsonFile(file, {
    maxBytes: MAX_INPUT_BYTES,
    limits: INPUT_LIMITS,
    hint: "split it into several files (guardian evaluate takes many)",
  });
}
