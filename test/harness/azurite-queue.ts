// Azurite's queue service (the Azure Storage emulator from npm) for the reconcile's page queue: started on a free
// loopback port with in-memory persistence, stopped by the test.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";

/** Azurite's well-known development account (documented in Azurite's README; not a secret). */
const ACCOUNT = "devstoreaccount1";
const KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface AzuriteQueue {
  /** An `AzureWebJobsStorage` connection string for the queue service. */
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

export async function startAzuriteQueue(): Promise<AzuriteQueue> {
  const port = await freePort();
  const bin = path.resolve(import.meta.dirname, "../../node_modules/.bin/azurite-queue");
  const child: ChildProcess = spawn(
    bin,
    [
      "--inMemoryPersistence",
      "--skipApiVersionCheck",
      "--silent",
      "--queueHost",
      "127.0.0.1",
      "--queuePort",
      String(port),
    ],
    { stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-2000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const kill = (signal: NodeJS.Signals) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
  };
  const onExit = () => kill("SIGKILL");
  process.once("exit", onExit);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/${ACCOUNT}?comp=list`, {
        signal: AbortSignal.timeout(1000),
      });
      await response.body?.cancel();
      break;
    } catch {
      if (child.exitCode !== null || Date.now() > deadline) {
        kill("SIGKILL");
        throw new Error(`azurite-queue did not start on ${port}: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    connectionString:
      `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${KEY};` +
      `QueueEndpoint=http://127.0.0.1:${port}/${ACCOUNT};`,
    async stop() {
      process.removeListener("exit", onExit);
      kill("SIGTERM");
      const timer = setTimeout(() => kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
