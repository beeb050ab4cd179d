// AWS PrivateLink end to end through the Lambda handlers (lambdas/on-change.ts for CloudTrail events,
// lambdas/on-endpoint-connection.ts for the SNS connection notifications, lambdas/sweep-endpoint-connections.ts for the
// schedule), configured as deployed (shared/config.ts from an environment), against moto behind the PrivateLink proxy
// (test/harness/privatelink: Describe/Accept/RejectVpcEndpointConnections, connection notifications to moto's SNS),
// a DynamoDB decisions table in moto, and the webhook sink for Slack.
//
// The estate is the Qubole-on-AWS seed: an endpoint service in front of the bastion's internal NLB, acceptance
// required, Qubole's account allowed; consumers create interface endpoints to it from their own accounts. CloudTrail
// events are the fixtures of test/fixtures/events/aws/ adapted to the resources created here; SNS deliveries are what
// moto's topic delivered to an SQS subscriber, turned into the Lambda SNS event.

import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  CreateRouteTableCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  CreateVpcEndpointCommand,
  DeleteVpcEndpointsCommand,
  DescribeVpcEndpointConnectionsCommand,
  DescribeVpcEndpointServiceConfigurationsCommand,
  DescribeVpcEndpointServicePermissionsCommand,
  type EC2Client,
  ModifyVpcEndpointServiceConfigurationCommand,
  ModifyVpcEndpointServicePermissionsCommand,
} from "@aws-sdk/client-ec2";
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import type { Context, SNSEvent } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createOnChangeHandler } from "../../lambdas/on-change.ts";
import { createOnEndpointConnectionHandler } from "../../lambdas/on-endpoint-connection.ts";
import { createReconcileHandler } from "../../lambdas/reconcile.ts";
import { createReconcilePageHandler } from "../../lambdas/reconcile-page.ts";
import { createSweepHandler } from "../../lambdas/sweep-endpoint-connections.ts";
import { awsGuardianDeps, awsReconcileDeps, awsReconcileStartDeps } from "../../shared/clouds/aws/runtime.ts";
import { parseConfig } from "../../shared/config.ts";
import { parsePolicy } from "../../shared/policy/load.ts";
import {
  type DepsFactory,
  perInstance,
  perInstanceStart,
  reconcilePerInstance,
} from "../../shared/runtime.ts";
import { MOTO_ACCOUNT, type MotoServer, startMoto } from "../harness/moto.ts";
import {
  createEndpointServiceEstate,
  ec2ClientAs,
  type NotificationTopic,
  type ProviderEstate,
  snsLambdaEvent,
  subscribeConnectionNotifications,
} from "../harness/privatelink/estate.ts";
import { type PrivateLinkProxy, startPrivateLinkProxy } from "../harness/privatelink/proxy.ts";
import { type SerialProxy, startSerialProxy } from "../harness/serial-proxy.ts";
import { type SinkRequest, startWebhookSink, type WebhookSink } from "../harness/webhook-sink.ts";
import {
  adaptAwsEvent,
  assumedRoleIdentity,
  type CloudTrailEvent,
  lambdaContext,
  loadAwsEvent,
} from "./helpers/aws-events.ts";

const REGION = "us-east-1";
const QUBOLE = "111122223333";
const STRANGER = "444455556666";
const TABLE = "network-guardian-decisions";
const ENGINEER = assumedRoleIdentity({
  account: MOTO_ACCOUNT,
  roleName: "AWSReservedSSO_NetworkAdmin_5f3c2a1b9d8e7f60",
  rolePath: "/aws-reserved/sso.amazonaws.com/",
  sessionName: "priya.raman@example.com",
});
const ENGINEER_ARN = `arn:aws:sts::${MOTO_ACCOUNT}:assumed-role/AWSReservedSSO_NetworkAdmin_5f3c2a1b9d8e7f60/priya.raman@example.com`;

