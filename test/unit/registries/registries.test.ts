// One test that walks every registry: the kinds of both clouds, the rules and the remediations. What a new kind,
// rule or remediation must satisfy to be wired in, checked for all of them at once (ids = file names, every file
// registered, every type a registered kind, every remediation a rule names exists and handles the rule's types,
// every write a kind accepts has a writer, every example policy parses).

import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { awsKindRegistry, awsKinds } from "../../../shared/clouds/aws/kinds/index.ts";
import { awsReaders, awsWriters } from "../../../shared/clouds/aws/runtime.ts";
import { azureWriters } from "../../../shared/clouds/azure/index.ts";
import { azureKindRegistry, azureKinds } from "../../../shared/clouds/azure/kinds/index.ts";
import { parsePolicy } from "../../../shared/policy/load.ts";
import { remediationRegistry } from "../../../shared/remediation/index.ts";
import type { Remediation } from "../../../shared/remediation/types.ts";
import { ruleRegistry } from "../../../shared/rules/index.ts";
import type { RuleDefinition } from "../../../shared/rules/types.ts";

const root = path.resolve(import.meta.dirname, "../../..");

/** The module names of a registry folder: its .ts files other than the registry and its types. */
function moduleNames(folder: string): string[] {
  return readdirSync(path.join(root, folder))
    .filter((f) => f.endsWith(".ts") && f !== "index.ts" && f !== "types.ts")
    .map((f) => f.replace(/\.ts$/, ""))
    .sort();
}

const rules = Object.entries(ruleRegistry) as [string, RuleDefinition][];
const remediations = Object.entries(remediationRegistry) as [string, Remediation][];
const kindsByCloud = { azure: azureKinds, aws: awsKinds } as const;
const kindTypes = (cloud: "azure" | "aws") => kindsByCloud[cloud].map((k) => k.type);

describe("ids are file names, and every file is registered", () => {
  it.each([
    ["shared/clouds/azure/kinds", azureKindRegistry as Record<string, { id: string }>],
    ["shared/clouds/aws/kinds", awsKindRegistry as Record<string, { id: string }>],
    ["shared/rules", ruleRegistry as Record<string, { id: string }>],
    ["shared/remediation", remediationRegistry as Record<string, { id: string }>],
  ])("%s", (folder, registry) => {
    for (const [key, entry] of Object.entries(registry)) expect(entry.id, key).toBe(key);
    expect(Object.keys(registry).sort()).toEqual(moduleNames(folder));
  });
});

