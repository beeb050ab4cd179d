// SARIF 2.1.0 (OASIS) for GitHub code scanning: one result per counted finding, one reportingDescriptor per policy
// entry. Cloud resources are not files, so each result's physical location is a stable pseudo-path derived from the
// resource id (GitHub requires a location to show a result) and its logical location is the resource id itself.
// Exempt findings are kept as suppressed results (SARIF §3.35), so dismissing them in GitHub is not needed.

import { createHash } from "node:crypto";
import type { ScanReport } from "../usecases/scan.ts";

/** GitHub's `security-severity`: 9.0+ critical, 7.0–8.9 high, 4.0–6.9 medium, below 4.0 low. */
const SECURITY_SEVERITY: Record<string, string> = { critical: "9.5", high: "8.0", medium: "5.5", low: "3.0" };
const LEVEL: Record<string, "error" | "warning" | "note"> = {
  critical: "error",
  high: "error",
  medium: "warning",
  low: "note",
};

/** A relative URI for a resource: `azure/<subscription>/<group>/<type>/<name>` or `aws/<account>/<region>/<id>`. */
export function resourceUri(
  resourceId: string,
  where: { cloud?: string; account?: string; region?: string },
): string {
  const segments = resourceId.startsWith("/")
    ? [
        "azure",
        ...resourceId
          .split("/")
          .filter(Boolean)
          .filter((_, i) => i % 2 === 1),
      ]
    : ["aws", where.account || "account", where.region || "region", resourceId];
  return segments.map((s) => encodeURIComponent(s)).join("/");
}

export function toSarif(report: ScanReport, toolVersion: string): object {
  const where = new Map(report.actions.map((a) => [a.resourceId, a]));
  const actionOf = new Map<string, (typeof report.actions)[number]>();
  for (const a of report.actions) {
    const key = `${a.resourceId}\u0000${a.policyRule}`;
    if (!actionOf.has(key)) actionOf.set(key, a);
  }
  const entries = new Map<
    string,
    { ruleId: string; severity: string; controls: string[]; message: string }
  >();
  for (const f of report.findings) {
    if (!entries.has(f.policyRule)) entries.set(f.policyRule, f);
  }
  const ids = [...entries.keys()].sort();
  const rules = ids.map((id) => {
    const e = entries.get(id) as { ruleId: string; severity: string; controls: string[] };
    return {
      id,
      name: id,
      shortDescription: { text: `${id} (${e.ruleId})` },
      fullDescription: { text: `Policy entry ${id}, evaluated by the guardian rule ${e.ruleId}.` },
      defaultConfiguration: { level: LEVEL[e.severity] ?? "warning" },
      properties: {
        tags: ["security", ...e.controls],
        "security-severity": SECURITY_SEVERITY[e.severity] ?? "5.5",
      },
    };
  });
  const results = report.findings.map((f) => {
    const w = where.get(f.resourceId);
    const action = actionOf.get(`${f.resourceId}\u0000${f.policyRule}`);
    const fingerprint = createHash("sha256")
      .update(`${f.resourceId.toLowerCase()}|${f.policyRule}|${f.ruleId}`)
      .digest("hex");
    return {
      ruleId: f.policyRule,
      ruleIndex: ids.indexOf(f.policyRule),
      level: LEVEL[f.severity] ?? "warning",
      message: { text: `${f.resourceId}: ${f.message}${action ? ` Remediation: ${action.wouldDo}` : ""}` },
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: resourceUri(f.resourceId, w ?? {}) },
            region: { startLine: 1 },
          },
          logicalLocations: [{ fullyQualifiedName: f.resourceId, kind: "resource" }],
        },
      ],
      partialFingerprints: { "guardianFinding/v1": fingerprint },
      ...(f.exempt ? { suppressions: [{ kind: "external", justification: f.exempt }] } : {}),
      properties: { severity: f.severity, controls: f.controls, matched: f.matched },
    };
  });
  const notCovered = report.coverage.filter((c) => !c.complete);
  return {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "network-guardian",
            version: toolVersion,
            informationUri: "https://github.com/network-guardian/network-guardian",
            rules,
          },
        },
        automationDetails: { id: `network-guardian/scan/${report.targets.join("+")}/` },
        invocations: [
          {
            executionSuccessful: report.complete,
            startTimeUtc: report.startedAt,
            endTimeUtc: report.finishedAt,
            toolExecutionNotifications: [
              ...notCovered.map((c) => ({
                level: "error",
                message: {
                  text: `${c.kind} in ${c.target} not covered after ${c.listed} resource(s): ${c.error ?? "stopped"}`,
                },
              })),
              ...report.failures.map((f) => ({
                level: "error",
                message: { text: `${f.resourceId} not evaluated: ${f.error}` },
              })),
            ],
          },
        ],
        results,
      },
    ],
  };
}
