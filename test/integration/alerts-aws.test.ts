// Alerts end to end on AWS, all real parts on loopback: the on-change Lambda handler (lambdas/on-change.ts) decides
// about CloudTrail-shaped events against moto's EC2, audits and puts its decisions on an SQS outbox (moto); the
// sender Lambda handler (lambdas/send-alerts.ts) runs on that queue through an emulation of Lambda's SQS event source
// (batches, partial batch failures, redrive), keeps its windows and idempotency records in DynamoDB (moto), and posts
// to the webhook sink. The sender's clock (and so the queue delays it asks for) can be compressed: an hour-long
// outage passes in seconds.
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateVpcCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
  type IpPermission,
} from "@aws-sdk/client-ec2";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createOnChangeHandler } from "../../lambdas/on-change.ts";
import { createSendAlertsHandler } from "../../lambdas/send-alerts.ts";
import { senderDeps } from "../../shared/alerts-runtime.ts";
import { SqsQueue } from "../../shared/clouds/aws/alerts.ts";
import { awsGuardianDeps, awsSenderParts } from "../../shared/clouds/aws/runtime.ts";
import { parseConfig } from "../../shared/config.ts";
import { memoryLogger } from "../../shared/log.ts";
import { parsePolicy } from "../../shared/policy/load.ts";
import { perInstanceSender } from "../../shared/runtime.ts";
import { replayDeadLetters } from "../../shared/usecases/replay-alerts.ts";
import { type Clock, realClock } from "../../shared/usecases/send-alerts.ts";
import { ec2ClientFor, MOTO_ACCOUNT, type MotoServer, startMoto } from "../harness/moto.ts";
import { compressedClock, driveSqs, scaledQueue } from "../harness/queue-triggers.ts";
import { startWebhookSink, type WebhookSink } from "../harness/webhook-sink.ts";
import { adaptAwsEvent, assumedRoleIdentity, lambdaContext, loadAwsEvent } from "./helpers/aws-events.ts";

const REGION = "us-east-1";
const ENGINEER = assumedRoleIdentity({
  account: MOTO_ACCOUNT,
  roleName: "AWSReservedSSO_NetworkAdmin_5f3c2a1b9d8e7f60",
  rolePath: "/aws-reserved/sso.amazonaws.com/",
  sessionName: "priya.raman@example.com",
});

const policyText = (dryRun: boolean) => `version: 1
dryRun: ${dryRun}
rules:
  - name: no-world-ingress
    rule: sg-ingress-exposure
    mode: remediate
    severity: critical
    remediation: revoke-cidr
    options: { ports: [22, 3389, "8000-8099"] }
alerts:
  collapseSeconds: 30
`;

let moto: MotoServer;
let sink: WebhookSink;
let ec2: EC2Client;
let sqs: SQSClient;
let n = 0;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  [moto, sink] = await Promise.all([startMoto(), startWebhookSink()]);
  for (const [k, v] of Object.entries({
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_REGION: REGION,
  })) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  ec2 = ec2ClientFor(moto.endpoint);
  sqs = new SQSClient({ region: REGION, endpoint: moto.endpoint });
});

afterAll(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await Promise.all([moto?.stop(), sink?.stop()]);
});

beforeEach(() => {
  sink.received.length = 0;
  sink.attempts.length = 0;
  sink.refuseWhile(() => false);
});

interface World {
  outboxUrl: string;
  dlqUrl: string;
  env: Record<string, string>;
}

