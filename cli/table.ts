/** A plain-text table: columns padded to their widest cell, long cells cut so a row stays readable. */
export function renderTable(headers: string[], rows: string[][], maxCell = 90): string {
  const cut = (s: string) => (s.length > maxCell ? `${s.slice(0, maxCell - 1)}…` : s);
  const all = [headers, ...rows].map((r) => r.map((c) => cut(c.replace(/\s+/g, " "))));
  // A fold, not Math.max(...list): spreading fails above about 125,000 rows.
  const widths = headers.map((_, i) => all.reduce((w, r) => Math.max(w, (r[i] ?? "").length), 0));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  const [head, ...body] = all;
  return [line(head ?? []), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}
