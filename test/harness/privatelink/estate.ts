// Building blocks for PrivateLink estates in moto (tests and the demo): an internal Network Load Balancer, an
// endpoint service in front of it, consumers in other accounts, and the SNS topic the service's connection
// notifications go to, read back through an SQS subscription so a test holds exactly what SNS would deliver.

import { randomUUID } from "node:crypto";
import {
  CreateSubnetCommand,
  CreateVpcCommand,
  CreateVpcEndpointConnectionNotificationCommand,
  CreateVpcEndpointServiceConfigurationCommand,
  type EC2Client,
} from "@aws-sdk/client-ec2";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import type { SNSEvent, SNSEventRecord } from "aws-lambda";
import { createEc2Client } from "../../../shared/clouds/aws/client.ts";
import { MOTO_ACCOUNT } from "../moto.ts";
import { firstTag } from "./xml.ts";

const CREDENTIALS = { accessKeyId: "testing", secretAccessKey: "testing" };

type WithMiddleware = {
  middlewareStack: { add: (mw: never, options: { step: "build"; name: string }) => void };
};

/** Makes a client act in `account` in moto (its `x-moto-account-id` header); moto's default account otherwise. */
function asAccount<T extends WithMiddleware>(client: T, account: string): T {
  const middleware = (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
    const request = (args as { request?: { headers?: Record<string, string> } }).request;
    if (request?.headers) request.headers["x-moto-account-id"] = account;
    return next(args);
  };
  client.middlewareStack.add(middleware as never, { step: "build", name: "motoAccount" });
  return client;
}

/** An EC2 client for one account (a consumer's, or the provider's) against `endpoint` (moto or the proxy). */
export function ec2ClientAs(endpoint: string, account = MOTO_ACCOUNT, region = "us-east-1"): EC2Client {
  return asAccount(createEc2Client({ endpoint, region, maxAttempts: 2, credentials: CREDENTIALS }), account);
}

/**
 * An internal Network Load Balancer in front of the bastion (Elastic Load Balancing v2 query API on moto; the project
 * has no ELBv2 SDK, and the guardian never calls it).
 */
export async function createInternalNlb(
  motoEndpoint: string,
  input: { name: string; subnetIds: string[]; account?: string; region?: string },
): Promise<string> {
  const region = input.region ?? "us-east-1";
  const form = new URLSearchParams({
    Action: "CreateLoadBalancer",
    Version: "2015-12-01",
    Name: input.name,
    Type: "network",
    Scheme: "internal",
  });
  for (const [i, id] of input.subnetIds.entries()) form.set(`Subnets.member.${i + 1}`, id);
  const response = await fetch(motoEndpoint, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `AWS4-HMAC-SHA256 Credential=testing/20240101/${region}/elasticloadbalancing/aws4_request, SignedHeaders=host, Signature=0`,
      "x-moto-account-id": input.account ?? MOTO_ACCOUNT,
    },
    body: form,
  });
  const text = await response.text();
  const arn = firstTag(text, "LoadBalancerArn");
  if (!response.ok || arn === undefined)
    throw new Error(`CreateLoadBalancer failed: HTTP ${response.status} ${text}`);
  return arn;
}

export interface ProviderEstate {
  vpcId: string;
  subnetIds: string[];
  nlbArn: string;
  serviceId: string;
  serviceName: string;
}

/**
 * The provider side of the Qubole-on-AWS seed: a VPC with two private subnets, an internal NLB in them (in front of
 * the bastion), and an endpoint service on the NLB, created through `ec2` (pointed at the proxy so it learns the
 * service).
 */
export async function createEndpointServiceEstate(
  ec2: EC2Client,
  motoEndpoint: string,
  input: { acceptanceRequired: boolean; name?: string; tags?: Record<string, string> },
): Promise<ProviderEstate> {
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.20.0.0/16" }));
  const vpcId = vpc.Vpc?.VpcId;
  if (!vpcId) throw new Error("CreateVpc returned no id");
  const subnetIds: string[] = [];
  for (const [cidr, zone] of [
    ["10.20.1.0/24", "us-east-1a"],
    ["10.20.2.0/24", "us-east-1b"],
  ] as const) {
    const subnet = await ec2.send(
      new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: zone }),
    );
    if (subnet.Subnet?.SubnetId) subnetIds.push(subnet.Subnet.SubnetId);
  }
  const nlbArn = await createInternalNlb(motoEndpoint, {
    name: `${input.name ?? "bastion"}-nlb-${randomUUID().slice(0, 8)}`,
    subnetIds,
  });
  const tags = Object.entries(input.tags ?? {}).map(([Key, Value]) => ({ Key, Value }));
  const created = await ec2.send(
    new CreateVpcEndpointServiceConfigurationCommand({
      NetworkLoadBalancerArns: [nlbArn],
      AcceptanceRequired: input.acceptanceRequired,
      ...(tags.length > 0
        ? { TagSpecifications: [{ ResourceType: "vpc-endpoint-service", Tags: tags }] }
        : {}),
    }),
  );
  const serviceId = created.ServiceConfiguration?.ServiceId;
  const serviceName = created.ServiceConfiguration?.ServiceName;
  if (!serviceId || !serviceName) throw new Error("CreateVpcEndpointServiceConfiguration returned no id");
  return { vpcId, subnetIds, nlbArn, serviceId, serviceName };
}

