// A small HTTP proxy in front of moto's EC2 for the tests: it records every EC2 Query API call (Action and form
// parameters), fails calls as a fault plan says (the cloud-neutral vocabulary of test/harness/faults.ts: an error
// status, a reset before or after moto applied the call, a call never answered before or after moto applied it), can
// run a hook just before a call reaches moto (a person editing the group between the guardian's read and its write),
// and answers what moto 5.2 leaves unimplemented.
//
// Error answers follow the EC2 API reference: `<Response><Errors><Error><Code>…` with HTTP 503 for
// RequestLimitExceeded, 500 for InternalError, 403 for UnauthorizedOperation ("Error codes for the Amazon EC2 API").
// Only loopback: it listens on 127.0.0.1 and is stopped by the test.

import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { DescribeSecurityGroupsCommand, type EC2Client, type SecurityGroup } from "@aws-sdk/client-ec2";
import { type CallInfo, type Fault, faultKind } from "./faults.ts";
import { ec2ClientFor } from "./moto.ts";

/**
 * One EC2 call as the proxy's fault plan sees it (test/harness/faults.ts): the shared CallInfo plus the Query API's
 * Action and form parameters. `caller` is the access key of the SigV4 credential.
 */
export interface Ec2CallInfo extends CallInfo {
  action: string;
  params: URLSearchParams;
  /** 0-based position among all calls the proxy received. */
  index: number;
}

/** A fault plan over EC2 calls; `randomFaults(...)` from test/harness/faults.ts is one. */
export interface Ec2FaultPlan {
  decide(call: Ec2CallInfo): Fault | undefined;
}

/** EC2's code and message for a status fault that names none (EC2 API reference, "Error codes"). */
function ec2Error(fault: { status: number; code?: string; message?: string }): {
  code: string;
  message: string;
} {
  if (fault.code !== undefined) return { code: fault.code, message: fault.message ?? fault.code };
  if (fault.status === 503) return { code: "RequestLimitExceeded", message: "Request limit exceeded." };
  if (fault.status === 403)
    return { code: "UnauthorizedOperation", message: "You are not authorized to perform this operation." };
  if (fault.status >= 500) return { code: "InternalError", message: "An internal error has occurred." };
  return { code: "InvalidRequest", message: "The request is not valid." };
}

export interface Ec2Proxy {
  endpoint: string;
  /** The Action of every call received, in order (including failed ones). */
  actions: string[];
  bodies: URLSearchParams[];
  /** Which fault, if any, to inject into a call. None by default. */
  faults: Ec2FaultPlan;
  /** Runs before a call is forwarded to moto (and before a fault that forwards). */
  beforeForward: (call: Ec2CallInfo) => Promise<void>;
  /** Every fault injected, in order. */
  injected: { action: string; fault: Fault }[];
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
    faults: { decide: () => undefined },
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
      const call: Ec2CallInfo = {
        method: req.method ?? "POST",
        path: req.url ?? "/",
        caller: /Credential=([^/]+)\//.exec(req.headers.authorization ?? "")?.[1],
        action: params.get("Action") ?? "(none)",
        params,
        index: proxy.actions.length,
      };
      proxy.actions.push(call.action);
      proxy.bodies.push(params);
      const fault = proxy.faults.decide(call);
      if (fault !== undefined) proxy.injected.push({ action: call.action, fault });
      const kind = fault === undefined ? undefined : faultKind(fault);
      if (fault !== undefined && (fault.kind === undefined || fault.kind === "status")) {
        const { code, message } = ec2Error(fault);
        return fail(res, fault.status, code, message);
      }
      if (kind === "reset-before") {
        req.socket.destroy();
        return;
      }
      // Held open and never answered; stop() destroys it.
      if (kind === "hang") return;
      await proxy.beforeForward(call);
      const upstream = await forward(req, params);
      if (kind === "reset-after") {
        await upstream.arrayBuffer();
        req.socket.destroy();
        return;
      }
      if (kind === "hang-after") {
        await upstream.arrayBuffer();
        return;
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
