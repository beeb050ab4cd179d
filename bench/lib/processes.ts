// Fresh Node processes for the benchmarks: an instance of a bundle (bench/child/instance.mjs), the do-nothing
// baseline, and the CLI with its peak memory probed from inside.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { now } from "./stats.ts";

const here = import.meta.dirname;
export const INSTANCE_DRIVER = path.join(here, "..", "child", "instance.mjs");
export const RSS_PROBE = path.join(here, "..", "child", "rss-probe.mjs");
export const ARM_EMULATOR_CHILD = path.join(here, "..", "child", "arm-emulator.ts");

export interface InstanceJob {
  kind: "function-eventgrid" | "lambda";
  bundle: string;
  functionName?: string;
  events: unknown[];
  pacing?: { mode: "serial" } | { mode: "interval"; ms: number } | { mode: "concurrent"; limit: number };
  sampleMemory?: boolean;
}

export interface InstanceResult {
  bootMs: number;
  importMs: number;
  firstEventMs: number;
  restMs: number;
  events: number;
  errors: string[];
  rssAfterImportKb: number;
  maxRssKb: number;
  peakHeapBytes: number;
}

/** Only what a deployed process would have: no host credentials leak into the measured process. */
export function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ["PATH", "HOME", "LANG", "TMPDIR"]) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return { ...env, ...extra };
}

interface Spawned {
  /** From spawn to the first byte on file descriptor 3 (the moment the child says it is done). */
  readyMs: number;
  fd3: string;
  stderr: string;
  code: number | null;
}

function spawnTimed(args: string[], env: Record<string, string>): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const start = now();
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe", "pipe"] });
    let readyMs = Number.NaN;
    let fd3 = "";
    let stderr = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-8000);
    });
    const channel = child.stdio[3];
    if (channel && "on" in channel) {
      channel.on("data", (chunk: Buffer) => {
        if (Number.isNaN(readyMs)) readyMs = now() - start;
        fd3 += chunk.toString("utf8");
      });
    }
    child.once("error", reject);
    child.once("close", (code) => resolve({ readyMs, fd3, stderr, code }));
  });
}

/** A fresh Node process that does nothing but report that it started: the baseline of every cold start. */
export async function baselineProcess(): Promise<number> {
  const run = await spawnTimed(["-e", "require('node:fs').writeSync(3, 'ready')"], cleanEnv({}));
  return run.readyMs;
}

/**
 * The floor under any cold start that talks HTTP: a fresh Node process that loads node:http and node:https as an ES
 * module (Node 24 loads its undici behind them) and makes one request to `url`, nothing of the guardian's.
 */
export async function httpFloorProcess(url: string): Promise<number> {
  const script = [
    'import http from "node:http";',
    'import "node:https";',
    'import { writeSync } from "node:fs";',
    `http.get(${JSON.stringify(url)}, (res) => { res.resume(); res.on("end", () => writeSync(3, "ready")); });`,
  ].join("\n");
  const run = await spawnTimed(["--input-type=module", "-e", script], cleanEnv({}));
  return run.readyMs;
}

/** Runs one instance of a bundle on `job`; `wallMs` is from spawn until the instance reported its result. */
export async function runInstance(
  job: InstanceJob,
  env: Record<string, string>,
): Promise<{ wallMs: number; result: InstanceResult }> {
  const dir = await mkdtemp(path.join(tmpdir(), "guardian-bench-job-"));
  const file = path.join(dir, "job.json");
  try {
    await writeFile(file, JSON.stringify(job));
    const run = await spawnTimed([INSTANCE_DRIVER, file], cleanEnv(env));
    if (run.code !== 0 || run.fd3 === "") {
      throw new Error(`instance of ${job.bundle} failed (exit ${String(run.code)}):\n${run.stderr}`);
    }
    return { wallMs: run.readyMs, result: JSON.parse(run.fd3) as InstanceResult };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs a Node script to completion with its peak memory probed from inside; `wallMs` is spawn to exit. */
export async function runProbed(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ wallMs: number; code: number | null; maxRssKb: number; stderr: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), "guardian-bench-rss-"));
  const file = path.join(dir, "rss.json");
  try {
    const start = now();
    const run = await spawnTimed(
      ["--import", RSS_PROBE, ...args],
      cleanEnv({ ...env, BENCH_RSS_FILE: file }),
    );
    const wallMs = now() - start;
    const probe = JSON.parse(await readFile(file, "utf8")) as { maxRssKb: number };
    return { wallMs, code: run.code, maxRssKb: probe.maxRssKb, stderr: run.stderr };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The ARM emulator in a child process (bench/child/arm-emulator.ts), driven over its stdin and stdout. */
export interface EmulatorProcess {
  url: string;
  ca: string;
  /** Empties the emulator's estate. */
  reset(): Promise<void>;
  /** `seedAzureEstate` in the child; resolves with the seconds it took there. */
  seedAzureEstate(options: { subscriptionId: string; nsgs: number; openEvery: number }): Promise<number>;
  /** Closes its stdin (it stops the emulator and exits) and waits for the exit. */
  stop(): Promise<void>;
}

export async function startEmulatorProcess(pageSize: number): Promise<EmulatorProcess> {
  const child = spawn(process.execPath, [ARM_EMULATOR_CHILD, String(pageSize)], {
    env: cleanEnv({}),
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-8000);
  });
  const exited = once(child, "exit");
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const line = await lines.next();
    if (line.done) throw new Error(`the ARM emulator process exited:\n${stderr}`);
    return JSON.parse(line.value) as Record<string, unknown>;
  };
  const ask = async (command: Record<string, unknown>): Promise<Record<string, unknown>> => {
    child.stdin.write(`${JSON.stringify(command)}\n`);
    const answer = await next();
    if (answer.ok !== true)
      throw new Error(`the ARM emulator process refused ${command.op}: ${String(answer.error)}`);
    return answer;
  };
  try {
    const hello = await next();
    if (typeof hello.url !== "string" || typeof hello.ca !== "string")
      throw new Error("no url and ca from the child");
    return {
      url: hello.url,
      ca: hello.ca,
      reset: async () => void (await ask({ op: "reset" })),
      seedAzureEstate: async (options) => Number((await ask({ op: "seedAzureEstate", ...options })).seconds),
      stop: async () => {
        child.stdin.end();
        await exited;
      },
    };
  } catch (error) {
    child.kill();
    throw error;
  }
}
