// Decisions on connection requests in the pipeline: the decide-connection outcomes (approved, rejected, held), one
// decision per request across deliveries (claimed in a DecisionStore), claims released when a decision fails or is
// put off so that the next delivery decides, and dry-run and mode changes deciding anew.

import { describe, expect, it } from "vitest";
import { memoryAuditSink } from "../../../shared/audit/index.ts";
import { endpointConnectionSnapshot } from "../../../shared/clouds/aws/kinds/vpc-endpoint-connection.ts";
import { memoryDecisionStore } from "../../../shared/decisions.ts";
import { TransientError } from "../../../shared/errors.ts";
import { memoryLogger } from "../../../shared/log.ts";
import type { OutboxPort } from "../../../shared/notify/outbox.ts";
import type { Alert } from "../../../shared/notify/types.ts";
import { type CloudPort, type GuardianDeps, handleChanges } from "../../../shared/pipeline.ts";
import { parsePolicy } from "../../../shared/policy/load.ts";
import type { PlannedChange, ResourceChange, Snapshot } from "../../../shared/types.ts";
import { pendingConnection } from "../../fixtures/aws/privatelink/load.ts";

const OWNER = "123456789012";
const ID = "vpce-svc-0abced088d20def56/vpce-0abed31004e618123";

const policy = (mode = "remediate", otherRequests = "hold") =>
  parsePolicy(`version: 1
rules:
  - name: connections
    rule: vpce-connections
    mode: ${mode}
    options: { allowedPrincipals: ["${OWNER}"], otherRequests: ${otherRequests} }
`);

/** One connection in memory: reads return it, accept and reject move its state unless a failure is scripted. */
function connectionCloud(initial: Record<string, unknown>) {
  let state = structuredClone(initial);
  const calls = { reads: 0, writes: 0 };
  const failures: Error[] = [];
  const port: CloudPort = {
    reader: {
      async read(): Promise<Snapshot | undefined> {
        calls.reads++;
        return endpointConnectionSnapshot(structuredClone(state), { account: OWNER, region: "us-east-1" });
      },
    },
    writer: {
      async apply(change: PlannedChange) {
        calls.writes++;
        const failure = failures.shift();
        if (failure) throw failure;
        const kind = change.operation.kind;
        state = {
          ...state,
          VpcEndpointState: kind === "accept-vpc-endpoint-connections" ? "available" : "rejected",
        };
      },
    },
    snapshotFromEvent: () => undefined,
    consoleUrl: () => "https://console.example/",
  };
  return { port, calls, failures, state: () => state };
}

function sink(): OutboxPort & { alerts: Alert[] } {
  const alerts: Alert[] = [];
  return {
    alerts,
    async enqueue(alert) {
      alerts.push(alert);
      return [{ channel: "memory", ok: true }];
    },
  };
}

const change = (eventId: string): ResourceChange => ({
  cloud: "aws",
  account: OWNER,
  region: "us-east-1",
  resourceId: ID,
  resourceType: "aws:ec2:vpc-endpoint-connection",
  operation: "write",
  operationName: "Connect notification",
  actor: { name: `AWS account ${OWNER}`, principalId: OWNER, principalType: "Account" },
  eventId,
  time: "2026-11-23T10:00:00Z",
});

function deps(cloud: ReturnType<typeof connectionCloud>, over: Partial<GuardianDeps> = {}) {
  const audit = memoryAuditSink();
  const alerts = sink();
  const all: GuardianDeps = {
    policy: policy(),
    clouds: { aws: cloud.port },
    outbox: alerts,
    audit,
    selfIdentities: [],
    dryRun: false,
    log: memoryLogger(),
    decisions: memoryDecisionStore(),
    ...over,
  };
  return { all, audit, alerts };
}

describe("decisions on connection requests", () => {
  it("records an accept as approved and decides a duplicate delivery once", async () => {
    const cloud = connectionCloud(pendingConnection());
    const { all, audit, alerts } = deps(cloud);
    await handleChanges([change("sns-1")], all);
    await handleChanges([change("sns-1-again")], all);
    expect(audit.records.map((r) => r.outcome)).toEqual(["approved"]);
    expect(alerts.alerts).toHaveLength(1);
    expect(cloud.calls.writes).toBe(1);
  });

  it("holds without writing, announces once, and announces again once the decision expires", async () => {
    let now = 0;
    const cloud = connectionCloud({ ...pendingConnection(), VpcEndpointOwner: "444455556666" });
    const { all, audit, alerts } = deps(cloud, {
      decisions: memoryDecisionStore({ ttlMs: 1000, now: () => now }),
    });
    await handleChanges([change("sns-1")], all);
    await handleChanges([change("sweep-1")], all);
    expect(audit.records.map((r) => [r.outcome, r.reason])).toEqual([
      [
        "held",
        "request vpce-0abed31004e618123 from account 444455556666 left pending: the account is not allow-listed",
      ],
    ]);
    expect(cloud.calls.writes).toBe(0);
    expect(alerts.alerts).toHaveLength(1);
    now = 2000;
    await handleChanges([change("sweep-2")], all);
    expect(audit.records.map((r) => r.outcome)).toEqual(["held", "held"]);
    expect(alerts.alerts).toHaveLength(2);
  });

  it("releases the claim of a decision that failed, so the next delivery decides", async () => {
    const cloud = connectionCloud(pendingConnection());
    cloud.failures.push(new TransientError("vpce-0abed31004e618123: InternalError"));
    const { all, audit } = deps(cloud);
    const [first] = await handleChanges([change("sns-1")], all);
    expect(first?.retryable).toBeInstanceOf(TransientError);
    await handleChanges([change("sns-1-retry")], all);
    expect(audit.records.map((r) => r.outcome)).toEqual(["failed", "approved"]);
    expect(cloud.state().VpcEndpointState).toBe("available");
  });

  it("decides anew when the policy changes the decision or the mode, or leaves dry-run", async () => {
    const cloud = connectionCloud({ ...pendingConnection(), VpcEndpointOwner: "444455556666" });
    const store = memoryDecisionStore();
    const run = async (over: Partial<GuardianDeps>, id: string) =>
      handleChanges([change(id)], deps(cloud, { decisions: store, ...over }).all);
    const outcomes = async (over: Partial<GuardianDeps>, id: string) =>
      (await run(over, id)).flatMap((o) => o.actions.map((a) => a.outcome));
    expect(await outcomes({ policy: policy("alert") }, "1")).toEqual(["skipped-mode"]);
    expect(await outcomes({ policy: policy("alert") }, "2")).toEqual([]);
    expect(await outcomes({ policy: policy("remediate", "reject"), dryRun: true }, "3")).toEqual(["dry-run"]);
    expect(await outcomes({ policy: policy("remediate", "reject") }, "4")).toEqual(["rejected"]);
    expect(cloud.state().VpcEndpointState).toBe("rejected");
  });

  it("has nothing to decide about a request someone else accepted meanwhile", async () => {
    const cloud = connectionCloud({ ...pendingConnection(), VpcEndpointState: "available" });
    const { all, audit, alerts } = deps(cloud);
    await handleChanges([change("sns-1")], all);
    expect(audit.records).toEqual([]);
    expect(alerts.alerts).toEqual([]);
  });
});
