// Issue #7 points 20 and 24 at the CLI, run as a user runs it (its own process): files PowerShell writes (UTF-16 with
// a byte order mark), files with a UTF-8 byte order mark, bytes that are not UTF-8, input nested thousands of levels
// deep, and a list too long to spread into push().

import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { nsgWith } from "../fixtures/azure/nsg/nsg.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function guardian(args: string[], nodeOptions: string[] = []): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...nodeOptions, "cli/guardian.ts", ...args],
      { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 99) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function tempFile(name: string, content: string | Uint8Array): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "guardian-input-"));
  const file = path.join(dir, name);
  await writeFile(file, content);
  return file;
}

/** An NSG (ARM GET shape) whose one user rule allows SSH from the Internet service tag. */
const OPEN_SSH = JSON.stringify(
  nsgWith([{ name: "allow-ssh-internet", priority: 100, source: "Internet", ports: "22" }]),
  null,
  2,
);

const utf8 = (text: string) => Buffer.from(text, "utf8");
const utf16le = (text: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);
const utf16be = (text: string) => {
  const le = Buffer.from(text, "utf16le");
  return Buffer.concat([Buffer.from([0xfe, 0xff]), le.swap16()]);
};

/** No stack trace and no engine error leaks to the user: one line saying what is wrong. */
function expectCleanError(run: Run) {
  expect(run.stderr).not.toMatch(/RangeError|TypeError|SyntaxError|\n\s+at /);
}

describe("CLI inputs in every encoding a user's tools write (point 24)", () => {
  it("evaluates the same NSG saved as UTF-8, UTF-8 with BOM, UTF-16 LE and UTF-16 BE with BOM alike", async () => {
    const files = await Promise.all([
      tempFile("plain.json", utf8(OPEN_SSH)),
      tempFile("bom.json", Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8(OPEN_SSH)])),
      tempFile("powershell.json", utf16le(OPEN_SSH)),
      tempFile("utf16be.json", utf16be(OPEN_SSH)),
    ]);
    const run = await guardian(["evaluate", ...files, "--format", "json"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(1);
    const out = JSON.parse(run.stdout) as { findings: { policyRule: string; matched: unknown[] }[] };
    const ssh = out.findings.filter((f) => f.policyRule === "azure-no-ssh-from-internet");
    expect(ssh).toHaveLength(4);
  });

  it("refuses a byte that is not UTF-8, naming the encoding and the line, instead of losing the finding", async () => {
    // The byte sits inside "Internet": replaced silently, the source would no longer read as the Internet tag.
    const [before, after] = OPEN_SSH.split('"Internet"');
    const line = (before ?? "").split("\n").length;
    const bytes = Buffer.concat([utf8(`${before}"Inter`), Buffer.from([0xff]), utf8(`net"${after}`)]);
    const run = await guardian(["evaluate", await tempFile("broken.json", bytes)]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`not valid UTF-8 text at line ${line} \\(byte \\d+\\)`));
    expectCleanError(run);
  });

  it("names UTF-16 without a byte order mark instead of failing on a stray character", async () => {
    const run = await guardian(["evaluate", await tempFile("nobom.json", Buffer.from(OPEN_SSH, "utf16le"))]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/looks like UTF-16 without a byte order mark/);
  });

  it("explains an event file and reads a policy file that PowerShell wrote", async () => {
    const fixture = await readFile(
      "test/fixtures/events/azure/resource-write-success.eventgrid.json",
      "utf8",
    );
    const event = await tempFile("event.json", utf16le(fixture));
    const policyText =
      "version: 1\nrules:\n  - name: no-ssh\n    rule: nsg-inbound-exposure\n    options: { ports: [22] }\n";
    const policy = await tempFile("policy.yaml", utf16le(policyText));
    const run = await guardian(["explain", "--event", event, "--policy", policy, "--format", "json"]);
    // Both files read: the event is normalised. A ResourceWriteSuccess carries no resource, so without --resource
    // nothing is evaluated (exit 3), and that is the only error.
    expect(run.stderr).not.toMatch(/UTF|not valid|cannot read|policy/);
    expect(run.stderr).toMatch(
      /^error: nothing was evaluated for 1 change: pass the resource with --resource$/m,
    );
    expect(run.code).toBe(3);
    const out = JSON.parse(run.stdout) as { changes: { operation?: string }[] };
    expect(out.changes[0]).toMatchObject({ operation: "write" });
  });
});

describe("CLI inputs bounded before anything recurses or spreads (point 20)", () => {
  it("refuses input nested 100,000 levels deep with one clear line, not a stack overflow", async () => {
    const depth = 100_000;
    const file = await tempFile("deep.json", `${"[".repeat(depth)}${"]".repeat(depth)}`);
    const run = await guardian(["evaluate", file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/nested too deep: more than 64 levels/);
    expectCleanError(run);
  });

  it("refuses a deep event to explain the same way", async () => {
    const depth = 100_000;
    const event = `{"id":"1","eventType":"Microsoft.Resources.ResourceWriteSuccess","data":${"[".repeat(depth)}${"]".repeat(depth)}}`;
    const run = await guardian(["explain", "--event", await tempFile("deep-event.json", event)]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/nested too deep/);
    expectCleanError(run);
  });

  it("evaluates a list longer than push(...list) can take, item by item (small stack: the limit is lower)", async () => {
    // With a 150 KB stack V8 refuses to spread about 20,000 arguments; with the default stack the same failure
    // needs about 125,000 (measured: a 160,000-group list). The file is a DescribeSecurityGroups response.
    const count = 20_000;
    const groups = Array.from({ length: count }, (_, i) => ({
      GroupId: `sg-${i.toString(16).padStart(17, "0")}`,
      GroupName: `web-${i}`,
      Description: "open to the world",
      OwnerId: "123456789012",
      VpcId: "vpc-0a1b2c3d4e5f60718",
      IpPermissions: [
        {
          IpProtocol: "tcp",
          FromPort: 22,
          ToPort: 22,
          IpRanges: [{ CidrIp: "0.0.0.0/0" }],
          Ipv6Ranges: [],
          PrefixListIds: [],
          UserIdGroupPairs: [],
        },
      ],
      IpPermissionsEgress: [],
    }));
    const file = await tempFile("many.json", JSON.stringify({ SecurityGroups: groups }));
    const run = await guardian(["evaluate", file], ["--stack-size=150"]);
    expectCleanError(run);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`^${count} resources evaluated, ${count} findings`));
  });
});
