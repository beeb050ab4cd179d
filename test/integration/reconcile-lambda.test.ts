// The AWS reconcile through its two Lambda handlers over moto (EC2 and SQS): the scheduled run enqueues one message
// per stream, the page worker evaluates a page, remediates through the event path's pipeline and enqueues the next
// cursor; a run interrupted (an invocation killed after its work, before it acknowledged its page) resumes from what
// the queue still holds, and every open group is revoked exactly once.

import { DescribeSecurityGroupsCommand, type EC2Client } from "@aws-sdk/client-ec2";
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createReconcileHandler } from "../../lambdas/reconcile.ts";
import { createReconcilePageHandler } from "../../lambdas/reconcile-page.ts";
import { awsReconcileDeps, awsReconcileStartDeps } from "../../shared/clouds/aws/runtime.ts";
import type { CallCounter } from "../../shared/clouds/ports.ts";
import { parseConfig } from "../../shared/config.ts";
import { loadPolicyFile } from "../../shared/policy/file.ts";
import type { Policy } from "../../shared/policy/schema.ts";
import { perInstanceStart, reconcilePerInstance } from "../../shared/runtime.ts";
import { pageMessageSchema } from "../../shared/usecases/reconcile.ts";
import {
  assertMotoInstalled,
  ec2ClientFor,
  MOTO_ACCOUNT,
  type MotoServer,
  startMoto,
} from "../harness/moto.ts";
import { lambdaContext } from "./helpers/aws-events.ts";
import { authorize, capturingStdout, createVpcGroup } from "./helpers/lambda-harness.ts";

const REGION = "us-east-1";
const OPEN = 7;
const CLEAN = 5;

let moto: MotoServer;
let ec2: EC2Client;
let sqs: SQSClient;
let queueUrl: string;
let policy: Policy;
const open: string[] = [];

const env = () => ({
  AWS_REGION: REGION,
  GUARDIAN_EC2_ENDPOINT: moto.endpoint,
  GUARDIAN_SQS_ENDPOINT: moto.endpoint,
  GUARDIAN_RECONCILE_QUEUE_URL: queueUrl,
  GUARDIAN_DRY_RUN: "false",
  GUARDIAN_AWS_ACCOUNT_ID: MOTO_ACCOUNT,
  GUARDIAN_SELF_IDENTITIES: `arn:aws:iam::${MOTO_ACCOUNT}:role/guardian`,
});

/** A fresh execution environment of each reconcile Lambda (pages of 3 groups, so a stream spans several pages). */
function handlers(counter: CallCounter) {
  const start = perInstanceStart((log) => awsReconcileStartDeps(parseConfig(env()), log, { policy }));
  const deps = reconcilePerInstance((log) =>
    awsReconcileDeps(parseConfig(env()), log, {
      policy,
      outbox: { enqueue: async () => [] },
      counter,
      pageSize: 3,
    }),
  );
  return { schedule: createReconcileHandler(start), page: createReconcilePageHandler(deps) };
}

const context = (name: string) =>
  lambdaContext({ functionName: name, account: MOTO_ACCOUNT, region: REGION });

function record(message: Message): SQSRecord {
  return {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: {
      ApproximateReceiveCount: "1",
      SentTimestamp: String(Date.now()),
      SenderId: MOTO_ACCOUNT,
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: `arn:aws:sqs:${REGION}:${MOTO_ACCOUNT}:guardian-reconcile`,
    awsRegion: REGION,
  };
}

async function receive(visibilityTimeout: number): Promise<Message | undefined> {
  const out = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 1,
      VisibilityTimeout: visibilityTimeout,
    }),
  );
  return out.Messages?.[0];
}

async function queued(): Promise<number> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  const a = out.Attributes ?? {};
  return Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
}

/** Lambda's SQS event source with batch size 1: invoke, delete what did not fail; until the queue is empty. */
async function drain(
  page: ReturnType<typeof handlers>["page"],
): Promise<{ pages: number; bodies: string[] }> {
  const bodies: string[] = [];
  for (let pages = 0; ; ) {
    const message = await receive(30);
    if (!message) {
      if ((await queued()) === 0) return { pages, bodies };
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    const { value, error } = await capturingStdout(() =>
      page({ Records: [record(message)] }, context("page")),
    );
    if (error) throw error;
    const failed = (value as SQSBatchResponse).batchItemFailures.map((f) => f.itemIdentifier);
    expect(failed).toEqual([]);
    await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    bodies.push(message.Body ?? "");
    pages++;
  }
}

async function ingressOf(groupId: string) {
  const out = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
  return out.SecurityGroups?.[0]?.IpPermissions ?? [];
}

beforeAll(async () => {
  assertMotoInstalled();
  [moto, policy] = await Promise.all([startMoto(), loadPolicyFile("policies/baseline.yaml")]);
  process.env.AWS_ACCESS_KEY_ID = "testing";
  process.env.AWS_SECRET_ACCESS_KEY = "testing";
  ec2 = ec2ClientFor(moto.endpoint);
  sqs = new SQSClient({
    region: REGION,
    endpoint: moto.endpoint,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "guardian-reconcile" }))).QueueUrl ?? "";
  for (let i = 0; i < OPEN; i++) {
    const id = await createVpcGroup(ec2, `open-${i}`, `10.${i}.0.0/16`);
    await authorize(ec2, id, {
      IpProtocol: "tcp",
      FromPort: 22,
      ToPort: 22,
      IpRanges: [{ CidrIp: "0.0.0.0/0" }],
    });
    await authorize(ec2, id, {
      IpProtocol: "tcp",
      FromPort: 443,
      ToPort: 443,
      IpRanges: [{ CidrIp: "0.0.0.0/0" }],
    });
    open.push(id);
  }
  for (let i = 0; i < CLEAN; i++) {
    const id = await createVpcGroup(ec2, `clean-${i}`, `10.${100 + i}.0.0/16`);
    await authorize(ec2, id, {
      IpProtocol: "tcp",
      FromPort: 22,
      ToPort: 22,
      IpRanges: [{ CidrIp: "10.0.0.0/8" }],
    });
  }
}, 60_000);

