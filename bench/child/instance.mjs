// One fresh "instance" of a deployed bundle, as a cold execution environment sees it: import the esbuild bundle, then
// hand it the events listed in the job file the way its host would (the Functions worker protocol through the
// functions-core stand-in, or the Lambda runtime's handler(event, context)). Plain JavaScript so that nothing but
// the bundle is compiled on the measured path. The result goes to file descriptor 3, so the bundle's own stdout
// (Lambda's JSON log lines) never mixes with it.
import { randomUUID } from "node:crypto";
import { readFileSync, writeSync } from "node:fs";
import { pathToFileURL } from "node:url";

const bootMs = performance.now();
const job = JSON.parse(readFileSync(process.argv[2], "utf8"));

let peakHeap = 0;
const sampler = job.sampleMemory
  ? setInterval(() => {
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    }, 10)
  : undefined;

function lambdaContext() {
  const requestId = randomUUID();
  const deadline = Date.now() + 60_000;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: "network-guardian-on-change",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:network-guardian-on-change",
    memoryLimitInMB: "256",
    awsRequestId: requestId,
    logGroupName: "/aws/lambda/network-guardian-on-change",
    logStreamName: `2025/01/01/[$LATEST]${requestId.replace(/-/g, "")}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

function functionsInvoker(name) {
  const core = globalThis.__guardianBenchCore;
  const fn = core?.functions.find((f) => f.metadata.name === name);
  if (!core?.model || !fn) throw new Error(`the bundle registered no function ${name}`);
  const [triggerName, trigger] = Object.entries(fn.metadata.bindings).find(([, b]) =>
    /trigger$/i.test(b.type),
  );
  return async (payload) => {
    const invocationId = randomUUID();
    // The worker's RPC typed data: Event Grid events arrive as JSON.
    if (trigger.type.toLowerCase() !== "eventgridtrigger")
      throw new Error(`unexpected trigger ${trigger.type}`);
    const data = { json: JSON.stringify(payload) };
    const coreCtx = {
      invocationId,
      metadata: fn.metadata,
      request: { invocationId, inputData: [{ name: triggerName, data }], triggerMetadata: {} },
      state: undefined,
      log() {},
    };
    const model = core.model.getInvocationModel(coreCtx);
    const { context, inputs } = await model.getArguments();
    const result = await model.invokeFunction(context, inputs, fn.callback);
    return model.getResponse(context, result);
  };
}

async function paced(events, pacing, invoke) {
  const errors = [];
  const run = (event) =>
    invoke(event).then(
      () => undefined,
      (error) => {
        errors.push(error instanceof Error ? error.message : String(error));
      },
    );
  if (pacing.mode === "serial") {
    for (const event of events) await run(event);
  } else if (pacing.mode === "interval") {
    // Arrivals on a fixed clock, each invocation independent of the others (the host runs them concurrently).
    const pending = [];
    const start = performance.now();
    for (let i = 0; i < events.length; i++) {
      const due = start + i * pacing.ms;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      pending.push(run(events[i]));
    }
    await Promise.all(pending);
  } else {
    let next = 0;
    const worker = async () => {
      while (next < events.length) await run(events[next++]);
    };
    await Promise.all(Array.from({ length: pacing.limit }, worker));
  }
  return errors;
}

const t0 = performance.now();
const mod = await import(pathToFileURL(job.bundle).href);
const t1 = performance.now();
const rssAfterImportKb = Math.round(process.memoryUsage.rss() / 1024);
const invoke =
  job.kind === "lambda" ? (event) => mod.handler(event, lambdaContext()) : functionsInvoker(job.functionName);
// Alone, the first event is what a cold start pays; under a pacing (storms) every event takes its turn in it.
const [first, ...rest] = job.pacing ? [undefined, ...job.events] : job.events;
const firstErrors = first === undefined ? [] : await paced([first], { mode: "serial" }, invoke);
const t2 = performance.now();
const restErrors = await paced(rest, job.pacing ?? { mode: "serial" }, invoke);
const t3 = performance.now();
if (sampler) clearInterval(sampler);
peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
const result = {
  bootMs,
  importMs: t1 - t0,
  firstEventMs: t2 - t1,
  restMs: t3 - t2,
  events: job.events.length,
  errors: [...firstErrors, ...restErrors],
  rssAfterImportKb,
  maxRssKb: process.resourceUsage().maxRSS,
  peakHeapBytes: peakHeap,
};
writeSync(3, `${JSON.stringify(result)}\n`);
// Lambda and Functions keep the instance alive; the benchmark has what it measured, so end without waiting for
// keep-alive sockets to idle out.
process.exit(0);
