/** Structured logging: one JSON object per line, so log queries can filter on any field. */
export interface Logger {
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
  error(message: string, data?: Record<string, unknown>): void;
}

export type LogLine = { level: "info" | "warn" | "error"; message: string } & Record<string, unknown>;

export function jsonLogger(
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Logger {
  const emit = (level: LogLine["level"], message: string, data?: Record<string, unknown>) =>
    write(JSON.stringify({ level, message, time: new Date().toISOString(), ...data }));
  return {
    info: (m, d) => emit("info", m, d),
    warn: (m, d) => emit("warn", m, d),
    error: (m, d) => emit("error", m, d),
  };
}

/** Collects lines in memory: for the CLI's quiet mode and for tests that assert on what was logged. */
export function memoryLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const push = (level: LogLine["level"], message: string, data?: Record<string, unknown>) =>
    lines.push({ level, message, ...data });
  return {
    lines,
    info: (m, d) => push("info", m, d),
    warn: (m, d) => push("warn", m, d),
    error: (m, d) => push("error", m, d),
  };
}
