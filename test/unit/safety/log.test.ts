// Issue #7 points 26 (log part) and 20 (the logger): a line keeps its event name whatever its data holds, and no value
// (nested thousands of levels, megabytes long, cyclic, a BigInt) can overflow the stack, break serialisation or
// produce a line longer than MAX_LOG_LINE.

import { InvocationContext } from "@azure/functions";
import { describe, expect, it } from "vitest";
import { contextLogger } from "../../../functions/runtime.ts";
import { lambdaLogger } from "../../../lambdas/runtime.ts";
import { jsonLogger, MAX_LOG_LINE, memoryLogger } from "../../../shared/log.ts";
import { captureStdout } from "./fakes.ts";

function jsonLines() {
  const lines: string[] = [];
  return { lines, log: jsonLogger((line) => lines.push(line)) };
}

function deep(levels: number): unknown {
  let value: unknown = { leaf: true };
  for (let i = 0; i < levels; i++) value = { nested: value, list: [i] };
  return value;
}

describe("structured log lines keep their event name (point 26)", () => {
  it("jsonLogger: a `message` in the data is kept under `data`, not written over the event name", () => {
    const { lines, log } = jsonLines();
    log.error("guardian.write-failed", { resourceId: "nsg-web", message: "412 Precondition Failed" });
    log.warn("guardian.conflict", { message: "etag mismatch", level: "debug", attempt: 1 });
    const [failed, conflict] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(failed).toMatchObject({
      level: "error",
      message: "guardian.write-failed",
      resourceId: "nsg-web",
      data: { message: "412 Precondition Failed" },
    });
    expect(conflict).toMatchObject({
      level: "warn",
      message: "guardian.conflict",
      attempt: 1,
      data: { message: "etag mismatch", level: "debug" },
    });
  });

  it("the Function's logger (Application Insights traces) keeps the event name and the invocation id", () => {
    const traces: string[] = [];
    const context = new InvocationContext({
      invocationId: "inv-7",
      functionName: "onChange",
      logHandler: (_level, ...args) => traces.push(String(args[0])),
    });
    contextLogger(context).error("guardian.write-failed", {
      message: "boom",
      invocationId: "forged",
    });
    expect(JSON.parse(traces[0] ?? "{}")).toMatchObject({
      message: "guardian.write-failed",
      invocationId: "inv-7",
      data: { message: "boom", invocationId: "forged" },
    });
  });

  it("the Lambda's logger keeps the event name and the request id", async () => {
    const { lines } = await captureStdout(async () => {
      lambdaLogger("req-1").warn("guardian.conflict", { message: "412", requestId: "forged" });
    });
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({
      level: "warn",
      message: "guardian.conflict",
      requestId: "req-1",
      data: { message: "412", requestId: "forged" },
    });
  });

  it("memoryLogger lines (CLI quiet mode, tests) follow the same rule", () => {
    const log = memoryLogger();
    log.error("guardian.read-failed", { message: "socket hang up" });
    expect(log.lines[0]).toMatchObject({
      message: "guardian.read-failed",
      data: { message: "socket hang up" },
    });
  });

  it("an audit record's own time stands for the line's", () => {
    const { lines, log } = jsonLines();
    log.info("guardian.decision", { time: "2026-11-23T10:00:00.000Z", outcome: "applied" });
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({ time: "2026-11-23T10:00:00.000Z" });
  });
});

describe("no value breaks a log line or makes it unbounded (point 20)", () => {
  it("an event nested 20,000 levels deep is logged, cut at a bounded depth", () => {
    const { lines, log } = jsonLines();
    expect(() => log.error("guardian.deadletter", { event: deep(20_000) })).not.toThrow();
    expect(lines).toHaveLength(1);
    expect(lines[0]?.length).toBeLessThanOrEqual(MAX_LOG_LINE);
    expect(lines[0]).toContain("nested too deep");
    expect(JSON.parse(lines[0] ?? "{}")).toMatchObject({ message: "guardian.deadletter" });
  });

  it("a 5 MB string, a 200,000-item list and 100,000 fields stay under the bound, saying what was left out", () => {
    const { lines, log } = jsonLines();
    const wide = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i]));
    log.error("guardian.deadletter", { body: "x".repeat(5_000_000) });
    log.error("guardian.deadletter", { list: Array.from({ length: 200_000 }, (_, i) => i) });
    log.error("guardian.deadletter", { wide });
    log.error("guardian.deadletter", wide);
    // Wide and deep at once: even the outline is too long, so the line keeps the event name and says what it dropped.
    const tree = (d: number): unknown =>
      d === 0
        ? "y".repeat(300)
        : Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`b${i}`, tree(d - 1)]));
    log.error("guardian.deadletter", { tree: tree(3) });
    expect(lines).toHaveLength(5);
    for (const line of lines) {
      expect(line.length).toBeLessThanOrEqual(MAX_LOG_LINE);
      expect(JSON.parse(line)).toMatchObject({ message: "guardian.deadletter" });
    }
    expect(lines[0]).toContain("…[+");
    expect(lines[1]).toContain("items]");
    expect(lines[2]).toMatch(/\+\d+ fields/);
    expect(lines[3]).toMatch(/\+\d+ fields/);
    expect(JSON.parse(lines[4] ?? "{}")).toMatchObject({ fields: ["tree"] });
    expect(lines[4]).toContain("left out");
  });

  it("cycles, BigInt, errors, throwing getters and a `__proto__` key are written, not thrown", () => {
    const { lines, log } = jsonLines();
    const cyclic: Record<string, unknown> = { name: "a" };
    cyclic.self = cyclic;
    const hostile = {
      get boom(): never {
        throw new Error("getter");
      },
    };
    const protoKey = JSON.parse('{"__proto__": {"polluted": true}}') as unknown;
    expect(() =>
      log.error("guardian.deadletter", {
        cyclic,
        big: 10n ** 30n,
        error: new RangeError("Maximum call stack size exceeded"),
        hostile,
        protoKey,
        nan: Number.NaN,
      }),
    ).not.toThrow();
    const line = JSON.parse(lines[0] ?? "{}") as Record<string, unknown>;
    expect(line).toMatchObject({
      big: "1000000000000000000000000000000",
      error: { name: "RangeError", message: "Maximum call stack size exceeded" },
      nan: "NaN",
    });
    expect(JSON.stringify(line.protoKey)).toBe('{"__proto__":{"polluted":true}}');
    // The same at the top level of the data, on the copying path and on the direct one.
    log.error("guardian.deadletter", protoKey as Record<string, unknown>);
    log.error("guardian.deadletter", { ...(protoKey as object), big: 1n });
    for (const l of lines.slice(1)) expect(l).toContain('"__proto__":{"polluted":true}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
