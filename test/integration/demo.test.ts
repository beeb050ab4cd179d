import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, it } from "vitest";
import { runDemo } from "../../demo/run.ts";

it("the demo (npm start) plays every scenario, then scans both clouds into the report folder it names", async () => {
  const lines: string[] = [];
  const dir = await mkdtemp(path.join(tmpdir(), "demo-test-"));
  try {
    const ok = await runDemo({ print: (t) => lines.push(t) }, { reportDir: dir });
    const out = lines.join("\n");
    expect(out).toContain("SSH-from-Internet rule deleted");
    expect(out).toContain("alice@contoso.com");
    expect(out).toMatch(/All \d+ expected outcomes happened/);
    expect(ok).toBe(true);
    // The scan found the drift seeded without an event, and says where its report is.
    expect(out).toContain(`Report written to ${dir}`);
    const html = await readFile(path.join(dir, "report.html"), "utf8");
    expect(html).toContain("nsg-legacy-jumpbox");
    const sarif = JSON.parse(await readFile(path.join(dir, "report.sarif"), "utf8")) as {
      version: string;
      runs: {
        results: { message: { text: string }; logicalLocations?: { fullyQualifiedName?: string }[] }[];
      }[];
    };
    expect(sarif.version).toBe("2.1.0");
    const located = JSON.stringify(sarif.runs[0]?.results ?? []);
    expect(located).toContain("nsg-legacy-jumpbox");
    expect(located).toMatch(/sg-[0-9a-f]+/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 180_000);

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