const policyYaml = (otherRequests: "hold" | "reject" = "hold") => `
version: 1
rules:
  - name: endpoint-services-require-acceptance
    rule: vpce-acceptance-required
    mode: remediate
    severity: high
  - name: endpoint-service-principals
    rule: vpce-allowed-principals
    mode: remediate
    severity: critical
    options: { allowedPrincipals: ["${QUBOLE}"] }
  - name: endpoint-service-connections
    rule: vpce-connections
    mode: remediate
    severity: high
    options: { allowedPrincipals: ["${QUBOLE}"], otherRequests: ${otherRequests} }
  - name: private-vpcs-use-endpoints
    rule: vpc-private-endpoints
    mode: alert
    severity: high
    options:
      privateVpcTags: { network: private }
      allowedPrincipals: ["${MOTO_ACCOUNT}"]
`;

type LogLine = { level: string; message: string } & Record<string, unknown>;

async function capturingStdout<T>(
  fn: () => Promise<T>,
): Promise<{ value: T | undefined; error?: unknown; logs: LogLine[] }> {
  const original = process.stdout.write;
  let text = "";
  process.stdout.write = ((chunk: string | Uint8Array) => {
    text += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    return true;
  }) as typeof process.stdout.write;
  try {
    const value = await fn();
    return { value, logs: parse(text) };
  } catch (error) {
    return { value: undefined, error, logs: parse(text) };
  } finally {
    process.stdout.write = original;
  }
}

function parse(text: string): LogLine[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as LogLine);
}

const decisions = (logs: LogLine[]) => logs.filter((l) => l.message === "guardian.decision");

function slackText(request: SinkRequest | undefined): string {
  return JSON.stringify(request?.body ?? "");
}

/** A CloudTrail fixture about resources created here: every fixture id replaced by the real one. */
function cloudTrail(file: string, replacements: Record<string, string>): CloudTrailEvent {
  const adapted = adaptAwsEvent(loadAwsEvent(file), {
    account: MOTO_ACCOUNT,
    region: REGION,
    identity: ENGINEER,
  });
  let text = JSON.stringify(adapted);
  for (const [from, to] of Object.entries(replacements)) text = text.split(from).join(to);
  return JSON.parse(text) as CloudTrailEvent;
}

const FIXTURE_SERVICE = "vpce-svc-0e7555fb6441987e1";

