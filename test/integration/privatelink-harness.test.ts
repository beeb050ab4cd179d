// The PrivateLink proxy in front of moto (test/harness/privatelink): the real @aws-sdk/client-ec2, unchanged, against
// Describe/Accept/RejectVpcEndpointConnections and connection notifications as the EC2 API reference specifies
// them, with everything else forwarded to moto.

import {
  AcceptVpcEndpointConnectionsCommand,
  CreateVpcCommand,
  CreateVpcEndpointCommand,
  DeleteVpcEndpointsCommand,
  DescribeVpcEndpointConnectionNotificationsCommand,
  DescribeVpcEndpointConnectionsCommand,
  DescribeVpcsCommand,
  type EC2Client,
  ModifyVpcEndpointServicePermissionsCommand,
  paginateDescribeVpcEndpointConnections,
  RejectVpcEndpointConnectionsCommand,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MOTO_ACCOUNT, type MotoServer, startMoto } from "../harness/moto.ts";
import {
  createEndpointServiceEstate,
  ec2ClientAs,
  type ProviderEstate,
  subscribeConnectionNotifications,
} from "../harness/privatelink/estate.ts";
import { type PrivateLinkProxy, startPrivateLinkProxy } from "../harness/privatelink/proxy.ts";

const QUBOLE = "111122223333";
const STRANGER = "444455556666";

let moto: MotoServer;
let proxy: PrivateLinkProxy;
let provider: EC2Client;

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startPrivateLinkProxy({ target: moto.endpoint });
  provider = ec2ClientAs(proxy.endpoint);
});

afterAll(async () => {
  provider?.destroy();
  await proxy?.stop();
  await moto?.stop();
});

beforeEach(async () => {
  await moto.reset();
  proxy.reset();
});

async function serviceAllowing(principals: string[], acceptanceRequired = true): Promise<ProviderEstate> {
  const estate = await createEndpointServiceEstate(provider, moto.endpoint, { acceptanceRequired });
  if (principals.length > 0) {
    await provider.send(
      new ModifyVpcEndpointServicePermissionsCommand({
        ServiceId: estate.serviceId,
        AddAllowedPrincipals: principals,
      }),
    );
  }
  return estate;
}

/** A consumer account creates a VPC and an interface endpoint to the service, through the proxy. */
async function consumerEndpoint(account: string, serviceName: string): Promise<string> {
  const consumer = ec2ClientAs(proxy.endpoint, account);
  try {
    const vpc = await consumer.send(new CreateVpcCommand({ CidrBlock: "10.50.0.0/16" }));
    const created = await consumer.send(
      new CreateVpcEndpointCommand({
        VpcId: vpc.Vpc?.VpcId ?? "",
        ServiceName: serviceName,
        VpcEndpointType: "Interface",
      }),
    );
    return created.VpcEndpoint?.VpcEndpointId ?? "";
  } finally {
    consumer.destroy();
  }
}

