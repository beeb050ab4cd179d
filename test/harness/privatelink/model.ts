// The endpoint-connection side of AWS PrivateLink that moto 5 does not implement: the connections between consumers'
// interface endpoints and an endpoint service, and the provider's Describe/Accept/RejectVpcEndpointConnections, as
// the EC2 API reference describes them (request parameters, response shapes, per-item `Unsuccessful` results), plus
// the endpoint service's connection notifications (Create/Describe/DeleteVpcEndpointConnectionNotification[s]).
// Pure state and request handling; the proxy in ./proxy.ts feeds it and forwards everything else to moto.

import { randomBytes } from "node:crypto";
import { ec2Error, ec2Response, type XmlNode } from "./xml.ts";

/** The states the API reference lists for a connection (`State` enum, `vpc-endpoint-state` filter). */
export const CONNECTION_STATES = [
  "pendingAcceptance",
  "pending",
  "available",
  "deleting",
  "deleted",
  "rejected",
  "failed",
] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];

/** The events a connection notification can subscribe to (ConnectionEvents.N). */
export const CONNECTION_EVENTS = ["Accept", "Connect", "Delete", "Reject"] as const;
export type ConnectionEvent = (typeof CONNECTION_EVENTS)[number];

export interface EndpointServiceRecord {
  serviceId: string;
  serviceName: string;
  /** The provider's account: only it describes, accepts and rejects the service's connections. */
  account: string;
  region: string;
  networkLoadBalancerArns: string[];
  gatewayLoadBalancerArns: string[];
}

export interface ConnectionRecord {
  serviceId: string;
  vpcEndpointId: string;
  vpcEndpointOwner: string;
  vpcEndpointState: ConnectionState;
  creationTimestamp: Date;
  vpcEndpointConnectionId: string;
  ipAddressType: "ipv4" | "ipv6" | "dualstack";
  vpcEndpointRegion: string;
  dnsEntries: { dnsName: string; hostedZoneId: string }[];
}

export interface NotificationRecord {
  connectionNotificationId: string;
  serviceId?: string;
  vpcEndpointId?: string;
  connectionNotificationArn: string;
  connectionEvents: ConnectionEvent[];
  connectionNotificationState: "Enabled" | "Disabled";
  account: string;
  region: string;
}

export interface InjectedFailure {
  action: "AcceptVpcEndpointConnections" | "RejectVpcEndpointConnections";
  vpcEndpointId: string;
  code: string;
  message: string;
  /** How many more requests this failure applies to. */
  remaining: number;
}

/** One connection event, as the proxy publishes it to the notifications subscribed to it. */
export interface ConnectionEventRecord {
  event: ConnectionEvent;
  connection: ConnectionRecord;
  notification: NotificationRecord;
}

export interface Caller {
  account: string;
  region: string;
}

export interface HandlerResult {
  status: number;
  xml: string;
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}

/** `Name.1`, `Name.2`, … in index order (the query protocol's list encoding). */
export function listParam(params: URLSearchParams, name: string): string[] {
  const out: { index: number; value: string }[] = [];
  for (const [key, value] of params) {
    const match = new RegExp(`^${name.replace(/\./g, "\\.")}\\.(\\d+)$`).exec(key);
    if (match?.[1]) out.push({ index: Number(match[1]), value });
  }
  return out.sort((a, b) => a.index - b.index).map((e) => e.value);
}

/** `Filter.N.Name` / `Filter.N.Value.M`. */
export function filterParams(params: URLSearchParams): Map<string, string[]> {
  const filters = new Map<string, string[]>();
  for (const [key, name] of params) {
    const match = /^Filter\.(\d+)\.Name$/.exec(key);
    if (!match?.[1]) continue;
    filters.set(name, listParam(params, `Filter.${match[1]}.Value`));
  }
  return filters;
}

const CONNECTION_FILTERS = new Set([
  "ip-address-type",
  "service-id",
  "vpc-endpoint-owner",
  "vpc-endpoint-region",
  "vpc-endpoint-state",
  "vpc-endpoint-id",
]);

function error(status: number, code: string, message: string): HandlerResult {
  return { status, xml: ec2Error(code, message) };
}

function ok(action: string, body: XmlNode): HandlerResult {
  return { status: 200, xml: ec2Response(action, body) };
}

