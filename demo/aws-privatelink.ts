// The PrivateLink half of the AWS demo, after the Qubole-on-AWS seed: the customer publishes an endpoint service in
// front of the bastion's internal Network Load Balancer, acceptance required, Qubole's account allowed. Someone makes
// the service public (`*`) and turns acceptance off: the guardian puts both back. Qubole's connection request is
// accepted; a request from an account the policy does not list is held and announced; the scheduled sweep then finds
// nothing new to say. Runs against moto behind the PrivateLink proxy (test/harness/privatelink), through the three
// Lambda handlers, with decisions claimed in a DynamoDB table in moto.

import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  CreateVpcCommand,
  CreateVpcEndpointCommand,
  DescribeVpcEndpointConnectionsCommand,
  DescribeVpcEndpointServiceConfigurationsCommand,
  DescribeVpcEndpointServicePermissionsCommand,
  ModifyVpcEndpointServiceConfigurationCommand,
  ModifyVpcEndpointServicePermissionsCommand,
} from "@aws-sdk/client-ec2";
import { createOnChangeHandler } from "../lambdas/on-change.ts";
import { createOnEndpointConnectionHandler } from "../lambdas/on-endpoint-connection.ts";
import { createSweepHandler } from "../lambdas/sweep-endpoint-connections.ts";
import { awsGuardianDeps } from "../shared/clouds/aws/runtime.ts";
import { parseConfig } from "../shared/config.ts";
import { perInstance } from "../shared/runtime.ts";
import { MOTO_ACCOUNT, type MotoServer, startMoto } from "../test/harness/moto.ts";
import {
  createEndpointServiceEstate,
  ec2ClientAs,
  snsLambdaEvent,
  subscribeConnectionNotifications,
} from "../test/harness/privatelink/estate.ts";
import { startPrivateLinkProxy } from "../test/harness/privatelink/proxy.ts";
import type { WebhookSink } from "../test/harness/webhook-sink.ts";
import {
  adaptAwsEvent,
  assumedRoleIdentity,
  type CloudTrailEvent,
  lambdaContext,
  loadAwsEvent,
} from "../test/integration/helpers/aws-events.ts";
import { auditLine, type Check } from "./words.ts";

const REGION = "us-east-1";
const QUBOLE = "111122223333";
const UNKNOWN = "444455556666";
const TABLE = "network-guardian-decisions";
const ENGINEER = assumedRoleIdentity({
  account: MOTO_ACCOUNT,
  roleName: "AWSReservedSSO_NetworkAdmin_5f3c2a1b9d8e7f60",
  rolePath: "/aws-reserved/sso.amazonaws.com/",
  sessionName: "dana.okafor@example.com",
  mfaAuthenticated: true,
});

type Line = Record<string, unknown>;

/** The handlers log one JSON line per record; the demo keeps them aside and prints the decisions. */
async function quietly<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; lines: Line[] }> {
  const original = process.stdout.write;
  const write = original.bind(process.stdout) as (chunk: string | Uint8Array) => boolean;
  const lines: Line[] = [];
  process.stdout.write = ((chunk: string | Uint8Array) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    // The Lambda logger's lines: JSON objects carrying the invocation's request id.
    if (!text.startsWith("{") || !text.includes('"requestId":')) return write(chunk);
    for (const line of text.split("\n").filter(Boolean)) lines.push(JSON.parse(line) as Line);
    return true;
  }) as typeof process.stdout.write;
  try {
    return { value: await fn(), lines };
  } catch (error) {
    return { error, lines };
  } finally {
    process.stdout.write = original;
  }
}

