// vpce-connections and decide-connection over the AWS CLI example of a pending connection request
// (DescribeVpcEndpointConnections, filtered on pendingAcceptance) and variants derived from it.

import { describe, expect, it } from "vitest";
import { parsePolicy } from "../../../shared/policy/load.ts";
import { decideConnection } from "../../../shared/remediation/decide-connection.ts";
import { vpceConnections, vpceConnectionsOptions } from "../../../shared/rules/vpce-connections.ts";
import type { Finding } from "../../../shared/types.ts";
import { connectionSnapshot, pendingConnection } from "../../fixtures/aws/privatelink/load.ts";

const context = { trustedSources: [] };
const OWNER = "123456789012";
const ID = "vpce-svc-0abced088d20def56/vpce-0abed31004e618123";

const options = (input: Record<string, unknown>) => vpceConnectionsOptions.parse(input);
const evaluate = (connection: Record<string, unknown>, input: Record<string, unknown>) =>
  vpceConnections.evaluate(connectionSnapshot(connection), options(input), context);

function asFinding(connection: Record<string, unknown>, input: Record<string, unknown>): Finding {
  const [violation] = evaluate(connection, input);
  if (!violation) throw new Error("expected a violation");
  return {
    policyRule: "connections",
    ruleId: "vpce-connections",
    resourceId: ID,
    resourceType: "aws:ec2:vpc-endpoint-connection",
    severity: "high",
    message: violation.message,
    controls: [],
    matched: violation.matched,
    ...(violation.key ? { key: violation.key } : {}),
  };
}

describe("vpce-connections", () => {
  it("decides to accept a pending request from an allow-listed owner, keyed to the request and its state", () => {
    const [violation, ...rest] = evaluate(pendingConnection(), { allowedPrincipals: [OWNER] });
    expect(rest).toEqual([]);
    expect(violation?.matched).toEqual([
      {
        serviceId: "vpce-svc-0abced088d20def56",
        vpcEndpointId: "vpce-0abed31004e618123",
        owner: OWNER,
        state: "pendingAcceptance",
        allowListed: true,
        decision: "accept",
        requestedAt: "2017-11-30T10:00:24.350Z",
      },
    ]);
    expect(violation?.key).toBe(`${ID}:pendingAcceptance:2017-11-30T10:00:24.350Z:accept`);
    // An allow-listed role's account is an allow-listed owner.
    expect(
      evaluate(pendingConnection(), {
        allowedPrincipals: [`arn:aws:iam::${OWNER}:role/qubole-cluster-manager`],
      })[0]?.matched[0]?.decision,
    ).toBe("accept");
  });

  it("holds a pending request from anyone else by default, and rejects it when the policy says so", () => {
    expect(
      evaluate(pendingConnection(), { allowedPrincipals: ["111122223333"] })[0]?.matched[0],
    ).toMatchObject({
      allowListed: false,
      decision: "hold",
    });
    expect(
      evaluate(pendingConnection(), { allowedPrincipals: ["111122223333"], otherRequests: "reject" })[0]
        ?.matched[0]?.decision,
    ).toBe("reject");
    // An organization cannot be checked against an owner account: it admits nobody by itself.
    expect(
      evaluate(pendingConnection(), { allowedPrincipals: ["o-a1b2c3d4e5"] })[0]?.matched[0]?.decision,
    ).toBe("hold");
  });

  it("reports an available connection whose owner is not allow-listed (alert by default, reject by policy)", () => {
    const available = { ...pendingConnection(), VpcEndpointState: "available" };
    expect(evaluate(available, { allowedPrincipals: ["111122223333"] })[0]).toMatchObject({
      message:
        "Connection vpce-0abed31004e618123 to vpce-svc-0abced088d20def56 is available to account 123456789012, which is not allow-listed",
      matched: [{ decision: "hold", state: "available" }],
    });
    expect(
      evaluate(available, { allowedPrincipals: [], availableOutsideAllowList: "reject" })[0]?.matched[0]
        ?.decision,
    ).toBe("reject");
    expect(evaluate(available, { allowedPrincipals: [OWNER] })).toEqual([]);
  });

  it("reads states however the API spells them (PendingAcceptance in the reference, pendingAcceptance on the wire)", () => {
    const capitalised = { ...pendingConnection(), VpcEndpointState: "PendingAcceptance" };
    const [violation] = evaluate(capitalised, { allowedPrincipals: [OWNER] });
    expect(violation?.matched[0]).toMatchObject({ state: "pendingAcceptance", decision: "accept" });
    expect(violation?.key).toBe(`${ID}:pendingAcceptance:2017-11-30T10:00:24.350Z:accept`);
    expect(
      evaluate({ ...pendingConnection(), VpcEndpointState: "Available" }, { allowedPrincipals: [OWNER] }),
    ).toEqual([]);
  });

  it("has nothing to decide once a connection is rejected, deleted, failed or being set up", () => {
    for (const state of ["rejected", "deleted", "deleting", "failed", "pending"]) {
      expect(
        evaluate({ ...pendingConnection(), VpcEndpointState: state }, { allowedPrincipals: [] }),
      ).toEqual([]);
    }
  });

  it("says so when the owner or the state is missing", () => {
    const { VpcEndpointOwner: _o, ...noOwner } = pendingConnection();
    expect(vpceConnections.cannotEvaluate(connectionSnapshot(noOwner))).toContain("VpcEndpointOwner");
    expect(evaluate(noOwner, {})).toEqual([]);
  });

  it("validates its options strictly", () => {
    expect(vpceConnectionsOptions.safeParse({ otherRequests: "approve" }).success).toBe(false);
    expect(vpceConnectionsOptions.safeParse({ allowedPrincipal: [] }).success).toBe(false);
    const policy = parsePolicy(`version: 1\nrules:\n${vpceConnections.example}`, "example.yaml");
    expect(policy.rules[0]?.rule).toBe("vpce-connections");
  });
});

