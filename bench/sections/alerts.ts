// A burst of alerts against a flaky webhook: N decisions about N resources queued on the SQS outbox (moto), drained by
// the sender Lambda handler through an emulation of the SQS event source, its store in DynamoDB (moto), posting to
// one Slack webhook on the sink that fails 20% of posts (some with 429 and Retry-After). The sender's clock runs
// `factor` times faster (Slack's one message a second would make 500 alerts take over eight minutes): times are
// reported on the sender's clock. Counts come from the sink: every post it saw, every message it accepted.
import { CreateTableCommand } from "@aws-sdk/client-dynamodb";
import { CreateQueueCommand, GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { createSendAlertsHandler } from "../../lambdas/send-alerts.ts";
import { senderDeps } from "../../shared/alerts-runtime.ts";
import {
  createDynamoClient,
  createSqsClient,
  DynamoAlertStore,
  SqsQueue,
} from "../../shared/clouds/aws/alerts.ts";
import { QueueOutbox } from "../../shared/notify/outbox.ts";
import type { Alert } from "../../shared/notify/types.ts";
import { parsePolicy } from "../../shared/policy/load.ts";
import { perInstanceSender } from "../../shared/runtime.ts";
import { compressedClock, driveSqs, scaledQueue } from "../../test/harness/queue-triggers.ts";
import { lambdaContext } from "../../test/integration/helpers/aws-events.ts";
import { withoutLogLines } from "../lib/quiet.ts";
import { round } from "../lib/stats.ts";
import type { World } from "../lib/world.ts";

export interface AlertBurstResult {
  alerts: number;
  failRate: number;
  posts: number;
  failedPosts: number;
  throttledPosts: number;
  delivered: number;
  lost: number;
  /** Messages still on the outbox when the run stopped (not lost: not yet drained). */
  stillQueued: number;
  duplicated: number;
  deadLettered: number;
  drainSeconds: number;
  realSeconds: number;
  peakPerSecond: number;
  slackLimitPerSecond: number;
  clockFactor: number;
}

const REGION = "us-east-1";
const credentials = { accessKeyId: "testing", secretAccessKey: "testing" };

function alertFor(i: number): Alert {
  const id = `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-bench/providers/Microsoft.Network/networkSecurityGroups/nsg-burst-${i}`;
  return {
    cloud: "azure",
    account: "00000000-0000-0000-0000-000000000000",
    region: "westeurope",
    resourceGroup: "rg-bench",
    resourceId: id,
    resourceType: "microsoft.network/networksecuritygroups",
    tags: { owner: "bench" },
    operationName: "Microsoft.Network/networkSecurityGroups/securityRules/write",
    actor: { name: "alice@contoso.com", principalType: "User", sourceIp: "198.51.100.23" },
    eventId: `burst-${i}`,
    time: new Date().toISOString(),
    results: [
      {
        finding: {
          policyRule: "no-ssh-from-internet",
          ruleId: "nsg-inbound-exposure",
          resourceId: id,
          resourceType: "microsoft.network/networksecuritygroups",
          severity: "critical",
          message: `SSH open to the Internet on nsg-burst-${i}`,
          controls: ["CIS Azure 6.2"],
          matched: [{ securityRule: "allow-ssh", sources: ["Internet"], ports: ["22"] }],
        },
        mode: "remediate",
        outcome: "applied",
        reason: "policy entry no-ssh-from-internet is in remediate mode (delete-rule)",
      },
    ],
    consoleUrl: `https://portal.azure.com/#resource${id}/overview`,
    dryRun: false,
  };
}

export async function alertBurst(world: World, count: number, factor = 50): Promise<AlertBurstResult> {
  const sqsClient = createSqsClient({ region: REGION, endpoint: world.moto.endpoint, credentials });
  const dynamo = createDynamoClient({ region: REGION, endpoint: world.moto.endpoint, credentials });
  const suffix = Date.now().toString(36);
  const make = async (name: string) =>
    (
      await sqsClient.send(
        new CreateQueueCommand({ QueueName: `${name}-${suffix}`, Attributes: { VisibilityTimeout: "10" } }),
      )
    ).QueueUrl ?? "";
  const outboxUrl = await make("bench-alerts");
  const dlqUrl = await make("bench-alerts-dlq");
  const table = `bench-alerts-${suffix}`;
  await dynamo.send(
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
  const sink = world.sink;
  sink.received.length = 0;
  sink.attempts.length = 0;
  const failRate = 0.2;
  sink.flaky(failRate, 0.3, 1, 42);
  const outbox = new SqsQueue(sqsClient, outboxUrl);
  const queued = new QueueOutbox(outbox);
  for (let i = 0; i < count; i++) await queued.enqueue(alertFor(i));

  const clock = compressedClock(factor);
  const policy = parsePolicy(
    `version: 1\nrules:\n  - name: x\n    rule: nsg-inbound-exposure\nalerts:\n  collapseSeconds: 10\n`,
  );
  const handler = createSendAlertsHandler(
    perInstanceSender(async (log) =>
      senderDeps(
        {
          queue: scaledQueue(outbox, factor),
          deadLetters: new SqsQueue(sqsClient, dlqUrl),
          store: new DynamoAlertStore(dynamo, table, clock.now),
          clock,
        },
        policy,
        { webhookUrls: { SLACK_WEBHOOK_URL: sink.slackUrl } },
        log,
      ),
    ),
  );
  const started = Date.now();
  const context = () =>
    lambdaContext({ functionName: "bench-send-alerts", account: "123456789012", region: REGION });
  // Two pollers, as the template's event source mapping allows (MaximumConcurrency 2), sharing one instance's pace.
  const drive = () =>
    driveSqs(sqsClient, outboxUrl, handler, context, {
      idleMs: 3000,
      timeoutMs: 900_000,
      maxReceiveCount: 5,
      deadLetterUrl: dlqUrl,
      done: () => new Set(sink.received.map((r) => headlineOf(r.body))).size >= count,
    });
  // The handler logs one JSON line per message to stdout, as on Lambda: kept out of the benchmark's tables.
  await withoutLogLines(() => Promise.all([drive(), drive()]));
  sink.flaky(0);
  const realMs = Date.now() - started;
  const unique = new Set(sink.received.map((r) => headlineOf(r.body)));
  const depth = async (url: string) => {
    const out = await sqsClient.send(
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
  };
  const stillQueued = await depth(outboxUrl);
  const deadLettered = await depth(dlqUrl);
  const times = sink.attempts.map((a) => a.at).sort((a, b) => a - b);
  // The most posts in any one second of the sender's clock.
  const window = 1000 / factor;
  let peak = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while ((times[i] ?? 0) - (times[j] ?? 0) >= window) j++;
    peak = Math.max(peak, i - j + 1);
  }
  const last = sink.received.reduce((m, r) => Math.max(m, r.at), started);
  return {
    alerts: count,
    failRate,
    posts: sink.attempts.length,
    failedPosts: sink.attempts.filter((a) => a.status !== 200).length,
    throttledPosts: sink.attempts.filter((a) => a.status === 429).length,
    delivered: unique.size,
    // Lost: neither delivered nor anywhere the sender can still deliver it from (the outbox, the dead-letter queue).
    lost: stillQueued === 0 && deadLettered === 0 ? count - unique.size : 0,
    stillQueued,
    duplicated: sink.received.length - unique.size,
    deadLettered,
    drainSeconds: round(((last - started) * factor) / 1000, 1),
    realSeconds: round(realMs / 1000, 1),
    peakPerSecond: peak,
    slackLimitPerSecond: 1,
    clockFactor: factor,
  };
}

function headlineOf(body: unknown): string {
  const blocks = (body as { blocks?: { type?: string; text?: { text?: string } }[] })?.blocks ?? [];
  return blocks.find((b) => b.type === "header")?.text?.text ?? JSON.stringify(body);
}
