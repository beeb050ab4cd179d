import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";
import type { EC2Client } from "@aws-sdk/client-ec2";
import { createEc2Client } from "../../shared/clouds/aws/client.ts";

const MOTO_COMMAND = "moto_server";
export const MOTO_INSTALL_HINT =
  "moto_server was not found on PATH. The AWS integration tests need moto 5 with its server: pip install 'moto[server]'";

/** moto's default account; every resource it creates is owned by it. */
export const MOTO_ACCOUNT = "123456789012";

export interface MotoServer {
  endpoint: string;
  port: number;
  /** Forgets every resource (POST /moto-api/reset). */
  reset(): Promise<void>;
  /** Stops the server and its process group; resolves once it has exited. Safe to call twice. */
  stop(): Promise<void>;
}

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * Checks once that moto_server runs (a pyenv shim can exist without moto behind it). Throws with the
 * install command: the AWS tests must fail, not skip, when moto is missing.
 */
export function assertMotoInstalled(): void {
  if (findOnPath(MOTO_COMMAND) === undefined) throw new Error(MOTO_INSTALL_HINT);
  const probe = spawnSync(MOTO_COMMAND, ["--help"], { encoding: "utf8", timeout: 30_000 });
  if (probe.error !== undefined || probe.status !== 0) {
    const detail = probe.error?.message ?? (probe.stderr.trim() || `exit status ${String(probe.status)}`);
    throw new Error(`${MOTO_INSTALL_HINT}\n(moto_server --help failed: ${detail})`);
  }
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

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || exited(child)) return;
  try {
    // Negative pid: the whole group (a pyenv shim may sit between us and Python).
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

async function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (exited(child)) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function startOnce(): Promise<{ server: MotoServer } | { retry: string }> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(MOTO_COMMAND, ["-H", "127.0.0.1", "-p", String(port)], {
    detached: true,
    stdio: ["ignore", "ignore", "pipe"],
  });
  // moto logs every request to stderr: drain it (a full pipe would block the server) and keep the tail for errors.
  let stderrTail = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-4000);
  });
  let spawnError: Error | undefined;
  child.once("error", (error) => {
    spawnError = error;
  });
  // If the test process dies without stop(), do not leave moto running.
  const onExit = () => killGroup(child, "SIGKILL");
  process.once("exit", onExit);

  const stop = async (): Promise<void> => {
    process.removeListener("exit", onExit);
    killGroup(child, "SIGTERM");
    if (!(await waitForExit(child, 5_000))) {
      killGroup(child, "SIGKILL");
      await waitForExit(child, 5_000);
    }
  };

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (spawnError !== undefined) {
      await stop();
      const missing = (spawnError as NodeJS.ErrnoException).code === "ENOENT";
      throw new Error(missing ? MOTO_INSTALL_HINT : `moto_server failed to start: ${spawnError.message}`);
    }
    if (exited(child)) {
      process.removeListener("exit", onExit);
      if (stderrTail.includes("Address already in use")) return { retry: stderrTail };
      throw new Error(
        `moto_server exited before answering (code ${String(child.exitCode)}):\n${stderrTail}\n${MOTO_INSTALL_HINT}`,
      );
    }
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`moto_server did not answer on ${endpoint} within 30 s:\n${stderrTail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  const reset = async (): Promise<void> => {
    const response = await fetch(`${endpoint}/moto-api/reset`, { method: "POST" });
    const body = await response.text();
    if (!response.ok) throw new Error(`moto reset failed: HTTP ${response.status} ${body}`);
  };
  return { server: { endpoint, port, reset, stop } };
}

/** Starts moto_server on 127.0.0.1 and a free port; resolves once it answers HTTP. */
export async function startMoto(): Promise<MotoServer> {
  if (findOnPath(MOTO_COMMAND) === undefined) throw new Error(MOTO_INSTALL_HINT);
  // The free port is only reserved until we close it; another process may take it before moto binds.
  let lastFailure = "";
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const started = await startOnce();
    if ("server" in started) return started.server;
    lastFailure = started.retry;
  }
  throw new Error(`moto_server could not bind a free port after 3 attempts:\n${lastFailure}`);
}

/** An EC2 client for moto: fixed region, fake static credentials, one retry. */
export function ec2ClientFor(endpoint: string): EC2Client {
  return createEc2Client({
    region: "us-east-1",
    endpoint,
    maxAttempts: 2,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
}
