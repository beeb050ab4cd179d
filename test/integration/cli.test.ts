import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildCli } from "../../scripts/build.ts";
import { loadPolicyFile } from "../../shared/policy/file.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// The command as it ships (the esbuild bundle behind its loader), built once: it starts in a fraction of the time the
// TypeScript sources take. Built under dist/ of this checkout, so it finds the shipped baseline policy as an
// installed package does; install.test.ts runs the packed and installed one.
const outdir = path.resolve(import.meta.dirname, "../../dist", `cli-test-${process.pid}`);
let bin: string;

beforeAll(async () => {
  bin = (await buildCli(outdir)).outfile;
}, 120_000);

afterAll(async () => {
  await rm(outdir, { recursive: true, force: true });
});

/** Runs the real CLI in its own process, as a user would. */
function guardian(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { encoding: "utf8" }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 99) : 0;
      resolve({ code, stdout, stderr });
    });
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
        // A CIDR, or a prefix list whose entries an offline snapshot does not carry: reported, never assumed harmless.
        expect("cidr" in m || "prefixListId" in m).toBe(true);
      }
    }
    expect(
      exposure.some((f) =>
        f.matched.some((m) => m.prefixListId === "pl-0123456789abcdef0" && !("cidr" in m)),
      ),
    ).toBe(true);
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

  it("reports an exempt resource's finding with its reason and does not count it", async () => {
    const nsg = JSON.parse(await readFile(NSG_SPEC, "utf8")) as Record<string, unknown>;
    const file = await tempFile(
      "exempt.json",
      JSON.stringify({ ...nsg, tags: { "guardian:exempt": "true" } }),
    );
    const run = await guardian("evaluate", file, "--format", "json");
    const out = JSON.parse(run.stdout) as { findings: { exempt?: string }[] };
    expect(out.findings.length).toBeGreaterThan(0);
    expect(out.findings.every((f) => f.exempt === "resource tag guardian:exempt=true")).toBe(true);
    expect(run.code).toBe(0);
  });

  it("evaluates endpoint services with their permissions and connections given together, and VPCs with their endpoints", async () => {
    const read = async (name: string) =>
      JSON.parse(await readFile(`test/fixtures/aws/privatelink/${name}`, "utf8")) as Record<string, unknown>;
    const bundle = {
      ...(await read("describe-vpc-endpoint-service-configurations.json")),
      ...(await read("describe-vpc-endpoint-service-permissions.json")),
      ...(await read("describe-vpc-endpoint-connections.json")),
    };
    (bundle.AllowedPrincipals as unknown[]).push({ PrincipalType: "All", Principal: "*" });
    const vpcs = { ...(await read("describe-vpcs.json")), ...(await read("describe-vpc-endpoints.json")) };
    for (const e of vpcs.VpcEndpoints as Record<string, unknown>[]) e.VpcId = "vpc-a01106c2";
    const policy = await tempFile(
      "policy.yaml",
      [
        "version: 1",
        "rules:",
        "  - { name: principals, rule: vpce-allowed-principals, options: { allowedPrincipals: ['123456789012'] } }",
        "  - { name: connections, rule: vpce-connections, options: { allowedPrincipals: ['111122223333'] } }",
        "  - { name: private, rule: vpc-private-endpoints, options: { allowedPrincipals: ['123456789012'] } }",
        "",
      ].join("\n"),
    );
    const run = await guardian(
      "evaluate",
      "--policy",
      policy,
      "--format",
      "json",
      await tempFile("services.json", JSON.stringify(bundle)),
      await tempFile("vpcs.json", JSON.stringify(vpcs)),
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(1);
    const out = JSON.parse(run.stdout) as {
      findings: { policyRule: string; resourceId: string; matched: Record<string, unknown>[] }[];
    };
    expect(out.findings.map((f) => [f.policyRule, f.resourceId])).toEqual([
      ["principals", "vpce-svc-0e7555fb6441987e1"],
      ["connections", "vpce-svc-0abced088d20def56/vpce-0abed31004e618123"],
      ["private", "vpc-a01106c2"],
      ["private", "vpc-a01106c2"],
    ]);
    expect(out.findings[0]?.matched.map((m) => m.principal)).toEqual(["*"]);
    expect(out.findings[1]?.matched[0]).toMatchObject({ owner: "123456789012", decision: "hold" });

    // The configuration alone: the permissions rule says it could not evaluate, rather than passing the service.
    const alone = await guardian(
      "evaluate",
      "--policy",
      policy,
      "test/fixtures/aws/privatelink/describe-vpc-endpoint-service-configurations.json",
    );
    expect(alone.code).toBe(2);
    expect(alone.stderr).toContain("DescribeVpcEndpointServicePermissions");
    // Endpoints without their VPCs cannot be evaluated either.
    const endpointsOnly = await guardian(
      "evaluate",
      "--policy",
      policy,
      "test/fixtures/aws/privatelink/describe-vpc-endpoints.json",
    );
    expect(endpointsOnly.code).toBe(2);
    expect(endpointsOnly.stderr).toContain("give the DescribeVpcs output");
  });

  it("exits 2 for a resource type no rule evaluates, instead of calling it compliant", async () => {
    const file = await tempFile(
      "vm.json",
      JSON.stringify({
        id: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
        name: "vm1",
        type: "Microsoft.Compute/virtualMachines",
        location: "westeurope",
        properties: {},
      }),
    );
    const run = await guardian("evaluate", file, "--format", "json");
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no enabled rule of the policy evaluates microsoft\.compute\/virtualmachines/);
  });

  it("evaluates storage accounts: the REST spec example, and a list response, naming the offending parts", async () => {
    const spec = "test/fixtures/azure/storage/StorageAccountGetProperties.json";
    const run = await guardian("evaluate", spec, "--format", "json");
    expect(run.code).toBe(1);
    const out = JSON.parse(run.stdout) as {
      findings: { policyRule: string; controls: string[]; matched: { part: string }[] }[];
    };
    expect(out.findings.map((f) => [f.policyRule, f.matched.map((m) => m.part)])).toEqual([
      ["azure-storage-selected-networks-only", ["networkAcls.defaultAction"]],
      ["azure-storage-no-anonymous-blobs", ["allowBlobPublicAccess"]],
    ]);
    expect(out.findings[0]?.controls).toContain("CIS Azure v3.0.0 4.7");

    const closed = JSON.parse(
      await readFile("test/fixtures/azure/storage/qubole-closed.json", "utf8"),
    ) as object;
    const list = await tempFile(
      "list.json",
      JSON.stringify({ value: [closed, JSON.parse(await readFile(spec, "utf8"))] }),
    );
    const both = await guardian("evaluate", list);
    expect(both.code).toBe(1);
    // The baseline allows no IP address until you list yours: the tunnel server's rule is reported (alert mode).
    expect(both.stdout).toMatch(/^2 resources evaluated, 3 findings/);
    expect(both.stdout).toContain("IP rule 203.0.113.10 is not an allowed address");
    expect(both.stdout).toContain("sto8596");
  });
  it("evaluates a SQL server and a Cosmos DB account with their private endpoint connections (spec-shaped bodies)", async () => {
    const policy = await tempFile(
      "policy.yaml",
      `version: 1
rules:
  - name: private-link-requests
    rule: private-endpoint-connections
    mode: remediate
    severity: high
    options:
      allow:
        - name: databricks-serverless
          subscriptions: ['3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f']
          groupIds: [sqlServer, Sql]
`,
    );
    const run = await guardian(
      "evaluate",
      "test/fixtures/azure/private-link/sql-server-with-connections.json",
      "test/fixtures/azure/private-link/cosmos-db-account-with-connections.json",
      "--policy",
      policy,
      "--format",
      "json",
    );
    expect(run.stderr).toBe("");
    expect(run.code).toBe(1);
    const out = JSON.parse(run.stdout) as {
      findings: { resourceId: string; matched: { name: string; decision: string }[] }[];
    };
    // Per resource: the allow-listed request approved, the stranger held, the approved connection nobody allows flagged.
    expect(
      out.findings.map(
        (f) =>
          `${f.resourceId.split("/").at(-1)} ${f.matched[0]?.name.split(/[.-]/)[1]} ${f.matched[0]?.decision}`,
      ),
    ).toEqual([
      "sql-lake databricks approve",
      "sql-lake stranger hold",
      "sql-lake old hold",
      "cosmos-orders databricks approve",
      "cosmos-orders stranger hold",
      "cosmos-orders old hold",
    ]);
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
    expect(run.stdout).toContain("1 resource evaluated, 0 findings");
  });

  it("exits 2 with a clear message on bad input", async () => {
    const notJson = await tempFile("x.json", "{ nope");
    const r1 = await guardian("evaluate", notJson);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/is not valid JSON/);
    const unknown = await tempFile("y.json", JSON.stringify({ hello: "world" }));
    const r2 = await guardian("evaluate", unknown);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(
      /y\.json: not an input the guardian reads \(an object with "hello"\)\. Expected one of:/,
    );
    const r3 = await guardian("evaluate", "does-not-exist.json");
    expect(r3.code).toBe(2);
  });

  it("evaluates many files in one call; a file it cannot read is reported and the others are still evaluated", async () => {
    const many = Array.from({ length: 40 }, () => NSG_MIXED);
    const ok = await guardian("evaluate", ...many, "--format", "json");
    expect(ok.code).toBe(1);
    const out = JSON.parse(ok.stdout) as { findings: unknown[] };
    const single = JSON.parse((await guardian("evaluate", NSG_MIXED, "--format", "json")).stdout) as {
      findings: unknown[];
    };
    expect(out.findings).toHaveLength(single.findings.length * 40);
    const broken = await guardian(
      "evaluate",
      ...many.slice(0, 5),
      "missing-one.json",
      ...many.slice(0, 30),
      "--format",
      "json",
    );
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/^error: cannot read missing-one\.json: no such file$/m);
    const partial = JSON.parse(broken.stdout) as { evaluated: number; findings: unknown[]; errors: string[] };
    expect(partial.evaluated).toBe(35);
    expect(partial.findings).toHaveLength(single.findings.length * 35);
    expect(partial.errors).toEqual(["cannot read missing-one.json: no such file"]);
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
    const event = JSON.parse(
      await readFile("test/fixtures/events/azure/resource-write-success.eventgrid.json", "utf8"),
    ) as {
      data: { resourceUri: string };
    }[];
    const nsgId = event[0]?.data.resourceUri.replace(/\/securityRules\/[^/]+$/, "") ?? "";
    const nsg = JSON.parse(await readFile(NSG_MIXED, "utf8")) as { id: string };
    const resource = await tempFile("nsg.json", JSON.stringify({ ...nsg, id: nsgId }));
    const run = await guardian(
      "explain",
      "--event",
      "test/fixtures/events/azure/resource-write-success.eventgrid.json",
      "--resource",
      resource,
      "--format",
      "json",
    );
    const out = JSON.parse(run.stdout) as {
      changes: {
        resourceId: string;
        resourceType: string;
        operation: string;
        evaluated: boolean;
        actor: { name?: string };
      }[];
      findings: { resourceId: string }[];
      actions: { outcome: string; wouldDo: string }[];
    };
    expect(out.changes[0]).toMatchObject({
      resourceId: nsgId,
      resourceType: "microsoft.network/networksecuritygroups",
      operation: "write",
      evaluated: true,
    });
    expect(out.changes[0]?.actor.name).toBeTruthy();
    expect(out.findings.length).toBeGreaterThan(0);
    expect(out.actions.length).toBeGreaterThan(0);
    expect(run.code).toBe(1);
  });

  it("says so when the policy is dry-run: the remediations it lists would not be written", async () => {
    const policy = (dryRun: boolean) => `version: 1
dryRun: ${dryRun}
rules:
  - { name: storage-closed, rule: storage-network-access, mode: remediate }
`;
    const event = "test/fixtures/events/azure/resource-notifications-created-storage.eventgrid.json";
    const dry = await guardian(
      "explain",
      "--event",
      event,
      "--policy",
      await tempFile("dry.yaml", policy(true)),
    );
    expect(dry.stdout).toContain("the guardian would:");
    expect(dry.stderr).toMatch(/is dry-run \(dryRun: true\): the deployed guardian would only report/);
    expect(dry.code).toBe(1);
    const live = await guardian(
      "explain",
      "--event",
      event,
      "--policy",
      await tempFile("live.yaml", policy(false)),
    );
    expect(live.stdout).toContain("the guardian would:");
    expect(live.stderr).not.toContain("dry-run");
  });

  it("exits 2 when no --resource matches the event, rather than reporting it compliant", async () => {
    const run = await guardian(
      "explain",
      "--event",
      "test/fixtures/events/azure/resource-write-success.eventgrid.json",
      "--resource",
      NSG_MIXED,
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no --resource matches a change in the event \(.*nsg-web\): it was not used/);
  });

  it("shows exempt findings with their exemption and does not count them, as evaluate does", async () => {
    const notification = JSON.parse(
      await readFile("test/fixtures/events/azure/resource-notifications-created-nsg.eventgrid.json", "utf8"),
    ) as { data: { resourceInfo: { tags?: Record<string, string> } } };
    notification.data.resourceInfo.tags = { "guardian:exempt": "true" };
    const file = await tempFile("exempt-event.json", JSON.stringify(notification));
    // Tag exemptions apply to alert-mode entries only.
    const policy = await tempFile(
      "alert.yaml",
      "version: 1\nrules:\n  - name: no-ssh\n    rule: nsg-inbound-exposure\n    mode: alert\n    options: { ports: [22] }\n",
    );
    const run = await guardian("explain", "--event", file, "--policy", policy, "--format", "json");
    const out = JSON.parse(run.stdout) as { findings: { exempt?: string }[] };
    expect(out.findings.length).toBeGreaterThan(0);
    expect(out.findings.every((f) => f.exempt !== undefined)).toBe(true);
    expect(run.code).toBe(0);

    // The baseline's remediate entry never honours the tag: the finding counts.
    const baseline = await guardian("explain", "--event", file, "--format", "json");
    const counted = JSON.parse(baseline.stdout) as { findings: { policyRule: string; exempt?: string }[] };
    expect(counted.findings).toMatchObject([{ policyRule: "azure-no-ssh-from-internet" }]);
    expect(counted.findings[0]?.exempt).toBeUndefined();
  });

  it("exits 3 and says so when the event carries no resource and no --resource is given", async () => {
    const run = await guardian(
      "explain",
      "--event",
      "test/fixtures/events/azure/resource-write-success.eventgrid.json",
    );
    expect(run.stdout).toMatch(
      /not evaluated: the event carries no resource .*: pass the resource with --resource/,
    );
    expect(run.stderr).toMatch(
      /^error: nothing was evaluated for 1 change: pass the resource with --resource$/m,
    );
    expect(run.code).toBe(3);
  });

  it("evaluates what an AuthorizeSecurityGroupIngress added, without --resource, and says so", async () => {
    // The v1.08 record adds a rule referencing another group: nothing open to the world.
    const ok = await guardian(
      "explain",
      "--event",
      "test/fixtures/events/aws/authorize-ingress-v108-ruleset.json",
    );
    expect(ok.stdout).toContain(
      "evaluated what AuthorizeSecurityGroupIngress added (its requestParameters), not the whole group",
    );
    expect(ok.stdout).toContain("compliant: no finding");
    expect(ok.code).toBe(0);
    // The flat-form record opens 22 to 0.0.0.0/0.
    const open = await guardian(
      "explain",
      "--event",
      "test/fixtures/events/aws/authorize-ingress-flat-cidr-iam-user.json",
      "--format",
      "json",
    );
    const out = JSON.parse(open.stdout) as {
      changes: { evaluatedFrom?: string }[];
      findings: { policyRule: string }[];
      actions: { wouldDo: string }[];
    };
    expect(out.changes[0]?.evaluatedFrom).toBe("change");
    expect(out.findings.map((f) => f.policyRule)).toEqual(["aws-no-admin-ports-from-world"]);
    expect(out.actions[0]?.wouldDo).toMatch(/^revoke ingress tcp 22 from 0\.0\.0\.0\/0 on sg-/);
    expect(open.code).toBe(1);
  });

  it("exits 2 naming the field of a malformed event", async () => {
    const run = await guardian("explain", "--event", "test/fixtures/events/azure/malformed.eventgrid.json");
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/malformed event: event\[0\]: data\.operationName is missing/);
  });

  it("explains the guardian's own change as one it would not act on", async () => {
    const run = await guardian(
      "explain",
      "--event",
      "test/fixtures/events/aws/revoke-ingress.json",
      "--self",
      "arn:aws:iam::123456789012:role/network-guardian",
      "--format",
      "json",
    );
    const out = JSON.parse(run.stdout) as {
      changes: { evaluated?: boolean; note?: string; actor: { appId?: string } }[];
    };
    // The fixture's caller is a Lambda role; --self names another role, so the change is someone else's.
    expect(out.changes[0]?.note).toMatch(/carries no resource/);
    const own = out.changes[0]?.actor.appId ?? "";
    const mine = await guardian(
      "explain",
      "--event",
      "test/fixtures/events/aws/revoke-ingress.json",
      "--self",
      own,
      "--format",
      "json",
    );
    const ownOut = JSON.parse(mine.stdout) as { changes: { note?: string; evaluated: boolean }[] };
    expect(ownOut.changes[0]).toMatchObject({
      evaluated: false,
      note: expect.stringMatching(/guardian's own identity/),
    });
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

  it("explains a storage account write: the guardian would close it in one PATCH", async () => {
    const account = JSON.parse(await readFile("test/fixtures/azure/storage/qubole-closed.json", "utf8")) as {
      id: string;
      properties: { networkAcls: { defaultAction: string; ipRules: unknown[] } };
    };
    account.properties.networkAcls.defaultAction = "Allow";
    account.properties.networkAcls.ipRules = [];
    const resource = await tempFile("account.json", JSON.stringify(account));
    const event = JSON.parse(
      await readFile("test/fixtures/events/azure/resource-write-success.eventgrid.json", "utf8"),
    ) as {
      subject: string;
      data: { resourceUri: string; operationName: string; authorization: { scope: string; action: string } };
    }[];
    for (const e of event) {
      e.subject = account.id;
      e.data.resourceUri = account.id;
      e.data.operationName = "Microsoft.Storage/storageAccounts/write";
      e.data.authorization.scope = account.id;
      e.data.authorization.action = "Microsoft.Storage/storageAccounts/write";
    }
    const eventFile = await tempFile("event.json", JSON.stringify(event));
    const policy = await tempFile(
      "policy.yaml",
      `version: 1
rules:
  - name: selected-networks
    rule: storage-network-access
    mode: remediate
  - name: tunnel-ip
    rule: storage-ip-rules
    mode: remediate
    options: { requiredAddresses: [203.0.113.10] }
`,
    );
    const run = await guardian(
      "explain",
      "--event",
      eventFile,
      "--resource",
      resource,
      "--policy",
      policy,
      "--format",
      "json",
    );
    expect(run.code).toBe(1);
    const out = JSON.parse(run.stdout) as {
      changes: { resourceType: string }[];
      actions: { policyRule: string; outcome: string; wouldDo: string }[];
    };
    expect(out.changes[0]?.resourceType).toBe("microsoft.storage/storageaccounts");
    expect(out.actions.map((a) => [a.policyRule, a.outcome])).toEqual([
      ["selected-networks", "dry-run"],
      ["tunnel-ip", "dry-run"],
    ]);
    expect(out.actions[0]?.wouldDo).toBe(out.actions[1]?.wouldDo);
    expect(out.actions[0]?.wouldDo).toMatch(
      /default action set to Deny.*put back required IP rule 203\.0\.113\.10/,
    );
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

  it("compiles a YAML policy to JSON that loads to the same policy", async () => {
    const out = path.join(await mkdtemp(path.join(tmpdir(), "guardian-cli-")), "policy.json");
    const run = await guardian("policy", "compile", "policies/baseline.yaml", "--out", out);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("compiled from policies/baseline.yaml");
    expect(await loadPolicyFile(out)).toEqual(await loadPolicyFile("policies/baseline.yaml"));
    const validate = await guardian("policy", "validate", out);
    expect(validate.code).toBe(0);
    expect(validate.stdout).toContain("valid");
  });

  it("refuses to compile an invalid policy or to an output not named .json", async () => {
    const policy = await tempFile(
      "p.yaml",
      "version: 1\nrules:\n  - name: x\n    rule: nsg-inbound-exposure\n    mode: remediat\n",
    );
    const out = path.join(path.dirname(policy), "p.json");
    const bad = await guardian("policy", "compile", policy, "--out", out);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("line 5, rules[0].mode");
    await expect(readFile(out, "utf8")).rejects.toThrow(/ENOENT/);
    const misnamed = await guardian("policy", "compile", "policies/baseline.yaml", "--out", `${policy}.out`);
    expect(misnamed.code).toBe(2);
    expect(misnamed.stderr).toMatch(/must end in \.json/);
  });

  it("lists rules with their examples", async () => {
    const run = await guardian("rules");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("nsg-inbound-exposure");
    expect(run.stdout).toContain("sg-ingress-exposure");
  });
});

describe("exit codes and rough edges", () => {
  it("evaluate: exit 3, saying why, when the only input is an empty list", async () => {
    const empty = await tempFile("empty.json", JSON.stringify({ value: [] }));
    const run = await guardian("evaluate", empty);
    expect(run.stdout).toContain("0 resources evaluated, 0 findings");
    expect(run.stderr).toMatch(
      /note: not evaluated: .*empty\.json: an ARM list response, with nothing in it to evaluate/,
    );
    expect(run.stderr).toMatch(/^error: nothing was evaluated/m);
    expect(run.code).toBe(3);
  });

  it("evaluate: one unrecognised file among good ones is reported, the others still evaluated, exit 2", async () => {
    const bad = await tempFile("notes.json", JSON.stringify({ note: "not a resource" }));
    const run = await guardian("evaluate", NSG_MIXED, bad, "test/fixtures/azure/nsg/az-nsg-show.json");
    expect(run.stderr).toMatch(/^error: .*notes\.json: not an input the guardian reads/m);
    expect(run.stdout).toMatch(/^2 resources evaluated, 7 findings; 1 problem \(see above\)$/m);
    expect(run.stdout).toContain("network security group nsg-web");
    expect(run.stdout).toContain("network security group myVMNSG");
    expect(run.code).toBe(2);
  });

  it("evaluate: a folder, an empty file", async () => {
    const dir = path.dirname(await tempFile("x.json", "{}"));
    const folder = await guardian("evaluate", dir);
    expect(folder.stderr.split("\n")[0]).toBe(`error: cannot read ${dir}: it is a folder, not a file`);
    expect(folder.code).toBe(2);
    const empty = await tempFile("blank.json", "\n");
    const blank = await guardian("evaluate", empty);
    expect(blank.stderr).toMatch(/blank\.json is empty/);
    expect(blank.code).toBe(2);
  });

  it("evaluate: a resource type no rule evaluates is an error before the summary, not counted as evaluated", async () => {
    const vm = await tempFile(
      "vm.json",
      JSON.stringify({
        id: "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
        name: "vm1",
        type: "Microsoft.Compute/virtualMachines",
        properties: {},
      }),
    );
    const run = await guardian("evaluate", vm);
    expect(run.stdout).toBe("0 resources evaluated, 0 findings; 1 problem (see above)\n");
    expect(run.stderr).toMatch(/^error: .*virtualMachines\/vm1: no enabled rule of the policy evaluates/);
    expect(run.code).toBe(2);
  });

  it("explain: a resource file given as the event says to pass it with --resource", async () => {
    const run = await guardian("explain", "--event", NSG_MIXED);
    expect(run.stderr).toMatch(
      /nsg-mixed\.json is an ARM resource, a resource rather than an event: pass it with --resource/,
    );
    expect(run.code).toBe(2);
  });

  it("policy validate: '1 rule'; an empty file; a folder; an expired exemption warns", async () => {
    const one = await tempFile(
      "one.yaml",
      "version: 1\nrules:\n  - name: x\n    rule: nsg-inbound-exposure\n",
    );
    expect((await guardian("policy", "validate", one)).stdout).toBe(`${one}: valid (1 rule)\n`);
    const empty = await tempFile("empty.yaml", "# nothing yet\n");
    const e = await guardian("policy", "validate", empty);
    expect(e.stderr).toMatch(/the policy file is empty/);
    expect(e.stderr).not.toMatch(/received null/);
    expect(e.code).toBe(2);
    const blank = await guardian("policy", "validate", await tempFile("blank.yaml", ""));
    expect(blank.stderr).toMatch(/the policy file is empty/);
    const dir = path.dirname(one);
    const folder = await guardian("policy", "validate", dir);
    expect(folder.stderr).toContain(`cannot read policy file ${dir}: it is a folder, not a file`);
    expect(folder.code).toBe(2);
    const expired = await tempFile(
      "expired.yaml",
      [
        "version: 1",
        "rules:",
        "  - name: no-ssh",
        "    rule: nsg-inbound-exposure",
        "    exemptions:",
        "      - resourceId: /subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/old",
        "        expires: 2020-01-31",
        "        reason: CHG-1 migration window",
        "      - resourceId: /subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/new",
        "        expires: 2999-01-31",
        "        reason: CHG-2",
        "",
      ].join("\n"),
    );
    const warned = await guardian("policy", "validate", expired);
    expect(warned.code).toBe(0);
    expect(warned.stderr).toBe(
      "warning: rules[0].exemptions[0] (no-ssh): the exemption of /subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/old expired on 2020-01-31 and no longer applies (CHG-1 migration window)\n",
    );
  });

  it("policy schema --out into a folder that does not exist yet creates it", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "guardian-cli-"));
    const out = path.join(dir, "new", "deeper", "policy.schema.json");
    const run = await guardian("policy", "schema", "--out", out);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(JSON.parse(await readFile(out, "utf8"))).toHaveProperty("$schema");
    const blocked = await guardian("policy", "schema", "--out", path.join(out, "x.json"));
    expect(blocked.stderr).toMatch(/^error: .*x\.json: a part of the path is a file, not a folder\n$/);
    expect(blocked.code).toBe(2);
  });
});

