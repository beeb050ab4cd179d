// `guardian scan` end to end against both emulators, configured only through the runtime's environment variables
// (AZURE_ARM_ENDPOINT, AZURE_ARM_CA_FILE, GUARDIAN_EC2_ENDPOINT): every format, SARIF validated against the OASIS
// SARIF 2.1.0 schema, --diff, --remediate refused off a terminal without --yes, and the HTML report checked in
// headless Chromium (Debian's /usr/bin/chromium through playwright-core): it renders, its numbers match the JSON,
// filtering works, hostile names stay text. A screenshot is kept in test-artifacts/ (gitignored).

import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  type EC2Client,
} from "@aws-sdk/client-ec2";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as z from "zod";
import type { ScanCliOptions } from "../../cli/scan.ts";
import { runScanCli } from "../../cli/scan-run.ts";
import type { ScanReport } from "../../shared/usecases/scan.ts";
import { NSG_ID, nsgWith } from "../fixtures/azure/nsg/nsg.ts";
import {
  type ArmEmulator,
  mintToken,
  DEFAULT_SUBSCRIPTION_ID as SUB,
  startArmEmulator,
} from "../harness/arm-emulator/index.ts";
import { assertMotoInstalled, ec2ClientFor, type MotoServer, startMoto } from "../harness/moto.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = path.resolve("test-artifacts");
const HOSTILE = `<img src=x onerror="window.__pwned=1">`;

let emu: ArmEmulator;
let moto: MotoServer;
let ec2: EC2Client;
let dir: string;
let env: NodeJS.ProcessEnv;
let openGroup = "";

const nsgId = (rg: string, name: string) =>
  `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.Network/networkSecurityGroups/${name}`;
function nsgAt(id: string, rules: Parameters<typeof nsgWith>[0], tags?: Record<string, string>) {
  const nsg = JSON.parse(JSON.stringify(nsgWith(rules)).replaceAll(NSG_ID, id)) as Record<string, unknown>;
  nsg.name = id.split("/").at(-1);
  if (tags) nsg.tags = tags;
  return nsg;
}

