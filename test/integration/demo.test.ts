// `npm start` as a person sees it, in its own process (where @azure/functions would print its test-mode warnings).
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runDemo } from "../../demo/run.ts";

let reportDir = "";
beforeAll(async () => {
  reportDir = await mkdtemp(path.join(tmpdir(), "demo-test-"));
});
afterAll(async () => {
  await rm(reportDir, { recursive: true, force: true });
});

const demo = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
  spawnSync(process.execPath, ["cli/guardian.ts", "demo", ...args], {
    encoding: "utf8",
    timeout: 300_000,
    env,
  });

it("plays every scenario in words a person reads, and every expected outcome happens (--verbose: counters and checklist), then scans both clouds into the report folder it names", async () => {
  const run = demo(["--verbose", "--report-dir", reportDir]);
  const out = run.stdout;
  expect(`${run.stderr}${out}`).not.toMatch(/WARNING|test mode/);
  expect(out).toMatch(
    /^Policy: demo\/policy\.yaml for both clouds \(the Private Link scenario reads demo\/private-link-policy\.yaml, the exfiltration guard demo\/exfiltration\.yaml\):$/m,
  );
  expect(out).toContain("  no-ssh-from-internet (nsg-inbound-exposure): remediate, delete-rule, critical");
  expect(out).toContain("alice@contoso.com");
  // Decisions in the past tense; the state before the change, after it and after the guardian.
  expect(out).toContain(
    "  guardian: Deleted security rule allow-ssh-anywhere: it allowed TCP 22 from the Internet (no-ssh-from-internet, critical)",
  );
  expect(out).toMatch(
    /^ {2}after the change {4}allow-tunnel-ssh \(priority 100\): Allow TCP 22 from 203\.0\.113\.10\/32\n {22}allow-ssh-anywhere \(priority 110\): Allow TCP 22 from the Internet$/m,
  );
  expect(out).toMatch(
    /^ {2}after the guardian {2}allow-tunnel-ssh \(priority 100\): Allow TCP 22 from 203\.0\.113\.10\/32$/m,
  );
  expect(out).toMatch(
    /^ {2}guardian: Revoked ingress tcp 22 from 0\.0\.0\.0\/0 on sg-\w+; other sources stay/m,
  );
  expect(out).toMatch(/^ {2}after the guardian {2}TCP 22 from 10\.20\.1\.0\/24, 10\.20\.2\.0\/24$/m);
  expect(out).toContain("• `rule allow-ssh-anywhere (priority 110): TCP port 22 from the Internet`");
  // --verbose: what stays out of the plain run.
  expect(out).toMatch(/ARM requests: \d+/);
  expect(out).toMatch(
    /EC2 calls by the guardian: 2 reads \(the group, then the ids of the rules the revoke removes\), 1 write/,
  );
  expect(out).toContain("✔ SSH-from-Internet rule deleted");
  expect(out).toMatch(
    /^ {2}guardian: Closed storage account qubolelake: firewall default action set to Deny .* \(storage-selected-networks-only, critical; storage-ip-allow-list, high; storage-approved-subnets, high\)$/m,
  );
  expect(out).toMatch(
    /^ {2}after the guardian {2}public network access: selected networks only \(Deny\)\n {22}IP rules: 203\.0\.113\.10$/m,
  );
  // The exfiltration guard: the policy re-attached, the rogue subscription removed, the outbound Allow deleted. The
  // alert-mode entry's finding the re-attachment fixed shares its line, never "left it".
  expect(out).toContain(
    "  guardian: Changed subnet snet-private: attached service endpoint policy sep-datalake (storage-endpoint-needs-policy, high; private-subnet, critical)",
  );
  expect(out).not.toMatch(/Left it and alerted: .*\(storage-endpoint-needs-policy/);
  expect(out).toContain("✔ the whole other subscription removed from the policy, the data lake kept");
  expect(out).toContain("✔ the outbound Allow to the Internet removed");
  // The alert's headline names the group once (its message already carries the id).
  expect(out).toMatch(
    /^ {2}alerted: {2}Slack and Teams: "CRITICAL · Remediated: Security group qubole-bastion-sg \(sg-\w+\) allows tcp 22 from 0\.0\.0\.0\/0"$/m,
  );
  // AWS PrivateLink decisions read like the others: what was done, then the policy entry.
  expect(out).toMatch(
    /^ {2}guardian: Removed \* from the allowed principals of endpoint service vpce-svc-\w+ \(endpoint-service-principals, critical\)$/m,
  );
  expect(out).toMatch(
    /^ {2}guardian: Required acceptance of connection requests on endpoint service vpce-svc-\w+ \(endpoint-services-require-acceptance, high\)$/m,
  );
  expect(out).toMatch(
    /^ {2}guardian: Accepted request vpce-\w+ from account 111122223333 to vpce-svc-\w+ \(endpoint-service-connections, high\)$/m,
  );
  expect(out).toMatch(
    /^ {2}guardian: Held for review: request vpce-\w+ from account 444455556666 left pending/m,
  );
  expect(out).not.toMatch(/\] (applied|approved|held) —/);
  expect(out).toMatch(/All \d+ expected outcomes happened\.\n$/);
  expect(run.status).toBe(0);
  // Last, the scan of both clouds: the drift seeded without an event, in the folder it names.
  expect(out).toContain(`Report written to ${reportDir}`);
  const html = await readFile(path.join(reportDir, "report.html"), "utf8");
  expect(html).toContain("nsg-legacy-jumpbox");
  const sarif = JSON.parse(await readFile(path.join(reportDir, "report.sarif"), "utf8")) as {
    version: string;
    runs: { results: unknown[] }[];
  };
  expect(sarif.version).toBe("2.1.0");
  const located = JSON.stringify(sarif.runs[0]?.results ?? []);
  expect(located).toContain("nsg-legacy-jumpbox");
  expect(located).toMatch(/sg-[0-9a-f]+/);
}, 300_000);

