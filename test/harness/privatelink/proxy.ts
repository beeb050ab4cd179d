// A small HTTP proxy in front of moto that adds the PrivateLink endpoint-connection actions moto 5 lacks (see
// ./model.ts and ./README.md) and forwards every other request to moto unchanged, so the guardian's real
// @aws-sdk/client-ec2 talks to one endpoint for all of EC2. It also watches the calls that make connections happen:
// CreateVpcEndpointServiceConfiguration (learns the service), CreateVpcEndpoint to a known service (checks the
// service's allowed principals as EC2 does, then records a connection request), DeleteVpcEndpoints (the consumer
// went away); and publishes the connection notifications a service subscribed to through moto's SNS.

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  DescribeVpcEndpointServiceConfigurationsCommand,
  DescribeVpcEndpointServicePermissionsCommand,
  type EC2Client,
} from "@aws-sdk/client-ec2";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { createEc2Client } from "../../../shared/clouds/aws/client.ts";
import { MOTO_ACCOUNT } from "../moto.ts";
import {
  type Caller,
  type ConnectionEventRecord,
  type ConnectionRecord,
  type HandlerResult,
  listParam,
  PrivateLinkState,
} from "./model.ts";
import { allTags, ec2Error, firstTag } from "./xml.ts";

const HOP_BY_HOP = new Set([
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "keep-alive",
  "expect",
]);

export interface RecordedCall {
  action: string;
  account: string;
  region: string;
  params: URLSearchParams;
}

export interface RequestFault {
  action: string;
  status: number;
  code: string;
  message: string;
  remaining: number;
}

export interface PrivateLinkProxy {
  endpoint: string;
  state: PrivateLinkState;
  /** Every EC2 request that reached the proxy, in order (the guardian's and the test's alike). */
  calls: RecordedCall[];
  /** The connection notifications published to SNS so far (what moto's topic received). */
  published: { topicArn: string; message: string }[];
  /**
   * A consumer's connection request without creating its VPC and endpoint in moto (a consumer account the test
   * does not model). Raises Connect like a real request; resolves once its notifications are published.
   */
  requestConnection(input: {
    serviceId: string;
    owner: string;
    vpcEndpointId?: string;
  }): Promise<ConnectionRecord>;
  /** The next `times` requests for `action` fail as a whole with this EC2 error (throttling, a 5xx). */
  failRequests(fault: Omit<RequestFault, "remaining"> & { times?: number }): void;
  reset(): void;
  stop(): Promise<void>;
}

