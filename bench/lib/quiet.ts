// The handlers log as they do in the cloud: one JSON line per event on stdout. In a benchmark those lines would bury
// the tables, so a section runs its handlers with them dropped; everything else still reaches the terminal.

/** Runs `fn` with stdout's JSON log lines (and @azure/functions' test-mode warnings) dropped. */
export async function withoutLogLines<T>(fn: () => Promise<T>): Promise<T> {
  const { warn } = console;
  const write = process.stdout.write;
  console.warn = () => {};
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) =>
    isLogLine(chunk) ? true : Reflect.apply(write, process.stdout, [chunk, ...rest])) as typeof write;
  try {
    return await fn();
  } finally {
    console.warn = warn;
    process.stdout.write = write;
  }
}

function isLogLine(chunk: string | Uint8Array): boolean {
  const text = typeof chunk === "string" ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, 2).toString();
  return text.startsWith('{"');
}
