// Issue #7 points 21 and 24 for policies: whatever the file holds, the loader answers with a PolicyError (problems with
// a line where one exists), never with the YAML library's own errors; sizes and alias expansion are bounded; every
// encoding a user's editor or shell writes is read, and bytes that are not text are refused by name.

import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_POLICY_BYTES, parseJsonPolicy } from "../../../shared/policy/file.ts";
import { loadPolicyFile, PolicyError, parsePolicy } from "../../../shared/policy/load.ts";

const VALID = `version: 1
rules:
  - name: no-ssh
    rule: nsg-inbound-exposure
    mode: remediate
    remediation: deny-rule
    options: { ports: [22] }
`;

function rejection(load: () => unknown): PolicyError {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    return error as PolicyError;
  }
  throw new Error("expected the policy to be rejected");
}

async function policyFile(name: string, content: string | Uint8Array): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "guardian-policy-"));
  const file = path.join(dir, name);
  await writeFile(file, content);
  return file;
}

async function loadRejection(file: string): Promise<PolicyError> {
  const error = await loadPolicyFile(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(PolicyError);
  return error as PolicyError;
}

describe("the policy loader only ever answers with a policy error (point 21)", () => {
  it("an alias without its anchor is a problem at its line, not a ReferenceError", () => {
    const error = rejection(() => parsePolicy("version: 1\n\nrules: *x\n", "p.yaml"));
    expect(error.problems).toEqual([
      { path: "", line: 3, message: expect.stringMatching(/^YAML: Unresolved alias .*: x$/) },
    ]);
  });

  it("aliases that expand exponentially (billion laughs) are refused, saying why", () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]",
      "version: 1",
      "rules: [*d, *d, *d, *d, *d, *d, *d, *d, *d]",
    ].join("\n");
    const error = rejection(() => parsePolicy(bomb, "p.yaml"));
    expect(error.problems[0]?.message).toMatch(/aliases expand to more than \d+ nodes/);
  });

  it("a few aliases a person might write still work", () => {
    const text = `version: 1
rules:
  - name: no-ssh
    rule: nsg-inbound-exposure
    options: &ssh { ports: [22] }
  - name: no-ssh-udp
    rule: nsg-inbound-exposure
    options: *ssh
`;
    expect(parsePolicy(text).rules).toHaveLength(2);
  });

  it("a policy text over the size limit is refused before it is parsed, saying the limit", () => {
    const entry = (i: number) =>
      `  - name: entry-${i}\n    rule: nsg-inbound-exposure\n    options: { ports: [22] }\n`;
    let text = "version: 1\nrules:\n";
    for (let i = 0; text.length <= MAX_POLICY_BYTES; i++) text += entry(i);
    const error = rejection(() => parsePolicy(text, "big.yaml"));
    expect(error.problems[0]?.message).toMatch(/the guardian reads policies up to 512 KiB/);
    const json = rejection(() =>
      parseJsonPolicy(JSON.stringify({ version: 1, pad: "x".repeat(MAX_POLICY_BYTES) })),
    );
    expect(json.problems[0]?.message).toMatch(/up to 512 KiB/);
  });

  it("a 20 MB policy file is refused without being read", async () => {
    const file = await policyFile("huge.yaml", `version: 1\n# ${"x".repeat(20 * 1024 * 1024)}\n`);
    const error = await loadRejection(file);
    expect(error.message).toMatch(/is 20 MiB; the guardian reads policies up to 512 KiB/);
  });

  it("YAML nested too deep for the parser is still a policy error", () => {
    const depth = 5_000;
    const error = rejection(() =>
      parsePolicy(`version: 1\nrules: ${"[".repeat(depth)}${"]".repeat(depth)}\n`),
    );
    expect(error.problems.length).toBeGreaterThan(0);
    expect(error.message.length).toBeLessThan(5_000);
  });

  it("a JSON policy nested deep is a policy error too", () => {
    const depth = 50_000;
    const error = rejection(() =>
      parseJsonPolicy(`{"version":1,"rules":${"[".repeat(depth)}${"]".repeat(depth)}}`),
    );
    expect(error.problems.length).toBeGreaterThan(0);
  });
});

describe("policy files in every encoding editors and shells write (point 24)", () => {
  const utf16le = (text: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);
  const utf16be = (text: string) =>
    Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, "utf16le").swap16()]);
  const bom = (text: string) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, "utf8")]);

  it.each([
    ["YAML, UTF-8 with BOM", "p.yaml", bom(VALID)],
    ["YAML, UTF-16 LE with BOM (PowerShell `>`)", "p.yaml", utf16le(VALID)],
    ["YAML, UTF-16 BE with BOM", "p.yaml", utf16be(VALID)],
    ["JSON, UTF-8 with BOM", "p.json", bom(JSON.stringify(parsePolicy(VALID)))],
    ["JSON, UTF-16 LE with BOM", "p.json", utf16le(JSON.stringify(parsePolicy(VALID)))],
  ])("%s loads", async (_what, name, bytes) => {
    const policy = await loadPolicyFile(await policyFile(name, bytes));
    expect(policy.rules.map((r) => r.name)).toEqual(["no-ssh"]);
  });

  it("a byte that is not UTF-8 is refused naming the encoding and the line, never replaced", async () => {
    // Replaced silently, `no-ssh` would become a name the schema may well accept, or an option quietly different.
    const [head, tail] = VALID.split("ports: [22]");
    const bytes = Buffer.concat([
      Buffer.from(`${head}ports: [2`),
      Buffer.from([0xc3]),
      Buffer.from(`2]${tail}`),
    ]);
    const error = await loadRejection(await policyFile("p.yaml", bytes));
    expect(error.problems[0]?.message).toMatch(/^the file is not valid UTF-8 text at line 7 \(byte \d+\)/);
  });

  it("a U+FFFD the file really holds is text, not an encoding error", async () => {
    const text = VALID.replace("mode: remediate", 'description: "caf\uFFFD"\n    mode: remediate');
    const policy = await loadPolicyFile(await policyFile("p.yaml", Buffer.from(text, "utf8")));
    expect(policy.rules[0]?.description).toBe("caf\uFFFD");
  });
});
