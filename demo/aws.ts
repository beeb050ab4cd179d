// The AWS half of `npm start`: a Qubole-on-AWS style VPC in moto, an engineer opening SSH to the world on the bastion's
// security group, and the Lambda handler (lambdas/on-change.ts, middy) deciding about the CloudTrail event that call
// produced. The event is built from a CloudTrail-shaped fixture (test/fixtures/events/aws/README.md) with the ids moto
// returned; the guardian talks to moto through the real EC2 SDK with fake static credentials, never to AWS.

import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
  type IpPermission,
} from "@aws-sdk/client-ec2";
import type { EventBridgeEvent, SQSBatchResponse } from "aws-lambda";
import { createOnChangeHandler } from "../lambdas/on-change.ts";
import { awsGuardianDeps } from "../shared/clouds/aws/runtime.ts";
import { parseConfig } from "../shared/config.ts";
import type { OnChangeResult } from "../shared/usecases/on-change.ts";
import { ec2ClientFor, MOTO_ACCOUNT, type MotoServer, startMoto } from "../test/harness/moto.ts";
import type { SinkRequest, WebhookSink } from "../test/harness/webhook-sink.ts";
import {
  adaptAwsEvent,
  assumedRoleIdentity,
  lambdaContext,
  loadAwsEvent,
} from "../test/integration/helpers/aws-events.ts";
import { type Check, type DemoIO, decisionLines, permissionLine, slackLines, stateBlock } from "./words.ts";

export interface AwsDemoIO extends DemoIO {
  sink: WebhookSink;
  /** The policy the guardian loads. */
  policyFile: string;
  /** Given, moto is left running after the scenario and handed over to the caller, who stops it. */
  keep?: (estate: AwsDemoEstate) => void;
}

export interface AwsDemoEstate {
  moto: MotoServer;
  region: string;
}

const REGION = "us-east-1";
const FUNCTION_NAME = "network-guardian-on-change";
const GUARDIAN_ROLE = `arn:aws:iam::${MOTO_ACCOUNT}:role/network-guardian`;
const VPC_CIDR = "10.20.0.0/16";
const PRIVATE_SUBNETS = [
  { cidr: "10.20.1.0/24", zone: "us-east-1a" },
  { cidr: "10.20.2.0/24", zone: "us-east-1b" },
];
const SSH_TO_WORLD: IpPermission = {
  IpProtocol: "tcp",
  FromPort: 22,
  ToPort: 22,
  IpRanges: [{ CidrIp: "0.0.0.0/0" }],
};

// A platform engineer signed in through IAM Identity Center.
const ENGINEER = assumedRoleIdentity({
  account: MOTO_ACCOUNT,
  roleName: "AWSReservedSSO_NetworkAdmin_5f3c2a1b9d8e7f60",
  rolePath: "/aws-reserved/sso.amazonaws.com/",
  sessionName: "dana.okafor@example.com",
  mfaAuthenticated: true,
});
// The guardian's Lambda role; Lambda names the session after the function.
const GUARDIAN_SESSION = assumedRoleIdentity({
  account: MOTO_ACCOUNT,
  roleName: "network-guardian",
  sessionName: FUNCTION_NAME,
});

async function ingressOf(ec2: EC2Client, groupId: string): Promise<IpPermission[]> {
  const out = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
  return out.SecurityGroups?.[0]?.IpPermissions ?? [];
}

/** The sources of the group's tcp 22 permission, sorted. */
function sshSources(permissions: readonly IpPermission[]): string[] {
  const ssh = permissions.find((p) => p.IpProtocol === "tcp" && p.FromPort === 22 && p.ToPort === 22);
  return [
    ...(ssh?.IpRanges ?? []).map((r) => r.CidrIp ?? ""),
    ...(ssh?.Ipv6Ranges ?? []).map((r) => r.CidrIpv6 ?? ""),
  ].sort();
}

/**
 * The Lambda logs one JSON line per record to stdout (what CloudWatch keeps); the demo keeps those aside and
 * summarises them. Anything else written meanwhile (the sink's delivery lines) still reaches the terminal.
 */
async function withLambdaLogs<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; lines: Record<string, unknown>[] }> {
  const original = process.stdout.write;
  const write = original.bind(process.stdout) as (chunk: string | Uint8Array) => boolean;
  const lines: Record<string, unknown>[] = [];
  process.stdout.write = ((chunk: string | Uint8Array) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    // The Lambda logger's lines: JSON objects carrying the invocation's request id.
    if (!text.startsWith("{") || !text.includes('"requestId":')) return write(chunk);
    for (const line of text.split("\n").filter(Boolean))
      lines.push(JSON.parse(line) as Record<string, unknown>);
    return true;
  }) as typeof process.stdout.write;
  try {
    return { value: await fn(), lines };
  } finally {
    process.stdout.write = original;
  }
}

