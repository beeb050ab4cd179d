// Issue #7 point 25: a finding travels as plain JSON (audit, alerts, maybe a queue), so every planner re-validates it:
// one whose `matched` is missing or not a list is an InputError, never a TypeError. And the AWS normaliser refuses
// what a change cannot be without: an event id that names nothing, a time that is not a date.

import { describe, expect, it } from "vitest";
import { InputError } from "../../../shared/errors.ts";
import { normaliseAwsEvent } from "../../../shared/events/aws.ts";
import { remediationRegistry } from "../../../shared/remediation/index.ts";
import { sgIngressExposure } from "../../../shared/rules/sg-ingress-exposure.ts";
import type { Finding, Snapshot } from "../../../shared/types.ts";
import { groupNamed, snapshotOf as sgSnapshot } from "../../fixtures/aws/sg/load.ts";
import { findingOf, snapshotOf as nsgSnapshot, nsgWith } from "../../fixtures/azure/nsg/nsg.ts";
import { load, sepSnap, subnetSnap, vnet, withSubnet } from "../../fixtures/azure/subnet/subnet.ts";
import { fixture } from "./fakes.ts";

const nsg = nsgWith([{ name: "allow-ssh", priority: 100, source: "Internet", ports: "22" }]);
const nsgFinding = findingOf(nsg, { ports: [22] }) as Finding;

function sgFinding(snapshot: Snapshot): Finding {
  const [violation] = sgIngressExposure.evaluate(snapshot, sgIngressExposure.options.parse({}), {
    trustedSources: [],
  });
  if (!violation) throw new Error("expected a violation");
  return {
    policyRule: "no-admin-ports",
    ruleId: sgIngressExposure.id,
    resourceId: snapshot.resourceId,
    resourceType: snapshot.resourceType,
    severity: "high",
    message: violation.message,
    controls: [],
    matched: violation.matched,
  };
}

const allOpen = sgSnapshot(groupNamed("all-open"));
const defaultGroup = sgSnapshot(groupNamed("default"));

/** Each planner with a snapshot it can act on and a valid finding for it. */
const cases: [string, Snapshot, Finding][] = [
  ["delete-rule", nsgSnapshot(nsg), nsgFinding],
  ["deny-rule", nsgSnapshot(nsg), nsgFinding],
  ["restrict-source", nsgSnapshot(nsg), nsgFinding],
  ["revoke-cidr", allOpen, sgFinding(allOpen)],
  ["revoke-all", defaultGroup, { ...sgFinding(allOpen), resourceId: defaultGroup.resourceId }],
];
const bareSubnet = subnetSnap(
  withSubnet(vnet(), "snet-private", (p) => {
    p.serviceEndpointPolicies = [];
  }),
  "snet-private",
);
const rogueSep = sepSnap(load("ServiceEndpointPolicyGet.json"));
const plainFinding = (snapshot: Snapshot, matched: Record<string, unknown>[]): Finding => ({
  policyRule: "p",
  ruleId: "r",
  resourceId: snapshot.resourceId,
  resourceType: snapshot.resourceType,
  severity: "high",
  message: "",
  controls: [],
  matched,
});
cases.push(
  [
    "subnet-restore",
    bareSubnet,
    plainFinding(bareSubnet, [
      { part: "serviceEndpointPolicies", current: [], want: ["/subscriptions/s/x"] },
    ]),
  ],
  [
    "sep-remove-resources",
    rogueSep,
    plainFinding(rogueSep, [
      { definition: "StorageServiceEndpointPolicyDefinition", resource: "/subscriptions/subid1" },
    ]),
  ],
);
const context = { trustedSources: ["203.0.113.10/32"] };

describe("planners re-validate the finding they are given (point 25)", () => {
  const damaged: [string, unknown][] = [
    ["missing", undefined],
    ["null", null],
    ["a string", "allow-ssh"],
    ["an object", { securityRule: "allow-ssh" }],
    ["a number", 1],
  ];
  for (const [id, snapshot, finding] of cases) {
    const remediation = remediationRegistry[id as keyof typeof remediationRegistry];
    it(`${id} plans from a valid finding`, () => {
      expect(remediation.plan(snapshot, finding, context)).toBeDefined();
    });
    it.each(damaged)(`${id}: matched %s is an InputError`, (_what, matched) => {
      const bad = { ...finding, matched } as unknown as Finding;
      expect(() => remediation.plan(snapshot, bad, context)).toThrow(InputError);
      expect(() => remediation.plan(snapshot, bad, context)).toThrow(/matched parts are not a list/);
    });
  }
});

describe("the AWS normaliser validates what a change cannot be without (point 25)", () => {
  function event(mutate: (event: Record<string, unknown>, detail: Record<string, unknown>) => void) {
    const e = fixture("events/aws/authorize-ingress-v108-ruleset.json") as Record<string, unknown>;
    mutate(e, e.detail as Record<string, unknown>);
    return normaliseAwsEvent(e);
  }

  it("the fixture itself is a change with its CloudTrail event id", () => {
    expect(event(() => undefined)?.changes[0]?.eventId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("an empty eventID falls back to the EventBridge id", () => {
    const result = event((e, d) => {
      d.eventID = "";
      e.id = "7400a4bd-d520-3e73-7dd9-beffc1e29501";
    });
    expect(result?.changes[0]?.eventId).toBe("7400a4bd-d520-3e73-7dd9-beffc1e29501");
  });

  it("empty ids everywhere are malformed, not a change whose id is ''", () => {
    const result = event((e, d) => {
      d.eventID = "";
      e.id = "";
    });
    expect(result?.changes).toEqual([]);
    expect(result?.skipped[0]).toMatchObject({
      reason: "malformed",
      detail: expect.stringMatching(/eventID/),
    });
  });

  it.each(["yesterday", "", "2022-13-45T99:99:99Z"])(
    "eventTime %j is malformed, not ordered anywhere",
    (time) => {
      const result = event((e, d) => {
        d.eventTime = time;
        e.time = time === "" ? "" : e.time;
      });
      expect(result?.changes).toEqual([]);
      expect(result?.skipped[0]).toMatchObject({
        reason: "malformed",
        detail: expect.stringMatching(/eventTime/),
      });
    },
  );

  it("an empty eventTime falls back to the envelope's time", () => {
    const result = event((_e, d) => {
      d.eventTime = "";
    });
    expect(result?.changes[0]?.time).toBe("2022-11-16T02:34:24Z");
  });
});