/** Fresh queues and table per test, so tests never see each other's messages. */
async function world(): Promise<World> {
  n++;
  const make = async (name: string) =>
    (
      await sqs.send(
        // A short visibility timeout stands in for the deployed one, so failed records come back quickly.
        new CreateQueueCommand({ QueueName: `${name}-${n}`, Attributes: { VisibilityTimeout: "1" } }),
      )
    ).QueueUrl ?? "";
  const outboxUrl = await make("guardian-alerts");
  const dlqUrl = await make("guardian-alerts-dlq");
  const table = `guardian-alerts-${n}`;
  await new DynamoDBClient({ region: REGION, endpoint: moto.endpoint }).send(
    new CreateTableCommand({
      TableName: table,
      KeySchema: [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
      AttributeDefinitions: [
        { AttributeName: "pk", AttributeType: "S" },
        { AttributeName: "sk", AttributeType: "S" },
      ],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  return {
    outboxUrl,
    dlqUrl,
    env: {
      AWS_REGION: REGION,
      GUARDIAN_SQS_ENDPOINT: moto.endpoint,
      GUARDIAN_DYNAMODB_ENDPOINT: moto.endpoint,
      GUARDIAN_ALERT_QUEUE: outboxUrl,
      GUARDIAN_ALERT_DLQ: dlqUrl,
      GUARDIAN_ALERT_TABLE: table,
      GUARDIAN_SELF_IDENTITIES: `arn:aws:iam::${MOTO_ACCOUNT}:role/network-guardian`,
      SLACK_WEBHOOK_URL: sink.slackUrl,
      TEAMS_WEBHOOK_URL: sink.teamsUrl,
    },
  };
}

function onChange(w: World, dryRun = false) {
  const cfg = parseConfig(w.env);
  return createOnChangeHandler((log) =>
    awsGuardianDeps(cfg, log, { clients: ec2, policy: parsePolicy(policyText(dryRun)) }),
  );
}

function sender(w: World, clock: Clock & { factor?: number } = realClock) {
  const cfg = parseConfig(w.env);
  const factor = (clock as { factor?: number }).factor ?? 1;
  return createSendAlertsHandler(
    perInstanceSender(async (log) => {
      const parts = awsSenderParts(cfg, clock);
      return senderDeps(
        { ...parts, queue: scaledQueue(parts.queue, factor), deadLetters: parts.deadLetters },
        parsePolicy(policyText(false)),
        cfg,
        log,
      );
    }),
  );
}

const ctx = () =>
  lambdaContext({ functionName: "network-guardian-send-alerts", account: MOTO_ACCOUNT, region: REGION });

async function drain(
  w: World,
  handler: ReturnType<typeof sender>,
  options: { timeoutMs?: number; idleMs?: number } = {},
) {
  return driveSqs(sqs, w.outboxUrl, handler, ctx, {
    idleMs: options.idleMs ?? 1500,
    timeoutMs: options.timeoutMs ?? 30_000,
    maxReceiveCount: 5,
    deadLetterUrl: w.dlqUrl,
  });
}

async function groupWithWorldPorts(name: string): Promise<string> {
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/16" }));
  const out = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: name, Description: `${name} (test)`, VpcId: vpc.Vpc?.VpcId }),
  );
  return out.GroupId ?? "";
}

/** An engineer opens `port` to the world on the group; returns the CloudTrail event of that call. */
async function open(groupId: string, port: number) {
  const permission: IpPermission = {
    IpProtocol: "tcp",
    FromPort: port,
    ToPort: port,
    IpRanges: [{ CidrIp: "0.0.0.0/0" }],
  };
  const out = await ec2.send(
    new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [permission] }),
  );
  return adaptAwsEvent(loadAwsEvent("authorize-ingress-v108-ruleset.json"), {
    account: MOTO_ACCOUNT,
    region: REGION,
    identity: ENGINEER,
    sourceIp: "198.51.100.77",
    group: { groupId },
    ipPermissions: [permission],
    ruleSet: out.SecurityGroupRules ?? [],
  });
}

async function queueDepth(url: string): Promise<number> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
      ],
    }),
  );
  const a = out.Attributes ?? {};
  return (
    Number(a.ApproximateNumberOfMessages ?? 0) +
    Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) +
    Number(a.ApproximateNumberOfMessagesDelayed ?? 0)
  );
}

const slackBodies = () =>
  sink.received.filter((r) => r.path.startsWith("/slack/")).map((r) => JSON.stringify(r.body));

