import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { accessSync, constants, rmSync } from "node:fs";
import { createServer } from "node:net";
import path, { delimiter, join } from "node:path";
import type { EC2Client } from "@aws-sdk/client-ec2";
import { createEc2Client } from "../../shared/clouds/aws/client.ts";

const MOTO_COMMAND = "moto_server";
/** The moto the project-local set-up installs: moto 5, pinned so every machine runs the same server. */
export const MOTO_VERSION = "5.2.1";
const MOTO_REQUIREMENT = `moto[server]==${MOTO_VERSION}`;
export const MOTO_INSTALL_HINT = `install it with  pip install '${MOTO_REQUIREMENT}'  or put moto_server on PATH`;

const repoRoot = path.resolve(import.meta.dirname, "../..");

/**
 * Environment overrides, for machines that keep moto elsewhere and for testing the set-up itself:
 * - GUARDIAN_MOTO_SERVER: the moto_server to run instead of the one on PATH (a missing one falls back to the venv);
 * - GUARDIAN_MOTO_VENV: the project-local virtual environment (default .tools/moto-venv, ignored by git);
 * - GUARDIAN_PYTHON: the Python that creates it (default python3);
 * - GUARDIAN_MOTO_UNAVAILABLE: set by the test run's global set-up when moto could not be set up: the one-line
 *   reason every AWS test then fails with.
 */
export const MOTO_ENV = {
  server: "GUARDIAN_MOTO_SERVER",
  venv: "GUARDIAN_MOTO_VENV",
  python: "GUARDIAN_PYTHON",
  unavailable: "GUARDIAN_MOTO_UNAVAILABLE",
} as const;

/** moto's default account; every resource it creates is owned by it. */
export const MOTO_ACCOUNT = "123456789012";

/** moto could not be found or set up; the message is one line saying why and what to do. */
export class MotoUnavailableError extends Error {
  override readonly name = "MotoUnavailableError";
}

