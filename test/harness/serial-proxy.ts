// A proxy that hands requests to its target one at a time. moto's threaded server evaluates a DynamoDB
// ConditionExpression and then writes without a lock, so two concurrent conditional PutItems on the same key can both
// succeed (three concurrent puts with attribute_not_exists: 1 double success in 400 tries on this machine, and far
// more often when two Lambda handlers claim the same decision in the same tick). DynamoDB's conditional writes are
// atomic; serialising the requests gives tests that semantics without changing what the guardian sends.

import { createServer, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface SerialProxy {
  endpoint: string;
  stop(): Promise<void>;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

function forward(
  target: URL,
  method: string,
  path: string,
  headers: IncomingHttpHeaders,
  body: Buffer,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method,
        path,
        // As sent, host included: the request was signed for it, and moto does not route by it.
        headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

export async function startSerialProxy(targetEndpoint: string): Promise<SerialProxy> {
  const target = new URL(targetEndpoint);
  let queue: Promise<unknown> = Promise.resolve();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const turn = queue.then(() =>
        forward(target, req.method ?? "GET", req.url ?? "/", req.headers, Buffer.concat(chunks)),
      );
      queue = turn.catch(() => undefined);
      turn.then(
        (answer) => {
          const headers = { ...answer.headers };
          delete headers["transfer-encoding"];
          headers["content-length"] = String(answer.body.length);
          res.writeHead(answer.status, headers);
          res.end(answer.body);
        },
        (error: unknown) => {
          res.writeHead(502, { "content-type": "text/plain" });
          res.end(error instanceof Error ? error.message : String(error));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