describe("guardian evaluate: subnets, virtual networks, route tables, service endpoint policies", () => {
  const SUBNETS = "test/fixtures/azure/subnet";
  const policyText = `version: 1
subnetRoles:
  private: { names: [snet-private] }
firewalls:
  hub: { privateIp: 10.0.1.4 }
rules:
  - name: storage-endpoint-needs-policy
    rule: subnet-storage-endpoint-policy
  - name: subnets-need-an-nsg
    rule: subnet-nsg-required
  - name: private-egress
    rule: subnet-role
    options: { role: private, firewall: hub }
  - name: lake-only
    rule: sep-allowed-resources
    options: { allow: [/subscriptions/subid1/resourceGroups/storageRg] }
`;
  type Out = {
    findings: { resourceId: string; policyRule: string; message: string }[];
    notEvaluated: { resourceId: string; reason: string }[];
  };

  it("evaluates each subnet of a virtual network, with the route table from a later file", async () => {
    const policy = await tempFile("policy.yaml", policyText);
    const table = JSON.parse(await readFile(`${SUBNETS}/rt-egress.json`, "utf8")) as {
      properties: { routes: { properties: Record<string, unknown> }[] };
    };
    const defaultRoute = table.properties.routes[0];
    if (defaultRoute) defaultRoute.properties.nextHopType = "Internet";
    const rt = await tempFile("rt.json", JSON.stringify(table));
    const run = await guardian(
      "evaluate",
      `${SUBNETS}/vnet-qubole.json`,
      rt,
      "--policy",
      policy,
      "--format",
      "json",
    );
    expect(run.code).toBe(1);
    const out = JSON.parse(run.stdout) as Out;
    expect(out.notEvaluated).toEqual([]);
    expect(out.findings.map((f) => [f.resourceId.split("/").at(-1), f.policyRule]).sort()).toEqual([
      ["snet-private", "private-egress"],
      ["snet-scratch", "storage-endpoint-needs-policy"],
      ["snet-scratch", "subnets-need-an-nsg"],
    ]);
    expect(out.findings.find((f) => f.policyRule === "private-egress")?.message).toMatch(
      /0\.0\.0\.0\/0 goes to Internet/,
    );
  });

  it("says which route table it needed when the input lacks it, and that a route table alone judges nothing", async () => {
    const policy = await tempFile("policy.yaml", policyText);
    const missing = await guardian(
      "evaluate",
      `${SUBNETS}/vnet-qubole.json`,
      "--policy",
      policy,
      "--format",
      "json",
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /snet-private: its rules read .*routeTables\/rt-egress, which the input does not hold/,
    );
    const alone = await guardian("evaluate", `${SUBNETS}/rt-egress.json`, "--policy", policy);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/a route table is judged through the subnets that use it/);
  });

  it("evaluates the REST spec's service endpoint policy and subnet examples", async () => {
    const policy = await tempFile("policy.yaml", policyText);
    const run = await guardian(
      "evaluate",
      `${SUBNETS}/ServiceEndpointPolicyGet.json`,
      `${SUBNETS}/SubnetCreateServiceEndpoint.json`,
      "--policy",
      policy,
      "--format",
      "json",
    );
    const out = JSON.parse(run.stdout) as Out;
    expect(out.findings.map((f) => f.policyRule).sort()).toEqual([
      "lake-only",
      "storage-endpoint-needs-policy",
      "subnets-need-an-nsg",
    ]);
  });
});