describe("AWS: Lambda → SQS outbox → sender Lambda → webhooks", () => {
  it("a remediation is alerted once per channel, with who, what, before → after and the undo command", async () => {
    const w = await world();
    const groupId = await groupWithWorldPorts("qubole-bastion");
    await onChange(w)(await open(groupId, 22), ctx());
    // Nothing was posted by the on-change handler: the decision waits on the queue.
    expect(sink.attempts).toHaveLength(0);
    expect(await queueDepth(w.outboxUrl)).toBe(1);
    await drain(w, sender(w, compressedClock(60)));
    expect(sink.received.map((r) => r.path.split("/")[1])).toEqual(
      expect.arrayContaining(["slack", "teams"]),
    );
    expect(sink.received).toHaveLength(2);
    const slack = slackBodies()[0] ?? "";
    expect(slack).toContain("priya.raman@example.com");
    expect(slack).toContain("198.51.100.77");
    expect(slack).toContain(groupId);
    expect(slack).toContain("aws ec2 authorize-security-group-ingress");
    expect(await queueDepth(w.dlqUrl)).toBe(0);
    const group = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
    expect(group.SecurityGroups?.[0]?.IpPermissions ?? []).toEqual([]);
  }, 60_000);

  it("a storm: 40 rule writes, each remediated by its own invocation, give one message per channel", async () => {
    const w = await world();
    const groupId = await groupWithWorldPorts("storm");
    const handler = onChange(w);
    for (let port = 8000; port < 8040; port++) await handler(await open(groupId, port), ctx());
    expect(await queueDepth(w.outboxUrl)).toBe(40);
    await drain(w, sender(w, compressedClock(60)));
    expect(sink.received).toHaveLength(2);
    const slack = slackBodies()[0] ?? "";
    expect(slack).toContain("40 decisions from 40 events");
    const json = sink.received.find((r) => r.path.startsWith("/teams/"));
    expect(JSON.stringify(json?.body)).toContain("40 decisions");
  }, 90_000);

  it("duplicates: the same event delivered twice, and again after the alert went out, alerts once", async () => {
    const w = await world();
    const groupId = await groupWithWorldPorts("dupes");
    const event = await open(groupId, 3389);
    // Dry run: every delivery of the event makes the very same decision (same deterministic id).
    const handler = onChange(w, true);
    await handler(event, ctx());
    await handler(event, ctx());
    const send = sender(w, compressedClock(60));
    await drain(w, send);
    expect(sink.received).toHaveLength(2);
    await handler(event, ctx());
    await drain(w, send);
    expect(sink.received).toHaveLength(2);
    expect(slackBodies()[0]).toContain("1 decision from 1 event");
  }, 60_000);

  it("an hour-long outage loses nothing: retried with backoff until the webhook recovers, then delivered once", async () => {
    const w = await world();
    const clock = compressedClock(600);
    const recoversAt = clock.start + 3600_000;
    sink.refuseWhile(() => clock.now() < recoversAt);
    const groupId = await groupWithWorldPorts("outage");
    await onChange(w)(await open(groupId, 22), ctx());
    await drain(w, sender(w, clock), { timeoutMs: 45_000, idleMs: 4000 });
    expect(clock.now()).toBeGreaterThan(recoversAt);
    expect(sink.received).toHaveLength(2);
    const refused = sink.attempts.filter((a) => a.status === 0);
    // Several attempts per channel during the hour, none delivered twice, none dead-lettered.
    expect(refused.length).toBeGreaterThanOrEqual(6);
    expect(new Set(sink.received.map((r) => r.path.split("/")[1]))).toEqual(new Set(["slack", "teams"]));
    expect(await queueDepth(w.dlqUrl)).toBe(0);
  }, 60_000);

  it("a message the webhook rejects for good is dead-lettered, announced elsewhere, and replayed once fixed", async () => {
    const w = await world();
    sink.failNext(404, 1, undefined, "/slack");
    const groupId = await groupWithWorldPorts("dead");
    await onChange(w)(await open(groupId, 22), ctx());
    const send = sender(w, compressedClock(60));
    await drain(w, send);
    // Teams got the alert and a notice that the Slack one is in the dead-letter queue.
    const teams = sink.received
      .filter((r) => r.path.startsWith("/teams/"))
      .map((r) => JSON.stringify(r.body));
    expect(teams).toHaveLength(2);
    expect(teams.some((t) => t.includes("could not be delivered"))).toBe(true);
    expect(slackBodies()).toHaveLength(0);
    expect(await queueDepth(w.dlqUrl)).toBe(1);

    const cfg = parseConfig(w.env);
    const parts = awsSenderParts(cfg);
    const result = await replayDeadLetters(parts.deadLetters, new SqsQueue(sqs, w.outboxUrl));
    expect(result).toEqual({ replayed: 1, skipped: [] });
    await drain(w, send);
    expect(slackBodies()).toHaveLength(1);
    expect(await queueDepth(w.dlqUrl)).toBe(0);
  }, 60_000);

  it("a broken webhook setting disables that channel loudly, never the remediation", async () => {
    const w = await world();
    w.env.TEAMS_WEBHOOK_URL = "{{resolve:secretsmanager:teams-webhook:SecretString}}";
    const groupId = await groupWithWorldPorts("broken");
    const result = await onChange(w)(await open(groupId, 22), ctx());
    expect("outcomes" in result && result.outcomes[0]?.actions[0]?.outcome).toBe("applied");
    const log = memoryLogger();
    const cfg = parseConfig(w.env);
    const deps = await senderDeps(awsSenderParts(cfg), parsePolicy(policyText(false)), cfg, log);
    expect(log.lines.find((l) => l.message === "guardian.channel-disabled")).toMatchObject({
      level: "error",
      destination: "teams",
      problem: expect.stringContaining("unresolved CloudFormation dynamic reference"),
    });
    // The working channel was told.
    expect(slackBodies().some((b) => b.includes("an alert destination is disabled"))).toBe(true);
    expect(deps.channels.channels.map((c) => c.name)).toEqual(["slack"]);
    await drain(w, sender(w, compressedClock(60)));
    expect(slackBodies().filter((b) => b.includes("REMEDIATED") && b.includes(groupId))).toHaveLength(1);
    // The Teams message waits in the dead-letter queue for the setting to be fixed.
    expect(await queueDepth(w.dlqUrl)).toBe(1);
  }, 60_000);
});
