// Azurite (the Azure Storage emulator from npm) for the queue and table tests: started on free loopback ports with
// in-memory persistence, stopped by the test.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";

/** Azurite's well-known development account (documented in Azurite's README; not a secret). */
const ACCOUNT = "devstoreaccount1";
const KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface Azurite {
  connectionString: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

async function listening(port: number, deadline: number): Promise<void> {
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`azurite did not listen on ${port}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function startAzurite(): Promise<Azurite> {
  const [blobPort, queuePort, tablePort] = [await freePort(), await freePort(), await freePort()];
  const bin = path.resolve(import.meta.dirname, "../../node_modules/.bin/azurite");
  const child: ChildProcess = spawn(
    bin,
    [
      "--inMemoryPersistence",
      "--skipApiVersionCheck",
      "--silent",
      "--blobHost",
      "127.0.0.1",
      "--queueHost",
      "127.0.0.1",
      "--tableHost",
      "127.0.0.1",
      "--blobPort",
      String(blobPort),
      "--queuePort",
      String(queuePort),
      "--tablePort",
      String(tablePort),
    ],
    { stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-2000);
  });
  const kill = () => {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        child.kill("SIGTERM");
      }
    }
  };
  process.once("exit", kill);
  try {
    const deadline = Date.now() + 30_000;
    await listening(queuePort, deadline);
    await listening(tablePort, deadline);
  } catch (error) {
    kill();
    throw new Error(`${(error as Error).message}: ${stderr}`);
  }
  return {
    connectionString: [
      "DefaultEndpointsProtocol=http",
      `AccountName=${ACCOUNT}`,
      `AccountKey=${KEY}`,
      `QueueEndpoint=http://127.0.0.1:${queuePort}/${ACCOUNT}`,
      `TableEndpoint=http://127.0.0.1:${tablePort}/${ACCOUNT}`,
    ].join(";"),
    stop: async () => {
      process.removeListener("exit", kill);
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      kill();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    },
  };
}