afterAll(async () => {
  ec2?.destroy();
  sqs?.destroy();
  await moto?.stop();
});

describe("AWS reconcile (EventBridge Scheduler → SQS → page worker)", () => {
  it("does nothing on a tick the policy's interval does not pick", async () => {
    const counter = { reads: 0, writes: 0 };
    const { schedule } = handlers(counter);
    // 24-hour interval: 01:00 UTC is not a run's tick.
    policy = { ...policy, reconcile: { ...policy.reconcile, intervalHours: 24 } };
    const { value } = await capturingStdout(async () => {
      const realNow = Date.now;
      Date.now = () => Date.parse("2026-11-29T01:00:20Z");
      try {
        return await schedule({}, context("schedule"));
      } finally {
        Date.now = realNow;
      }
    });
    expect(value).toMatchObject({ due: false, enqueued: 0 });
    expect(await queued()).toBe(0);
  });

  it("enqueues the first pages; a page redelivered after its invocation died is evaluated again without a second write", async () => {
    const counter = { reads: 0, writes: 0 };
    policy = { ...policy, reconcile: { ...policy.reconcile, intervalHours: 1 } };
    const first = handlers(counter);
    const started = await capturingStdout(() => first.schedule({}, context("schedule")));
    expect(started.error).toBeUndefined();
    // One stream per AWS kind a rule evaluates (security groups; prefix lists only when a rule reads them).
    const { enqueued, runId } = started.value as { enqueued: number; runId: string };
    expect(enqueued).toBeGreaterThanOrEqual(1);
    expect(await queued()).toBe(enqueued);

    // The first page is evaluated and its successor enqueued, but the invocation dies before SQS hears back: the
    // message is redelivered after its visibility timeout.
    const firstPage = await receive(1);
    if (!firstPage?.Body) throw new Error("no first page");
    const message = pageMessageSchema.parse(JSON.parse(firstPage.Body));
    expect(message).toMatchObject({ v: 1, runId, target: { cloud: "aws", region: REGION } });
    expect(message.from).toBeUndefined();
    const done = await capturingStdout(() => first.page({ Records: [record(firstPage)] }, context("page")));
    expect((done.value as SQSBatchResponse).batchItemFailures).toEqual([]);
    const page = done.logs.find((l) => l.message === "guardian.reconcile.page");
    expect(page).toMatchObject({ runId, kind: message.kind, listed: expect.any(Number) });
    const writesBefore = counter.writes;

    // A new execution environment picks up what the queue still holds once those messages are visible again.
    await new Promise((r) => setTimeout(r, 1_200));
    const second = handlers(counter);
    const { bodies } = await drain(second.page);
    const cursors = bodies.map((b) => pageMessageSchema.parse(JSON.parse(b)));
    // The redelivered first page came back, with every other stream's first page and any page enqueued after them.
    // (moto answers DescribeSecurityGroups in one page whatever MaxResults says; the ARM emulator's pages of 2 show
    // the chain of cursors in reconcile-function.test.ts.)
    expect(cursors.filter((c) => c.from === undefined && c.kind === message.kind)).toHaveLength(1);
    expect(cursors.filter((c) => c.from === undefined)).toHaveLength(enqueued);
    expect(await queued()).toBe(0);
    expect(writesBefore).toBe(OPEN);

    for (const id of open) {
      const ingress = await ingressOf(id);
      // Port 22 from the world is gone; 443 (not an admin port) stays.
      expect(ingress.some((p) => p.FromPort === 22)).toBe(false);
      expect(ingress.some((p) => p.FromPort === 443 && p.IpRanges?.[0]?.CidrIp === "0.0.0.0/0")).toBe(true);
    }
    // One revoke per open group, though the first page was evaluated twice: the second pass re-read and found it fixed.
    expect(counter.writes).toBe(OPEN);
  }, 60_000);

  it("reports a malformed page message as a batch item failure (to the dead-letter queue), never acknowledged", async () => {
    const { page } = handlers({ reads: 0, writes: 0 });
    const bad = { ...record({ MessageId: "m-1", Body: '{"v":1,"kind":"security-group"}' }) };
    const { value, logs } = await capturingStdout(() => page({ Records: [bad] }, context("page")));
    expect((value as SQSBatchResponse).batchItemFailures).toEqual([{ itemIdentifier: "m-1" }]);
    const failed = logs.find((l) => l.message === "guardian.reconcile.page-failed");
    expect(String(failed?.message ?? "") + JSON.stringify(failed)).toMatch(
      /not a reconcile page message: .*runId/,
    );
  });
});
