// The reconcile's pure parts: its policy settings (strict, with defaults), which hourly ticks start a run, and the
// page message a queue carries.

import { describe, expect, it } from "vitest";
import { PolicyError, parsePolicy } from "../../../shared/policy/load.ts";
import { parsePageMessage, reconcileDue } from "../../../shared/usecases/reconcile.ts";

const policy = (reconcile: string) => `version: 1
${reconcile}
rules:
  - name: no-ssh
    rule: nsg-inbound-exposure
    options:
      ports: [22]
`;

function problemsOf(text: string) {
  try {
    parsePolicy(text, "p.yaml");
  } catch (error) {
    if (error instanceof PolicyError) return error.problems;
    throw error;
  }
  throw new Error("expected the policy to be rejected");
}

describe("policy reconcile settings", () => {
  it("default to a daily run with at most 50 writes per page", () => {
    expect(parsePolicy(policy("")).reconcile).toEqual({
      enabled: true,
      intervalHours: 24,
      maxWritesPerPage: 50,
    });
    expect(parsePolicy(policy("reconcile: { intervalHours: 6 }")).reconcile.intervalHours).toBe(6);
  });

  it("reject a typo and an interval out of range, naming the YAML path and line", () => {
    const typo = problemsOf(policy("reconcile:\n  intervall: 6"));
    expect(typo).toEqual([{ path: "reconcile.intervall", line: 3, message: 'unknown field "intervall"' }]);
    for (const bad of ["0", "169", "1.5", '"6h"']) {
      const [problem] = problemsOf(policy(`reconcile:\n  intervalHours: ${bad}`));
      expect(problem).toMatchObject({ path: "reconcile.intervalHours", line: 3 });
    }
  });
});

describe("reconcileDue", () => {
  const at = (iso: string) => new Date(iso);
  it("starts a run on the ticks whose hour since the epoch is a multiple of the interval", () => {
    expect(reconcileDue(24, at("2026-11-29T00:00:00Z"))).toBe(true);
    expect(reconcileDue(24, at("2026-11-29T01:00:00Z"))).toBe(false);
    expect(reconcileDue(6, at("2026-11-29T18:00:00Z"))).toBe(true);
    expect(reconcileDue(6, at("2026-11-29T19:00:00Z"))).toBe(false);
    expect(reconcileDue(1, at("2026-11-29T19:00:00Z"))).toBe(true);
  });

  it("counts a tick fired a little early or late as its own, and runs exactly once a day over 24 ticks", () => {
    expect(reconcileDue(24, at("2026-11-29T00:00:45Z"))).toBe(true);
    expect(reconcileDue(24, at("2026-11-28T23:59:30Z"))).toBe(true);
    const runs = Array.from({ length: 24 }, (_, h) => new Date(Date.UTC(2026, 10, 29, h, 0, 20))).filter(
      (d) => reconcileDue(24, d),
    );
    expect(runs).toHaveLength(1);
  });
});

describe("page messages", () => {
  const message = {
    v: 1,
    runId: "r",
    kind: "network-security-group",
    target: { cloud: "aws", region: "eu-west-1" },
  };
  it("read JSON text or an object (the Functions host parses it), with the cursor optional", () => {
    expect(parsePageMessage(JSON.stringify(message))).toEqual(message);
    expect(parsePageMessage({ ...message, from: "tok" })).toEqual({ ...message, from: "tok" });
  });

  it("refuse anything else with the reason", () => {
    expect(() => parsePageMessage("{")).toThrow(/not JSON/);
    expect(() => parsePageMessage({ ...message, extra: 1 })).toThrow(/not a reconcile page message/);
    expect(() => parsePageMessage({ ...message, target: { cloud: "gcp" } })).toThrow(/target/);
    expect(() => parsePageMessage({ ...message, from: "" })).toThrow(/from/);
  });
});
