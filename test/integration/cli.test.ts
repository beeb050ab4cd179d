import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI in its own process, as a user would. */
function guardian(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["cli/guardian.ts", ...args],
      { encoding: "utf8" },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 99) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const NSG_MIXED = "test/fixtures/azure/nsg/nsg-mixed.json";
const NSG_SPEC = "test/fixtures/azure/nsg/NetworkSecurityGroupGet.json";

async function tempFile(name: string, content: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "guardian-cli-"));
  const file = path.join(dir, name);
  await writeFile(file, content);
  return file;
}

describe("guardian evaluate", () => {
  it("reports findings as JSON naming the offending security rules, exit 1", async () => {
    const run = await guardian("evaluate", NSG_MIXED, "--format", "json");
    expect(run.code).toBe(1);
    const out = JSON.parse(run.stdout) as {
      findings: { resourceId: string; ruleId: string; matched: { securityRule: string }[] }[];
    };
    expect(out.findings.length).toBeGreaterThan(0);
    for (const f of out.findings) {
      expect(f.ruleId).toBe("nsg-inbound-exposure");
      expect(f.resourceId).toMatch(/networkSecurityGroups\//);
      expect(f.matched.every((m) => typeof m.securityRule === "string")).toBe(true);
    }
  });

  it("evaluates the REST spec's own example (rule1 opens port 80 from *) under the baseline", async () => {
    const run = await guardian("evaluate", NSG_SPEC, "--format", "json");
    expect(run.code).toBe(1);
    const out = JSON.parse(run.stdout) as {
      findings: { policyRule: string; matched: { securityRule: string }[] }[];
    };
    expect(out.findings.map((f) => f.policyRule)).toContain("azure-no-http-from-internet");
    expect(out.findings.flatMap((f) => f.matched.map((m) => m.securityRule))).toContain("rule1");
  });

  it("accepts a whole DescribeSecurityGroups response; matched names each offending {protocol, fromPort, toPort, cidr}", async () => {
    const run = await guardian(
      "evaluate",
      "test/fixtures/aws/sg/describe-security-groups.json",
      "--format",
      "json",
    );
    expect(run.code).toBe(1);
    const out = JSON.parse(run.stdout) as {
      findings: {
        resourceId: string;
        ruleId: string;
        controls: string[];
        matched: Record<string, unknown>[];
      }[];
    };
    const exposure = out.findings.filter((f) => f.ruleId === "sg-ingress-exposure");
    expect(exposure.length).toBeGreaterThan(0);
    for (const f of exposure) {
      expect(f.resourceId).toMatch(/^sg-/);
      for (const m of f.matched) {
        expect(m).toHaveProperty("protocol");
        expect(m).toHaveProperty("cidr");
      }
    }
    expect(exposure.flatMap((f) => f.controls).some((c) => c.includes("EC2."))).toBe(true);
  });

  it("names the bad field of a security group that is not DescribeSecurityGroups-shaped", async () => {
    const bad = await tempFile(
      "sg.json",
      JSON.stringify({ SecurityGroups: [{ GroupId: "sg-1", IpPermissions: "x" }] }),
    );
    const run = await guardian("evaluate", bad);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/SecurityGroups\[0\]\.IpPermissions/);
  });

  it("exits 0 for a compliant resource and prints a table by default", async () => {
    const file = await tempFile(
      "nsg.json",
      JSON.stringify({
        id: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/ok",
        name: "ok",
        type: "Microsoft.Network/networkSecurityGroups",
        location: "westeurope",
        properties: { securityRules: [], defaultSecurityRules: [] },
      }),
    );
    const run = await guardian("evaluate", file);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("1 resource(s) evaluated, 0 finding(s)");
  });

  it("exits 2 with a clear message on bad input", async () => {
    const notJson = await tempFile("x.json", "{ nope");
    const r1 = await guardian("evaluate", notJson);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/is not valid JSON/);
    const unknown = await tempFile("y.json", JSON.stringify({ hello: "world" }));
    const r2 = await guardian("evaluate", unknown);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/not a resource the guardian knows/);
    const r3 = await guardian("evaluate", "does-not-exist.json");
    expect(r3.code).toBe(2);
  });

  it("exits 2 naming line and path for a policy with a typo", async () => {
    const policy = await tempFile(
      "p.yaml",
      "version: 1\nrules:\n  - name: x\n    rule: nsg-inbound-exposure\n    mode: remediat\n",
    );
    const run = await guardian("evaluate", NSG_MIXED, "--policy", policy);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("line 5, rules[0].mode");
  });
});