describe("guardian evaluate: storage firewall VNet rules approved by subnet role", () => {
  const VNET = "test/fixtures/azure/subnet/vnet-qubole.json";
  const policyText = `version: 1
subnetRoles:
  qubole: { tags: { workload: qubole } }
rules:
  - name: storage-approved-subnets
    rule: storage-vnet-rules
    options: { roles: [qubole] }
  - name: subnets-need-an-nsg
    rule: subnet-nsg-required
`;
  type Out = {
    findings: { resourceId: string; policyRule: string; message: string }[];
    notEvaluated: { resourceId: string; reason: string }[];
  };
  /** The closed-endpoint account, its VNet rule pointing into vnet-qubole.json's network (tagged workload=qubole). */
  async function accountFile(): Promise<string> {
    const text = await readFile("test/fixtures/azure/storage/qubole-closed.json", "utf8");
    const network = JSON.parse(await readFile(VNET, "utf8")) as { id: string };
    const fixtureVnet =
      "/subscriptions/8f2c1e4a-6b3d-4f9a-a7c5-2d1e0b9f3c64/resourceGroups/rg-qubole/providers/Microsoft.Network/virtualNetworks/vnet-qubole";
    expect(text).toContain(fixtureVnet);
    // Moved into the network's subscription: a role approves subnets of the account's own subscription only.
    const subscription = network.id.split("/")[2] ?? "";
    return tempFile(
      "account.json",
      text
        .replaceAll(fixtureVnet, network.id.toUpperCase().replace("/SUBSCRIPTIONS/", "/subscriptions/"))
        .replaceAll("8f2c1e4a-6b3d-4f9a-a7c5-2d1e0b9f3c64", subscription),
    );
  }

  it("takes the virtual network's tags from a VNet given in the input (any order, any case of the id)", async () => {
    const policy = await tempFile("policy.yaml", policyText);
    const run = await guardian("evaluate", await accountFile(), VNET, "--policy", policy, "--format", "json");
    const out = JSON.parse(run.stdout) as Out;
    expect(out.notEvaluated).toEqual([]);
    expect(out.findings.filter((f) => f.policyRule === "storage-approved-subnets")).toEqual([]);

    const untagged = JSON.parse(await readFile(VNET, "utf8")) as { tags: Record<string, string> };
    untagged.tags = { workload: "other" };
    const other = await tempFile("vnet.json", JSON.stringify(untagged));
    const flagged = JSON.parse(
      (await guardian("evaluate", await accountFile(), other, "--policy", policy, "--format", "json")).stdout,
    ) as Out;
    expect(
      flagged.findings.filter((f) => f.policyRule === "storage-approved-subnets").map((f) => f.message),
    ).toEqual([
      expect.stringMatching(
        /virtual network rule .*vnet-qubole\/subnets\/private is not an approved subnet/i,
      ),
    ]);
  });

  it("counts resources judged, never below zero: a network given for its tags whose subnets no rule judges", async () => {
    const policy = await tempFile(
      "policy.yaml",
      "version: 1\nsubnetRoles:\n  qubole: { tags: { workload: qubole } }\nrules:\n" +
        "  - name: storage-approved-subnets\n    rule: storage-vnet-rules\n    options: { roles: [qubole] }\n",
    );
    const run = await guardian("evaluate", await accountFile(), VNET, "--policy", policy);
    // The account is judged; the network's five subnets are listed as judged by no rule (5 problems), not
    // subtracted from a count of two inputs (it read "-4 resources evaluated").
    expect(run.stdout).toMatch(/^1 resource evaluated, 0 findings; 5 problems \(see above\)$/m);
    expect(run.code).toBe(2);
  });

  it("without the VNet in the input, says it needs that network and judges nothing that needs its tags", async () => {
    const policy = await tempFile("policy.yaml", policyText);
    const run = await guardian("evaluate", await accountFile(), "--policy", policy, "--format", "json");
    expect(run.code).toBe(2);
    const out = JSON.parse(run.stdout) as Out;
    expect(out.findings).toEqual([]);
    expect(out.notEvaluated).toEqual([
      {
        resourceId: expect.stringMatching(/storageAccounts\/qubolelake$/),
        resourceType: "microsoft.storage/storageaccounts",
        reason: expect.stringMatching(
          /its rules read .*virtualNetworks\/vnet-qubole, which the input does not hold/i,
        ),
      },
    ]);
  });
});