export async function runPrivateLinkScenario(io: {
  print(text: string): void;
  verbose?: boolean;
  sink: WebhookSink;
  policyFile: string;
}): Promise<Check[]> {
  const { print, sink } = io;
  let moto: MotoServer;
  try {
    moto = await startMoto();
  } catch (error) {
    print(`  cannot run the PrivateLink scenario: ${error instanceof Error ? error.message : String(error)}`);
    return [{ name: "PrivateLink scenario ran", ok: false }];
  }
  const proxy = await startPrivateLinkProxy({ target: moto.endpoint });
  const provider = ec2ClientAs(proxy.endpoint);
  const dynamo = new DynamoDBClient({
    endpoint: moto.endpoint,
    region: REGION,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  // Fake static credentials for the decisions table's client, which is built from the environment as in Lambda.
  process.env.AWS_ACCESS_KEY_ID = "testing";
  process.env.AWS_SECRET_ACCESS_KEY = "testing";
  try {
    await dynamo.send(
      new CreateTableCommand({
        TableName: TABLE,
        KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
        BillingMode: "PAY_PER_REQUEST",
      }),
    );
    const estate = await createEndpointServiceEstate(provider, moto.endpoint, { acceptanceRequired: true });
    await provider.send(
      new ModifyVpcEndpointServicePermissionsCommand({
        ServiceId: estate.serviceId,
        AddAllowedPrincipals: [`arn:aws:iam::${QUBOLE}:root`],
      }),
    );
    const topic = await subscribeConnectionNotifications(provider, moto.endpoint, estate.serviceId);
    print(
      `Seeded: endpoint service ${estate.serviceId} on an internal NLB in ${estate.vpcId}, acceptance required, ` +
        `Qubole's account ${QUBOLE} allowed; connection notifications → ${topic.topicArn}`,
    );

    const deps = perInstance((log) =>
      awsGuardianDeps(
        parseConfig({
          GUARDIAN_POLICY_FILE: io.policyFile,
          GUARDIAN_SELF_IDENTITIES: `arn:aws:iam::${MOTO_ACCOUNT}:role/network-guardian`,
          SLACK_WEBHOOK_URL: sink.slackUrl,
          AWS_REGION: REGION,
          GUARDIAN_EC2_ENDPOINT: proxy.endpoint,
          GUARDIAN_DECISIONS_TABLE: TABLE,
          GUARDIAN_DYNAMODB_ENDPOINT: moto.endpoint,
        }),
        log,
        { clients: ec2ClientAs(proxy.endpoint) },
      ),
    );
    const onChange = createOnChangeHandler(deps);
    const onConnection = createOnEndpointConnectionHandler(deps);
    const sweep = createSweepHandler(deps, () => REGION);
    const context = (name: string) =>
      lambdaContext({ functionName: name, account: MOTO_ACCOUNT, region: REGION });
    const show = (lines: Line[]) => {
      const decided = lines.filter((l) => l.message === "guardian.decision");
      for (const d of decided) print(`  guardian: ${auditLine(d)}`);
      return decided;
    };
    const event = (file: string): CloudTrailEvent => {
      const adapted = adaptAwsEvent(loadAwsEvent(file), {
        account: MOTO_ACCOUNT,
        region: REGION,
        identity: ENGINEER,
      });
      return JSON.parse(
        JSON.stringify(adapted).split("vpce-svc-0e7555fb6441987e1").join(estate.serviceId),
      ) as CloudTrailEvent;
    };
    const principals = async () =>
      (
        await provider.send(new DescribeVpcEndpointServicePermissionsCommand({ ServiceId: estate.serviceId }))
      ).AllowedPrincipals?.map((p) => p.Principal ?? "") ?? [];
    const stateOf = async (endpointId: string) =>
      (
        await provider.send(
          new DescribeVpcEndpointConnectionsCommand({
            Filters: [{ Name: "vpc-endpoint-id", Values: [endpointId] }],
          }),
        )
      ).VpcEndpointConnections?.[0]?.VpcEndpointState;
    const alertsAtStart = sink.received.length;

    print(
      `\n▶ Someone makes the endpoint service public: AddAllowedPrincipals "*"\n  by ${String(ENGINEER.arn)}`,
    );
    await provider.send(
      new ModifyVpcEndpointServicePermissionsCommand({
        ServiceId: estate.serviceId,
        AddAllowedPrincipals: ["*"],
      }),
    );
    print(`  allowed principals (after the change): ${(await principals()).join(", ")}`);
    const star = await quietly(() =>
      onChange(
        event("modify-vpc-endpoint-service-permissions-add-star.json"),
        context("network-guardian-on-change"),
      ),
    );
    show(star.lines);
    const afterStar = await principals();
    print(`  allowed principals (after the guardian): ${afterStar.join(", ")}`);

    print("\n▶ Someone turns acceptance off: every request would be accepted without asking");
    await provider.send(
      new ModifyVpcEndpointServiceConfigurationCommand({
        ServiceId: estate.serviceId,
        AcceptanceRequired: false,
      }),
    );
    const off = await quietly(() =>
      onChange(
        event("modify-vpc-endpoint-service-configuration-acceptance-off.json"),
        context("network-guardian-on-change"),
      ),
    );
    show(off.lines);
    const acceptance = (
      await provider.send(
        new DescribeVpcEndpointServiceConfigurationsCommand({ ServiceIds: [estate.serviceId] }),
      )
    ).ServiceConfigurations?.[0]?.AcceptanceRequired;
    print(`  AcceptanceRequired (after the guardian): ${String(acceptance)}`);

    print(`\n▶ Qubole (${QUBOLE}) creates its interface endpoint to ${estate.serviceName}`);
    const qubole = ec2ClientAs(proxy.endpoint, QUBOLE);
    const vpc = await qubole.send(new CreateVpcCommand({ CidrBlock: "10.90.0.0/16" }));
    const created = await qubole.send(
      new CreateVpcEndpointCommand({
        VpcId: vpc.Vpc?.VpcId ?? "",
        ServiceName: estate.serviceName,
        VpcEndpointType: "Interface",
      }),
    );
    qubole.destroy();
    const quboleEndpoint = created.VpcEndpoint?.VpcEndpointId ?? "";
    const connect = await topic.drain();
    print(`  SNS → Lambda: ${connect.length} Connect notification(s); the guardian re-reads the connection`);
    const accepted = await quietly(() =>
      onConnection(snsLambdaEvent(connect), context("network-guardian-on-endpoint-connection")),
    );
    show(accepted.lines);
    print(`  ${quboleEndpoint}: ${String(await stateOf(quboleEndpoint))}`);

    print(`\n▶ A request arrives from account ${UNKNOWN}, which the policy does not list`);
    const unknown = await proxy.requestConnection({ serviceId: estate.serviceId, owner: UNKNOWN });
    const heldIn = await topic.drain();
    const held = await quietly(() =>
      onConnection(
        snsLambdaEvent(heldIn.filter((m) => m.Message.includes(unknown.vpcEndpointId))),
        context("network-guardian-on-endpoint-connection"),
      ),
    );
    show(held.lines);
    print(`  ${unknown.vpcEndpointId}: ${String(await stateOf(unknown.vpcEndpointId))}`);

    print("\n▶ The scheduled sweep runs (EventBridge Scheduler)");
    const swept = await quietly(() => sweep({}, context("network-guardian-sweep")));
    const sweepDecisions = show(swept.lines);
    if (sweepDecisions.length === 0)
      print("  guardian: nothing new to decide or announce (the held request was announced once)");
    topic.destroy();

    const alerts = sink.received.slice(alertsAtStart);
    const text = (i: number) => JSON.stringify(alerts[i]?.body ?? "");
    const outcomes = (lines: Line[]) =>
      lines.filter((l) => l.message === "guardian.decision").map((l) => l.outcome);
    return [
      {
        name: "PrivateLink: '*' removed, Qubole's principal kept",
        ok:
          JSON.stringify(afterStar) === JSON.stringify([`arn:aws:iam::${QUBOLE}:root`]) &&
          star.error === undefined,
      },
      { name: "PrivateLink: acceptance turned back on", ok: acceptance === true && off.error === undefined },
      {
        name: "PrivateLink: Qubole's request accepted",
        ok:
          String(await stateOf(quboleEndpoint)) === "available" &&
          outcomes(accepted.lines).includes("approved"),
      },
      {
        name: "PrivateLink: the unknown account's request held and announced",
        ok:
          String(await stateOf(unknown.vpcEndpointId)) === "pendingAcceptance" &&
          outcomes(held.lines).includes("held"),
      },
      {
        name: "PrivateLink: one alert per decision (the sweep added none)",
        ok:
          // The sweep ran and listed both connections (its log says so), and decided nothing anew.
          swept.lines.some((l) => l.message === "guardian.connections" && l.listed === 2) &&
          sweepDecisions.length === 0 &&
          alerts.length === 4 &&
          text(0).includes(String(ENGINEER.arn)),
      },
    ];
  } finally {
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    else process.env.AWS_ACCESS_KEY_ID = saved.id;
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    provider.destroy();
    dynamo.destroy();
    await proxy.stop();
    await moto.stop();
  }
}
