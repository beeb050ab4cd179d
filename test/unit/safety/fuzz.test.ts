// Issue #7, "hostile input never crashes, floods or hides": property-based fuzzing of the policy loader, the evaluators
// and planners, and both event handlers (the Function's Event Grid handler, the Lambda handler) over arbitrary values
// and mutated real fixtures. Pure: the clouds are in-memory fakes answering with the fixtures (fakes.ts), the channels
// render the real Slack and Teams payloads. Each property asserts that only the project's own error classes escape
// (InputError, ConflictError, TransientError and their subclasses), that no run hangs (fast-check fails a run that
// does not settle within its timeout), and that no log line is longer than MAX_LOG_LINE or loses its event name.
// Bounded in count and in time (each property stops after its time budget), so the suite stays fast.

import { InvocationContext } from "@azure/functions";
import type { Context } from "aws-lambda";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stringify as toYaml } from "yaml";
import { createOnChangeHandler as createFunctionHandler } from "../../../functions/on-change.ts";
import { createOnChangeHandler as createLambdaHandler } from "../../../lambdas/on-change.ts";
import { awsSecurityGroupSnapshot } from "../../../shared/clouds/aws/kinds/security-group.ts";
import { subnetSnapshot } from "../../../shared/clouds/azure/kinds/subnet.ts";
import { azureSnapshot } from "../../../shared/clouds/azure/snapshot.ts";
import { ConflictError, InputError, OutcomeUnknownError, TransientError } from "../../../shared/errors.ts";
import { normalise } from "../../../shared/events/index.ts";
import { MAX_LOG_LINE } from "../../../shared/log.ts";
import { renderSlack, renderTeams } from "../../../shared/notify/index.ts";
import { decisionsOf } from "../../../shared/notify/model.ts";
import type { OutboxPort } from "../../../shared/notify/outbox.ts";
import type { Alert } from "../../../shared/notify/types.ts";
import { evaluatePolicy, exemptionFor } from "../../../shared/policy/evaluate.ts";
import { parseJsonPolicy } from "../../../shared/policy/file.ts";
import { PolicyError, parsePolicy } from "../../../shared/policy/load.ts";
import type { Policy } from "../../../shared/policy/schema.ts";
import { remediationById, remediationRegistry } from "../../../shared/remediation/index.ts";
import type { Remediation } from "../../../shared/remediation/types.ts";
import type { PlannedChange, Snapshot } from "../../../shared/types.ts";
import { evaluateSnapshots } from "../../../shared/usecases/offline.ts";
import { snapshotsFromJson } from "../../../shared/usecases/snapshots.ts";
import {
  BASELINE,
  captureStdout,
  eventFixtures,
  fakeClouds,
  fixture,
  lambdaContext,
  NSG_FIXTURES,
  sqsBatch,
} from "./fakes.ts";
import { applyMutations, hostileValue, mutated, mutation } from "./mutate.ts";

/**
 * Per property: MIN_RUNS runs whatever the time (so a busy machine cannot make a pass vacuous), then more up to RUNS
 * while the time budget lasts (what is left is skipped, not failed). Each run that does not settle within
 * RUN_TIMEOUT_MS is a hang and fails the property.
 */
const MIN_RUNS = 25;
const RUNS = 300;
const BUDGET_MS = 1_000;
const RUN_TIMEOUT_MS = 5_000;

/** fc.assert in two rounds: the guaranteed minimum, then the rest within the time budget. */
// biome-ignore lint/suspicious/noExplicitAny: fast-check's property types differ per arity; any property will do here.
async function holds(property: fc.IRawProperty<any, boolean>): Promise<void> {
  const rounds = [
    { numRuns: MIN_RUNS, timeout: RUN_TIMEOUT_MS },
    {
      numRuns: RUNS - MIN_RUNS,
      interruptAfterTimeLimit: BUDGET_MS,
      markInterruptAsFailure: false,
      timeout: RUN_TIMEOUT_MS,
    },
  ];
  for (const settings of rounds) {
    const details = await fc.check(property, settings);
    if (details.failed) {
      throw new Error(fc.defaultReportMessage(details) ?? "property failed", {
        cause: details.errorInstance,
      });
    }
  }
}

