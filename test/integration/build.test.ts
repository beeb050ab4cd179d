// The deployed entries: a loader that turns on the compile cache shipped beside it, then the esbuild bundle.
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Built, buildAll, COMPILE_CACHE_DIR } from "../../scripts/build.ts";

let outdir: string;
let built: Built[];

beforeAll(async () => {
  outdir = await mkdtemp(path.join(tmpdir(), "guardian-build-"));
  built = await buildAll(outdir);
}, 120_000);

afterAll(async () => {
  await rm(outdir, { recursive: true, force: true });
});

/** Imports an entry in a fresh Node, with Node's own compile-cache log on stderr. */
function importEntry(entry: string, expression: string) {
  return spawnSync(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `const m = await import(${JSON.stringify(entry)}); console.log(${expression});`,
    ],
    { env: { PATH: process.env.PATH ?? "", NODE_DEBUG_NATIVE: "COMPILE_CACHE" }, encoding: "utf8" },
  );
}

const lambda = () => {
  const entry = built.find((b) => b.side === "lambdas" && b.name === "on-change");
  if (!entry) throw new Error("no lambdas/on-change entry");
  return entry;
};

describe("built entries", () => {
  it("are exactly the entries the templates deploy: no HTTP entry or other undeployed function ships", async () => {
    expect(built.map((b) => `${b.side}/${b.name}`)).toEqual([
      "functions/on-change",
      "functions/reconcile",
      "functions/reconcile-page",
      "functions/send-alerts",
      "functions/sweep-private-endpoints",
      "lambdas/on-change",
      "lambdas/on-endpoint-connection",
      "lambdas/reconcile",
      "lambdas/reconcile-page",
      "lambdas/send-alerts",
      "lambdas/sweep-endpoint-connections",
    ]);
    const expected: Record<string, string[]> = {
      functions: [
        "on-change.mjs",
        "reconcile-page.mjs",
        "reconcile.mjs",
        "send-alerts.mjs",
        "sweep-private-endpoints.mjs",
      ],
      lambdas: [
        "on-change.mjs",
        "on-endpoint-connection.mjs",
        "reconcile-page.mjs",
        "reconcile.mjs",
        "send-alerts.mjs",
        "sweep-endpoint-connections.mjs",
      ],
    };
    for (const [side, files] of Object.entries(expected)) {
      const shipped = (await readdir(path.join(outdir, side))).filter((f) => f.endsWith(".mjs"));
      expect(shipped.sort()).toEqual(files);
      expect(
        (await readdir(path.join(outdir, side, "bundle"))).filter((f) => f.endsWith(".mjs")).sort(),
      ).toEqual(files);
    }
  });

  it("re-export the bundle's exports from an entry that loads bundle/<name>.mjs", async () => {
    const entry = lambda();
    expect(entry.outfile).toBe(path.join(outdir, "lambdas", "on-change.mjs"));
    expect(entry.bundle).toBe(path.join(outdir, "lambdas", "bundle", "on-change.mjs"));
    expect(await readFile(entry.outfile, "utf8")).toMatch(/^export const handler = bundle\.handler;$/m);
    const run = importEntry(entry.outfile, "typeof m.handler");
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe("function");
  });

  it("ship a compile cache per Node version that a fresh instance reads instead of compiling", async () => {
    const cache = path.join(outdir, "lambdas", COMPILE_CACHE_DIR);
    expect(await readdir(cache)).toEqual([expect.stringContaining(process.version)]);
    const run = importEntry(lambda().outfile, "typeof m.handler");
    expect(run.status).toBe(0);
    expect(run.stderr).toMatch(/V8 code cache for ESM \S*bundle\/on-change\.mjs was accepted/);
  });

  it("still load, compiling afresh, when the cache does not match", async () => {
    const cache = path.join(outdir, "functions", COMPILE_CACHE_DIR);
    const [version] = await readdir(cache);
    if (version === undefined) throw new Error("no functions compile cache");
    // What another Node/V8 version's cache amounts to here: entries V8 rejects.
    for (const file of await readdir(path.join(cache, version))) {
      await writeFile(path.join(cache, version, file), "not a V8 code cache");
    }
    const entry = built.find((b) => b.side === "functions" && b.name === "on-change");
    if (!entry) throw new Error("no functions/on-change entry");
    const run = importEntry(entry.outfile, "typeof m.createOnChangeHandler");
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe("function");
    expect(run.stderr).toMatch(
      /reading cache from .* for ESM .*bundle\/on-change\.mjs\.\.\.reading header failed/,
    );
  });
});