describe("decide-connection", () => {
  it("plans an accept of exactly this endpoint, recorded as approved", () => {
    const finding = asFinding(pendingConnection(), { allowedPrincipals: [OWNER] });
    const planned = decideConnection.plan(connectionSnapshot(), finding, context);
    expect(planned).toMatchObject({
      remediation: "decide-connection",
      decision: "approved",
      complete: true,
      operation: {
        kind: "accept-vpc-endpoint-connections",
        serviceId: "vpce-svc-0abced088d20def56",
        vpcEndpointIds: ["vpce-0abed31004e618123"],
        expected: { "vpce-0abed31004e618123": { owner: OWNER, state: "pendingAcceptance" } },
      },
      before: { VpcEndpointState: "pendingAcceptance" },
      after: { VpcEndpointState: "available" },
    });
    // An acceptance is undone by rejecting that connection.
    expect(
      planned && decideConnection.undo?.(planned, { account: OWNER, region: "us-east-1" })?.command,
    ).toBe(
      [
        "aws ec2 reject-vpc-endpoint-connections",
        "--region 'us-east-1'",
        "--service-id 'vpce-svc-0abced088d20def56'",
        "--vpc-endpoint-ids 'vpce-0abed31004e618123'",
      ].join(" \\\n  "),
    );
  });

  it("plans a reject, recorded as rejected, and a hold that writes nothing", () => {
    const reject = asFinding(pendingConnection(), { allowedPrincipals: [], otherRequests: "reject" });
    const rejected = decideConnection.plan(connectionSnapshot(), reject, context);
    expect(rejected).toMatchObject({
      decision: "rejected",
      operation: { kind: "reject-vpc-endpoint-connections" },
    });
    // AWS cannot accept a rejected request again: the undo says what can be done instead, and offers no command.
    const undo = rejected && decideConnection.undo?.(rejected, { account: OWNER });
    expect(undo?.command).toBeUndefined();
    expect(undo?.portal).toContain("cannot be accepted again");
    const hold = asFinding(pendingConnection(), { allowedPrincipals: [] });
    const held = decideConnection.plan(connectionSnapshot(), hold, context);
    expect(held && decideConnection.undo?.(held, { account: OWNER })).toBeUndefined();
    expect(held).toMatchObject({
      decision: "held",
      operation: { kind: "hold" },
      summary:
        "request vpce-0abed31004e618123 from account 123456789012 left pending: the account is not allow-listed",
    });
  });

  it("has nothing to do once the connection has left the state the decision was made for", () => {
    const finding = asFinding(pendingConnection(), { allowedPrincipals: [OWNER] });
    const accepted = connectionSnapshot({ ...pendingConnection(), VpcEndpointState: "available" });
    expect(decideConnection.plan(accepted, finding, context)).toBeUndefined();
  });
});