function isOwnError(error: unknown): boolean {
  return error instanceof InputError || error instanceof ConflictError || error instanceof TransientError;
}

/** Fails with the foreign error itself (name, message, stack) so fast-check's report shows what escaped. */
function expectOwn(error: unknown): void {
  if (error === undefined || isOwnError(error)) return;
  throw new Error(
    `a foreign error escaped: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
}

function expectBoundedLines(lines: readonly string[]): void {
  for (const line of lines) {
    expect(line.length).toBeLessThanOrEqual(MAX_LOG_LINE);
    const parsed = JSON.parse(line) as { message?: unknown };
    expect(parsed.message).toMatch(/^guardian\./);
  }
}

const baseline = parsePolicy(BASELINE, "baseline.yaml");

/** The baseline plus entries using every remediation and the options the baseline leaves out. */
const wide: Policy = parsePolicy(`version: 1
trustedSources: [203.0.113.10/32, "2001:db8::/48"]
subnetRoles:
  private: { names: ["*"] }
firewalls:
  hub: { privateIp: 10.0.1.4 }
rules:
${BASELINE.split("\nrules:\n")[1] ?? ""}
  - name: nsg-delete
    rule: nsg-inbound-exposure
    mode: remediate
    remediation: delete-rule
    options: { ports: ["20-23", 3389], protocols: [Tcp, Udp, Icmp], publicPrefixes: true }
  - name: nsg-restrict
    rule: nsg-inbound-exposure
    mode: remediate
    remediation: restrict-source
    options: { protocols: [Tcp], trustedSources: [198.51.100.0/24] }
    scope: { tags: { constructor: "*" } }
  - name: sg-all-ports
    rule: sg-ingress-exposure
    mode: remediate
    options: { ports: ["0-65535"], publicPrefixes: true }
  - name: sg-default-empty
    rule: sg-default-no-rules
    mode: remediate
    remediation: revoke-all
  - name: nsg-egress
    rule: nsg-egress-lockdown
    mode: remediate
    remediation: nsg-egress-delete
    options: { firewall: hub }
  - name: nsg-egress-deny
    rule: nsg-egress-lockdown
    mode: remediate
    remediation: nsg-egress-deny
    options: { denyPriority: 4000, allowedPrefixes: [198.51.100.0/24], protocols: [Tcp, Udp] }
  - name: subnet-sep
    rule: subnet-storage-endpoint-policy
    mode: remediate
    options: { attach: /subscriptions/s/resourceGroups/g/providers/Microsoft.Network/serviceEndpointPolicies/p }
  - name: subnet-private
    rule: subnet-role
    mode: remediate
    options:
      role: private
      storageEndpoint: required
      nsg: [/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkSecurityGroups/n]
      serviceEndpointPolicies: [/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/serviceEndpointPolicies/p]
      routeTable: /subscriptions/s/resourceGroups/g/providers/Microsoft.Network/routeTables/r
      firewall: hub
  - name: sep-approved
    rule: sep-allowed-resources
    mode: remediate
    options: { accountsIn: [/subscriptions/subid1], aliases: [/services/Azure] }
`);

// ---------------------------------------------------------------------------------------------------------------
// Policy loader

/** Characters that mean something to YAML, for text-level mutations of the baseline. */
const yamlSignificant = fc.constantFrom(
  ..."*&!|>:-[]{},#%@`'\"\n \t?~0123456789".split(""),
  "\uFEFF",
  "\u0000",
  "<<",
);
const textEdit = fc.record({
  at: fc.nat(),
  remove: fc.nat({ max: 20 }),
  insert: fc
    .array(fc.oneof(yamlSignificant, fc.string({ maxLength: 8 })), { maxLength: 6 })
    .map((a) => a.join("")),
});

function editText(text: string, edits: readonly { at: number; remove: number; insert: string }[]): string {
  let out = text;
  for (const e of edits) {
    const at = e.at % (out.length + 1);
    out = out.slice(0, at) + e.insert + out.slice(at + e.remove);
  }
  return out;
}

function loadOnly(load: () => unknown): void {
  try {
    load();
  } catch (error) {
    if (!(error instanceof PolicyError)) {
      throw new Error(
        `the policy loader answered with ${error instanceof Error ? error.stack : String(error)}`,
      );
    }
    expect(error.message.length).toBeLessThanOrEqual(4_096 + 64);
  }
}

describe("fuzz: the policy loader answers only with PolicyError", () => {
  const document = JSON.parse(JSON.stringify(baseline)) as unknown;

  it("arbitrary text", async () => {
    await holds(
      fc.property(fc.string({ unit: "binary", maxLength: 400 }), (text) => {
        loadOnly(() => parsePolicy(text, "p.yaml"));
        loadOnly(() => parseJsonPolicy(text, "p.json"));
      }),
    );
  });

  it("the baseline edited as text (YAML syntax: anchors, aliases, tags, flow, indentation)", async () => {
    await holds(
      fc.property(fc.array(textEdit, { minLength: 1, maxLength: 5 }), (edits) => {
        loadOnly(() => parsePolicy(editText(BASELINE, edits), "p.yaml"));
      }),
    );
  });

  it("the baseline mutated as a document, written as YAML and as JSON", async () => {
    await holds(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        const data = applyMutations(document, mutations);
        let yaml: string | undefined;
        try {
          yaml = toYaml(data, { aliasDuplicateObjects: false });
        } catch {
          // Too deep for the YAML library to write: only the JSON form is tried.
        }
        if (yaml !== undefined) loadOnly(() => parsePolicy(yaml, "p.yaml"));
        loadOnly(() => parseJsonPolicy(JSON.stringify(data), "p.json"));
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Evaluators and planners

const nsgs = NSG_FIXTURES.map(fixture);

/** Each subnet of a (mutated) network body, as the reader would build it; building one may itself refuse. */
function subnetSnapshotsOf(vnet: unknown): (() => Snapshot | undefined)[] {
  const list = (vnet as { properties?: { subnets?: unknown } } | null)?.properties?.subnets;
  if (!Array.isArray(list)) return [];
  return list.map(
    (s: unknown) => () =>
      typeof s === "object" && s !== null ? subnetSnapshot(vnet, s as Record<string, unknown>) : undefined,
  );
}
const groups = (fixture("aws/sg/describe-security-groups.json") as { SecurityGroups: unknown[] })
  .SecurityGroups;
const ctx = { trustedSources: wide.trustedSources };
const NOW = new Date("2026-11-23T10:00:00Z");

/** Evaluates with every entry of the wide policy, then plans every finding with every remediation for its type. */
function evaluateAndPlan(snapshot: Snapshot, related?: Map<string, Snapshot | null>): void {
  let findings: ReturnType<typeof evaluatePolicy>;
  try {
    findings = evaluatePolicy(wide, snapshot, undefined, related);
  } catch (error) {
    expectOwn(error);
    return;
  }
  for (const { entry, finding } of findings) {
    try {
      exemptionFor(wide, entry, snapshot, NOW);
    } catch (error) {
      expectOwn(error);
    }
    for (const remediation of Object.values(remediationRegistry)) {
      if (!remediation.resourceTypes.includes(snapshot.resourceType)) continue;
      try {
        remediation.plan(snapshot, finding, ctx);
        (remediation as Remediation).manual?.(snapshot, finding);
      } catch (error) {
        expectOwn(error);
      }
    }
  }
}

describe("fuzz: rules and planners over mutated real resources raise only InputError", () => {
  it("ARM NSGs (the REST spec example and live-shaped ones)", async () => {
    await holds(
      fc.property(mutated(nsgs, 5), (resource) => {
        const snapshot = azureSnapshot(resource, "microsoft.network/networksecuritygroups") ?? {
          cloud: "azure" as const,
          resourceId:
            "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/x",
          resourceType: "microsoft.network/networksecuritygroups",
          resource,
          tags: {},
          account: "0",
        };
        evaluateAndPlan(snapshot);
      }),
    );
  });

  it("subnets (alone and in their network), route tables and service endpoint policies", async () => {
    const vnets = ["azure/subnet/vnet-qubole.json", "azure/subnet/VirtualNetworkGet.json"].map(fixture);
    const subnets = ["azure/subnet/SubnetCreateServiceEndpoint.json"].map(fixture);
    const tables = ["azure/subnet/rt-egress.json", "azure/subnet/RouteTableGet.json"].map(fixture);
    const seps = ["azure/subnet/sep-datalake.json", "azure/subnet/ServiceEndpointPolicyGet.json"].map(
      fixture,
    );
    await holds(
      fc.property(
        mutated(vnets, 5),
        mutated(subnets, 4),
        mutated(tables, 4),
        mutated(seps, 5),
        (vnet, subnet, table, sep) => {
          let related: Map<string, Snapshot | null> | undefined;
          try {
            const t = azureSnapshot(table, "microsoft.network/routetables");
            related = new Map(t ? [[t.resourceId.toLowerCase(), t]] : []);
          } catch (error) {
            expectOwn(error);
          }
          const candidates: (() => Snapshot | undefined)[] = [
            ...subnetSnapshotsOf(vnet),
            () => azureSnapshot(subnet, "microsoft.network/virtualnetworks/subnets"),
            () => azureSnapshot(sep, "microsoft.network/serviceendpointpolicies"),
          ];
          for (const make of candidates) {
            let snapshot: Snapshot | undefined;
            try {
              snapshot = make();
            } catch (error) {
              expectOwn(error);
            }
            if (snapshot) evaluateAndPlan(snapshot, related);
          }
          try {
            evaluateSnapshots(wide, snapshotsFromJson([vnet, subnet, table, sep], "input.json"), NOW);
          } catch (error) {
            expectOwn(error);
          }
        },
      ),
    );
  });

  it("DescribeSecurityGroups items", async () => {
    await holds(
      fc.property(mutated(groups, 5), (group) => {
        evaluateAndPlan(awsSecurityGroupSnapshot(group, { resourceId: "sg-0fuzz", region: "us-east-1" }));
      }),
    );
  });

  it("findings mutated on their way back to a planner (audit, queue)", async () => {
    const snapshot = azureSnapshot(nsgs[0], "microsoft.network/networksecuritygroups") as Snapshot;
    const sg = awsSecurityGroupSnapshot(groups[2], { region: "us-east-1" });
    const nsgFindings = evaluatePolicy(wide, snapshot).map((f) => f.finding);
    const sgFindings = evaluatePolicy(wide, sg).map((f) => f.finding);
    await holds(
      fc.property(
        fc.boolean(),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.nat(),
        (azure, mutations, pick) => {
          const pool = azure ? nsgFindings : sgFindings;
          const finding = applyMutations(pool[pick % pool.length], mutations) as never;
          const target = azure ? snapshot : sg;
          for (const id of ["delete-rule", "deny-rule", "restrict-source", "revoke-cidr", "revoke-all"]) {
            const remediation = remediationById(id);
            if (!remediation?.resourceTypes.includes(target.resourceType)) continue;
            try {
              remediation.plan(target, finding, ctx);
            } catch (error) {
              expectOwn(error);
            }
          }
        },
      ),
    );
  });

  it("`guardian evaluate` input: any mutated resource file, list or response", async () => {
    const files: unknown[] = [...nsgs, { value: nsgs }, { SecurityGroups: groups }, groups, groups[0]];
    await holds(
      fc.property(mutated(files, 4), (json) => {
        try {
          evaluateSnapshots(wide, snapshotsFromJson(json, "input.json"), NOW);
        } catch (error) {
          expectOwn(error);
        }
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Handlers

const events = eventFixtures();
/** Single events too: the Functions host hands the handler one event of a batch. */
const singles = events.flatMap((e) => (Array.isArray(e) ? e : [e]));

/** What a delivery may be: a mutated real event or batch, a value of any shape, or a hostile one. */
const payload: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: mutated([...events, ...singles], 4) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: hostileValue },
);

/** A write fault the fake clouds may answer with: a concurrent edit, a throttle, a lost answer, a refusal. */
const fault = fc.constantFrom<(() => Error) | undefined>(
  undefined,
  undefined,
  () => new ConflictError("412 Precondition Failed", "resource"),
  () => new TransientError("429 Too Many Requests", { retryAfterMs: 1 }),
  () => new OutcomeUnknownError("socket hang up after the request was sent"),
  () => new InputError("400 InvalidRequestFormat"),
);

/** An outbox that renders the real Slack and Teams payloads from the alert's decisions, and may be down. */
function renderingNotifier(down: boolean): OutboxPort {
  return {
    async enqueue(alert: Alert) {
      const decisions = decisionsOf(alert, new Date());
      if (decisions.length > 0) {
        renderSlack(decisions);
        renderTeams(decisions);
      }
      if (down) throw new TransientError("outbox down: 503");
      return [{ channel: "render", ok: true }];
    },
  };
}

function depsFor(options: {
  fault: (() => Error) | undefined;
  dryRun: boolean;
  policy: Policy;
  down: boolean;
}) {
  const clouds = fakeClouds((_change: PlannedChange) => options.fault?.());
  return async (log: Parameters<Parameters<typeof createFunctionHandler>[0]>[0]) => ({
    policy: options.policy,
    clouds: clouds.clouds,
    outbox: renderingNotifier(options.down),
    audit: { record: async (record: unknown) => log.info("guardian.decision", { ...(record as object) }) },
    selfIdentities: ["5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"],
    dryRun: options.dryRun,
    log,
  });
}

const handlerOptions = fc.record({
  fault,
  dryRun: fc.boolean(),
  policy: fc.constantFrom(baseline, wide),
  down: fc.boolean(),
});

describe("fuzz: the handlers raise only the project's errors and log bounded lines", () => {
  it("normalise: anything in, changes and skips out, or an InputError", async () => {
    await holds(
      fc.property(payload, (input) => {
        try {
          normalise(input);
        } catch (error) {
          if (!(error instanceof InputError)) expectOwn(new Error(String(error)));
        }
      }),
    );
  });

  it("the Function's Event Grid handler", async () => {
    await holds(
      fc.asyncProperty(payload, handlerOptions, async (event, options) => {
        const traces: string[] = [];
        const context = new InvocationContext({
          invocationId: "3b0c4f7e-1b2c-4d5e-8f9a-0b1c2d3e4f5a",
          functionName: "onChange",
          logHandler: (_level, ...args) => traces.push(String(args[0])),
        });
        const handler = createFunctionHandler(depsFor(options));
        try {
          await handler(event as never, context);
        } catch (error) {
          expectOwn(error);
        }
        expectBoundedLines(traces);
      }),
    );
  });

  it("the Lambda handler: EventBridge events, SQS batches of any bodies, any payload", async () => {
    const awsEvents = events.filter(
      (e) => !Array.isArray(e) && typeof e === "object" && e !== null && "detail-type" in e,
    );
    const body = fc.oneof(
      mutated(awsEvents, 4).map((e) => JSON.stringify(e) ?? "null"),
      fc.string({ maxLength: 40 }),
      payload.map((p) => JSON.stringify(p) ?? ""),
    );
    const lambdaPayload = fc.oneof(
      { weight: 3, arbitrary: mutated(awsEvents, 4) },
      { weight: 3, arbitrary: fc.array(body, { minLength: 1, maxLength: 4 }).map(sqsBatch) },
      {
        weight: 1,
        arbitrary: fc
          .array(body, { minLength: 1, maxLength: 3 })
          .map(sqsBatch)
          .chain((b) => mutated([b], 2)),
      },
      { weight: 2, arbitrary: payload },
    );
    await holds(
      fc.asyncProperty(lambdaPayload, handlerOptions, async (input, options) => {
        const handler = createLambdaHandler(depsFor(options)) as unknown as (
          event: unknown,
          context: Context,
        ) => Promise<unknown>;
        const { error, lines } = await captureStdout(() => handler(input, lambdaContext()));
        expectOwn(error);
        expectBoundedLines(lines);
      }),
    );
  });
});