describe("PrivateLink proxy", () => {
  it("records a request from an allowed consumer as pendingAcceptance and refuses consumers the service does not allow", async () => {
    const estate = await serviceAllowing([`arn:aws:iam::${QUBOLE}:root`]);
    const endpointId = await consumerEndpoint(QUBOLE, estate.serviceName);
    expect(endpointId).toMatch(/^vpce-/);

    const described = await provider.send(
      new DescribeVpcEndpointConnectionsCommand({
        Filters: [{ Name: "vpc-endpoint-state", Values: ["pendingAcceptance"] }],
      }),
    );
    expect(described.VpcEndpointConnections).toHaveLength(1);
    const connection = described.VpcEndpointConnections?.[0];
    expect(connection).toMatchObject({
      ServiceId: estate.serviceId,
      VpcEndpointId: endpointId,
      VpcEndpointOwner: QUBOLE,
      VpcEndpointState: "pendingAcceptance",
      IpAddressType: "ipv4",
      VpcEndpointRegion: "us-east-1",
      NetworkLoadBalancerArns: [estate.nlbArn],
    });
    expect(connection?.CreationTimestamp).toBeInstanceOf(Date);
    expect(connection?.VpcEndpointConnectionId).toMatch(/^vpce-con-/);

    await expect(consumerEndpoint(STRANGER, estate.serviceName)).rejects.toMatchObject({
      name: "InvalidServiceName",
    });
    // The consumer account sees none of the provider's connections.
    const asConsumer = ec2ClientAs(proxy.endpoint, QUBOLE);
    const theirs = await asConsumer.send(new DescribeVpcEndpointConnectionsCommand({}));
    asConsumer.destroy();
    expect(theirs.VpcEndpointConnections ?? []).toEqual([]);
  });

  it("makes connections available at once when the service does not require acceptance", async () => {
    const estate = await serviceAllowing(["*"], false);
    await consumerEndpoint(STRANGER, estate.serviceName);
    const described = await provider.send(new DescribeVpcEndpointConnectionsCommand({}));
    expect(described.VpcEndpointConnections?.map((c) => c.VpcEndpointState)).toEqual(["available"]);
  });

  it("accepts item by item and reports the ones it could not accept as Unsuccessful", async () => {
    const estate = await serviceAllowing([`arn:aws:iam::${QUBOLE}:root`]);
    const endpointId = await consumerEndpoint(QUBOLE, estate.serviceName);

    const result = await provider.send(
      new AcceptVpcEndpointConnectionsCommand({
        ServiceId: estate.serviceId,
        VpcEndpointIds: [endpointId, "vpce-0123456789abcdef0"],
      }),
    );
    expect(result.Unsuccessful).toEqual([
      {
        ResourceId: "vpce-0123456789abcdef0",
        Error: {
          Code: "InvalidVpcEndpoint.NotFound",
          Message: "The Vpc Endpoint Id 'vpce-0123456789abcdef0' does not exist",
        },
      },
    ]);
    const after = await provider.send(
      new DescribeVpcEndpointConnectionsCommand({
        Filters: [{ Name: "vpc-endpoint-id", Values: [endpointId] }],
      }),
    );
    expect(after.VpcEndpointConnections?.[0]?.VpcEndpointState).toBe("available");

    // Accepting it again changes nothing and is not an error; rejecting an available connection is allowed.
    const again = await provider.send(
      new AcceptVpcEndpointConnectionsCommand({ ServiceId: estate.serviceId, VpcEndpointIds: [endpointId] }),
    );
    expect(again.Unsuccessful ?? []).toEqual([]);
    const rejected = await provider.send(
      new RejectVpcEndpointConnectionsCommand({ ServiceId: estate.serviceId, VpcEndpointIds: [endpointId] }),
    );
    expect(rejected.Unsuccessful ?? []).toEqual([]);
    const reaccept = await provider.send(
      new AcceptVpcEndpointConnectionsCommand({ ServiceId: estate.serviceId, VpcEndpointIds: [endpointId] }),
    );
    expect(reaccept.Unsuccessful?.[0]?.Error?.Code).toBe("IncorrectState");
  });

  it("injects a per-item failure that leaves the connection as it was", async () => {
    const estate = await serviceAllowing([`arn:aws:iam::${QUBOLE}:root`]);
    const first = await proxy.requestConnection({ serviceId: estate.serviceId, owner: QUBOLE });
    const second = await proxy.requestConnection({ serviceId: estate.serviceId, owner: QUBOLE });
    proxy.state.failNext({
      action: "AcceptVpcEndpointConnections",
      vpcEndpointId: second.vpcEndpointId,
      code: "InternalError",
      message: "An internal error has occurred",
    });
    const result = await provider.send(
      new AcceptVpcEndpointConnectionsCommand({
        ServiceId: estate.serviceId,
        VpcEndpointIds: [first.vpcEndpointId, second.vpcEndpointId],
      }),
    );
    expect(result.Unsuccessful?.map((u) => [u.ResourceId, u.Error?.Code])).toEqual([
      [second.vpcEndpointId, "InternalError"],
    ]);
    const states = await provider.send(new DescribeVpcEndpointConnectionsCommand({}));
    expect(
      Object.fromEntries(
        (states.VpcEndpointConnections ?? []).map((c) => [c.VpcEndpointId, c.VpcEndpointState]),
      ),
    ).toEqual({ [first.vpcEndpointId]: "available", [second.vpcEndpointId]: "pendingAcceptance" });
  });

  it("answers errors for the whole call as EC2 does: unknown or foreign service, missing ids, DryRun, bad page size", async () => {
    const estate = await serviceAllowing([]);
    await expect(
      provider.send(
        new AcceptVpcEndpointConnectionsCommand({
          ServiceId: "vpce-svc-0000000000000000",
          VpcEndpointIds: ["vpce-1"],
        }),
      ),
    ).rejects.toMatchObject({ name: "InvalidVpcEndpointServiceId.NotFound" });
    const stranger = ec2ClientAs(proxy.endpoint, STRANGER);
    await expect(
      stranger.send(
        new RejectVpcEndpointConnectionsCommand({ ServiceId: estate.serviceId, VpcEndpointIds: ["vpce-1"] }),
      ),
    ).rejects.toMatchObject({ name: "InvalidVpcEndpointServiceId.NotFound" });
    stranger.destroy();
    await expect(
      provider.send(
        new AcceptVpcEndpointConnectionsCommand({ ServiceId: estate.serviceId, VpcEndpointIds: [] }),
      ),
    ).rejects.toMatchObject({ name: "MissingParameter" });
    await expect(
      provider.send(
        new AcceptVpcEndpointConnectionsCommand({
          ServiceId: estate.serviceId,
          VpcEndpointIds: ["vpce-1"],
          DryRun: true,
        }),
      ),
    ).rejects.toMatchObject({ name: "DryRunOperation" });
    await expect(
      provider.send(new DescribeVpcEndpointConnectionsCommand({ MaxResults: 3 })),
    ).rejects.toMatchObject({
      name: "InvalidParameterValue",
    });
    await expect(
      provider.send(
        new DescribeVpcEndpointConnectionsCommand({ Filters: [{ Name: "owner", Values: ["x"] }] }),
      ),
    ).rejects.toMatchObject({ name: "InvalidParameterValue" });
  });

  it("pages with MaxResults and NextToken", async () => {
    const estate = await serviceAllowing([]);
    for (let i = 0; i < 7; i += 1)
      await proxy.requestConnection({ serviceId: estate.serviceId, owner: QUBOLE });
    const first = await provider.send(new DescribeVpcEndpointConnectionsCommand({ MaxResults: 5 }));
    expect(first.VpcEndpointConnections).toHaveLength(5);
    expect(first.NextToken).toBeTruthy();
    const ids: string[] = [];
    for await (const page of paginateDescribeVpcEndpointConnections({ client: provider, pageSize: 5 }, {})) {
      ids.push(...(page.VpcEndpointConnections ?? []).map((c) => c.VpcEndpointId ?? ""));
    }
    expect(new Set(ids).size).toBe(7);
  });

  it("publishes the service's connection notifications to SNS for Connect, Accept and Delete", async () => {
    const estate = await serviceAllowing([`arn:aws:iam::${QUBOLE}:root`]);
    const topic = await subscribeConnectionNotifications(provider, moto.endpoint, estate.serviceId);
    try {
      const listed = await provider.send(new DescribeVpcEndpointConnectionNotificationsCommand({}));
      expect(listed.ConnectionNotificationSet?.[0]).toMatchObject({
        ConnectionNotificationId: topic.connectionNotificationId,
        ServiceId: estate.serviceId,
        ConnectionNotificationArn: topic.topicArn,
        ConnectionNotificationType: "Topic",
        ConnectionNotificationState: "Enabled",
      });
      const endpointId = await consumerEndpoint(QUBOLE, estate.serviceName);
      await provider.send(
        new AcceptVpcEndpointConnectionsCommand({
          ServiceId: estate.serviceId,
          VpcEndpointIds: [endpointId],
        }),
      );
      const consumer = ec2ClientAs(proxy.endpoint, QUBOLE);
      await consumer.send(new DeleteVpcEndpointsCommand({ VpcEndpointIds: [endpointId] }));
      consumer.destroy();

      const delivered = await topic.drain();
      expect(delivered.map((d) => d.TopicArn)).toEqual([topic.topicArn, topic.topicArn, topic.topicArn]);
      const messages = delivered.map((d) => JSON.parse(d.Message) as Record<string, unknown>);
      expect(messages.map((m) => [m.ConnectionEvents, m.VpcEndpointId, m.VpcEndpointState])).toEqual([
        [["Connect"], endpointId, "pendingAcceptance"],
        [["Accept"], endpointId, "available"],
        [["Delete"], endpointId, "deleted"],
      ]);
    } finally {
      topic.destroy();
    }
  });

  it("fails whole requests on demand and forwards everything else to moto", async () => {
    const vpcs = await provider.send(new DescribeVpcsCommand({}));
    expect((vpcs.Vpcs ?? []).length).toBeGreaterThan(0);
    proxy.failRequests({
      action: "DescribeVpcEndpointConnections",
      status: 503,
      code: "RequestLimitExceeded",
      message: "Request limit exceeded.",
    });
    // The client makes two attempts: the first is throttled, the SDK retries, the second succeeds.
    const out = await provider.send(new DescribeVpcEndpointConnectionsCommand({}));
    expect(out.VpcEndpointConnections ?? []).toEqual([]);
    expect(proxy.calls.filter((c) => c.action === "DescribeVpcEndpointConnections")).toHaveLength(2);
    expect(proxy.calls.every((c) => c.account === MOTO_ACCOUNT)).toBe(true);
  });
});