describe("PrivateLink through the Lambda handlers", () => {
  let moto: MotoServer;
  let proxy: PrivateLinkProxy;
  let sink: WebhookSink;
  let provider: EC2Client;
  let dynamo: DynamoDBClient;
  // DynamoDB's conditional writes are atomic, moto's are not: the decisions table is reached one request at a time.
  let decisionsDb: SerialProxy;
  let estate: ProviderEstate;
  let topic: NotificationTopic;
  const savedEnv: Record<string, string | undefined> = {};

  beforeAll(async () => {
    moto = await startMoto();
    proxy = await startPrivateLinkProxy({ target: moto.endpoint });
    sink = await startWebhookSink();
    provider = ec2ClientAs(proxy.endpoint);
    decisionsDb = await startSerialProxy(moto.endpoint);
    dynamo = new DynamoDBClient({
      endpoint: decisionsDb.endpoint,
      region: REGION,
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    });
    // The decisions table's client is built from the environment, as in Lambda.
    for (const [key, value] of Object.entries({
      AWS_ACCESS_KEY_ID: "testing",
      AWS_SECRET_ACCESS_KEY: "testing",
    })) {
      savedEnv[key] = process.env[key];
      process.env[key] = value;
    }
  });

  afterAll(async () => {
    for (const [key, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    topic?.destroy();
    provider?.destroy();
    dynamo?.destroy();
    await sink?.stop();
    await proxy?.stop();
    await decisionsDb?.stop();
    await moto?.stop();
  });

  beforeEach(async () => {
    await moto.reset();
    proxy.reset();
    sink.received.length = 0;
    sink.attempts.length = 0;
    await dynamo.send(
      new CreateTableCommand({
        TableName: TABLE,
        KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
    estate = await createEndpointServiceEstate(provider, moto.endpoint, { acceptanceRequired: true });
    await provider.send(
      new ModifyVpcEndpointServicePermissionsCommand({
        ServiceId: estate.serviceId,
        AddAllowedPrincipals: [`arn:aws:iam::${QUBOLE}:root`],
      }),
    );
    topic?.destroy();
    topic = await subscribeConnectionNotifications(provider, moto.endpoint, estate.serviceId);
    proxy.calls.length = 0;
  });

  /** One execution environment of the deployed configuration; its clients point at the proxy. */
  function deps(otherRequests: "hold" | "reject" = "hold"): DepsFactory {
    const cfg = parseConfig({
      AWS_REGION: REGION,
      GUARDIAN_EC2_ENDPOINT: proxy.endpoint,
      GUARDIAN_DECISIONS_TABLE: TABLE,
      GUARDIAN_DYNAMODB_ENDPOINT: decisionsDb.endpoint,
      GUARDIAN_SELF_IDENTITIES: `arn:aws:iam::${MOTO_ACCOUNT}:role/network-guardian`,
      SLACK_WEBHOOK_URL: sink.slackUrl,
    });
    const policy = parsePolicy(policyYaml(otherRequests), "policy.yaml");
    return perInstance((log) => awsGuardianDeps(cfg, log, { clients: ec2ClientAs(proxy.endpoint), policy }));
  }

  const context = (name: string): Context =>
    lambdaContext({ functionName: name, account: MOTO_ACCOUNT, region: REGION });

  async function notify(handler: ReturnType<typeof createOnEndpointConnectionHandler>, event: SNSEvent) {
    return capturingStdout(() => handler(event, context("network-guardian-on-endpoint-connection")));
  }

  async function consumerRequest(account: string): Promise<string> {
    const consumer = ec2ClientAs(proxy.endpoint, account);
    try {
      const vpc = await consumer.send(new CreateVpcCommand({ CidrBlock: "10.60.0.0/16" }));
      const endpoint = await consumer.send(
        new CreateVpcEndpointCommand({
          VpcId: vpc.Vpc?.VpcId ?? "",
          ServiceName: estate.serviceName,
          VpcEndpointType: "Interface",
        }),
      );
      return endpoint.VpcEndpoint?.VpcEndpointId ?? "";
    } finally {
      consumer.destroy();
    }
  }

  async function stateOf(endpointId: string): Promise<string | undefined> {
    const out = await provider.send(
      new DescribeVpcEndpointConnectionsCommand({
        Filters: [{ Name: "vpc-endpoint-id", Values: [endpointId] }],
      }),
    );
    return out.VpcEndpointConnections?.[0]?.VpcEndpointState;
  }

  const accepts = () => proxy.calls.filter((c) => c.action === "AcceptVpcEndpointConnections");
  const rejects = () => proxy.calls.filter((c) => c.action === "RejectVpcEndpointConnections");

  it("removes '*' added to the service's permissions, and only it, naming who added it", async () => {
    await provider.send(
      new ModifyVpcEndpointServicePermissionsCommand({
        ServiceId: estate.serviceId,
        AddAllowedPrincipals: ["*"],
      }),
    );
    const event = cloudTrail("modify-vpc-endpoint-service-permissions-add-star.json", {
      [FIXTURE_SERVICE]: estate.serviceId,
    });
    proxy.calls.length = 0; // from here on, only the guardian's calls
    const handler = createOnChangeHandler(deps());
    const { error, logs } = await capturingStdout(() =>
      handler(event, context("network-guardian-on-change")),
    );
    expect(error).toBeUndefined();

    const permissions = await provider.send(
      new DescribeVpcEndpointServicePermissionsCommand({ ServiceId: estate.serviceId }),
    );
    expect(permissions.AllowedPrincipals?.map((p) => p.Principal)).toEqual([`arn:aws:iam::${QUBOLE}:root`]);
    const writes = proxy.calls.filter((c) => c.action === "ModifyVpcEndpointServicePermissions");
    expect(
      writes.map((w) => Object.fromEntries([...w.params].filter(([k]) => k.includes("Principals")))),
    ).toEqual([{ "RemoveAllowedPrincipals.1": "*" }]);
    const [decision] = decisions(logs);
    expect(decision).toMatchObject({
      outcome: "applied",
      policyRule: "endpoint-service-principals",
      remediation: "remove-principals",
      before: { AllowedPrincipals: expect.arrayContaining(["*", `arn:aws:iam::${QUBOLE}:root`]) },
      after: { AllowedPrincipals: [`arn:aws:iam::${QUBOLE}:root`] },
      matched: [{ principal: "*", addedBy: ENGINEER_ARN, addedIn: "ModifyVpcEndpointServicePermissions" }],
    });
    await sink.waitFor(1);
    expect(sink.received).toHaveLength(1);
    expect(slackText(sink.received[0])).toContain("everyone (*)");
    expect(slackText(sink.received[0])).toContain(ENGINEER_ARN);
  });

  it("turns acceptance back on after someone turns it off", async () => {
    await provider.send(
      new ModifyVpcEndpointServiceConfigurationCommand({
        ServiceId: estate.serviceId,
        AcceptanceRequired: false,
      }),
    );
    const event = cloudTrail("modify-vpc-endpoint-service-configuration-acceptance-off.json", {
      [FIXTURE_SERVICE]: estate.serviceId,
    });
    proxy.calls.length = 0; // from here on, only the guardian's calls
    const { error, logs } = await capturingStdout(() =>
      createOnChangeHandler(deps())(event, context("network-guardian-on-change")),
    );
    expect(error).toBeUndefined();
    const config = await provider.send(
      new DescribeVpcEndpointServiceConfigurationsCommand({ ServiceIds: [estate.serviceId] }),
    );
    expect(config.ServiceConfigurations?.[0]?.AcceptanceRequired).toBe(true);
    const write = proxy.calls.find((c) => c.action === "ModifyVpcEndpointServiceConfiguration");
    expect(Object.fromEntries(write?.params ?? [])).toMatchObject({
      ServiceId: estate.serviceId,
      AcceptanceRequired: "true",
    });
    expect(write?.params.has("AddNetworkLoadBalancerArn.1")).toBe(false);
    expect(decisions(logs).map((d) => [d.policyRule, d.outcome])).toEqual([
      ["endpoint-services-require-acceptance", "applied"],
    ]);
    await sink.waitFor(1);
    expect(slackText(sink.received[0])).toContain(`turned off by ${ENGINEER_ARN}`);
  });

  it("accepts a Connect from the allow-listed account; the Accept notification that follows changes nothing", async () => {
    const endpointId = await consumerRequest(QUBOLE);
    const [connect, ...others] = await topic.drain();
    expect(others).toEqual([]);
    expect(await stateOf(endpointId)).toBe("pendingAcceptance");

    const handler = createOnEndpointConnectionHandler(deps());
    const first = await notify(handler, snsLambdaEvent(connect ? [connect] : []));
    expect(first.error).toBeUndefined();
    expect(await stateOf(endpointId)).toBe("available");
    expect(accepts().map((c) => Object.fromEntries(c.params))).toEqual([
      expect.objectContaining({ ServiceId: estate.serviceId, "VpcEndpointId.1": endpointId }),
    ]);
    expect(decisions(first.logs)).toMatchObject([
      {
        outcome: "approved",
        policyRule: "endpoint-service-connections",
        resourceId: `${estate.serviceId}/${endpointId}`,
        actor: { name: `AWS account ${QUBOLE}` },
        before: { VpcEndpointState: "pendingAcceptance" },
        after: { VpcEndpointState: "available" },
      },
    ]);
    await sink.waitFor(1);
    expect(slackText(sink.received[0])).toContain("Approved");

    // The Accept the guardian caused is announced too: re-read, it is available and allowed, nothing to decide.
    const accepted = await topic.drain();
    expect(
      accepted.map((m) => (JSON.parse(m.Message) as { ConnectionEvents: string[] }).ConnectionEvents),
    ).toEqual([["Accept"]]);
    const second = await notify(handler, snsLambdaEvent(accepted));
    expect(second.error).toBeUndefined();
    expect(decisions(second.logs)).toEqual([]);
    expect(accepts()).toHaveLength(1);
    expect(sink.received).toHaveLength(1);
  });

  it("holds a request from an account outside the allow-list and says so, or rejects it when the policy says so", async () => {
    // Someone had allowed the stranger's account on the service; its request arrives.
    await provider.send(
      new ModifyVpcEndpointServicePermissionsCommand({
        ServiceId: estate.serviceId,
        AddAllowedPrincipals: [`arn:aws:iam::${STRANGER}:root`],
      }),
    );
    const held = await consumerRequest(STRANGER);
    const hold = await notify(
      createOnEndpointConnectionHandler(deps("hold")),
      snsLambdaEvent(await topic.drain()),
    );
    expect(hold.error).toBeUndefined();
    expect(await stateOf(held)).toBe("pendingAcceptance");
    expect(accepts().length + rejects().length).toBe(0);
    expect(decisions(hold.logs)).toMatchObject([
      { outcome: "held", reason: expect.stringContaining(STRANGER) },
    ]);
    await sink.waitFor(1);
    expect(slackText(sink.received[0])).toContain("Held for review");

    const rejected = await consumerRequest(STRANGER);
    const reject = await notify(
      createOnEndpointConnectionHandler(deps("reject")),
      snsLambdaEvent(await topic.drain()),
    );
    expect(reject.error).toBeUndefined();
    expect(await stateOf(rejected)).toBe("rejected");
    // The reject re-read the connection first and named only it.
    expect(rejects().map((c) => c.params.get("VpcEndpointId.1"))).toEqual([rejected]);
    expect(decisions(reject.logs).map((d) => d.outcome)).toEqual(expect.arrayContaining(["rejected"]));
  });

  it("finds a request no notification announced in the scheduled sweep", async () => {
    const quiet = await proxy.requestConnection({ serviceId: estate.serviceId, owner: QUBOLE });
    await topic.drain(); // the notification is lost: nobody delivers it
    const sweep = createSweepHandler(deps(), () => REGION);
    const run = await capturingStdout(() => sweep({}, context("network-guardian-sweep")));
    expect(run.error).toBeUndefined();
    expect(await stateOf(quiet.vpcEndpointId)).toBe("available");
    expect(decisions(run.logs).map((d) => [d.outcome, d.operationName ?? d.eventId])).toEqual([
      ["approved", expect.stringMatching(/^sweep-/)],
    ]);
    // Nothing left to decide on the next run.
    const again = await capturingStdout(() => sweep({}, context("network-guardian-sweep")));
    expect(decisions(again.logs)).toEqual([]);
    expect(accepts()).toHaveLength(1);
  });

  it("the reconcile's page worker decides requests no notification announced, once with the sweep", async () => {
    const quiet = await proxy.requestConnection({ serviceId: estate.serviceId, owner: QUBOLE });
    const stranger = await proxy.requestConnection({ serviceId: estate.serviceId, owner: STRANGER });
    await topic.drain(); // the notifications are lost: nobody delivers them
    const sqs = new SQSClient({
      endpoint: moto.endpoint,
      region: REGION,
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    });
    try {
      const queue = await sqs.send(new CreateQueueCommand({ QueueName: "guardian-reconcile" }));
      const cfg = parseConfig({
        AWS_REGION: REGION,
        GUARDIAN_EC2_ENDPOINT: proxy.endpoint,
        GUARDIAN_DECISIONS_TABLE: TABLE,
        GUARDIAN_DYNAMODB_ENDPOINT: decisionsDb.endpoint,
        GUARDIAN_SELF_IDENTITIES: `arn:aws:iam::${MOTO_ACCOUNT}:role/network-guardian`,
        SLACK_WEBHOOK_URL: sink.slackUrl,
        GUARDIAN_RECONCILE_QUEUE_URL: queue.QueueUrl,
        GUARDIAN_SQS_ENDPOINT: moto.endpoint,
      });
      const parsed = parsePolicy(policyYaml(), "policy.yaml");
      const policy = { ...parsed, reconcile: { ...parsed.reconcile, intervalHours: 1 } };
      const tick = createReconcileHandler(
        perInstanceStart((log) => awsReconcileStartDeps(cfg, log, { policy })),
      );
      const page = createReconcilePageHandler(
        reconcilePerInstance((log) =>
          awsReconcileDeps(cfg, log, { clients: ec2ClientAs(proxy.endpoint), policy }),
        ),
      );
      /** Lambda's SQS event source, batch size 1, until the queue is empty. */
      const drain = async () => {
        const kinds: string[] = [];
        for (;;) {
          const out = await sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: queue.QueueUrl,
              MaxNumberOfMessages: 1,
              WaitTimeSeconds: 0,
            }),
          );
          const m = out.Messages?.[0];
          if (!m) return kinds;
          const record = { messageId: m.MessageId ?? "", body: m.Body ?? "" };
          const result = await page({ Records: [record] }, context("network-guardian-reconcile-page"));
          expect(result.batchItemFailures).toEqual([]);
          await sqs.send(
            new DeleteMessageCommand({ QueueUrl: queue.QueueUrl, ReceiptHandle: m.ReceiptHandle }),
          );
          kinds.push((JSON.parse(record.body) as { kind: string }).kind);
        }
      };
      const run = await capturingStdout(async () => {
        const started = await tick({ reconcile: "tick" }, context("network-guardian-reconcile"));
        return { started, kinds: await drain() };
      });
      expect(run.error).toBeUndefined();
      expect(run.value?.started).toMatchObject({ due: true });
      expect(run.value?.kinds).toContain("vpc-endpoint-connection");
      expect(await stateOf(quiet.vpcEndpointId)).toBe("available");
      expect(await stateOf(stranger.vpcEndpointId)).toBe("pendingAcceptance");

      // The sweep comes next, then another reconcile run: neither decides or announces anything again.
      const sweep = await capturingStdout(() =>
        createSweepHandler(deps(), () => REGION)({}, context("network-guardian-sweep")),
      );
      const again = await capturingStdout(async () => {
        await tick({ reconcile: "tick" }, context("network-guardian-reconcile"));
        return drain();
      });
      expect(sweep.error).toBeUndefined();
      expect(again.error).toBeUndefined();
      const all = [...run.logs, ...sweep.logs, ...again.logs];
      const byConnection = (id: string) =>
        decisions(all).filter((d) => d.resourceId === `${estate.serviceId}/${id}`);
      expect(byConnection(quiet.vpcEndpointId).map((d) => d.outcome)).toEqual(["approved"]);
      expect(byConnection(stranger.vpcEndpointId).map((d) => d.outcome)).toEqual(["held"]);
      expect(accepts()).toHaveLength(1);
      await sink.waitFor(2);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(sink.received).toHaveLength(2);
    } finally {
      sqs.destroy();
    }
  });

  it("accepts what it can when the accept response reports a failed item, and finishes on the retry", async () => {
    const ok = await proxy.requestConnection({ serviceId: estate.serviceId, owner: QUBOLE });
    const flaky = await proxy.requestConnection({ serviceId: estate.serviceId, owner: QUBOLE });
    proxy.state.failNext({
      action: "AcceptVpcEndpointConnections",
      vpcEndpointId: flaky.vpcEndpointId,
      code: "InternalError",
      message: "An internal error has occurred",
    });
    const sweep = createSweepHandler(deps(), () => REGION);
    const first = await capturingStdout(() => sweep({}, context("network-guardian-sweep")));
    // The failed item is not taken for accepted: the run fails so the scheduler retries it.
    expect(String(first.error)).toMatch(/retry/);
    expect(await stateOf(ok.vpcEndpointId)).toBe("available");
    expect(await stateOf(flaky.vpcEndpointId)).toBe("pendingAcceptance");
    const outcomes = Object.fromEntries(decisions(first.logs).map((d) => [d.resourceId, d.outcome]));
    expect(outcomes).toEqual({
      [`${estate.serviceId}/${ok.vpcEndpointId}`]: "approved",
      [`${estate.serviceId}/${flaky.vpcEndpointId}`]: "failed",
    });
    const failed = decisions(first.logs).find((d) => d.outcome === "failed");
    expect(failed?.reason).toContain(`${flaky.vpcEndpointId}: InternalError`);

    const retry = await capturingStdout(() => sweep({}, context("network-guardian-sweep")));
    expect(retry.error).toBeUndefined();
    expect(await stateOf(flaky.vpcEndpointId)).toBe("available");
    expect(decisions(retry.logs).map((d) => [d.resourceId, d.outcome])).toEqual([
      [`${estate.serviceId}/${flaky.vpcEndpointId}`, "approved"],
    ]);
  });

  it("decides and announces a request once, however often and however it is reported", async () => {
    await provider.send(
      new ModifyVpcEndpointServicePermissionsCommand({
        ServiceId: estate.serviceId,
        AddAllowedPrincipals: [`arn:aws:iam::${STRANGER}:root`],
      }),
    );
    const strangerEndpoint = await consumerRequest(STRANGER);
    const quboleEndpoint = await consumerRequest(QUBOLE);
    const delivered = await topic.drain();
    expect(delivered).toHaveLength(2);
    const event = snsLambdaEvent(delivered);

    // SNS delivers at least once: the same event twice at the same moment, to two execution environments. (One
    // capture around both: stdout is one stream, and two captures would swap it under each other.)
    const both = await capturingStdout(() =>
      Promise.all([
        createOnEndpointConnectionHandler(deps())(event, context("network-guardian-on-endpoint-connection")),
        createOnEndpointConnectionHandler(deps())(event, context("network-guardian-on-endpoint-connection")),
      ]),
    );
    expect(both.error).toBeUndefined();
    // And once more later, and then the sweep.
    const later = await notify(createOnEndpointConnectionHandler(deps()), event);
    const sweep = await capturingStdout(() =>
      createSweepHandler(deps(), () => REGION)({}, context("network-guardian-sweep")),
    );

    const all = [...both.logs, ...later.logs, ...sweep.logs];
    const byConnection = (id: string) =>
      decisions(all).filter((d) => d.resourceId === `${estate.serviceId}/${id}`);
    expect(byConnection(quboleEndpoint).map((d) => d.outcome)).toEqual(["approved"]);
    expect(byConnection(strangerEndpoint).map((d) => d.outcome)).toEqual(["held"]);
    expect(accepts()).toHaveLength(1);
    expect(await stateOf(strangerEndpoint)).toBe("pendingAcceptance");
    expect(all.filter((l) => l.message === "guardian.duplicate").length).toBeGreaterThan(0);
    // One alert per decision: the approval and the hold.
    await sink.waitFor(2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sink.received).toHaveLength(2);
  });

  it("alerts on a private VPC without its S3 gateway endpoint, and on the endpoint's deletion later", async () => {
    const vpc = await provider.send(new CreateVpcCommand({ CidrBlock: "10.70.0.0/16" }));
    const vpcId = vpc.Vpc?.VpcId ?? "";
    await provider.send(
      new CreateTagsCommand({ Resources: [vpcId], Tags: [{ Key: "network", Value: "private" }] }),
    );
    const table = await provider.send(new CreateRouteTableCommand({ VpcId: vpcId }));
    const routeTable = table.RouteTable?.RouteTableId ?? "";
    // An endpoint for something else: the VPC still has no way to S3 but the Internet.
    const sts = await provider.send(
      new CreateVpcEndpointCommand({
        VpcId: vpcId,
        ServiceName: "com.amazonaws.us-east-1.sts",
        VpcEndpointType: "Interface",
      }),
    );
    const stsId = sts.VpcEndpoint?.VpcEndpointId ?? "";
    const onChange = createOnChangeHandler(deps());
    const created = cloudTrail("create-vpc-endpoint-gateway-s3.json", {
      "vpc-0c1d2e3f4a5b6c7d8": vpcId,
      "com.amazonaws.us-east-1.s3": "com.amazonaws.us-east-1.sts",
      "vpce-0a1b2c3d4e5f60789": stsId,
    });
    const first = await capturingStdout(() => onChange(created, context("network-guardian-on-change")));
    expect(first.error).toBeUndefined();
    const missing = decisions(first.logs).find((d) => d.policyRule === "private-vpcs-use-endpoints");
    expect(missing).toMatchObject({
      outcome: "skipped-mode",
      resourceId: vpcId,
      matched: expect.arrayContaining([{ vpcId, missingEndpoint: "s3", type: "Gateway" }]),
    });
    await sink.waitFor(1);
    expect(slackText(sink.received[0])).toContain("no gateway endpoint for s3");

    // The S3 gateway endpoint, with a policy that names only our account: nothing to say.
    const policy = JSON.stringify({
      Statement: [
        {
          Effect: "Allow",
          Principal: { AWS: `arn:aws:iam::${MOTO_ACCOUNT}:root` },
          Action: "s3:*",
          Resource: "*",
        },
      ],
    });
    const s3 = await provider.send(
      new CreateVpcEndpointCommand({
        VpcId: vpcId,
        ServiceName: "com.amazonaws.us-east-1.s3",
        VpcEndpointType: "Gateway",
        RouteTableIds: [routeTable],
        PolicyDocument: policy,
      }),
    );
    const s3Id = s3.VpcEndpoint?.VpcEndpointId ?? "";
    // The STS endpoint has the default policy (any principal): tighten it too, so the VPC is compliant.
    await provider.send(new DeleteVpcEndpointsCommand({ VpcEndpointIds: [stsId] }));
    const second = await capturingStdout(() =>
      onChange(
        cloudTrail("create-vpc-endpoint-gateway-s3.json", {
          "vpc-0c1d2e3f4a5b6c7d8": vpcId,
          "vpce-0a1b2c3d4e5f60789": s3Id,
        }),
        context("network-guardian-on-change"),
      ),
    );
    expect(second.error).toBeUndefined();
    expect(decisions(second.logs)).toEqual([]);

    // Someone deletes the S3 endpoint: the call names only the endpoint; its VPC is found through it.
    await provider.send(new DeleteVpcEndpointsCommand({ VpcEndpointIds: [s3Id] }));
    const deleted = cloudTrail("delete-vpc-endpoints.json", { "vpce-0a1b2c3d4e5f60789": s3Id });
    // This call named only the S3 endpoint.
    const request = deleted.detail.requestParameters as {
      DeleteVpcEndpointsRequest: Record<string, unknown>;
    };
    request.DeleteVpcEndpointsRequest.VpcEndpointId = { content: s3Id, tag: 1 };
    const third = await capturingStdout(() => onChange(deleted, context("network-guardian-on-change")));
    expect(third.error).toBeUndefined();
    expect(decisions(third.logs).map((d) => [d.resourceId, d.outcome, (d.matched as unknown[])[0]])).toEqual([
      [vpcId, "skipped-mode", { vpcId, missingEndpoint: "s3", type: "Gateway" }],
    ]);
  });
});