/** An SNS envelope as SNS delivers it to an SQS subscriber (and, renamed, to a Lambda: see snsLambdaEvent). */
export interface SnsEnvelope {
  Type: string;
  MessageId: string;
  TopicArn: string;
  Subject?: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: string;
  Signature: string;
  SigningCertURL: string;
  UnsubscribeURL: string;
  MessageAttributes?: Record<string, { Type: string; Value: string }>;
}

export interface NotificationTopic {
  topicArn: string;
  /** The endpoint service's connection notification (vpce-nfn-…). */
  connectionNotificationId: string;
  /** Everything SNS delivered since the last call, oldest first. */
  drain(): Promise<SnsEnvelope[]>;
  destroy(): void;
}

/**
 * The topic the guardian's Lambda subscribes to, with the endpoint service's connection notification pointing at
 * it (events Connect, Accept, Reject, Delete), and an SQS queue subscribed to it that stands in for the Lambda so a
 * test receives exactly what SNS would deliver.
 */
export async function subscribeConnectionNotifications(
  ec2: EC2Client,
  motoEndpoint: string,
  serviceId: string,
  account = MOTO_ACCOUNT,
  region = "us-east-1",
): Promise<NotificationTopic> {
  const sns = asAccount(new SNSClient({ endpoint: motoEndpoint, region, credentials: CREDENTIALS }), account);
  const sqs = asAccount(new SQSClient({ endpoint: motoEndpoint, region, credentials: CREDENTIALS }), account);
  const suffix = randomUUID().slice(0, 8);
  const topic = await sns.send(new CreateTopicCommand({ Name: `vpce-notifications-${suffix}` }));
  const topicArn = topic.TopicArn;
  if (!topicArn) throw new Error("CreateTopic returned no ARN");
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: `vpce-notifications-${suffix}` }));
  const queueUrl = queue.QueueUrl;
  if (!queueUrl) throw new Error("CreateQueue returned no URL");
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
  );
  const queueArn = attributes.Attributes?.QueueArn;
  if (!queueArn) throw new Error("GetQueueAttributes returned no ARN");
  await sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: "sqs", Endpoint: queueArn }));
  const notification = await ec2.send(
    new CreateVpcEndpointConnectionNotificationCommand({
      ServiceId: serviceId,
      ConnectionNotificationArn: topicArn,
      ConnectionEvents: ["Connect", "Accept", "Reject", "Delete"],
    }),
  );
  const connectionNotificationId = notification.ConnectionNotification?.ConnectionNotificationId;
  if (!connectionNotificationId) throw new Error("CreateVpcEndpointConnectionNotification returned no id");
  return {
    topicArn,
    connectionNotificationId,
    async drain() {
      const out: SnsEnvelope[] = [];
      for (;;) {
        const received = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
        );
        const messages = received.Messages ?? [];
        if (messages.length === 0) return out;
        for (const m of messages) out.push(JSON.parse(m.Body ?? "{}") as SnsEnvelope);
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? "" })),
          }),
        );
      }
    },
    destroy() {
      sns.destroy();
      sqs.destroy();
    },
  };
}

/**
 * The event Lambda receives for SNS deliveries ("Using Lambda with Amazon SNS", Lambda developer guide): one record
 * per message, the envelope under `Sns` with `SigningCertUrl`/`UnsubscribeUrl` spelled as Lambda spells them.
 */
export function snsLambdaEvent(
  envelopes: readonly SnsEnvelope[],
  subscriptionSuffix = randomUUID(),
): SNSEvent {
  return {
    Records: envelopes.map(
      (e): SNSEventRecord => ({
        EventVersion: "1.0",
        EventSubscriptionArn: `${e.TopicArn}:${subscriptionSuffix}`,
        EventSource: "aws:sns",
        Sns: {
          SignatureVersion: e.SignatureVersion,
          Timestamp: e.Timestamp,
          Signature: e.Signature,
          SigningCertUrl: e.SigningCertURL,
          MessageId: e.MessageId,
          Message: e.Message,
          MessageAttributes: Object.fromEntries(
            Object.entries(e.MessageAttributes ?? {}).map(([k, v]) => [k, { Type: v.Type, Value: v.Value }]),
          ),
          Type: e.Type,
          UnsubscribeUrl: e.UnsubscribeURL,
          TopicArn: e.TopicArn,
          Subject: e.Subject ?? "",
        },
      }),
    ),
  };
}