describe("guardian evaluate: Private Link allow entries by groupIds (offline)", () => {
  const VAULT = "test/fixtures/azure/private-link/key-vault-with-connections.json";
  const DATABRICKS = "3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f";
  const policy = `version: 1
rules:
  - name: private-link-requests
    rule: private-endpoint-connections
    mode: remediate
    severity: high
    options:
      allow:
        - name: databricks-vault
          subscriptions: ['${DATABRICKS}']
          groupIds: [vault]
`;
  type Out = {
    findings: { message: string; matched: Record<string, unknown>[] }[];
    notEvaluated: unknown[];
    notes: string[];
  };
  const databricks = (out: Out) => out.findings.find((f) => f.message.includes("pe-databricks"));
  /** The requesting endpoint (private-endpoint-foreign.json) as Databricks created it: a manual request for `vault`. */
  async function endpointFile(groupIds: string[]): Promise<string> {
    const vault = JSON.parse(await readFile(VAULT, "utf8")) as { id: string };
    const pe = JSON.parse(
      await readFile("test/fixtures/azure/private-link/private-endpoint-foreign.json", "utf8"),
    ) as {
      id: string;
      name: string;
      properties: { manualPrivateLinkServiceConnections: { properties: Record<string, unknown> }[] };
    };
    pe.id = `/subscriptions/${DATABRICKS}/resourceGroups/databricks-serverless/providers/Microsoft.Network/privateEndpoints/pe-databricks`;
    pe.name = "pe-databricks";
    const [c] = pe.properties.manualPrivateLinkServiceConnections;
    if (!c) throw new Error("fixture");
    c.properties.privateLinkServiceId = vault.id;
    c.properties.groupIds = groupIds;
    return tempFile("pe.json", JSON.stringify(pe));
  }

  it("reads the sub-resource from a private endpoint given in the input (either order)", async () => {
    const file = await tempFile("groups.yaml", policy);
    const pe = await endpointFile(["vault"]);
    for (const order of [
      [VAULT, pe],
      [pe, VAULT],
    ]) {
      const run = await guardian("evaluate", ...order, "--policy", file, "--format", "json");
      const out = JSON.parse(run.stdout) as Out;
      expect(databricks(out)?.message).toMatch(/^Approve: pending request pe-databricks/);
      expect(databricks(out)?.matched[0]).toMatchObject({
        groupIds: ["vault"],
        groupIdsFrom: "private endpoint",
      });
      // The endpoint served as context: not listed as unevaluated, no note about it.
      expect(out.notEvaluated).toEqual([]);
      expect(out.notes).toEqual([]);
    }
  });

  it("without the endpoint, says the sub-resource was not determined and shows the request as held", async () => {
    const file = await tempFile("groups.yaml", policy);
    const run = await guardian("evaluate", VAULT, "--policy", file, "--format", "json");
    const out = JSON.parse(run.stdout) as Out;
    expect(databricks(out)?.message).toMatch(
      /^Hold for review: .*sub-resource requested could not be determined \(the provider does not report it and the private endpoint .*pe-databricks was not read\)/,
    );
    expect(out.notes.join("\n")).toMatch(/allow entries by groupIds need the sub-resources .*pe-databricks/);
    expect(out.notEvaluated).toEqual([]);
  });
});

