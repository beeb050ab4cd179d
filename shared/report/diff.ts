// `--diff PREVIOUS.json`: which findings are new since a previous JSON report and which are resolved, for a CI gate
// or a what-if run of a candidate policy. A finding is the same finding when it is on the same resource (ARM ids
// compare case-insensitively) under the same policy entry and rule; exempt findings are not counted on either side.

import * as z from "zod";
import { InputError } from "../errors.ts";
import type { FindingView } from "../usecases/offline.ts";
import type { ScanReport } from "../usecases/scan.ts";

const previousSchema = z.object({
  findings: z.array(
    z.looseObject({
      resourceId: z.string(),
      // Reports written before findings carried their type have none: only labels read it.
      resourceType: z.string().default(""),
      ruleId: z.string(),
      policyRule: z.string(),
      severity: z.string(),
      message: z.string(),
      controls: z.array(z.string()),
      matched: z.array(z.unknown()),
      exempt: z.string().optional(),
    }),
  ),
});

export interface ScanDiff {
  against: string;
  added: FindingView[];
  resolved: FindingView[];
  unchanged: number;
}

export function findingKey(f: Pick<FindingView, "resourceId" | "policyRule" | "ruleId">): string {
  return `${f.resourceId.toLowerCase()}\u0000${f.policyRule}\u0000${f.ruleId}`;
}

/** The findings of a previous report (`guardian scan --format json` or `guardian evaluate --format json`). */
export function parsePrevious(json: unknown, source: string): FindingView[] {
  const parsed = previousSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(
      `${source}: not a guardian JSON report (${issue ? `${issue.path.join(".")}: ${issue.message}` : "invalid"})`,
    );
  }
  return parsed.data.findings as FindingView[];
}

export function diffReports(report: ScanReport, previous: readonly FindingView[], against: string): ScanDiff {
  const counted = (list: readonly FindingView[]) => list.filter((f) => f.exempt === undefined);
  const before = new Map(counted(previous).map((f) => [findingKey(f), f]));
  const now = new Map(counted(report.findings).map((f) => [findingKey(f), f]));
  const added = [...now.entries()].filter(([k]) => !before.has(k)).map(([, f]) => f);
  const resolved = [...before.entries()].filter(([k]) => !now.has(k)).map(([, f]) => f);
  return { against, added, resolved, unchanged: now.size - added.length };
}
