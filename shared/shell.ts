/** POSIX single quotes: safe to paste whatever the value holds (names and descriptions are chosen by others). */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