it("without moto the Azure half still runs; one line says why the AWS half could not, and the exit code says so", () => {
  const run = demo([], {
    ...process.env,
    GUARDIAN_MOTO_SERVER: "/nonexistent/moto_server",
    GUARDIAN_MOTO_VENV: "/nonexistent/moto-venv",
    GUARDIAN_PYTHON: "/nonexistent/python3",
  });
  const out = run.stdout;
  expect(out).toContain("guardian: Deleted security rule allow-ssh-anywhere");
  expect(out).toMatch(
    /^ {2}cannot set up moto: Python 3 is not installed \(\/nonexistent\/python3 not found\); install it with/m,
  );
  // Without --verbose: no counters, and of the checklist only what did not happen.
  expect(out).not.toMatch(/ARM requests|✔/);
  expect(out).toMatch(
    /Expected outcomes that did not happen:\n {2}✘ AWS scenario ran \(it needs moto: see above\)\n/,
  );
  expect(out).toMatch(/1 of \d+ expected outcomes did not happen\.\n$/);
  expect(run.status).toBe(1);
}, 300_000);

it("guardian demo --serve leaves the emulators up with the environment `guardian scan` needs, until told to stop", async () => {
  const lines: string[] = [];
  const dir = await mkdtemp(path.join(tmpdir(), "demo-serve-"));
  let stop = () => {};
  const until = new Promise<void>((resolve) => {
    stop = resolve;
  });
  let scanOut = "";
  const printed = (text: string) => {
    lines.push(text);
    if (!text.includes("export AZURE_ARM_ENDPOINT=")) return;
    // Scan the served emulators with exactly the printed environment, as a user would in another shell.
    const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" };
    for (const m of text.matchAll(/(?:export |\s)([A-Z][A-Z0-9_]+)=(\S+)/g)) env[m[1] ?? ""] = m[2] ?? "";
    const command = /npm run guardian -- (scan .*) --format html/.exec(text)?.[1]?.split(" ") ?? [];
    const child = spawn(process.execPath, ["cli/guardian.ts", ...command, "--format", "json"], { env });
    child.stdout.on("data", (c: Buffer) => {
      scanOut += c.toString();
    });
    child.once("exit", () => stop());
  };
  try {
    const ok = await runDemo({ print: printed }, { reportDir: dir, serveUntil: until });
    expect(ok).toBe(true);
    const report = JSON.parse(scanOut) as { complete: boolean; findings: { resourceId: string }[] };
    expect(report.complete, JSON.stringify((report as { coverage?: unknown }).coverage)).toBe(true);
    expect(report.findings.some((f) => f.resourceId.endsWith("/nsg-legacy-jumpbox"))).toBe(true);
    expect(report.findings.some((f) => f.resourceId.startsWith("sg-"))).toBe(true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 180_000);
