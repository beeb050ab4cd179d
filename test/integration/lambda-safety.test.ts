// The Lambda on-change handler (from source, with the deployed wiring) against moto's EC2 behind the fault-injecting
// proxy of test/harness/ec2-proxy.ts, and the webhook sink: the ways the guardian could be fooled, silenced or made to
// harm what it guards on AWS (issue 7). Events are the CloudTrail fixtures of test/fixtures/events/aws/ adapted to
// what exists in moto (helpers/aws-events.ts).

import path from "node:path";
import {
  CreateManagedPrefixListCommand,
  DescribeManagedPrefixListsCommand,
  type EC2Client,
  type IpPermission,
  ModifyManagedPrefixListCommand,
  ModifySecurityGroupRulesCommand,
} from "@aws-sdk/client-ec2";
import type { SQSBatchResponse } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createEc2Client } from "../../shared/clouds/aws/client.ts";
import { accountOfFunctionArn } from "../../shared/clouds/aws/identity.ts";
import { InputError, TransientError } from "../../shared/errors.ts";
import type { OnChangeResult } from "../../shared/usecases/on-change.ts";
import { type Ec2Proxy, startEc2Proxy } from "../harness/ec2-proxy.ts";
import { type Fault, faultKind } from "../harness/faults.ts";
import { ec2ClientFor, MOTO_ACCOUNT, type MotoServer, startMoto } from "../harness/moto.ts";
import { type SinkRequest, startWebhookSink, type WebhookSink } from "../harness/webhook-sink.ts";
import {
  adaptAwsEvent,
  assumedRoleIdentity,
  type CloudTrailEvent,
  lambdaContext,
  loadAwsEvent,
  sqsEvent,
  sqsRecord,
} from "./helpers/aws-events.ts";
import {
  authorize,
  capturingStdout,
  createVpcGroup,
  describeGroup,
  ingressSources,
  type LambdaHandler,
  lambdaHandler,
  slackText,
} from "./helpers/lambda-harness.ts";

const REGION = "us-east-1";
const FUNCTION_NAME = "network-guardian-on-change";
const POLICY_FILE = path.resolve(import.meta.dirname, "../../policies/baseline.yaml");
const ENGINEER = assumedRoleIdentity({
  account: MOTO_ACCOUNT,
  roleName: "AWSReservedSSO_NetworkAdmin_5f3c2a1b9d8e7f60",
  rolePath: "/aws-reserved/sso.amazonaws.com/",
  sessionName: "priya.raman@example.com",
});
const OPEN_SSH: IpPermission = {
  IpProtocol: "tcp",
  FromPort: 22,
  ToPort: 22,
  IpRanges: [{ CidrIp: "0.0.0.0/0" }],
};