describe("guardian explain: writes that fan out", () => {
  const SUBNETS = "test/fixtures/azure/subnet";
  const EVENTS = "test/fixtures/events/azure";
  const policyText = `version: 1
subnetRoles:
  private: { names: [snet-private] }
firewalls:
  hub: { privateIp: 10.0.1.4 }
rules:
  - name: storage-endpoint-needs-policy
    rule: subnet-storage-endpoint-policy
  - name: private-egress
    rule: subnet-role
    options: { role: private, firewall: hub }
`;
  type Out = { findings: { resourceId: string; policyRule: string }[]; changes: { evaluated?: boolean }[] };

  it("a network write is explained subnet by subnet from the network's JSON", async () => {
    const policy = await tempFile("policy.yaml", policyText);
    const run = await guardian(
      "explain",
      "--event",
      `${EVENTS}/resource-write-success-vnet.eventgrid.json`,
      "--resource",
      `${SUBNETS}/vnet-qubole.json`,
      `${SUBNETS}/rt-egress.json`,
      "--policy",
      policy,
      "--format",
      "json",
    );
    const out = JSON.parse(run.stdout) as Out;
    expect(out.changes[0]?.evaluated).toBe(true);
    expect(out.findings.map((f) => [f.resourceId.split("/").at(-1), f.policyRule])).toEqual([
      ["snet-scratch", "storage-endpoint-needs-policy"],
    ]);
  });

  it("a route write is explained on the subnets the table's back-references name", async () => {
    const policy = await tempFile("policy.yaml", policyText);
    const table = JSON.parse(await readFile(`${SUBNETS}/rt-egress.json`, "utf8")) as {
      properties: { routes: { properties: Record<string, unknown> }[] };
    };
    const defaultRoute = table.properties.routes[0];
    if (defaultRoute) defaultRoute.properties.nextHopType = "Internet";
    const rt = await tempFile("rt.json", JSON.stringify(table));
    const run = await guardian(
      "explain",
      "--event",
      `${EVENTS}/resource-write-success-route.eventgrid.json`,
      "--resource",
      rt,
      `${SUBNETS}/vnet-qubole.json`,
      "--policy",
      policy,
      "--format",
      "json",
    );
    const out = JSON.parse(run.stdout) as Out;
    expect(out.findings.map((f) => [f.resourceId.split("/").at(-1), f.policyRule])).toEqual([
      ["snet-private", "private-egress"],
    ]);
  });
});

