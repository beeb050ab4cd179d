// Issue #7 points 19, 20 and 22 at the entry points: the Function's Event Grid handler and the Lambda handler, with
// the real normaliser, pipeline and loggers and in-memory clouds (fakes.ts). Whatever the payload, what escapes is one
// of the project's error classes with a short message, and a malformed item is logged once, itself.

import { InvocationContext } from "@azure/functions";
import type { Context } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { createOnChangeHandler as createFunctionHandler } from "../../../functions/on-change.ts";
import { createOnChangeHandler as createLambdaHandler } from "../../../lambdas/on-change.ts";
import { InputError } from "../../../shared/errors.ts";
import { normalise } from "../../../shared/events/index.ts";
import { MAX_LOG_LINE } from "../../../shared/log.ts";
import { captureStdout, fakeDepsFactory, fixture, lambdaContext, sqsBatch } from "./fakes.ts";

type Handler = (payload: unknown, context: Context) => Promise<unknown>;
const lambda = createLambdaHandler(fakeDepsFactory()) as unknown as Handler;

function functionContext() {
  const traces: string[] = [];
  const context = new InvocationContext({
    invocationId: "3b0c4f7e-1b2c-4d5e-8f9a-0b1c2d3e4f5a",
    functionName: "onChange",
    logHandler: (_level, ...args) => traces.push(String(args[0])),
  });
  return { context, traces };
}

async function runFunction(event: unknown) {
  const handler = createFunctionHandler(fakeDepsFactory());
  const { context, traces } = functionContext();
  try {
    return { result: await handler(event as never, context), error: undefined, traces };
  } catch (error) {
    return { result: undefined, error, traces };
  }
}

function nested(levels: number): unknown {
  let value: unknown = {};
  for (let i = 0; i < levels; i++) value = { a: value };
  return value;
}

/** A ResourceWriteSuccess (Event Grid schema) as the fixture has it, with `data` replaced. */
function writeSuccessWith(over: Record<string, unknown>): Record<string, unknown> {
  const [event] = fixture("events/azure/resource-write-success.eventgrid.json") as Record<string, unknown>[];
  return { ...event, ...over };
}

describe("the Lambda handler takes any payload (point 22)", () => {
  const payloads: [string, unknown][] = [
    ["null", null],
    ["a string", "AWS API Call via CloudTrail"],
    ["a number", 42],
    ["a boolean", true],
    ["a list", []],
    ["Records: [null]", { Records: [null] }],
    ["Records: [{}]", { Records: [{}] }],
    ["a record whose messageId is a number", { Records: [{ messageId: 1, body: "{}" }] }],
    ["a good record then null", { Records: [...sqsBatch(["{}"]).Records, null] }],
  ];
  it.each(payloads)("%s is an InputError, never a TypeError", async (_what, payload) => {
    const { error } = await captureStdout(() => lambda(payload, lambdaContext()));
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message.length).toBeLessThan(200);
  });

  it("an EventBridge event and an SQS batch still run", async () => {
    const event = fixture("events/aws/authorize-ingress-v108-ruleset.json");
    const direct = await captureStdout(() => lambda(event, lambdaContext()));
    expect(direct.error).toBeUndefined();
    const batch = await captureStdout(() => lambda(sqsBatch([JSON.stringify(event)]), lambdaContext()));
    expect(batch.error).toBeUndefined();
    expect(batch.result).toEqual({ batchItemFailures: [] });
  });
});

describe("depth and size are bounded before anything recurses (point 20)", () => {
  it("normalise refuses a delivery nested 100,000 levels deep with a short InputError", () => {
    expect(() => normalise(nested(100_000))).toThrow(InputError);
    expect(() => normalise(nested(100_000))).toThrow(/nested too deep: more than 64 levels/);
  });

  it("the Function handler rejects a deep event as input (dead-letter path), not with a RangeError", async () => {
    const { error, traces } = await runFunction(writeSuccessWith({ data: nested(100_000) }));
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message).toMatch(/nested too deep/);
    for (const trace of traces) expect(trace.length).toBeLessThanOrEqual(MAX_LOG_LINE);
  });

  it("a 5 MB resource id is refused as too large, and never echoed whole", async () => {
    const huge = `/subscriptions/${"a".repeat(5_000_000)}`;
    const { error, traces } = await runFunction(writeSuccessWith({ subject: huge }));
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message.length).toBeLessThan(200);
    for (const trace of traces) expect(trace.length).toBeLessThanOrEqual(MAX_LOG_LINE);
  });

  it("an id just under the size bound is reported malformed with a clipped message", async () => {
    const long = `nsg-web-${"b".repeat(1_000_000)}`;
    const event = writeSuccessWith({ subject: long });
    event.data = { ...(event.data as object), resourceUri: long };
    const { error, traces } = await runFunction(event);
    expect(error).toBeInstanceOf(InputError);
    expect((error as Error).message.length).toBeLessThan(5_000);
    for (const trace of traces) expect(trace.length).toBeLessThanOrEqual(MAX_LOG_LINE);
  });

  it("an SQS body of 300,000 values is refused for that record only", async () => {
    const body = JSON.stringify(Array.from({ length: 300_000 }, () => 0));
    const good = JSON.stringify(fixture("events/aws/authorize-ingress-v108-ruleset.json"));
    const batch = sqsBatch([body, good]);
    const { result, error, lines } = await captureStdout(() => lambda(batch, lambdaContext()));
    expect(error).toBeUndefined();
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: batch.Records[0]?.messageId }] });
    const failed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(failed.find((l) => l.message === "guardian.record-failed")).toMatchObject({
      messageId: batch.Records[0]?.messageId,
      data: { message: expect.stringMatching(/too large/) },
    });
  });
});

describe("a malformed item is logged once, itself, not the whole delivery (point 19)", () => {
  // Items that name an event type the guardian handles but lack what it needs: each is malformed.
  const items = Array.from({ length: 40 }, (_, i) => ({
    id: `bad-${i}`,
    eventType: "Microsoft.Resources.ResourceWriteSuccess",
    subject: "",
    eventTime: "2024-05-31T09:12:04Z",
    dataVersion: "2",
    metadataVersion: "1",
    data: { note: "x".repeat(700) },
  }));

  it("an SQS body holding a batch of 40 bad events logs 40 lines, each with its own item, index and message id", async () => {
    const body = JSON.stringify(items);
    const batch = sqsBatch([body]);
    const { result, lines } = await captureStdout(() => lambda(batch, lambdaContext()));
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: batch.Records[0]?.messageId }] });
    const dead = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.message === "guardian.deadletter");
    expect(dead).toHaveLength(items.length);
    dead.forEach((line, i) => {
      expect(line).toMatchObject({
        what: "event",
        reason: "malformed",
        messageId: batch.Records[0]?.messageId,
        index: i,
        batchSize: items.length,
        event: { id: `bad-${i}` },
      });
    });
    // Today each line carried the whole body: 40 × 31 KB. Now the log is about the size of the body itself.
    const logged = lines.reduce((n, l) => n + l.length, 0);
    expect(logged).toBeLessThan(2 * body.length);
  });

  it("the Function handler logs a malformed event once", async () => {
    const { error, traces } = await runFunction(items[0]);
    expect(error).toBeInstanceOf(InputError);
    const dead = traces
      .map((t) => JSON.parse(t) as Record<string, unknown>)
      .filter((t) => t.message === "guardian.deadletter");
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ event: { id: "bad-0" } });
  });
});
