// A small HTTP proxy in front of moto's EC2 for the tests: it records every EC2 Query API call (Action and form
// parameters), can fail chosen calls the ways a network and EC2 fail (throttling, 5xx, a connection reset before or
// after moto applied the call, a call that never answers), can run a hook just before a call reaches moto (a person
// editing the group between the guardian's read and its write), and answers what moto 5.2 leaves unimplemented.
//
// Fault shapes follow the EC2 API reference: errors are `<Response><Errors><Error><Code>…` with HTTP 503 for
// RequestLimitExceeded and 500/503 for InternalError/Unavailable ("Error codes for the Amazon EC2 API").
// Only loopback: it listens on 127.0.0.1 and is stopped by the test.

import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { DescribeSecurityGroupsCommand, type EC2Client, type SecurityGroup } from "@aws-sdk/client-ec2";
import { ec2ClientFor } from "./moto.ts";

/**
 * - `throttle`: 503 RequestLimitExceeded, not forwarded (EC2 did nothing).
 * - `server-error`: 500 InternalError, not forwarded.
 * - `server-error-after`: forwarded (moto applied it), then 503 Unavailable instead of moto's answer.
 * - `reset-before`: the connection is reset before the call reaches moto.
 * - `reset-after`: forwarded (moto applied it), then the connection is reset instead of answering.
 * - `black-hole`: never answered (until the client gives up or the proxy stops).
 * - `unauthorized`: 403 UnauthorizedOperation, not forwarded (the role lacks the permission).
 */
export type Ec2Fault =
  | "throttle"
  | "server-error"
  | "server-error-after"
  | "reset-before"
  | "reset-after"
  | "black-hole"
  | "unauthorized";

export interface Ec2Call {
  action: string;
  params: URLSearchParams;
  /** 0-based position among all calls the proxy received. */
  index: number;
}