export interface MotoServer {
  endpoint: string;
  port: number;
  /** Forgets every resource (POST /moto-api/reset). */
  reset(): Promise<void>;
  /** Stops the server and its process group; resolves once it has exited. Safe to call twice. */
  stop(): Promise<void>;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findOnPath(command: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir !== "" && isExecutable(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

function venvDir(env: NodeJS.ProcessEnv): string {
  return path.resolve(env[MOTO_ENV.venv] ?? path.join(repoRoot, ".tools", "moto-venv"));
}

/** A moto_server that runs (a pyenv shim can exist without moto behind it), or why not. */
function probe(command: string): string | undefined {
  const run = spawnSync(command, ["--help"], { encoding: "utf8", timeout: 30_000 });
  if (run.error === undefined && run.status === 0) return undefined;
  const detail = run.error?.message ?? lastLine(run.stderr) ?? `exit status ${String(run.status)}`;
  return `${command} --help failed: ${detail}`;
}

function lastLine(text: string | undefined): string | undefined {
  return (text ?? "")
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .at(-1);
}

/**
 * The moto_server to run, without installing anything: GUARDIAN_MOTO_SERVER when it exists, else the one on PATH
 * (unless GUARDIAN_MOTO_SERVER named another), else the project-local venv's. Undefined when there is none.
 */
export function locateMoto(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const override = env[MOTO_ENV.server];
  if (override !== undefined && override !== "") {
    if (isExecutable(override)) return override;
  } else {
    const onPath = findOnPath(MOTO_COMMAND, env);
    if (onPath !== undefined && probe(onPath) === undefined) return onPath;
  }
  const local = path.join(venvDir(env), "bin", MOTO_COMMAND);
  return isExecutable(local) ? local : undefined;
}

/**
 * The moto_server to run, setting it up on first use: when none is found, a project-local virtual environment
 * (.tools/moto-venv, ignored by git) with the pinned moto[server] is created, and `say` tells the person waiting.
 * Throws MotoUnavailableError with a one-line reason when Python or the package index cannot be reached.
 */
export function ensureMoto(say: (line: string) => void, env: NodeJS.ProcessEnv = process.env): string {
  const found = locateMoto(env);
  if (found !== undefined) return found;
  const dir = venvDir(env);
  const inside = dir.startsWith(`${process.cwd()}${path.sep}`);
  const shown = inside ? path.relative(process.cwd(), dir) : dir;
  const override = env[MOTO_ENV.server];
  const why = override ? `${override} does not exist` : "moto_server is not on PATH";
  say(`${why}: installing ${MOTO_REQUIREMENT} into ${shown} (first use only, about a minute)`);
  const fail = (reason: string): never => {
    rmSync(dir, { recursive: true, force: true });
    throw new MotoUnavailableError(`cannot set up moto: ${reason}; ${MOTO_INSTALL_HINT}`);
  };
  const python = env[MOTO_ENV.python] ?? "python3";
  const venv = spawnSync(python, ["-m", "venv", dir], { encoding: "utf8", env, timeout: 120_000 });
  if ((venv.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
    fail(`Python 3 is not installed (${python} not found)`);
  }
  if (venv.error !== undefined || venv.status !== 0) {
    fail(
      `${python} -m venv failed: ${venv.error?.message ?? lastLine(venv.stderr) ?? `exit ${venv.status}`}`,
    );
  }
  const pip = spawnSync(
    path.join(dir, "bin", "python"),
    [
      "-m",
      "pip",
      "install",
      "--disable-pip-version-check",
      "--retries",
      "1",
      "--timeout",
      "30",
      MOTO_REQUIREMENT,
    ],
    { encoding: "utf8", env, timeout: 600_000 },
  );
  if (pip.error !== undefined || pip.status !== 0) {
    fail(
      `pip could not install ${MOTO_REQUIREMENT} from the package index (${pip.error?.message ?? lastLine(pip.stderr) ?? `exit ${pip.status}`})`,
    );
  }
  const installed = path.join(dir, "bin", MOTO_COMMAND);
  if (!isExecutable(installed)) fail(`${installed} is missing after pip install`);
  say(`moto ${MOTO_VERSION} installed in ${shown}`);
  return installed;
}

/** The moto_server this process runs, or the one-line reason there is none (the AWS tests fail with it). */
function motoCommand(env: NodeJS.ProcessEnv = process.env): string {
  const unavailable = env[MOTO_ENV.unavailable];
  if (unavailable) throw new MotoUnavailableError(unavailable);
  const command = locateMoto(env);
  if (command === undefined) {
    throw new MotoUnavailableError(
      `moto_server was not found (PATH, .tools/moto-venv); ${MOTO_INSTALL_HINT}`,
    );
  }
  return command;
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

async function startOnce(command: string): Promise<{ server: MotoServer } | { retry: string }> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawn(command, ["-H", "127.0.0.1", "-p", String(port)], {
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
      throw new MotoUnavailableError(
        missing
          ? `${command} not found; ${MOTO_INSTALL_HINT}`
          : `moto_server failed to start: ${spawnError.message}`,
      );
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

/**
 * Throws MotoUnavailableError with the one-line reason when this run has no moto (a suite's beforeAll calls it, so its
 * tests fail with the reason instead of being skipped). Installs nothing.
 */
export function assertMotoInstalled(env: NodeJS.ProcessEnv = process.env): void {
  motoCommand(env);
}

/**
 * Starts moto_server on 127.0.0.1 and a free port; resolves once it answers HTTP. Installs nothing (ensureMoto does,
 * once per test run or demo): rejects with MotoUnavailableError's one-line reason when there is no moto.
 */
export async function startMoto(env: NodeJS.ProcessEnv = process.env): Promise<MotoServer> {
  const command = motoCommand(env);
  // The free port is only reserved until we close it; another process may take it before moto binds.
  let lastFailure = "";
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const started = await startOnce(command);
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