describe("kinds", () => {
  it("Azure: lower-cased types, children under their parent, writes with a writer, read permissions", () => {
    const types = azureKinds.map((k) => k.type);
    expect(new Set(types).size).toBe(types.length);
    for (const kind of azureKinds) {
      expect(kind.cloud).toBe("azure");
      expect(kind.type).toBe(kind.armType.toLowerCase());
      for (const child of kind.childTypes) {
        expect(child).toBe(child.toLowerCase());
        expect(child.startsWith(`${kind.type}/`), child).toBe(true);
        // A child is never also a kind of its own: the event would have two targets.
        expect(types).not.toContain(child);
      }
      for (const p of kind.booleanPaths)
        expect(p).toMatch(/^(\*|[A-Za-z][A-Za-z0-9]*)(\.(\*|[A-Za-z][A-Za-z0-9]*))*$/);
      for (const op of kind.writes)
        expect(Object.keys(azureWriters), `${kind.id} writes ${op}`).toContain(op);
      expect(kind.readPermissions.length).toBeGreaterThan(0);
      for (const p of kind.readPermissions) expect(p).toMatch(/^Microsoft\.[A-Za-z]+\/\S+\/read$/);
      expect(kind.read.apiVersion).toMatch(/^\d{4}-\d{2}-\d{2}(-preview)?$/);
      expect(kind.list.apiVersion).toMatch(/^\d{4}-\d{2}-\d{2}(-preview)?$/);
      expect(kind.consoleUrl(`/subscriptions/s/resourceGroups/g/providers/${kind.armType}/n`)).toMatch(
        /^https:\/\/portal\.azure\.com\//,
      );
    }
  });

  it("AWS: one kind per event name, a reader per kind, writes with a writer, read permissions", () => {
    const types = awsKinds.map((k) => k.type);
    expect(new Set(types).size).toBe(types.length);
    const owners = new Map<string, string>();
    for (const kind of awsKinds) {
      expect(kind.cloud).toBe("aws");
      expect(kind.type).toMatch(/^aws:[a-z0-9]+:[a-z0-9-]+$/);
      for (const name of Object.keys(kind.events)) {
        expect(owners.get(name), `${name} is handled by ${owners.get(name)} and ${kind.id}`).toBeUndefined();
        owners.set(name, kind.id);
        expect(name).not.toMatch(/^(Describe|Get|List)/);
      }
      expect(Object.keys(awsReaders)).toContain(kind.id);
      for (const op of kind.writes) expect(Object.keys(awsWriters), `${kind.id} writes ${op}`).toContain(op);
      expect(kind.readPermissions.length).toBeGreaterThan(0);
      for (const p of kind.readPermissions) expect(p).toMatch(/^ec2:(Describe|Get)[A-Za-z]+$/);
      expect(kind.consoleUrl("eu-west-1", "x")).toMatch(/^https:\/\/eu-west-1\.console\.aws\.amazon\.com\//);
    }
  });

  it("every writer is reached by some kind's writes (no dead writer)", () => {
    expect(Object.keys(azureWriters).sort()).toEqual(
      [...new Set(azureKinds.flatMap((k) => k.writes))].sort(),
    );
    expect(Object.keys(awsWriters).sort()).toEqual([...new Set(awsKinds.flatMap((k) => k.writes))].sort());
    expect(Object.keys(awsReaders).sort()).toEqual(awsKinds.map((k) => k.id).sort());
  });
});

describe("rules", () => {
  it.each(rules)("%s evaluates registered kinds of its cloud", (_id, rule) => {
    expect(rule.resourceTypes.length).toBeGreaterThan(0);
    for (const type of rule.resourceTypes) expect(kindTypes(rule.cloud)).toContain(type);
  });

  it.each(rules)("%s names remediations that exist and handle every type it evaluates", (_id, rule) => {
    for (const id of rule.remediations) {
      const remediation = (remediationRegistry as Record<string, Remediation>)[id];
      expect(remediation, `${rule.id} names remediation ${id}`).toBeDefined();
      for (const type of rule.resourceTypes) expect(remediation?.resourceTypes, id).toContain(type);
    }
  });

  it.each(rules)("%s has strict options and an example that parses as a policy entry", (_id, rule) => {
    expect(rule.options.safeParse({ notAnOption: true }).success).toBe(false);
    const example = rule.example
      .trimEnd()
      .split("\n")
      .map((line) => `  ${line}`)
      .join("\n");
    // The policy-wide names examples may refer to: a subnet role and a firewall.
    const names =
      "subnetRoles:\n  private: { names: [snet-private] }\nfirewalls:\n  hub: { privateIp: 10.0.1.4 }\n";
    const policy = parsePolicy(`version: 1\ntrustedSources: [203.0.113.10/32]\n${names}rules:\n${example}\n`);
    expect(policy.rules.map((e) => e.rule)).toContain(rule.id);
  });
});

describe("remediations", () => {
  it.each(remediations)("%s changes registered kinds and is offered by a rule", (id, remediation) => {
    const all = [...kindTypes("azure"), ...kindTypes("aws")];
    for (const type of remediation.resourceTypes) expect(all).toContain(type);
    expect(
      rules.some(([, rule]) => rule.remediations.includes(id)),
      `${id} is named by no rule`,
    ).toBe(true);
  });
});
