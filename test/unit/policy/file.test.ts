import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  isJsonPolicyFile,
  loadPolicyFile,
  PolicyError,
  parseJsonPolicy,
} from "../../../shared/policy/file.ts";
import { parsePolicy, parsePolicyDocument } from "../../../shared/policy/load.ts";

const yaml = `version: 1
trustedSources: [203.0.113.10/32]
rules:
  - name: no-ssh
    rule: nsg-inbound-exposure
    mode: remediate
    options:
      ports: [22]
`;

function problemsOf(fn: () => unknown) {
  try {
    fn();
  } catch (error) {
    if (error instanceof PolicyError) return error;
    throw error;
  }
  throw new Error("expected the policy to be rejected");
}

async function temp(name: string, content: string): Promise<string> {
  const file = path.join(await mkdtemp(path.join(tmpdir(), "guardian-policy-")), name);
  await writeFile(file, content);
  return file;
}

describe("JSON policy files (guardian policy compile output)", () => {
  it("reads a .json file as the same policy its YAML source validates to", async () => {
    const { data } = parsePolicyDocument(yaml, "p.yaml");
    const json = await temp("policy.json", JSON.stringify(data));
    const fromJson = await loadPolicyFile(json);
    expect(fromJson).toEqual(parsePolicy(yaml));
    expect(fromJson.exemptTag).toBe("guardian:exempt");
  });

  it("still reads any other extension as YAML", async () => {
    expect(await loadPolicyFile(await temp("policy.yml", yaml))).toEqual(parsePolicy(yaml));
    expect(isJsonPolicyFile("dist/POLICY.JSON")).toBe(true);
    expect(isJsonPolicyFile("policy.yaml")).toBe(false);
  });

  it("names the file and the path of each problem, with the schema's messages", () => {
    const data = { version: 1, rules: [{ name: "x", rule: "nsg-inbound-exposure", mode: "remediat" }] };
    const error = problemsOf(() => parseJsonPolicy(JSON.stringify(data), "dist/policy.json"));
    expect(error.file).toBe("dist/policy.json");
    expect(error.problems.map((p) => p.path)).toContain("rules[0].mode");
    expect(error.problems.every((p) => p.line === undefined)).toBe(true);
    expect(error.message).toMatch(/^dist\/policy\.json: rules\[0\]\.mode: /);
  });

  it("reports an unknown field with the same suggestion as for YAML", () => {
    const data = { version: 1, dryrun: true, rules: [{ name: "x", rule: "nsg-inbound-exposure" }] };
    const error = problemsOf(() => parseJsonPolicy(JSON.stringify(data), "p.json"));
    expect(error.problems.map((p) => p.message)).toContain('unknown field "dryrun" (did you mean "dryRun"?)');
  });

  it("rejects text that is not JSON as a policy error naming the file", () => {
    const error = problemsOf(() => parseJsonPolicy(yaml, "p.json"));
    expect(error.file).toBe("p.json");
    expect(error.problems[0]?.message).toMatch(/^JSON syntax: /);
  });
});
