import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { loadPolicyFile, PolicyError, parsePolicy } from "../../../shared/policy/load.ts";
import { policyJsonSchema } from "../../../shared/policy/schema.ts";

function problemsOf(text: string) {
  try {
    parsePolicy(text, "p.yaml");
  } catch (error) {
    if (error instanceof PolicyError) return error.problems;
    throw error;
  }
  throw new Error("expected the policy to be rejected");
}

const valid = `version: 1
trustedSources: [203.0.113.10/32]
rules:
  - name: no-ssh
    rule: nsg-inbound-exposure
    mode: remediate
    options:
      ports: [22]
`;

describe("policy loading", () => {
  it("loads a valid policy and fills defaults", () => {
    const policy = parsePolicy(valid);
    expect(policy.dryRun).toBe(false);
    expect(policy.exemptTag).toBe("guardian:exempt");
    expect(policy.maxWritesPerEvent).toBe(10);
    const [entry] = policy.rules;
    expect(entry?.severity).toBe("medium");
    expect(entry?.exemptions).toEqual([]);
    expect(entry?.mode).toBe("remediate");
  });

  it("defaults mode to alert", () => {
    const policy = parsePolicy(valid.replace("    mode: remediate\n", ""));
    expect(policy.rules[0]?.mode).toBe("alert");
  });

  it("ships a baseline that validates", async () => {
    const policy = await loadPolicyFile("policies/baseline.yaml");
    expect(policy.rules.map((r) => r.rule)).toContain("nsg-inbound-exposure");
    expect(policy.rules.map((r) => r.rule)).toContain("sg-ingress-exposure");
  });

  it("names the YAML path and line of a typo in a mode", () => {
    const problems = problemsOf(valid.replace("mode: remediate", "mode: remediat"));
    expect(problems).toHaveLength(1);
    expect(problems[0]?.path).toBe("rules[0].mode");
    expect(problems[0]?.line).toBe(6);
  });

  it("reports an unknown key with a suggestion and its line", () => {
    const problems = problemsOf(valid.replace("    mode: remediate", "    mdoe: remediate"));
    expect(problems[0]?.path).toBe("rules[0].mdoe");
    expect(problems[0]?.line).toBe(6);
    expect(problems[0]?.message).toContain('did you mean "mode"');
  });

  it("reports a typo inside a rule's options (strict options schema)", () => {
    const problems = problemsOf(valid.replace("      ports: [22]", "      port: [22]"));
    expect(problems[0]?.path).toBe("rules[0].options.port");
    expect(problems[0]?.line).toBe(8);
    expect(problems[0]?.message).toContain('did you mean "ports"');
  });

  it("says what an empty rules list needs", () => {
    expect(problemsOf("version: 1\nrules: []\n").map((p) => `${p.path}: ${p.message}`)).toEqual([
      "rules: a policy needs at least one entry (`guardian rules` lists them, with an example each)",
    ]);
  });

  it("suggests the closest field of the whole schema, options and subnet roles included", () => {
    const storage = `version: 1
subnetRoles:
  private: { nmes: [snet-private] }
rules:
  - name: ips
    rule: storage-ip-rules
    options: { allowedAdresses: [203.0.113.10] }
`;
    const messages = problemsOf(storage).map((p) => `${p.path}: ${p.message}`);
    // "name" is as near to "nmes" in the old fixed list's order; "names" is the field a subnet role has.
    expect(messages).toContain('subnetRoles.private.nmes: unknown field "nmes" (did you mean "names"?)');
    expect(messages).toContain(
      'rules[0].options.allowedAdresses: unknown field "allowedAdresses" (did you mean "allowedAddresses"?)',
    );
  });

  it("reports an unknown rule id", () => {
    const problems = problemsOf(valid.replace("rule: nsg-inbound-exposure", "rule: nsg-open-ssh"));
    expect(problems[0]?.path).toBe("rules[0].rule");
    expect(problems[0]?.line).toBe(5);
    expect(problems[0]?.message).not.toContain("did you mean");
  });

  it("suggests the nearest rule id for a misspelt one", () => {
    const problems = problemsOf(valid.replace("rule: nsg-inbound-exposure", "rule: nsg-inbound-exposures"));
    expect(problems[0]?.path).toBe("rules[0].rule");
    expect(problems[0]?.message).toBe(
      'unknown rule (did you mean "nsg-inbound-exposure"? see `guardian rules` or policy.schema.json)',
    );
  });

  it("reports a remediation the rule does not support", () => {
    const problems = problemsOf(
      valid.replace("    mode: remediate", "    mode: remediate\n    remediation: revoke-cidr"),
    );
    expect(problems[0]?.path).toBe("rules[0].remediation");
    expect(problems[0]?.line).toBe(7);
  });

  it("rejects a trusted source that is not a prefix", () => {
    const problems = problemsOf(valid.replace("203.0.113.10/32", "203.0.113.300/32"));
    expect(problems[0]?.path).toBe("trustedSources[0]");
    expect(problems[0]?.line).toBe(2);
  });

  it("rejects a trusted source with a leading zero (read as octal by some tools) with its path and line", () => {
    const problems = problemsOf(valid.replace("203.0.113.10/32", "010.0.0.0/8"));
    expect(problems[0]?.path).toBe("trustedSources[0]");
    expect(problems[0]?.line).toBe(2);
    const inOptions = problemsOf(
      valid.replace("      ports: [22]", "      ports: [22]\n      trustedSources: [192.168.001.0/24]"),
    );
    expect(inOptions[0]?.path).toBe("rules[0].options.trustedSources[0]");
    expect(inOptions[0]?.line).toBe(9);
    const aws = problemsOf(
      valid
        .replace("rule: nsg-inbound-exposure", "rule: sg-ingress-exposure")
        .replace("      ports: [22]", "      ports: [22]\n      trustedSources: [10.0.0.0/08]"),
    );
    expect(aws[0]?.path).toBe("rules[0].options.trustedSources[0]");
  });

  it("allows tag exemptions only for alert-mode entries, naming the YAML path and line otherwise", () => {
    const problems = problemsOf(
      valid.replace("    mode: remediate", "    mode: remediate\n    tagExemptions: true"),
    );
    expect(problems).toHaveLength(1);
    expect(problems[0]?.path).toBe("rules[0].tagExemptions");
    expect(problems[0]?.line).toBe(7);
    expect(problems[0]?.message).toContain(
      "tag exemptions are allowed only for alert-mode entries (this one is remediate)",
    );
    expect(
      problemsOf(valid.replace("    mode: remediate", "    mode: report\n    tagExemptions: true"))[0]?.path,
    ).toBe("rules[0].tagExemptions");
    const alert = parsePolicy(
      valid.replace("    mode: remediate", "    mode: alert\n    tagExemptions: true"),
    );
    expect(alert.rules[0]?.tagExemptions).toBe(true);
    expect(
      parsePolicy(valid.replace("    mode: remediate", "    mode: alert\n    tagExemptions: false")).rules[0]
        ?.tagExemptions,
    ).toBe(false);
    // A typo gets a suggestion.
    expect(
      problemsOf(valid.replace("    mode: remediate", "    mode: alert\n    tagExemption: true"))[0]?.message,
    ).toContain('did you mean "tagExemptions"');
  });

  it("rejects duplicate entry names", () => {
    const dup = `${valid}  - name: no-ssh\n    rule: nsg-inbound-exposure\n`;
    const problems = problemsOf(dup);
    expect(problems[0]?.message).toContain("duplicate entry name");
    expect(problems[0]?.line).toBe(9);
  });

  it("requires trusted sources for restrict-source", () => {
    const text = valid
      .replace("trustedSources: [203.0.113.10/32]\n", "")
      .replace("    mode: remediate", "    mode: remediate\n    remediation: restrict-source");
    const problems = problemsOf(text);
    expect(problems[0]?.message).toContain("restrict-source needs trustedSources");
  });

  it("reports YAML syntax errors with their line", () => {
    const problems = problemsOf("version: 1\nrules:\n  - name: [unclosed\n");
    expect(problems[0]?.message).toMatch(/^YAML syntax/);
    expect(problems[0]?.line).toBeGreaterThanOrEqual(3);
  });

  it("rejects an exemption with a bad date or no reason", () => {
    const text = `${valid}    exemptions:\n      - resourceId: /subscriptions/x\n        expires: 2027-13-01\n`;
    const problems = problemsOf(text);
    const paths = problems.map((p) => p.path);
    expect(paths).toContain("rules[0].exemptions[0].expires");
    expect(paths).toContain("rules[0].exemptions[0].reason");
    // The message says which form is wanted, not just that the date is invalid.
    expect(problems.find((p) => p.path.endsWith("expires"))?.message).toBe(
      "a calendar date as YYYY-MM-DD (e.g. 2027-01-31)",
    );
  });

  it("error message lists file, line and path", () => {
    expect(() => parsePolicy(valid.replace("version: 1", "version: 2"), "mine.yaml")).toThrow(
      /mine\.yaml: line 1, version: /,
    );
  });
});

describe("policy JSON schema", () => {
  it("is in sync with the committed policy.schema.json", async () => {
    const committed = JSON.parse(await readFile("policy.schema.json", "utf8")) as unknown;
    expect(committed).toEqual(policyJsonSchema());
  });

  it("describes every rule's options for editors", () => {
    const text = JSON.stringify(policyJsonSchema());
    expect(text).toContain("nsg-inbound-exposure");
    expect(text).toContain("publicPrefixes");
  });
});