describe("Lambda on-change handler: AWS safety (moto behind a fault-injecting proxy)", () => {
  let moto: MotoServer;
  let proxy: Ec2Proxy;
  let sink: WebhookSink;
  let ec2: EC2Client;
  let env: Record<string, string>;
  const saved: Record<string, string | undefined> = {};

  beforeAll(async () => {
    [moto, sink] = await Promise.all([startMoto(), startWebhookSink()]);
    proxy = await startEc2Proxy(moto.endpoint);
    ec2 = ec2ClientFor(moto.endpoint);
    // The SDK's default credential chain reads these, as Lambda provides its role's session.
    for (const [key, value] of Object.entries({
      AWS_ACCESS_KEY_ID: "testing",
      AWS_SECRET_ACCESS_KEY: "testing",
      AWS_SESSION_TOKEN: "testing",
    })) {
      saved[key] = process.env[key];
      process.env[key] = value;
    }
    env = {
      AWS_REGION: REGION,
      GUARDIAN_EC2_ENDPOINT: proxy.endpoint,
      GUARDIAN_POLICY_FILE: POLICY_FILE,
      GUARDIAN_SELF_IDENTITIES: `arn:aws:iam::${MOTO_ACCOUNT}:role/network-guardian`,
      GUARDIAN_DRY_RUN: "false",
      SLACK_WEBHOOK_URL: sink.slackUrl,
      GUARDIAN_AWS_TIMEOUT_MS: "1000",
    };
  });

  afterAll(async () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    ec2?.destroy();
    await proxy?.stop();
    await sink?.stop();
    await moto?.stop();
  });

  beforeEach(async () => {
    await moto.reset();
    proxy.faults = { decide: () => undefined };
    proxy.beforeForward = async () => undefined;
    proxy.actions.length = 0;
    proxy.bodies.length = 0;
    proxy.injected.length = 0;
    sink.received.length = 0;
    sink.attempts.length = 0;
  });

  async function invoke(
    handler: LambdaHandler,
    event: unknown,
    context = lambdaContext({ functionName: FUNCTION_NAME, account: MOTO_ACCOUNT, region: REGION }),
  ) {
    const started = Date.now();
    const run = await capturingStdout(() => handler(event, context));
    return { ...run, elapsedMs: Date.now() - started };
  }

  /** Fails the first `times` calls of `action` with `fault`, and nothing else. */
  function failFirst(action: string, fault: Fault, times = 1): void {
    let left = times;
    proxy.faults = { decide: (call) => (call.action === action && left-- > 0 ? fault : undefined) };
  }

  function outcomeOf(value: unknown) {
    const result = value as OnChangeResult;
    expect(result.outcomes).toHaveLength(1);
    return result.outcomes[0];
  }

  /** A VPC group with SSH from the VPC, then opened to the world by an engineer; the event CloudTrail recorded. */
  async function openedToWorld(
    name: string,
    client: EC2Client = ec2,
    region = REGION,
  ): Promise<{ groupId: string; event: CloudTrailEvent; worldRuleId: string }> {
    const groupId = await createVpcGroup(client, name);
    await authorize(client, groupId, {
      IpProtocol: "tcp",
      FromPort: 22,
      ToPort: 22,
      IpRanges: [{ CidrIp: "10.0.0.0/16" }],
    });
    const ruleSet = await authorize(client, groupId, OPEN_SSH);
    const event = adaptAwsEvent(loadAwsEvent("authorize-ingress-v108-ruleset.json"), {
      account: MOTO_ACCOUNT,
      region,
      identity: ENGINEER,
      group: { groupId },
      ipPermissions: [OPEN_SSH],
      ruleSet,
    });
    return { groupId, event, worldRuleId: ruleSet[0]?.SecurityGroupRuleId ?? "" };
  }

  describe("revokes by content (point 9)", () => {
    it("keeps the rule a person narrowed in place at the moment of the revoke, and does not claim a remediation", async () => {
      const { groupId, event, worldRuleId } = await openedToWorld("narrowed-in-place");
      expect(worldRuleId).toMatch(/^sgr-/);
      // The owner rewrites the offending rule (same id) to an internal range just as the guardian's revoke goes out.
      proxy.beforeForward = async (call) => {
        if (call.action !== "RevokeSecurityGroupIngress") return;
        await ec2.send(
          new ModifySecurityGroupRulesCommand({
            GroupId: groupId,
            SecurityGroupRules: [
              {
                SecurityGroupRuleId: worldRuleId,
                SecurityGroupRule: { IpProtocol: "tcp", FromPort: 22, ToPort: 22, CidrIpv4: "10.20.0.0/16" },
              },
            ],
          }),
        );
      };

      const { value, error } = await invoke(lambdaHandler(env), event);

      expect(error).toBeUndefined();
      // The person's compliant rule survives; nothing else changed.
      expect(ingressSources(await describeGroup(ec2, groupId))).toEqual([
        "tcp 22-22 10.0.0.0/16",
        "tcp 22-22 10.20.0.0/16",
      ]);
      // The revoke named the exact content it read, not the rule id the event recorded.
      const revoke = proxy.bodies.find((b) => b.get("Action") === "RevokeSecurityGroupIngress");
      expect(revoke?.get("IpPermissions.1.IpRanges.1.CidrIp")).toBe("0.0.0.0/0");
      expect(revoke?.has("SecurityGroupRuleId.1")).toBe(false);
      // Truthful: the exposure was closed by someone else's edit, not by the guardian.
      const outcome = outcomeOf(value);
      expect(outcome?.actions.map((a) => [a.outcome, a.reason])).toEqual([
        ["already-compliant", "a concurrent edit already removed the exposure"],
      ]);
      expect(sink.received.map(slackText).join("\n")).not.toContain("Remediated");
    });
  });

  it("credits the person, not itself, when they narrow the rule in place and the revoke's answer is lost", async () => {
    const { groupId, event, worldRuleId } = await openedToWorld("narrowed-answer-lost");
    proxy.beforeForward = async (call) => {
      if (call.action !== "RevokeSecurityGroupIngress") return;
      await ec2.send(
        new ModifySecurityGroupRulesCommand({
          GroupId: groupId,
          SecurityGroupRules: [
            {
              SecurityGroupRuleId: worldRuleId,
              SecurityGroupRule: { IpProtocol: "tcp", FromPort: 22, ToPort: 22, CidrIpv4: "10.20.0.0/16" },
            },
          ],
        }),
      );
    };
    // EC2 answers InvalidPermission.NotFound, and that answer is lost: the content alone cannot tell this from the
    // guardian's own revoke having landed; the rule id, rewritten in place and still there, can.
    failFirst("RevokeSecurityGroupIngress", { kind: "reset-after" });

    const { value } = await invoke(lambdaHandler(env), event);

    expect(ingressSources(await describeGroup(ec2, groupId))).toEqual([
      "tcp 22-22 10.0.0.0/16",
      "tcp 22-22 10.20.0.0/16",
    ]);
    const outcome = outcomeOf(value);
    expect(outcome?.actions.map((a) => [a.outcome, a.reason])).toEqual([
      ["already-compliant", "a concurrent edit already removed the exposure"],
    ]);
    expect(sink.received.map(slackText).join("\n")).not.toContain("Remediated");
  });

  describe("prefix lists (point 4)", () => {
    async function prefixList(name: string, cidrs: string[]): Promise<string> {
      const out = await ec2.send(
        new CreateManagedPrefixListCommand({
          PrefixListName: name,
          AddressFamily: "IPv4",
          MaxEntries: 10,
          Entries: cidrs.map((Cidr) => ({ Cidr, Description: `${name} entry` })),
        }),
      );
      return out.PrefixList?.PrefixListId ?? "";
    }

    async function groupWithList(name: string, listId: string, port = 22): Promise<CloudTrailEvent> {
      const groupId = await createVpcGroup(ec2, name);
      const permission: IpPermission = {
        IpProtocol: "tcp",
        FromPort: port,
        ToPort: port,
        PrefixListIds: [{ PrefixListId: listId }],
      };
      const ruleSet = await authorize(ec2, groupId, permission);
      return adaptAwsEvent(loadAwsEvent("authorize-ingress-v108-ruleset.json"), {
        account: MOTO_ACCOUNT,
        region: REGION,
        identity: ENGINEER,
        group: { groupId },
        ipPermissions: [permission],
        ruleSet,
      });
    }

    it("finds 0.0.0.0/0 inside a customer-managed list the group references and alerts, editing neither", async () => {
      const listId = await prefixList("partner-ranges", ["10.1.0.0/16", "0.0.0.0/0"]);
      const event = await groupWithList("via-list", listId);
      const groupId = (event.detail.requestParameters as { groupId: string }).groupId;
      const before = await describeGroup(ec2, groupId);

      const { value } = await invoke(lambdaHandler(env), event);

      const outcome = outcomeOf(value);
      expect(outcome?.actions.map((a) => [a.finding.policyRule, a.outcome])).toEqual([
        ["aws-no-admin-ports-from-world", "alert-only"],
      ]);
      expect(outcome?.actions[0]?.finding.matched).toEqual([
        expect.objectContaining({ cidr: "0.0.0.0/0", prefixListId: listId, ports: ["22"] }),
      ]);
      expect(proxy.actions).toEqual([
        "DescribeSecurityGroups",
        "DescribeManagedPrefixLists",
        "GetManagedPrefixListEntries",
      ]);
      expect(await describeGroup(ec2, groupId)).toEqual(before);
      const slack = sink.received.map(slackText).join("\n");
      expect(slack).toContain(`in prefix list ${listId} (partner-ranges)`);
      expect(slack).toContain("does not edit prefix lists");
    });

    it("treats an AWS-managed list as service ranges", async () => {
      const managed = await ec2.send(
        new DescribeManagedPrefixListsCommand({ Filters: [{ Name: "owner-id", Values: ["AWS"] }] }),
      );
      const s3 = managed.PrefixLists?.find((l) => l.PrefixListName === `com.amazonaws.${REGION}.s3`);
      const event = await groupWithList("via-s3-list", s3?.PrefixListId ?? "");

      const { value } = await invoke(lambdaHandler(env), event);

      expect(outcomeOf(value)?.findings).toEqual([]);
      // Its owner says enough: its entries are not even read.
      expect(proxy.actions).toEqual(["DescribeSecurityGroups", "DescribeManagedPrefixLists"]);
      expect(sink.received).toEqual([]);
    });

    it("reports a list it may not read on a protected port as a finding of its own, never as harmless", async () => {
      const listId = await prefixList("locked", ["10.9.0.0/16"]);
      const event = await groupWithList("via-locked-list", listId);
      failFirst("GetManagedPrefixListEntries", { status: 403, code: "UnauthorizedOperation" }, 10);

      const { value } = await invoke(lambdaHandler(env), event);

      const outcome = outcomeOf(value);
      expect(outcome?.actions.map((a) => a.outcome)).toEqual(["alert-only"]);
      expect(outcome?.actions[0]?.finding.message).toContain(
        `prefix list ${listId}, which could not be read`,
      );
      expect(outcome?.actions[0]?.finding.message).toContain("UnauthorizedOperation");
      expect(sink.received.map(slackText).join("\n")).toContain("could not be read");
    });

    it("on ModifyManagedPrefixList re-evaluates every group that references the list, reading the list once", async () => {
      const listId = await prefixList("ops-ranges", ["10.2.0.0/16"]);
      const sshEvent = await groupWithList("ssh-via-list", listId);
      const httpsEvent = await groupWithList("https-via-list", listId, 443);
      const unrelated = await createVpcGroup(ec2, "unrelated");
      const sshGroup = (sshEvent.detail.requestParameters as { groupId: string }).groupId;
      const httpsGroup = (httpsEvent.detail.requestParameters as { groupId: string }).groupId;
      // Someone adds the world to the shared list.
      await ec2.send(
        new ModifyManagedPrefixListCommand({
          PrefixListId: listId,
          CurrentVersion: 1,
          AddEntries: [{ Cidr: "0.0.0.0/0", Description: "temporary" }],
        }),
      );
      const event = adaptAwsEvent(loadAwsEvent("modify-managed-prefix-list.json"), {
        account: MOTO_ACCOUNT,
        region: REGION,
        identity: ENGINEER,
      });
      (
        event.detail.requestParameters as { ModifyManagedPrefixListRequest: { PrefixListId: string } }
      ).ModifyManagedPrefixListRequest.PrefixListId = listId;

      const { value, logs } = await invoke(lambdaHandler(env), event);

      const result = value as OnChangeResult;
      expect(result.outcomes.map((o) => o.change.resourceId).sort()).toEqual([sshGroup, httpsGroup].sort());
      expect(result.outcomes.map((o) => o.change.resourceId)).not.toContain(unrelated);
      const ssh = result.outcomes.find((o) => o.change.resourceId === sshGroup);
      expect(ssh?.change.subjectId).toBe(listId);
      expect(ssh?.actions.map((a) => [a.outcome, a.finding.matched[0]?.cidr])).toEqual([
        ["alert-only", "0.0.0.0/0"],
      ]);
      expect(result.outcomes.find((o) => o.change.resourceId === httpsGroup)?.findings).toEqual([]);
      // Once per invocation, however many groups reference it.
      expect(proxy.actions.filter((a) => a === "GetManagedPrefixListEntries")).toHaveLength(1);
      expect(proxy.actions.filter((a) => a === "DescribeManagedPrefixLists")).toHaveLength(1);
      expect(logs.find((l) => l.message === "guardian.expanded")?.into).toHaveLength(2);
      expect(sink.received).toHaveLength(1);
      expect(slackText(sink.received[0] as SinkRequest)).toContain(sshGroup);
    });
  });

  describe("events from another region or account (point 12)", () => {
    it("reads and revokes in the region the event names", async () => {
      const ireland = createEc2Client({
        region: "eu-west-1",
        endpoint: moto.endpoint,
        credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
      });
      try {
        const { groupId, event } = await openedToWorld("dublin-bastion", ireland, "eu-west-1");

        const { value } = await invoke(lambdaHandler(env), event);

        const outcome = outcomeOf(value);
        expect(outcome?.status).toBe("evaluated");
        expect(outcome?.actions.map((a) => a.outcome)).toEqual(["applied"]);
        expect(ingressSources(await describeGroup(ireland, groupId))).toEqual(["tcp 22-22 10.0.0.0/16"]);
        expect(slackText(sink.received[0] as SinkRequest)).toContain("region=eu-west-1");
      } finally {
        ireland.destroy();
      }
    });

    it("dead-letters and alerts an event for an account it does not run in, without reading anything", async () => {
      const { groupId, event } = await openedToWorld("foreign");
      const foreign = adaptAwsEvent(event, { account: "111122223333" });
      const before = await describeGroup(ec2, groupId);
      const handler = lambdaHandler(env);

      const direct = await invoke(handler, foreign);

      // EventBridge → Lambda: the invocation fails without retry value, so it lands on the on-failure destination.
      expect(direct.error).toBeInstanceOf(InputError);
      expect(String(direct.error)).toContain("account 111122223333");
      expect(proxy.actions).toEqual([]);
      expect(await describeGroup(ec2, groupId)).toEqual(before);
      const alert = slackText(sink.received[0] as SinkRequest);
      expect(alert).toContain("NOT HANDLED (dead-lettered)");
      expect(alert).toContain(`guardian runs in account ${MOTO_ACCOUNT}`);
      expect(direct.logs.some((l) => l.message === "guardian.deadletter")).toBe(true);
      expect(direct.logs.some((l) => String(l.reason ?? "").includes("no longer exists"))).toBe(false);

      // SQS → Lambda: the record is reported failed, so the queue's redrive moves it to its dead-letter queue.
      const record = sqsRecord(JSON.stringify(foreign), {
        account: MOTO_ACCOUNT,
        region: REGION,
        queueName: "network-guardian-events",
      });
      const batch = await invoke(handler, sqsEvent([record]));
      expect(batch.value as SQSBatchResponse).toEqual({
        batchItemFailures: [{ itemIdentifier: record.messageId }],
      });
      expect(proxy.actions).toEqual([]);
    });

    it("takes its own account from configuration when it is set (GUARDIAN_AWS_ACCOUNT_ID)", async () => {
      const { groupId, event } = await openedToWorld("configured-account");
      const before = await describeGroup(ec2, groupId);

      const { error } = await invoke(
        lambdaHandler({ ...env, GUARDIAN_AWS_ACCOUNT_ID: "111122223333" }),
        event,
      );

      expect(error).toBeInstanceOf(InputError);
      expect(String(error)).toContain("guardian runs in account 111122223333");
      expect(proxy.actions).toEqual([]);
      expect(await describeGroup(ec2, groupId)).toEqual(before);
    });

    it("refuses a region name that is not one, before it becomes part of an endpoint", async () => {
      const { event } = await openedToWorld("odd-region");
      const odd = structuredClone(event);
      odd.region = "evil.example.com#";
      (odd.detail as { awsRegion: string }).awsRegion = "evil.example.com#";

      const { error } = await invoke(lambdaHandler(env), odd);

      expect(error).toBeInstanceOf(InputError);
      expect(String(error)).toContain("is not an AWS region name");
      expect(proxy.actions).toEqual([]);
    });

    it("knows its own account from the invoked function's ARN, or from configuration", () => {
      expect(accountOfFunctionArn(`arn:aws:lambda:${REGION}:${MOTO_ACCOUNT}:function:${FUNCTION_NAME}`)).toBe(
        MOTO_ACCOUNT,
      );
      expect(
        accountOfFunctionArn(`arn:aws-us-gov:lambda:us-gov-west-1:${MOTO_ACCOUNT}:function:f:live`),
      ).toBe(MOTO_ACCOUNT);
      expect(accountOfFunctionArn("not-an-arn")).toBeUndefined();
    });
  });

  describe("a write whose answer was lost is settled by reading (point 13)", () => {
    it.each<[string, Fault, boolean]>([
      ["a reset after EC2 applied it", { kind: "reset-after" }, true],
      ["no answer after EC2 applied it", { kind: "hang-after" }, true],
      ["no answer at all", { kind: "hang" }, false],
      ["a reset before it reached EC2", { kind: "reset-before" }, false],
      ["a 500 InternalError", { status: 500, code: "InternalError" }, false],
    ])(
      "after %s on the revoke: re-reads, reports what is true, and never revokes blindly twice",
      async (_what, fault, applied) => {
        const { groupId, event } = await openedToWorld(`lost-${faultKind(fault)}-${String(applied)}`);
        failFirst("RevokeSecurityGroupIngress", fault);

        const { value } = await invoke(lambdaHandler(env), event);

        expect(ingressSources(await describeGroup(ec2, groupId))).toEqual(["tcp 22-22 10.0.0.0/16"]);
        const outcome = outcomeOf(value);
        expect(outcome?.actions.map((a) => a.outcome)).toEqual(["applied"]);
        // Landed: the ids of the rules it removed are gone, so it is not sent again. Not landed: the rules are still
        // there, the re-read shows the exposure open, and it is sent once more.
        expect(proxy.actions.filter((a) => a === "RevokeSecurityGroupIngress")).toHaveLength(applied ? 1 : 2);
        const slack = sink.received.map(slackText).join("\n");
        expect(slack).toContain("Remediated");
        expect(slack).not.toContain("FAILED");
      },
    );

    it("when the settling read fails too: no FAILED alert, the event is retried, and the retry claims nothing", async () => {
      const { groupId, event } = await openedToWorld("unsettled");
      let revoked = false;
      proxy.faults = {
        decide: (call) => {
          if (call.action === "RevokeSecurityGroupIngress" && !revoked) {
            revoked = true;
            return { kind: "reset-after" };
          }
          // Every read after the lost answer fails past the SDK's retries.
          return revoked && call.action.startsWith("DescribeSecurityGroup") ? { status: 500 } : undefined;
        },
      };
      const handler = lambdaHandler(env);

      const first = await invoke(handler, event);

      expect(first.error).toBeInstanceOf(TransientError);
      expect(ingressSources(await describeGroup(ec2, groupId))).toEqual(["tcp 22-22 10.0.0.0/16"]);
      // Recorded (failed, to be retried), not alerted: the group is in fact fixed.
      const decision = first.logs.find((l) => l.message === "guardian.decision");
      expect(decision).toMatchObject({ outcome: "failed" });
      expect(String(decision?.reason)).toContain("answer to the write was lost");
      expect(sink.received).toEqual([]);

      // Lambda retries the event: the group is compliant, and nothing claims otherwise.
      proxy.faults = { decide: () => undefined };
      const retry = await invoke(handler, event);
      expect(retry.error).toBeUndefined();
      expect(outcomeOf(retry.value)?.findings).toEqual([]);
      expect(sink.received).toEqual([]);
    });
  });

  describe("every call has a deadline (point 14)", () => {
    it("a call that never answers times out per request and the read is retried", async () => {
      const { groupId, event } = await openedToWorld("slow-read");
      failFirst("DescribeSecurityGroups", { kind: "hang" });

      const { value, elapsedMs } = await invoke(lambdaHandler(env), event);

      expect(outcomeOf(value)?.actions.map((a) => a.outcome)).toEqual(["applied"]);
      expect(ingressSources(await describeGroup(ec2, groupId))).toEqual(["tcp 22-22 10.0.0.0/16"]);
      expect(proxy.injected).toEqual([{ action: "DescribeSecurityGroups", fault: { kind: "hang" } }]);
      // GUARDIAN_AWS_TIMEOUT_MS is 1 s: one timeout, then the SDK's retry.
      expect(elapsedMs).toBeLessThan(10_000);
    });

    it("the invocation's budget ends before Lambda's timeout, and what is left undone is retried", async () => {
      const { groupId, event } = await openedToWorld("stuck");
      const before = await describeGroup(ec2, groupId);
      proxy.faults = { decide: () => ({ kind: "hang" }) };
      // Per-request timeouts longer than the whole invocation: only the budget can stop the wait.
      const handler = lambdaHandler({ ...env, GUARDIAN_AWS_TIMEOUT_MS: "60000" });
      const context = lambdaContext({
        functionName: FUNCTION_NAME,
        account: MOTO_ACCOUNT,
        region: REGION,
        timeoutMs: 3_000,
      });

      const { error, elapsedMs } = await invoke(handler, event, context);

      expect(error).toBeInstanceOf(TransientError);
      expect(context.getRemainingTimeInMillis()).toBeGreaterThan(0);
      expect(elapsedMs).toBeLessThan(3_000);
      expect(await describeGroup(ec2, groupId)).toEqual(before);
    });
  });
});