beforeAll(async () => {
  assertMotoInstalled();
  [emu, moto] = await Promise.all([startArmEmulator({ lroPolls: 0, pageSize: 2 }), startMoto()]);
  ec2 = ec2ClientFor(moto.endpoint);
  dir = await mkdtemp(path.join(tmpdir(), "guardian-scan-"));
  await writeFile(path.join(dir, "ca.pem"), emu.ca);
  env = {
    AZURE_ARM_ENDPOINT: emu.url,
    AZURE_ARM_CA_FILE: path.join(dir, "ca.pem"),
    GUARDIAN_AZURE_ACCESS_TOKEN: mintToken({ oid: "5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f" }),
    GUARDIAN_EC2_ENDPOINT: moto.endpoint,
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
  };
  // The SDK's credential chain reads the process environment.
  process.env.AWS_ACCESS_KEY_ID = "testing";
  process.env.AWS_SECRET_ACCESS_KEY = "testing";
  emu.seed(
    nsgAt(nsgId("rg-a", "nsg-ssh-open"), [
      { name: "allow-ssh", priority: 100, source: "Internet", ports: "22" },
    ]),
  );
  emu.seed(
    nsgAt(
      nsgId("rg-a", "nsg-hostile"),
      [{ name: `rdp${HOSTILE}`, priority: 100, source: "*", ports: "3389" }],
      { owner: HOSTILE },
    ),
  );
  emu.seed(nsgAt(nsgId("rg-b", "nsg-clean"), []));
  const group = await ec2.send(new CreateSecurityGroupCommand({ GroupName: "web-open", Description: "web" }));
  openGroup = group.GroupId ?? "";
  await ec2.send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: openGroup,
      IpPermissions: [
        { IpProtocol: "tcp", FromPort: 3389, ToPort: 3389, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
      ],
    }),
  );
}, 60_000);
afterAll(async () => {
  await Promise.all([emu?.stop(), moto?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

function opts(extra: Partial<ScanCliOptions>): ScanCliOptions {
  return {
    azureSubscription: [SUB],
    awsRegion: ["us-east-1"],
    policy: "policies/baseline.yaml",
    maxWrites: "50",
    format: "table",
    ...extra,
  };
}

const notTty = {
  stdin: { isTTY: false } as NodeJS.ReadStream,
  stderr: { isTTY: false, write: () => true } as unknown as NodeJS.WriteStream,
};

async function scanTo(
  format: string,
  extra: Partial<ScanCliOptions> = {},
): Promise<{ code: number; text: string }> {
  const output = path.join(dir, `report-${format}-${Math.random().toString(36).slice(2)}`);
  const lines: string[] = [];
  const code = await runScanCli(opts({ format, output, ...extra }), (t) => lines.push(t), env, notTty);
  return { code, text: await readFile(output, "utf8") };
}

describe("guardian scan", () => {
  let json: ScanReport;

  it("table and JSON: the seeded drift in both clouds, exit 1, report-only", async () => {
    const lines: string[] = [];
    const code = await runScanCli(opts({}), (t) => lines.push(t), env, notTty);
    expect(code).toBe(1);
    const table = lines.join("\n");
    expect(table).toMatch(/azure-no-ssh-from-internet\s+1\s+0\s+0\s+0\s+1/);
    expect(table).toContain("report-only");
    const out = await scanTo("json");
    json = JSON.parse(out.text) as ScanReport;
    const keys = json.findings
      .filter((f) => !f.exempt)
      .map((f) => `${f.resourceId.split("/").at(-1)} ${f.policyRule}`);
    expect(keys).toEqual(
      expect.arrayContaining([
        "nsg-ssh-open azure-no-ssh-from-internet",
        "nsg-hostile azure-no-rdp-from-internet",
        `${openGroup} aws-no-admin-ports-from-world`,
      ]),
    );
    expect(keys.some((k) => k.startsWith("nsg-clean"))).toBe(false);
    expect(json.complete).toBe(true);
    expect(emu.requests.filter((r) => r.method !== "GET")).toEqual([]);
  }, 60_000);

  it("SARIF 2.1.0 validates against the OASIS schema and carries every counted finding", async () => {
    const out = await scanTo("sarif");
    // zod's converter reads "uri-reference" as an absolute URL, which RFC 3986 does not require (a relative
    // reference is one): that format is checked here by resolving the reference against a base instead.
    const schemaText = await readFile("test/fixtures/sarif/sarif-schema-2.1.0.json", "utf8");
    const schemaJson = JSON.parse(
      schemaText.replaceAll('"format": "uri-reference"', '"x-format": "uri-reference"'),
    );
    const schema = z.fromJSONSchema(schemaJson, { defaultTarget: "draft-4" });
    const sarif = JSON.parse(out.text) as { runs: { results: { ruleId: string; level: string }[] }[] };
    const check = schema.safeParse(sarif);
    expect(check.success, JSON.stringify(check.error?.issues.slice(0, 3))).toBe(true);
    // The schema is not vacuous: a result without its message is refused.
    const broken = structuredClone(sarif) as { runs: { results: Record<string, unknown>[] }[] };
    delete broken.runs[0]?.results[0]?.message;
    expect(schema.safeParse(broken).success).toBe(false);
    expect(sarif.runs[0]?.results.length).toBe(json.findings.length);
    const uris = out.text.match(/"uri": "[^"]*"/g) ?? [];
    expect(uris.length).toBe(json.findings.length);
    for (const u of uris) expect(() => new URL(JSON.parse(`{${u}}`).uri, "file:///repo/")).not.toThrow();
  }, 60_000);

  it("--diff marks new and resolved findings against a previous JSON report (exit 1 only for new ones)", async () => {
    const previous = path.join(dir, "previous.json");
    const same = await scanTo("json");
    await writeFile(previous, same.text);
    const unchanged = await scanTo("json", { diff: previous });
    expect(unchanged.code).toBe(0);
    const edited = JSON.parse(same.text) as ScanReport;
    const dropped = edited.findings.shift();
    edited.findings.push({
      ...edited.findings[0],
      resourceId: "/subscriptions/x/resourceGroups/gone",
    } as never);
    await writeFile(previous, JSON.stringify(edited));
    const changed = await scanTo("json", { diff: previous });
    expect(changed.code).toBe(1);
    const diff = (
      JSON.parse(changed.text) as {
        diff: { added: { resourceId: string }[]; resolved: { resourceId: string }[] };
      }
    ).diff;
    expect(diff.added.map((f) => f.resourceId)).toEqual([dropped?.resourceId]);
    expect(diff.resolved.map((f) => f.resourceId)).toEqual(["/subscriptions/x/resourceGroups/gone"]);
  }, 60_000);

  it("--remediate off a terminal without --yes is refused before anything is listed", async () => {
    const before = emu.requests.length;
    await expect(runScanCli(opts({ remediate: true }), () => {}, env, notTty)).rejects.toThrow(/--yes/);
    expect(emu.requests.length).toBe(before);
  });

  it("HTML: self-contained, renders in Chromium, its numbers match the JSON, filtering works, hostile names stay text", async () => {
    const out = await scanTo("html");
    expect(out.text).not.toMatch(/<(link|img)\b|src=["']http|href=["']http/);
    await mkdir(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, "scan-report.html");
    await writeFile(file, out.text);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on("request", (r) => {
        if (!r.url().startsWith("file:")) requests.push(r.url());
      });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`file://${file}`);
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      const total = (name: string) => page.locator(`[data-total="${name}"] b`).textContent();
      expect(Number(await total("findings"))).toBe(json.totals.findings);
      expect(Number(await total("listed"))).toBe(json.totals.listed);
      const bySeverity = await page
        .locator("#by-severity g")
        .evaluateAll((gs) =>
          gs.map((g) => [g.getAttribute("data-key"), Number(g.getAttribute("data-count"))]),
        );
      const expected: Record<string, number> = {};
      for (const f of json.findings.filter((f) => !f.exempt))
        expected[f.severity] = (expected[f.severity] ?? 0) + 1;
      expect(Object.fromEntries(bySeverity)).toEqual(expected);
      expect(await page.locator("#rows tr").count()).toBe(json.findings.length);
      // Filtering: by severity, then by text.
      await page.selectOption("#severity", "critical");
      const critical = json.findings.filter((f) => f.severity === "critical").length;
      expect(Number(await page.locator("#shown").textContent())).toBe(critical);
      expect(await page.locator("#rows tr:visible").count()).toBe(critical);
      await page.selectOption("#severity", "");
      await page.fill("#search", openGroup);
      expect(await page.locator("#rows tr:visible").count()).toBe(
        json.findings.filter((f) => f.resourceId === openGroup).length,
      );
      await page.fill("#search", "");
      // A hostile rule name (seeded past ARM's name rules, as a compromised source could serve it) is text, never markup.
      expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
      expect(await page.locator("#rows").textContent()).toContain(HOSTILE);
      await page.screenshot({ path: path.join(ARTIFACTS, "scan-report.png"), fullPage: true });
    } finally {
      await browser.close();
    }
  }, 60_000);
});