export interface PrivateLinkProxyOptions {
  /** moto's endpoint. */
  target: string;
  now?: () => Date;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** The caller's account as moto decides it (its account header, else its default) and the signed region. */
function callerOf(req: IncomingMessage): Caller & { service: string } {
  const header = req.headers["x-moto-account-id"];
  const account = (Array.isArray(header) ? header[0] : header) ?? MOTO_ACCOUNT;
  const auth = req.headers.authorization ?? "";
  const scope = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(auth);
  return { account, region: scope?.[1] ?? "us-east-1", service: scope?.[2] ?? "ec2" };
}

function accountScopedEc2(endpoint: string, account: string, region: string): EC2Client {
  const client = createEc2Client({
    endpoint,
    region,
    maxAttempts: 1,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers["x-moto-account-id"] = account;
      return next(args);
    },
    { step: "build", name: "motoAccount" },
  );
  return client;
}

/** An IAM principal ARN's account (`arn:aws:iam::111122223333:root`, `:role/x`, `:user/y`). */
function principalAccount(principal: string): string | undefined {
  return /^arn:aws[a-z-]*:iam::(\d{12}):/.exec(principal)?.[1];
}

export async function startPrivateLinkProxy(options: PrivateLinkProxyOptions): Promise<PrivateLinkProxy> {
  const state = new PrivateLinkState(options.now);
  const calls: RecordedCall[] = [];
  const published: { topicArn: string; message: string }[] = [];
  const faults: RequestFault[] = [];
  const pending: ConnectionEventRecord[] = [];
  state.onEvent((event) => pending.push(event));

  const sns = (account: string, region: string) => {
    const client = new SNSClient({
      endpoint: options.target,
      region,
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
      maxAttempts: 1,
    });
    client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers?: Record<string, string> };
        if (request.headers) request.headers["x-moto-account-id"] = account;
        return next(args);
      },
      { step: "build", name: "motoAccount" },
    );
    return client;
  };

  /**
   * Publishes what happened since the last flush to each subscribed notification's topic. The message body is the
   * harness's own (the PrivateLink guide does not publish one): the connection's fields as DescribeVpcEndpoint-
   * Connections names them, plus the event. The guardian treats the message as a trigger and re-reads state.
   */
  async function flush(): Promise<void> {
    const batch = pending.splice(0);
    for (const { event, connection, notification } of batch) {
      const message = JSON.stringify({
        ConnectionNotificationId: notification.connectionNotificationId,
        ConnectionEvents: [event],
        ServiceId: connection.serviceId,
        VpcEndpointId: connection.vpcEndpointId,
        VpcEndpointOwner: connection.vpcEndpointOwner,
        VpcEndpointState: connection.vpcEndpointState,
        CreationTimestamp: connection.creationTimestamp.toISOString(),
      });
      const topicArn = notification.connectionNotificationArn;
      const [, , , region = notification.region, account = notification.account] = topicArn.split(":");
      const client = sns(account, region);
      try {
        await client.send(new PublishCommand({ TopicArn: topicArn, Message: message }));
        published.push({ topicArn, message });
      } finally {
        client.destroy();
      }
    }
  }

  async function forward(
    req: IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; type: string; text: Buffer }> {
    const headers = new Headers();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(key)) {
        headers.set(key, Array.isArray(value) ? value.join(", ") : value);
      }
    }
    const upstream = await fetch(new URL(req.url ?? "/", options.target), {
      method: req.method ?? "POST",
      headers,
      ...(body.length > 0 ? { body } : {}),
    });
    return {
      status: upstream.status,
      type: upstream.headers.get("content-type") ?? "text/xml",
      text: Buffer.from(await upstream.arrayBuffer()),
    };
  }

  /** Whether the consumer account may create an endpoint to the service, as its allowed principals say. */
  async function mayConnect(
    serviceId: string,
    owner: string,
    consumer: string,
    region: string,
  ): Promise<boolean> {
    if (consumer === owner) return true;
    const client = accountScopedEc2(options.target, owner, region);
    try {
      const out = await client.send(
        new DescribeVpcEndpointServicePermissionsCommand({ ServiceId: serviceId }),
      );
      // Org and OU principals need AWS Organizations, which the harness does not model: they grant nobody here.
      return (out.AllowedPrincipals ?? []).some(
        (p) =>
          p.Principal === "*" || (p.Principal !== undefined && principalAccount(p.Principal) === consumer),
      );
    } finally {
      client.destroy();
    }
  }

  async function acceptanceRequired(serviceId: string, owner: string, region: string): Promise<boolean> {
    const client = accountScopedEc2(options.target, owner, region);
    try {
      const out = await client.send(
        new DescribeVpcEndpointServiceConfigurationsCommand({ ServiceIds: [serviceId] }),
      );
      return out.ServiceConfigurations?.[0]?.AcceptanceRequired !== false;
    } finally {
      client.destroy();
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const params = new URLSearchParams(body.toString("utf8"));
    const caller = callerOf(req);
    const action = params.get("Action") ?? "";
    if (caller.service === "ec2")
      calls.push({ action, account: caller.account, region: caller.region, params });
    const send = (result: HandlerResult) => {
      res.writeHead(result.status, { "content-type": "text/xml;charset=UTF-8" });
      res.end(result.xml);
    };

    const fault = faults.find((f) => f.action === action && f.remaining > 0);
    if (caller.service === "ec2" && fault) {
      fault.remaining -= 1;
      send({ status: fault.status, xml: ec2Error(fault.code, fault.message) });
      return;
    }

    if (caller.service === "ec2") {
      switch (action) {
        case "DescribeVpcEndpointConnections":
          return send(state.describeConnections(caller, params));
        case "AcceptVpcEndpointConnections":
        case "RejectVpcEndpointConnections": {
          const result =
            action === "AcceptVpcEndpointConnections"
              ? state.accept(caller, params)
              : state.reject(caller, params);
          // Notifications first: when the caller sees the answer, what AWS would have published has been.
          await flush();
          return send(result);
        }
        case "CreateVpcEndpointConnectionNotification":
          return send(state.createNotification(caller, params));
        case "DescribeVpcEndpointConnectionNotifications":
          return send(state.describeNotifications(caller, params));
        case "DeleteVpcEndpointConnectionNotifications":
          return send(state.deleteNotifications(caller, params));
        default:
          break;
      }
    }

    // A consumer asking for an endpoint to a known endpoint service: EC2 refuses a consumer the service does not
    // allow as if the service did not exist; otherwise the endpoint is created and a connection requested.
    const serviceName = action === "CreateVpcEndpoint" ? params.get("ServiceName") : null;
    const service = serviceName ? state.serviceByName(serviceName) : undefined;
    if (service && !(await mayConnect(service.serviceId, service.account, caller.account, service.region))) {
      send({
        status: 400,
        xml: ec2Error("InvalidServiceName", `The Vpc Endpoint Service '${serviceName}' does not exist`),
      });
      return;
    }
    const upstream = await forward(req, body);
    res.writeHead(upstream.status, { "content-type": upstream.type });
    if (caller.service !== "ec2" || upstream.status !== 200) {
      res.end(upstream.text);
      return;
    }
    const text = upstream.text.toString("utf8");
    if (action === "CreateVpcEndpointServiceConfiguration") {
      const serviceId = firstTag(text, "serviceId");
      const name = firstTag(text, "serviceName");
      if (serviceId && name) {
        const nlbSet = /<networkLoadBalancerArnSet>(.*?)<\/networkLoadBalancerArnSet>/s.exec(text)?.[1] ?? "";
        const glbSet = /<gatewayLoadBalancerArnSet>(.*?)<\/gatewayLoadBalancerArnSet>/s.exec(text)?.[1] ?? "";
        state.registerService({
          serviceId,
          serviceName: name,
          account: caller.account,
          region: caller.region,
          networkLoadBalancerArns: allTags(nlbSet, "item"),
          gatewayLoadBalancerArns: allTags(glbSet, "item"),
        });
      }
    } else if (action === "CreateVpcEndpoint" && service) {
      const vpcEndpointId = firstTag(text, "vpcEndpointId");
      if (vpcEndpointId) {
        const dnsNames = allTags(text, "dnsName");
        const zones = allTags(text, "hostedZoneId");
        state.connect({
          serviceId: service.serviceId,
          owner: caller.account,
          vpcEndpointId,
          acceptanceRequired: await acceptanceRequired(service.serviceId, service.account, service.region),
          dnsEntries: dnsNames.map((dnsName, i) => ({ dnsName, hostedZoneId: zones[i] ?? "" })),
        });
      }
    } else if (action === "DeleteVpcEndpoints") {
      const failed = new Set(allTags(text, "resourceId"));
      for (const id of listParam(params, "VpcEndpointId")) if (!failed.has(id)) state.endpointDeleted(id);
    }
    await flush();
    res.end(upstream.text);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "text/xml" });
        res.end(ec2Error("InternalError", error instanceof Error ? error.message : String(error)));
      } else {
        res.end();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    state,
    calls,
    published,
    async requestConnection(input) {
      const service = state.services.get(input.serviceId);
      if (!service) throw new Error(`harness: unknown endpoint service ${input.serviceId}`);
      const connection = state.connect({
        serviceId: input.serviceId,
        owner: input.owner,
        acceptanceRequired: await acceptanceRequired(service.serviceId, service.account, service.region),
        ...(input.vpcEndpointId !== undefined ? { vpcEndpointId: input.vpcEndpointId } : {}),
      });
      await flush();
      return connection;
    },
    failRequests(fault) {
      const { times, ...rest } = fault;
      faults.push({ ...rest, remaining: times ?? 1 });
    },
    reset() {
      state.reset();
      calls.length = 0;
      published.length = 0;
      faults.length = 0;
      pending.length = 0;
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
