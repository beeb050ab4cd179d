// The scan's summary for a terminal: findings by policy rule and severity, what was covered, what was not.

import type { ScanReport } from "../usecases/scan.ts";
import type { ScanDiff } from "./diff.ts";

const SEVERITIES = ["critical", "high", "medium", "low"] as const;

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => rows.reduce((w, r) => Math.max(w, (r[i] ?? "").length), h.length));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** Counts of counted (not exempt) findings by policy rule, one column per severity. */
export function countsByRule(report: ScanReport): Map<string, Record<string, number>> {
  const byRule = new Map<string, Record<string, number>>();
  for (const f of report.findings) {
    if (f.exempt) continue;
    const row = byRule.get(f.policyRule) ?? {};
    row[f.severity] = (row[f.severity] ?? 0) + 1;
    byRule.set(f.policyRule, row);
  }
  return byRule;
}

export function renderScanTable(report: ScanReport, diff?: ScanDiff): string {
  const out: string[] = [];
  const t = report.totals;
  out.push(
    `${t.listed} resource(s) listed, ${t.evaluated} evaluated, ${t.findings} finding(s)` +
      `${t.exempt ? `, ${t.exempt} exempt` : ""}${t.failed ? `, ${t.failed} failed` : ""}` +
      ` in ${report.targets.join(", ")}${report.remediate ? " (remediate)" : " (report-only)"}`,
  );
  const byRule = countsByRule(report);
  if (byRule.size > 0) {
    const rows = [...byRule.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([rule, counts]) => [
        rule,
        ...SEVERITIES.map((s) => String(counts[s] ?? 0)),
        String(Object.values(counts).reduce((a, b) => a + b, 0)),
      ]);
    out.push("", table(["policy rule", ...SEVERITIES, "total"], rows));
  }
  const applied = report.actions.filter((a) => a.outcome === "applied").length;
  const planned = report.actions.filter((a) => a.outcome === "dry-run").length;
  const capped = report.actions.filter((a) => a.outcome === "skipped-cap").length;
  if (applied || planned || capped) {
    out.push(
      "",
      `remediation: ${applied} applied, ${planned} planned (report-only), ${capped} held back by the blast-radius cap`,
    );
  }
  if (diff) {
    out.push("", `since ${diff.against}: ${diff.added.length} new, ${diff.resolved.length} resolved`);
    for (const f of diff.added) out.push(`  + ${f.severity} ${f.policyRule} ${f.resourceId}`);
    for (const f of diff.resolved) out.push(`  - ${f.severity} ${f.policyRule} ${f.resourceId}`);
  }
  const incomplete = report.coverage.filter((c) => !c.complete);
  if (incomplete.length > 0 || report.failures.length > 0) {
    out.push("", "NOT COVERED (the scan is incomplete):");
    for (const c of incomplete) {
      out.push(
        `  ${c.kind} in ${c.target}: ${c.listed} listed in ${c.pages} page(s), then: ${c.error ?? "stopped"}`,
      );
    }
    for (const f of report.failures) out.push(`  ${f.resourceId}: ${f.error}`);
  }
  for (const c of report.coverage.filter((c) => c.note))
    out.push(`note: ${c.kind} in ${c.target}: ${c.note}`);
  return out.join("\n");
}