describe("guardian evaluate: Private Link allow entries by tenant (offline)", () => {
  const VAULT = "test/fixtures/azure/private-link/key-vault-with-connections.json";
  const DATABRICKS = "3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f";
  const TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47";
  const policy = `version: 1
rules:
  - name: private-link-requests
    rule: private-endpoint-connections
    mode: remediate
    severity: high
    options:
      allow:
        - name: partner-tenant
          tenants: ['${TENANT}']
`;
  type Out = { findings: { message: string }[]; notes: string[] };
  const databricks = (out: Out) => out.findings.find((f) => f.message.includes("pe-databricks"))?.message;

  it("says tenant entries were not resolved, shows what they would cover as held, and takes --tenant", async () => {
    const file = await tempFile("tenants.yaml", policy);
    const offline = await guardian("evaluate", VAULT, "--policy", file, "--format", "json");
    expect(offline.code).toBe(1);
    const out = JSON.parse(offline.stdout) as Out;
    expect(databricks(out)).toMatch(
      /^Hold for review: .*tenant could not be determined \(guardian evaluate works offline/,
    );
    expect(out.notes.join("\n")).toMatch(
      /allow entries by tenant need the tenant of subscriptions .*3f2a9c1e/,
    );
    expect(offline.stderr).toContain("--tenant <subscription>=<tenant>");
    const given = await guardian(
      "evaluate",
      VAULT,
      "--policy",
      file,
      "--format",
      "json",
      "--tenant",
      `${DATABRICKS}=${TENANT}`,
    );
    const withTenant = JSON.parse(given.stdout) as Out;
    expect(databricks(withTenant)).toMatch(/^Approve: .*tenant 72f988bf/);
  });

  it("takes --tenant before the files, and repeated (it never swallows a file)", async () => {
    const file = await tempFile("tenants.yaml", policy);
    const run = await guardian(
      "evaluate",
      "--policy",
      file,
      "--format",
      "json",
      "--tenant",
      `${DATABRICKS}=${TENANT}`,
      "--tenant",
      `e1d2c3b4-a596-4788-9900-aabbccddeeff=${TENANT}`,
      VAULT,
    );
    expect(run.stderr).not.toContain("missing required argument");
    expect(databricks(JSON.parse(run.stdout) as Out)).toMatch(/^Approve: .*tenant 72f988bf/);
  });

  it("refuses a malformed --tenant", async () => {
    const file = await tempFile("tenants.yaml", policy);
    const run = await guardian("evaluate", VAULT, "--policy", file, "--tenant", "not-a-guid=x");
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("expected <subscription id>=<tenant id>");
  });

  it("refuses two --tenant values for one subscription (in any case) rather than letting the last win", async () => {
    const file = await tempFile("tenants.yaml", policy);
    const other = "11111111-2222-3333-4444-555555555555";
    const run = await guardian(
      "evaluate",
      VAULT,
      "--policy",
      file,
      "--tenant",
      `${DATABRICKS}=${TENANT}`,
      "--tenant",
      `${DATABRICKS.toUpperCase()}=${other}`,
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`was already given tenant ${TENANT}`);
    const same = await guardian(
      "evaluate",
      VAULT,
      "--policy",
      file,
      "--format",
      "json",
      "--tenant",
      `${DATABRICKS}=${TENANT}`,
      "--tenant",
      `${DATABRICKS.toUpperCase()}=${TENANT.toUpperCase()}`,
    );
    expect(databricks(JSON.parse(same.stdout) as Out)).toMatch(/^Approve: .*tenant 72f988bf/);
  });
});
