// The reconcile's pure parts: its policy settings (strict, with defaults), which hourly ticks start a run, and the
// page message a queue carries.

import { describe, expect, it } from "vitest";
import { awsKinds } from "../../../shared/clouds/aws/kinds/index.ts";
import { azureKinds } from "../../../shared/clouds/azure/kinds/index.ts";
import { memoryLogger } from "../../../shared/log.ts";
import { PolicyError, parsePolicy } from "../../../shared/policy/load.ts";
import { ruleRegistry } from "../../../shared/rules/index.ts";
import {
  type PageMessage,
  parsePageMessage,
  reconcileDue,
  startReconcile,
} from "../../../shared/usecases/reconcile.ts";
import { scanStreams } from "../../../shared/usecases/scan.ts";

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

describe("what a run covers", () => {
  it("with every rule of the registry enabled, one first page per kind of both registries (subnets through their virtual networks)", async () => {
    // Every rule's example entry, with the policy-wide names examples refer to (as the registry test builds them).
    const entries = Object.values(ruleRegistry)
      .map((rule) =>
        rule.example
          .trimEnd()
          .split("\n")
          .map((line) => `  ${line}`)
          .join("\n"),
      )
      .join("\n");
    const names =
      "subnetRoles:\n  private: { names: [snet-private] }\nfirewalls:\n  hub: { privateIp: 10.0.1.4 }\n";
    const policy = parsePolicy(`version: 1\ntrustedSources: [203.0.113.10/32]\n${names}rules:\n${entries}\n`);
    const sent: PageMessage[] = [];
    const result = await startReconcile(
      {
        policy,
        log: memoryLogger(),
        queue: { send: async (m) => void sent.push(m) },
        targets: [
          { cloud: "azure", subscriptionId: "9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f" },
          { cloud: "aws", region: "eu-west-1" },
        ],
      },
      { now: new Date("2026-11-29T00:00:00Z") },
    );
    // Only the kinds no rule evaluates as such are left out: route tables (read for a subnet's egress) and managed
    // prefix lists (resolved inside the security groups that reference them, which are listed).
    const { skipped } = scanStreams(
      [
        { cloud: "azure", subscriptionId: "9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f" },
        { cloud: "aws", region: "eu-west-1" },
      ],
      policy,
    );
    expect(skipped.map((c) => c.kind).sort()).toEqual(["prefix-list", "route-table"]);
    expect(result).toMatchObject({ due: true, skipped: 2 });
    const supportOnly = new Set(["prefix-list", "route-table"]);
    const listed = (cloud: string) =>
      sent
        .filter((m) => m.target.cloud === cloud)
        .map((m) => m.kind)
        .sort();
    // Azure kinds listed at subscription scope (a subnet is listed through its virtual network, whose fan-out
    // evaluates it), and every AWS kind.
    expect(listed("azure")).toEqual(
      azureKinds
        .filter((k) => k.list.scopes.includes("subscription") && !supportOnly.has(k.id))
        .map((k) => k.id)
        .sort(),
    );
    expect(listed("aws")).toEqual(
      awsKinds
        .filter((k) => !supportOnly.has(k.id))
        .map((k) => k.id)
        .sort(),
    );
    expect(listed("azure")).toEqual(
      expect.arrayContaining([
        "network-security-group",
        "storage-account",
        "virtual-network",
        "service-endpoint-policy",
        "private-endpoint",
        "private-link-service",
        "key-vault",
      ]),
    );
    expect(listed("aws")).toEqual(
      expect.arrayContaining(["security-group", "vpc-endpoint-service", "vpc-endpoint-connection", "vpc"]),
    );
    for (const m of sent) expect(m).toMatchObject({ v: 1, runId: result.runId });
  });

  it("nothing when the tick is not due or the reconcile is off", async () => {
    const base = parsePolicy(policy("reconcile: { intervalHours: 24 }"));
    const send = async () => {
      throw new Error("nothing may be enqueued");
    };
    const deps = {
      policy: base,
      log: memoryLogger(),
      queue: { send },
      targets: [{ cloud: "aws" as const, region: "eu-west-1" }],
    };
    expect(await startReconcile(deps, { now: new Date("2026-11-29T05:00:00Z") })).toMatchObject({
      due: false,
      enqueued: 0,
    });
    const off = { ...deps, policy: { ...base, reconcile: { ...base.reconcile, enabled: false } } };
    expect(await startReconcile(off, { now: new Date("2026-11-29T00:00:00Z") })).toMatchObject({
      due: false,
    });
  });
});