describe("guardian explain", () => {
  it("normalises a rule write to its parent NSG and, with --resource, shows findings and actions", async () => {
    const run = await guardian(
      "explain",
      "--event",
      "test/fixtures/events/azure/resource-write-success.eventgrid.json",
      "--resource",
      NSG_MIXED,
      "--format",
      "json",
    );
    const out = JSON.parse(run.stdout) as {
      changes: { resourceId: string; resourceType: string; operation: string; actor: { name?: string } }[];
      findings: unknown[];
      actions: { outcome: string }[];
    };
    expect(out.changes[0]?.resourceType).toBe("microsoft.network/networksecuritygroups");
    expect(out.changes[0]?.resourceId).toMatch(/networkSecurityGroups\/[^/]+$/);
    expect(out.changes[0]?.operation).toBe("write");
    expect(out.changes[0]?.actor.name).toBeTruthy();
    // nsg-mixed.json has a different id than the event's NSG, so nothing is evaluated: only the change is shown.
    expect(run.code === 0 || run.code === 1).toBe(true);
  });

  it("skips a validation handshake and a failed write with reasons", async () => {
    for (const [file, reason] of [
      ["validation.eventgrid.json", "validation-handshake"],
      ["resource-write-failure.eventgrid.json", "failed-operation"],
    ] as const) {
      const run = await guardian(
        "explain",
        "--event",
        `test/fixtures/events/azure/${file}`,
        "--format",
        "json",
      );
      expect(run.code).toBe(0);
      const out = JSON.parse(run.stdout) as { changes: { skipped?: string }[] };
      expect(out.changes.map((c) => c.skipped)).toContain(reason);
    }
  });

  it("evaluates the resource a Resource Notifications event carries, without --resource", async () => {
    const run = await guardian(
      "explain",
      "--event",
      "test/fixtures/events/azure/resource-notifications-created-nsg.eventgrid.json",
      "--format",
      "json",
    );
    const out = JSON.parse(run.stdout) as {
      changes: { resourceType?: string }[];
      findings: unknown[];
      actions: unknown[];
    };
    expect(out.changes[0]?.resourceType).toBe("microsoft.network/networksecuritygroups");
    expect(run.code).toBe(out.findings.length > 0 ? 1 : 0);
    expect(out.actions.length).toBe(out.findings.length);
  });

  it("accepts EventBridge CloudTrail events: group id, actor ARN, event name; skips errorCode events", async () => {
    const ok = await guardian(
      "explain",
      "--event",
      "test/fixtures/events/aws/authorize-ingress-v108-ruleset.json",
      "--format",
      "json",
    );
    const out = JSON.parse(ok.stdout) as {
      changes: { resourceId: string; operationName: string; actor: { name?: string } }[];
    };
    expect(out.changes[0]?.resourceId).toMatch(/^sg-/);
    expect(out.changes[0]?.operationName).toBe("AuthorizeSecurityGroupIngress");
    expect(out.changes[0]?.actor.name).toMatch(/^arn:aws:sts::/);
    const failed = await guardian(
      "explain",
      "--event",
      "test/fixtures/events/aws/authorize-ingress-duplicate-error.json",
      "--format",
      "json",
    );
    expect(failed.code).toBe(0);
    expect((JSON.parse(failed.stdout) as { changes: { skipped?: string }[] }).changes[0]?.skipped).toBe(
      "failed-operation",
    );
  });

  it("exits 2 for an event file that is not JSON", async () => {
    const bad = await tempFile("e.json", "<xml/>");
    const run = await guardian("explain", "--event", bad);
    expect(run.code).toBe(2);
  });
});

describe("guardian policy", () => {
  it("validates the baseline", async () => {
    const run = await guardian("policy", "validate", "policies/baseline.yaml");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("valid");
  });

  it("lists rules with their examples", async () => {
    const run = await guardian("rules");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("nsg-inbound-exposure");
    expect(run.stdout).toContain("sg-ingress-exposure");
  });
});
