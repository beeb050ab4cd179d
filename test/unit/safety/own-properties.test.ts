// Issue #7 point 23: lookups by a name that comes from a policy or a resource read own properties only. A scope on the
// tag `constructor` (or any other name Object.prototype carries) must not match a resource without that tag, and a
// `__proto__` key must neither vanish from a resource's tags nor silently empty a policy's scope.

import { describe, expect, it } from "vitest";
import { awsSecurityGroupSnapshot } from "../../../shared/clouds/aws/kinds/security-group.ts";
import { azureSnapshot } from "../../../shared/clouds/azure/snapshot.ts";
import { evaluatePolicy, inScope } from "../../../shared/policy/evaluate.ts";
import { parseJsonPolicy } from "../../../shared/policy/file.ts";
import { PolicyError, parsePolicy } from "../../../shared/policy/load.ts";
import { remediationById } from "../../../shared/remediation/index.ts";
import { nsgWith, snapshotOf } from "../../fixtures/azure/nsg/nsg.ts";

// nsg-empty.json carries an `owner` tag: this NSG carries none.
const { tags: _tags, ...OPEN_SSH } = nsgWith([
  { name: "allow-ssh", priority: 100, source: "Internet", ports: "22" },
]);

function scopedTo(tags: Record<string, string>) {
  return parsePolicy(`version: 1
rules:
  - name: tagged-only
    rule: nsg-inbound-exposure
    mode: remediate
    options: { ports: [22] }
    scope:
      tags: ${JSON.stringify(tags)}
`);
}

const PROTOTYPE_NAMES = [
  "constructor",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "isPrototypeOf",
  "toLocaleString",
];

describe("scope tags read own properties only (point 23)", () => {
  it.each(PROTOTYPE_NAMES)("tags: {%s: '*'} does not match a resource with no tags", (name) => {
    const policy = scopedTo({ [name]: "*" });
    const untagged = snapshotOf(OPEN_SSH);
    expect(untagged.tags).toEqual({});
    expect(inScope(policy.rules[0] as never, untagged)).toBe(false);
    expect(evaluatePolicy(policy, untagged)).toEqual([]);
  });

  it("still matches a resource that carries the tag", () => {
    const policy = scopedTo({ constructor: "*" });
    const tagged = snapshotOf({ ...OPEN_SSH, tags: { constructor: "yes" } });
    expect(evaluatePolicy(policy, tagged).map((f) => f.entry.name)).toEqual(["tagged-only"]);
  });

  it("a `__proto__` tag on a resource stays a tag (ARM body and Describe item alike)", () => {
    const arm = JSON.parse(
      `{"id":"${String(OPEN_SSH.id)}","tags":{"__proto__":"x","env":"prod"},"properties":{"securityRules":[]}}`,
    ) as unknown;
    const fromArm = azureSnapshot(arm, "microsoft.network/networksecuritygroups");
    expect(Object.hasOwn(fromArm?.tags ?? {}, "__proto__")).toBe(true);
    expect(Object.keys(fromArm?.tags ?? {})).toEqual(["__proto__", "env"]);
    const fromAws = awsSecurityGroupSnapshot({
      GroupId: "sg-0123456789abcdef0",
      Tags: [
        { Key: "__proto__", Value: "x" },
        { Key: "env", Value: "prod" },
      ],
    });
    expect(Object.keys(fromAws.tags)).toEqual(["__proto__", "env"]);
  });

  it("a policy scope keyed `__proto__` is refused (zod would drop it and the scope would match everything)", () => {
    const yaml = `version: 1
rules:
  - name: tagged-only
    rule: nsg-inbound-exposure
    scope:
      tags: { __proto__: "*" }
`;
    let error: unknown;
    try {
      parsePolicy(yaml, "p.yaml");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PolicyError);
    expect((error as PolicyError).problems[0]).toMatchObject({
      path: "rules[0].scope.tags.__proto__",
      line: 6,
      message: expect.stringMatching(/"__proto__" is not allowed/),
    });
    const json =
      '{"version":1,"rules":[{"name":"a","rule":"nsg-inbound-exposure","scope":{"tags":{"__proto__":"*"}}}]}';
    expect(() => parseJsonPolicy(json)).toThrow(/"__proto__" is not allowed/);
  });

  it("registries answer only for their own entries", () => {
    for (const name of [...PROTOTYPE_NAMES, "__proto__"]) expect(remediationById(name)).toBeUndefined();
    expect(remediationById("delete-rule")?.id).toBe("delete-rule");
  });
});

// Azure tag names are case-insensitive ("A tag name ... is case-insensitive", ARM Tags - Create Or Update); AWS tag
// keys are case-sensitive. A scope or subnet role on `egress` must see Azure's `Egress` tag, or the entry never runs.
describe("scope tags: Azure names without case, AWS keys exactly, values exactly on both", () => {
  const policy = scopedTo({ egress: "deny-by-default" });
  const entry = policy.rules[0] as never;

  it("an Azure resource tagged Egress is in the scope of tags {egress: ...}", () => {
    const tagged = snapshotOf({ ...OPEN_SSH, tags: { Egress: "deny-by-default" } });
    expect(inScope(entry, tagged)).toBe(true);
    expect(evaluatePolicy(policy, tagged).map((f) => f.entry.name)).toEqual(["tagged-only"]);
    expect(inScope(entry, snapshotOf({ ...OPEN_SSH, tags: { EGRESS: "deny-by-default" } }))).toBe(true);
    // Values stay exact.
    expect(inScope(entry, snapshotOf({ ...OPEN_SSH, tags: { Egress: "Deny-By-Default" } }))).toBe(false);
  });

  it("an AWS group tagged Egress is not in the scope of tags {egress: ...}", () => {
    const group = (key: string) =>
      awsSecurityGroupSnapshot({
        GroupId: "sg-0123456789abcdef0",
        Tags: [{ Key: key, Value: "deny-by-default" }],
      });
    expect(inScope(entry, group("Egress"))).toBe(false);
    expect(inScope(entry, group("egress"))).toBe(true);
  });
});

describe("scope regions: Azure's display names mean the region", () => {
  it("regions: [West Europe] takes in a resource in westeurope", () => {
    const policy = parsePolicy(`version: 1
rules:
  - name: in-west-europe
    rule: nsg-inbound-exposure
    options: { ports: [22] }
    scope: { regions: [West Europe] }
`);
    const entry = policy.rules[0] as never;
    expect(inScope(entry, { ...snapshotOf(OPEN_SSH), region: "westeurope" })).toBe(true);
    expect(inScope(entry, { ...snapshotOf(OPEN_SSH), region: "northeurope" })).toBe(false);
  });
});
