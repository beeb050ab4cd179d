/**
 * A plain-text table that never cuts text: columns are padded to their widest cell, and the last column wraps at word
 * boundaries to fit `width` (a cell may also hold its own line breaks). Without headers, only rows are printed.
 */
export function renderTable(
  headers: readonly string[] | undefined,
  rows: readonly (readonly string[])[],
  width: number = terminalWidth(),
  indent = "",
): string {
  const all = headers ? [headers, ...rows] : rows;
  // Folds, not Math.max(...list): spreading fails above about 125,000 rows.
  const columns = all.reduce((n, r) => Math.max(n, r.length), 0);
  const last = columns - 1;
  const widths = Array.from({ length: columns }, (_, i) =>
    i === last ? 0 : all.reduce((w, r) => Math.max(w, longestLine(r[i] ?? "")), 0),
  );
  const before = widths.slice(0, last).reduce((sum, w) => sum + w + 2, indent.length);
  // The last column gets what is left of the width, but never so little that it reads one word a line.
  const lastWidth = Math.max(30, width - before);
  const lines: string[] = [];
  const emit = (row: readonly string[]) => {
    const cells = Array.from({ length: columns }, (_, i) =>
      i === last ? wrap(row[i] ?? "", lastWidth) : (row[i] ?? "").split("\n"),
    );
    const height = cells.reduce((h, c) => Math.max(h, c.length), 0);
    for (let l = 0; l < height; l++) {
      const text = cells
        .map((c, i) => (i === last ? (c[l] ?? "") : (c[l] ?? "").padEnd(widths[i] ?? 0)))
        .join("  ");
      lines.push(`${indent}${text}`.trimEnd());
    }
  };
  if (headers) {
    emit(headers);
    const rule = widths.map((w, i) =>
      "-".repeat(i === last ? Math.min(lastWidth, longestLastCell(all, last)) : w),
    );
    lines.push(`${indent}${rule.join("  ")}`.trimEnd());
  }
  for (const row of rows) emit(row);
  return lines.join("\n");
}

function longestLine(text: string): number {
  return text.split("\n").reduce((w, l) => Math.max(w, l.length), 0);
}

function longestLastCell(rows: readonly (readonly string[])[], last: number): number {
  return rows.reduce((w, r) => Math.max(w, longestLine(r[last] ?? "")), 1);
}

/** Lines of at most `width` characters, broken at spaces; a word longer than the width gets a line of its own. */
export function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const paragraph of text.split("\n")) {
    let line = "";
    for (const word of paragraph.split(/ +/)) {
      if (line === "") line = word;
      else if (line.length + 1 + word.length <= width) line += ` ${word}`;
      else {
        out.push(line);
        line = word;
      }
    }
    out.push(line);
  }
  return out;
}

export function terminalWidth(): number {
  const columns = process.stdout.columns;
  return typeof columns === "number" && columns >= 60 ? columns : 100;
}