export interface Ec2Proxy {
  endpoint: string;
  /** The Action of every call received, in order (including failed ones). */
  actions: string[];
  bodies: URLSearchParams[];
  /** Which fault, if any, to inject into a call. */
  fault: (call: Ec2Call) => Ec2Fault | undefined;
  /** Runs before a call is forwarded to moto (and before a fault that forwards). */
  beforeForward: (call: Ec2Call) => Promise<void>;
  /** Every fault injected, in order. */
  injected: { action: string; fault: Ec2Fault }[];
  /** Calls moto applied, by Action (a call faulted before forwarding is not counted). */
  applied: string[];
  stop(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "keep-alive",
  "expect",
]);

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export function ec2ErrorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`;
}

// moto 5.2 raises NotImplemented for these DescribeSecurityGroups filters (EC2 API reference: "ip-permission.
// prefix-list-id - The ID of a prefix list to which a security group rule allows inbound access", and the egress one).
const PREFIX_LIST_FILTERS: Record<string, (g: SecurityGroup) => string[]> = {
  "ip-permission.prefix-list-id": (g) =>
    (g.IpPermissions ?? []).flatMap((p) => (p.PrefixListIds ?? []).map((l) => l.PrefixListId ?? "")),
  "egress.ip-permission.prefix-list-id": (g) =>
    (g.IpPermissionsEgress ?? []).flatMap((p) => (p.PrefixListIds ?? []).map((l) => l.PrefixListId ?? "")),
};

interface QueryFilter {
  name: string;
  values: string[];
}

function filtersOf(params: URLSearchParams): QueryFilter[] {
  const out: QueryFilter[] = [];
  for (let n = 1; params.has(`Filter.${n}.Name`); n++) {
    const values: string[] = [];
    for (let m = 1; params.has(`Filter.${n}.Value.${m}`); m++)
      values.push(params.get(`Filter.${n}.Value.${m}`) ?? "");
    out.push({ name: params.get(`Filter.${n}.Name`) ?? "", values });
  }
  return out;
}

function regionOf(req: IncomingMessage): string {
  // SigV4: Credential=<key>/<date>/<region>/ec2/aws4_request
  return /Credential=[^/]+\/\d{8}\/([^/]+)\/ec2\//.exec(req.headers.authorization ?? "")?.[1] ?? "us-east-1";
}

/** Rewrites the unimplemented prefix-list filters into a group-id filter computed from moto's own state. */
async function emulateFilters(params: URLSearchParams, moto: (region: string) => EC2Client, region: string) {
  if (params.get("Action") !== "DescribeSecurityGroups") return params;
  const filters = filtersOf(params);
  const emulated = filters.filter((f) => f.name in PREFIX_LIST_FILTERS);
  if (emulated.length === 0) return params;
  const groups: SecurityGroup[] = [];
  let token: string | undefined;
  do {
    const page = await moto(region).send(new DescribeSecurityGroupsCommand({ NextToken: token }));
    groups.push(...(page.SecurityGroups ?? []));
    token = page.NextToken;
  } while (token);
  const ids = groups
    .filter((g) =>
      emulated.every((f) => (PREFIX_LIST_FILTERS[f.name]?.(g) ?? []).some((id) => f.values.includes(id))),
    )
    .map((g) => g.GroupId ?? "");
  const kept = filters.filter((f) => !(f.name in PREFIX_LIST_FILTERS));
  // No group matches: a group id nothing has, so moto answers an empty list.
  kept.push({ name: "group-id", values: ids.length > 0 ? ids : ["sg-00000000000000000"] });
  const out = new URLSearchParams();
  for (const [key, value] of params) if (!key.startsWith("Filter.")) out.append(key, value);
  kept.forEach((f, i) => {
    out.append(`Filter.${i + 1}.Name`, f.name);
    f.values.forEach((v, j) => {
      out.append(`Filter.${i + 1}.Value.${j + 1}`, v);
    });
  });
  return out;
}

/** Starts the proxy in front of `target` (moto's endpoint). Nothing is faulted until `fault` is set. */
export async function startEc2Proxy(target: string): Promise<Ec2Proxy> {
  const sockets = new Set<Socket>();
  const helpers = new Map<string, EC2Client>();
  const moto = (region: string) => {
    let client = helpers.get(region);
    if (client === undefined) {
      client = ec2ClientFor(target);
      helpers.set(region, client);
    }
    return client;
  };
  const proxy: Ec2Proxy = {
    endpoint: "",
    actions: [],
    bodies: [],
    fault: () => undefined,
    beforeForward: async () => undefined,
    injected: [],
    applied: [],
    stop: async () => undefined,
  };

  const forward = async (req: IncomingMessage, params: URLSearchParams): Promise<Response> => {
    const headers = new Headers();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(key)) {
        headers.set(key, Array.isArray(value) ? value.join(", ") : value);
      }
    }
    const body = (await emulateFilters(params, moto, regionOf(req))).toString();
    const upstream = await fetch(new URL(req.url ?? "/", target), {
      method: req.method ?? "POST",
      headers,
      body,
    });
    proxy.applied.push(params.get("Action") ?? "(none)");
    return upstream;
  };

  const reply = async (res: ServerResponse, upstream: Response) => {
    const payload = Buffer.from(await upstream.arrayBuffer());
    res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "text/xml" });
    res.end(payload);
  };

  const fail = (res: ServerResponse, status: number, code: string, message: string) => {
    res.writeHead(status, { "content-type": "text/xml;charset=UTF-8" });
    res.end(ec2ErrorXml(code, message));
  };

  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const params = new URLSearchParams(body.toString("utf8"));
      const call: Ec2Call = {
        action: params.get("Action") ?? "(none)",
        params,
        index: proxy.actions.length,
      };
      proxy.actions.push(call.action);
      proxy.bodies.push(params);
      const fault = proxy.fault(call);
      if (fault !== undefined) proxy.injected.push({ action: call.action, fault });
      switch (fault) {
        case "throttle":
          return fail(res, 503, "RequestLimitExceeded", "Request limit exceeded.");
        case "server-error":
          return fail(res, 500, "InternalError", "An internal error has occurred.");
        case "unauthorized":
          return fail(res, 403, "UnauthorizedOperation", "You are not authorized to perform this operation.");
        case "reset-before":
          req.socket.destroy();
          return;
        case "black-hole":
          // Hold the connection open and never answer; stop() destroys it.
          return;
        default:
          break;
      }
      await proxy.beforeForward(call);
      const upstream = await forward(req, params);
      if (fault === "reset-after") {
        await upstream.arrayBuffer();
        req.socket.destroy();
        return;
      }
      if (fault === "server-error-after") {
        await upstream.arrayBuffer();
        return fail(res, 503, "Unavailable", "The server is overloaded and can't handle the request.");
      }
      await reply(res, upstream);
    })().catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(String(error));
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  proxy.endpoint = `http://127.0.0.1:${port}`;
  proxy.stop = async () => {
    for (const client of helpers.values()) client.destroy();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve, reject) =>
      server.close((error) => (error ? reject(error) : resolve())),
    );
  };
  return proxy;
}
