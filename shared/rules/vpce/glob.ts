// IAM-style wildcards (`*` any run of characters, `?` one character) compared as sets: does everything `target`
// can name fall within `pattern`? A literal target is simply matched; a target that has wildcards of its own (an
// endpoint policy's `arn:aws:s3:::data-*`) is covered only where the pattern has a wildcard at least as wide.

/** True when every string `target` matches is also matched by `pattern` (case-sensitive, as ARNs are). */
export function globCovers(pattern: string, target: string): boolean {
  // Dynamic programming over (pattern index, target index); sizes are ARN-short.
  const p = pattern;
  const t = target;
  let row = new Array<boolean>(t.length + 1).fill(false);
  row[0] = true;
  for (let i = 1; i <= p.length; i += 1) {
    const next = new Array<boolean>(t.length + 1).fill(false);
    const pc = p[i - 1];
    // Only a run of `*` matches the empty target prefix.
    next[0] = pc === "*" && (row[0] ?? false);
    for (let j = 1; j <= t.length; j += 1) {
      const tc = t[j - 1];
      if (pc === "*") {
        // `*` absorbs nothing, or one more target character of any kind (including the target's own wildcards).
        next[j] = (row[j] ?? false) || (next[j - 1] ?? false);
      } else if (pc === "?") {
        // `?` is exactly one character: it covers a target `?` or a literal, never a target `*` (zero or many).
        next[j] = tc !== "*" && (row[j - 1] ?? false);
      } else {
        // A literal covers only the same literal; a target wildcard is wider than any literal.
        next[j] = tc === pc && (row[j - 1] ?? false);
      }
    }
    row = next;
  }
  return row[t.length] ?? false;
}