/** EC2 answers a DryRun request with an error either way: DryRunOperation when it would have succeeded. */
function dryRun(params: URLSearchParams): HandlerResult | undefined {
  if (params.get("DryRun") !== "true") return undefined;
  return error(412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.");
}

export class PrivateLinkState {
  readonly services = new Map<string, EndpointServiceRecord>();
  readonly connections = new Map<string, ConnectionRecord>();
  readonly notifications = new Map<string, NotificationRecord>();
  readonly #failures: InjectedFailure[] = [];
  readonly #listeners: ((event: ConnectionEventRecord) => void)[] = [];
  readonly #now: () => Date;

  constructor(now: () => Date = () => new Date()) {
    this.#now = now;
  }

  reset(): void {
    this.services.clear();
    this.connections.clear();
    this.notifications.clear();
    this.#failures.length = 0;
  }

  onEvent(listener: (event: ConnectionEventRecord) => void): void {
    this.#listeners.push(listener);
  }

  registerService(service: EndpointServiceRecord): void {
    this.services.set(service.serviceId, service);
  }

  serviceByName(serviceName: string): EndpointServiceRecord | undefined {
    return [...this.services.values()].find((s) => s.serviceName === serviceName);
  }

  /**
   * A consumer's request to connect (what creating an interface endpoint to the service does): pendingAcceptance
   * when the service requires acceptance, else available at once. Raises Connect.
   */
  connect(input: {
    serviceId: string;
    owner: string;
    acceptanceRequired: boolean;
    vpcEndpointId?: string;
    dnsEntries?: { dnsName: string; hostedZoneId: string }[];
  }): ConnectionRecord {
    const service = this.services.get(input.serviceId);
    if (!service) throw new Error(`harness: unknown endpoint service ${input.serviceId}`);
    const connection: ConnectionRecord = {
      serviceId: service.serviceId,
      vpcEndpointId: input.vpcEndpointId ?? `vpce-${hex(9).slice(0, 17)}`,
      vpcEndpointOwner: input.owner,
      vpcEndpointState: input.acceptanceRequired ? "pendingAcceptance" : "available",
      creationTimestamp: this.#now(),
      vpcEndpointConnectionId: `vpce-con-${hex(9).slice(0, 17)}`,
      ipAddressType: "ipv4",
      vpcEndpointRegion: service.region,
      dnsEntries: input.dnsEntries ?? [],
    };
    this.connections.set(connection.vpcEndpointId, connection);
    this.#raise("Connect", connection);
    return connection;
  }

  /** The consumer deleted its endpoint. Raises Delete. */
  endpointDeleted(vpcEndpointId: string): void {
    const connection = this.connections.get(vpcEndpointId);
    if (!connection || connection.vpcEndpointState === "deleted") return;
    connection.vpcEndpointState = "deleted";
    this.#raise("Delete", connection);
  }

  /** Makes the next `times` Accept/Reject requests naming this endpoint report it as Unsuccessful, unchanged. */
  failNext(failure: Omit<InjectedFailure, "remaining"> & { times?: number }): void {
    const { times, ...rest } = failure;
    this.#failures.push({ ...rest, remaining: times ?? 1 });
  }

  #raise(event: ConnectionEvent, connection: ConnectionRecord): void {
    for (const notification of this.notifications.values()) {
      if (notification.connectionNotificationState !== "Enabled") continue;
      if (!notification.connectionEvents.includes(event)) continue;
      const forService = notification.serviceId === connection.serviceId;
      const forEndpoint = notification.vpcEndpointId === connection.vpcEndpointId;
      if (!forService && !forEndpoint) continue;
      const snapshot = { ...connection, dnsEntries: [...connection.dnsEntries] };
      for (const listener of this.#listeners) listener({ event, connection: snapshot, notification });
    }
  }

  #ownedService(caller: Caller, serviceId: string | null): EndpointServiceRecord | HandlerResult {
    if (!serviceId) return error(400, "MissingParameter", "The request must contain the parameter ServiceId");
    const service = this.services.get(serviceId);
    // Another account's service is as invisible to the caller as one that does not exist.
    if (!service || service.account !== caller.account || service.region !== caller.region) {
      return error(
        400,
        "InvalidVpcEndpointServiceId.NotFound",
        `The Vpc Endpoint Service Id '${serviceId}' does not exist`,
      );
    }
    return service;
  }

  describeConnections(caller: Caller, params: URLSearchParams): HandlerResult {
    const dry = dryRun(params);
    if (dry) return dry;
    const filters = filterParams(params);
    for (const name of filters.keys()) {
      if (!CONNECTION_FILTERS.has(name)) {
        return error(400, "InvalidParameterValue", `The filter '${name}' is invalid`);
      }
    }
    const maxRaw = params.get("MaxResults");
    let max = 1000;
    if (maxRaw !== null) {
      const n = Number(maxRaw);
      if (!Number.isInteger(n) || n < 5) {
        return error(
          400,
          "InvalidParameterValue",
          `Value ( ${maxRaw} ) for parameter maxResults is invalid. Expecting a value greater than 4.`,
        );
      }
      max = Math.min(n, 1000);
    }
    const matches = (name: string, value: string) => {
      const wanted = filters.get(name);
      return wanted === undefined || wanted.includes(value);
    };
    const visible = [...this.connections.values()].filter((c) => {
      const service = this.services.get(c.serviceId);
      return (
        service !== undefined &&
        service.account === caller.account &&
        service.region === caller.region &&
        matches("service-id", c.serviceId) &&
        matches("vpc-endpoint-id", c.vpcEndpointId) &&
        matches("vpc-endpoint-owner", c.vpcEndpointOwner) &&
        matches("vpc-endpoint-state", c.vpcEndpointState) &&
        matches("ip-address-type", c.ipAddressType) &&
        matches("vpc-endpoint-region", c.vpcEndpointRegion)
      );
    });
    let start = 0;
    const token = params.get("NextToken");
    if (token !== null) {
      const decoded = Number(Buffer.from(token, "base64url").toString("utf8"));
      if (!Number.isInteger(decoded) || decoded < 0 || decoded > visible.length) {
        return error(400, "InvalidPaginationToken", `Invalid pagination token: ${token}`);
      }
      start = decoded;
    }
    const page = visible.slice(start, start + max);
    const next =
      start + max < visible.length ? Buffer.from(String(start + max)).toString("base64url") : undefined;
    return ok("DescribeVpcEndpointConnections", {
      vpcEndpointConnectionSet: page.map((c) => this.#connectionXml(c)),
      nextToken: next,
    });
  }

  #connectionXml(c: ConnectionRecord): XmlNode {
    const service = this.services.get(c.serviceId);
    return {
      serviceId: c.serviceId,
      vpcEndpointId: c.vpcEndpointId,
      vpcEndpointOwner: c.vpcEndpointOwner,
      vpcEndpointState: c.vpcEndpointState,
      creationTimestamp: c.creationTimestamp.toISOString(),
      dnsEntrySet: c.dnsEntries.map((d) => ({ dnsName: d.dnsName, hostedZoneId: d.hostedZoneId })),
      networkLoadBalancerArnSet: service?.networkLoadBalancerArns ?? [],
      gatewayLoadBalancerArnSet: service?.gatewayLoadBalancerArns ?? [],
      ipAddressType: c.ipAddressType,
      vpcEndpointConnectionId: c.vpcEndpointConnectionId,
      tagSet: [],
      vpcEndpointRegion: c.vpcEndpointRegion,
    };
  }

  accept(caller: Caller, params: URLSearchParams): HandlerResult {
    return this.#decide("AcceptVpcEndpointConnections", caller, params);
  }

  reject(caller: Caller, params: URLSearchParams): HandlerResult {
    return this.#decide("RejectVpcEndpointConnections", caller, params);
  }

  #decide(
    action: "AcceptVpcEndpointConnections" | "RejectVpcEndpointConnections",
    caller: Caller,
    params: URLSearchParams,
  ): HandlerResult {
    const service = this.#ownedService(caller, params.get("ServiceId"));
    if ("status" in service) return service;
    const ids = listParam(params, "VpcEndpointId");
    if (ids.length === 0) {
      return error(400, "MissingParameter", "The request must contain the parameter VpcEndpointId");
    }
    const dry = dryRun(params);
    if (dry) return dry;
    const unsuccessful: XmlNode[] = [];
    const fail = (id: string, code: string, message: string) =>
      unsuccessful.push({ error: { code, message }, resourceId: id });
    const changed: { event: ConnectionEvent; connection: ConnectionRecord }[] = [];
    for (const id of ids) {
      const injected = this.#failures.find(
        (f) => f.action === action && f.vpcEndpointId === id && f.remaining > 0,
      );
      if (injected) {
        injected.remaining -= 1;
        fail(id, injected.code, injected.message);
        continue;
      }
      const connection = this.connections.get(id);
      if (
        !connection ||
        connection.serviceId !== service.serviceId ||
        connection.vpcEndpointState === "deleted"
      ) {
        fail(id, "InvalidVpcEndpoint.NotFound", `The Vpc Endpoint Id '${id}' does not exist`);
        continue;
      }
      const state = connection.vpcEndpointState;
      if (action === "AcceptVpcEndpointConnections") {
        // Accepting what is already accepted changes nothing and is not an error.
        if (state === "available") continue;
        if (state !== "pendingAcceptance") {
          fail(id, "IncorrectState", `The Vpc Endpoint '${id}' is in state ${state} and cannot be accepted`);
          continue;
        }
        connection.vpcEndpointState = "available";
        changed.push({ event: "Accept", connection });
      } else {
        // The user guide: a connection can be rejected while pending and also once available.
        if (state === "rejected") continue;
        if (state !== "pendingAcceptance" && state !== "available") {
          fail(id, "IncorrectState", `The Vpc Endpoint '${id}' is in state ${state} and cannot be rejected`);
          continue;
        }
        connection.vpcEndpointState = "rejected";
        changed.push({ event: "Reject", connection });
      }
    }
    for (const { event, connection } of changed) this.#raise(event, connection);
    return ok(action, { unsuccessful });
  }

  createNotification(caller: Caller, params: URLSearchParams): HandlerResult {
    const arn = params.get("ConnectionNotificationArn");
    if (!arn) {
      return error(
        400,
        "MissingParameter",
        "The request must contain the parameter ConnectionNotificationArn",
      );
    }
    const events = listParam(params, "ConnectionEvents");
    if (events.length === 0) {
      return error(400, "MissingParameter", "The request must contain the parameter ConnectionEvents");
    }
    const invalid = events.find((e) => !(CONNECTION_EVENTS as readonly string[]).includes(e));
    if (invalid !== undefined) {
      return error(400, "InvalidParameterValue", `Invalid connection event: ${invalid}`);
    }
    const serviceId = params.get("ServiceId");
    const vpcEndpointId = params.get("VpcEndpointId");
    if ((serviceId === null) === (vpcEndpointId === null)) {
      return error(400, "InvalidParameterCombination", "Specify either ServiceId or VpcEndpointId");
    }
    if (serviceId !== null) {
      const service = this.#ownedService(caller, serviceId);
      if ("status" in service) return service;
    }
    const dry = dryRun(params);
    if (dry) return dry;
    const notification: NotificationRecord = {
      connectionNotificationId: `vpce-nfn-${hex(9).slice(0, 17)}`,
      connectionNotificationArn: arn,
      connectionEvents: events as ConnectionEvent[],
      connectionNotificationState: "Enabled",
      account: caller.account,
      region: caller.region,
      ...(serviceId !== null ? { serviceId } : {}),
      ...(vpcEndpointId !== null ? { vpcEndpointId } : {}),
    };
    this.notifications.set(notification.connectionNotificationId, notification);
    return ok("CreateVpcEndpointConnectionNotification", {
      connectionNotification: this.#notificationXml(notification),
      clientToken: params.get("ClientToken") ?? undefined,
    });
  }

  describeNotifications(caller: Caller, params: URLSearchParams): HandlerResult {
    const dry = dryRun(params);
    if (dry) return dry;
    const id = params.get("ConnectionNotificationId");
    const mine = [...this.notifications.values()].filter(
      (n) => n.account === caller.account && n.region === caller.region,
    );
    const found = id === null ? mine : mine.filter((n) => n.connectionNotificationId === id);
    if (id !== null && found.length === 0) {
      return error(
        400,
        "InvalidConnectionNotification",
        `The connection notification '${id}' does not exist`,
      );
    }
    return ok("DescribeVpcEndpointConnectionNotifications", {
      connectionNotificationSet: found.map((n) => this.#notificationXml(n)),
    });
  }

  deleteNotifications(caller: Caller, params: URLSearchParams): HandlerResult {
    const dry = dryRun(params);
    if (dry) return dry;
    const ids = listParam(params, "ConnectionNotificationId");
    const unsuccessful: XmlNode[] = [];
    for (const id of ids) {
      const n = this.notifications.get(id);
      if (!n || n.account !== caller.account || n.region !== caller.region) {
        unsuccessful.push({
          error: {
            code: "InvalidConnectionNotification",
            message: `The connection notification '${id}' does not exist`,
          },
          resourceId: id,
        });
        continue;
      }
      this.notifications.delete(id);
    }
    return ok("DeleteVpcEndpointConnectionNotifications", { unsuccessful });
  }

  #notificationXml(n: NotificationRecord): XmlNode {
    return {
      connectionNotificationId: n.connectionNotificationId,
      serviceId: n.serviceId,
      vpcEndpointId: n.vpcEndpointId,
      connectionNotificationType: "Topic",
      connectionNotificationArn: n.connectionNotificationArn,
      connectionEvents: n.connectionEvents,
      connectionNotificationState: n.connectionNotificationState,
      serviceRegion: n.region,
    };
  }

  /** Connections that keep a service from being deleted (the API's ExistingVpcEndpointConnections error). */
  liveConnections(serviceId: string): ConnectionRecord[] {
    return [...this.connections.values()].filter(
      (c) =>
        c.serviceId === serviceId &&
        (c.vpcEndpointState === "available" || c.vpcEndpointState === "pendingAcceptance"),
    );
  }
}