function teamsTitle(request: SinkRequest | undefined): string | undefined {
  const body = request?.body as
    | { attachments?: { content?: { body?: { text?: string; inlines?: { text?: string }[] }[] } }[] }
    | undefined;
  const first = body?.attachments?.[0]?.content?.body?.[0];
  return first?.text ?? first?.inlines?.map((i) => i.text ?? "").join("");
}

function isOnChange(result: OnChangeResult | SQSBatchResponse): result is OnChangeResult {
  return "outcomes" in result;
}

/**
 * Starts moto, seeds the VPC, plays the change, runs the Lambda handler on its CloudTrail event and prints what
 * happened. True only if every expected outcome happened. moto is stopped before it returns.
 */
export async function runAwsScenario(io: AwsDemoIO): Promise<Check[]> {
  const { print, sink } = io;
  let moto: MotoServer;
  try {
    moto = await startMoto();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    print(`  cannot run the AWS scenario: ${reason}`);
    return [{ name: `AWS scenario ran (${reason})`, ok: false }];
  }
  const ec2 = ec2ClientFor(moto.endpoint);
  const guardianEc2 = ec2ClientFor(moto.endpoint);
  let kept = false;
  try {
    if (io.verbose) print(`moto (EC2) on ${moto.endpoint}; webhook sink on ${sink.url}`);

    // The estate: Qubole's PrivateLink set-up keeps the bastion in the private subnets, reachable only from them.
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: VPC_CIDR }));
    const vpcId = vpc.Vpc?.VpcId ?? "";
    for (const subnet of PRIVATE_SUBNETS) {
      await ec2.send(
        new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: subnet.cidr, AvailabilityZone: subnet.zone }),
      );
    }
    const bastion = await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: "qubole-bastion-sg",
        Description: "Bastion behind the Qubole endpoint service NLB: SSH from the private subnets only",
        VpcId: vpcId,
      }),
    );
    const groupId = bastion.GroupId ?? "";
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: [
          {
            IpProtocol: "tcp",
            FromPort: 22,
            ToPort: 22,
            IpRanges: PRIVATE_SUBNETS.map((s) => ({
              CidrIp: s.cidr,
              Description: `private subnet ${s.zone}`,
            })),
          },
        ],
      }),
    );
    print(
      `Seeded: ${vpcId} (${VPC_CIDR}) with private subnets ${PRIVATE_SUBNETS.map((s) => s.cidr).join(", ")}; ` +
        `qubole-bastion-sg ${groupId} (SSH from the private subnets only).`,
    );

    const counter = { reads: 0, writes: 0 };
    const handler = createOnChangeHandler(async (log) =>
      awsGuardianDeps(
        parseConfig({
          GUARDIAN_POLICY_FILE: io.policyFile,
          GUARDIAN_SELF_IDENTITIES: GUARDIAN_ROLE,
          SLACK_WEBHOOK_URL: sink.slackUrl,
          TEAMS_WEBHOOK_URL: sink.teamsUrl,
          AWS_REGION: REGION,
          GUARDIAN_EC2_ENDPOINT: moto.endpoint,
        }),
        log,
        // Fake static credentials: the demo must never pick up a real AWS profile.
        { clients: guardianEc2, counter },
      ),
    );
    const invoke = (event: EventBridgeEvent<string, unknown>) =>
      withLambdaLogs(async () => {
        const result = await handler(
          event,
          lambdaContext({ functionName: FUNCTION_NAME, account: MOTO_ACCOUNT, region: REGION }),
        );
        if (!isOnChange(result)) throw new Error("an EventBridge event must give an OnChangeResult");
        return result;
      });

    const engineer = String(ENGINEER.arn);
    print(
      `\n▶ Someone opens SSH to 0.0.0.0/0 on qubole-bastion-sg, next to the private subnets\n  by ${engineer}`,
    );
    const before = await ingressOf(ec2, groupId);
    print(stateBlock("before", before.map(permissionLine)));
    const opened = await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [SSH_TO_WORLD] }),
    );
    const afterChange = await ingressOf(ec2, groupId);
    print(stateBlock("after the change", afterChange.map(permissionLine)));

    const event = adaptAwsEvent(loadAwsEvent("authorize-ingress-v108-ruleset.json"), {
      account: MOTO_ACCOUNT,
      region: REGION,
      identity: ENGINEER,
      sourceIp: "198.51.100.23",
      group: { groupId },
      ipPermissions: [SSH_TO_WORLD],
      ruleSet: opened.SecurityGroupRules ?? [],
    });
    if (io.verbose) {
      print(
        `  EventBridge → Lambda: "AWS API Call via CloudTrail" AuthorizeSecurityGroupIngress (event ${event.id})`,
      );
    }
    const alertsBefore = sink.received.length;
    const { value: result, lines } = await invoke(event);
    const outcome = result.outcomes[0];
    for (const line of decisionLines(outcome?.actions ?? [])) print(`  guardian: ${line}`);
    const delivered = sink.received.slice(alertsBefore);
    const slack = delivered.filter((r) => r.path.startsWith("/slack/"));
    const teams = delivered.filter((r) => r.path.startsWith("/teams/"));
    const title = teamsTitle(teams[0]);
    if (delivered.length > 0) {
      const channels = delivered.map((r) => (r.path.startsWith("/slack/") ? "Slack" : "Teams")).join(" and ");
      print(`  alerted:  ${channels}: "${title ?? "(no Teams card)"}"`);
    }
    const after = await ingressOf(ec2, groupId);
    print(stateBlock("after the guardian", after.map(permissionLine)));
    for (const line of slackLines(slack[0]?.body)) print(line);
    if (io.verbose) {
      print(
        `  EC2 calls by the guardian: ${counter.reads} reads (the group, then the ids of the rules the revoke removes), ${counter.writes} write`,
      );
      const decisions = lines.filter((l) => l.message === "guardian.decision");
      print(
        `  CloudWatch log: ${lines.length} JSON lines, ${decisions.length} guardian.decision audit record(s)`,
      );
    }

    // The guardian's own revoke comes back through CloudTrail as an event too.
    const echo = adaptAwsEvent(loadAwsEvent("revoke-ingress.json"), {
      account: MOTO_ACCOUNT,
      region: REGION,
      identity: GUARDIAN_SESSION,
      group: { groupId },
      ipPermissions: [SSH_TO_WORLD],
    });
    const readsBeforeEcho = counter.reads + counter.writes;
    const { value: echoResult } = await invoke(echo);
    const echoStatus = echoResult.outcomes[0]?.status;
    if (io.verbose) {
      print(
        `\n▶ CloudTrail's echo of the guardian's own RevokeSecurityGroupIngress\n  by ${String(GUARDIAN_SESSION.arn)}`,
      );
      print(
        `  guardian: ${echoStatus === "skipped-self" ? "recognised its own change: no read, no write, no alert" : (echoStatus ?? "no outcome")}`,
      );
    }

    const slackText = JSON.stringify(slack[0]?.body ?? "");
    const checks: Check[] = [
      {
        name: "AWS: the exposure was found and remediated",
        ok:
          outcome?.actions.length === 1 &&
          outcome.actions[0]?.finding.policyRule === "aws-no-admin-ports-from-world" &&
          outcome.actions[0]?.outcome === "applied",
      },
      {
        name: "AWS: the change had put 0.0.0.0/0 into the same SSH permission",
        ok: sshSources(afterChange).includes("0.0.0.0/0"),
      },
      {
        name: "AWS: only 0.0.0.0/0 was revoked; the private subnets stay",
        ok:
          JSON.stringify(sshSources(after)) === JSON.stringify(PRIVATE_SUBNETS.map((s) => s.cidr).sort()) &&
          JSON.stringify(sshSources(before)) === JSON.stringify(sshSources(after)),
      },
      // The group, the ids of the rules the revoke removes (to settle a lost answer exactly), and the revoke.
      {
        name: "AWS: one read, the rule ids, and one write",
        ok: counter.reads === 2 && counter.writes === 1,
      },
      {
        name: "AWS: one Slack and one Teams alert",
        ok: slack.length === 1 && teams.length === 1 && delivered.length === 2,
      },
      {
        name: "AWS: the alert names the engineer and the group",
        ok: slackText.includes(engineer) && slackText.includes(groupId),
      },
      { name: "AWS: the Teams card says it was remediated", ok: title?.includes("Remediated") === true },
      {
        name: "AWS: the guardian's own revoke was recognised and left alone",
        ok:
          echoStatus === "skipped-self" &&
          counter.reads + counter.writes === readsBeforeEcho &&
          sink.received.length === alertsBefore + 2,
      },
    ];
    if (io.keep) {
      io.keep({ moto, region: REGION });
      kept = true;
    }
    return checks;
  } finally {
    ec2.destroy();
    guardianEc2.destroy();
    if (!kept) await moto.stop();
  }
}
