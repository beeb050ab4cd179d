// One esbuild bundle per function and lambda entry: what a deployment ships, and what the benchmarks import.
import { mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { build } from "esbuild";

const root = path.resolve(import.meta.dirname, "..");
const sides = ["functions", "lambdas"] as const;
// Shared modules beside the entries, not entries themselves.
const notEntries = new Set(["runtime.ts"]);

export async function entries(): Promise<{ side: string; name: string; file: string }[]> {
  const found = [];
  for (const side of sides) {
    const dir = path.join(root, side);
    const files = await readdir(dir).catch(() => [] as string[]);
    for (const f of files.filter((f) => f.endsWith(".ts") && !notEntries.has(f)).sort()) {
      found.push({ side, name: f.replace(/\.ts$/, ""), file: path.join(dir, f) });
    }
  }
  return found;
}

export async function buildAll(outdir = path.join(root, "dist")) {
  const results = [];
  for (const entry of await entries()) {
    const outfile = path.join(outdir, entry.side, `${entry.name}.mjs`);
    await mkdir(path.dirname(outfile), { recursive: true });
    const result = await build({
      entryPoints: [entry.file],
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node22",
      minify: true,
      sourcemap: "linked",
      metafile: true,
      legalComments: "linked",
      // Some CommonJS dependencies call require(); ESM bundles need it defined.
      banner: {
        js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
      },
      // Supplied by the Functions host's worker, which answers require() of it; @azure/functions loads it lazily in a
      // try/catch, so bundling must leave the require in place (Azure/azure-functions-nodejs-library#201, #256).
      external: ["@azure/functions-core"],
      logLevel: "warning",
    });
    await writeFile(`${outfile}.meta.json`, JSON.stringify(result.metafile));
    results.push({ ...entry, outfile });
  }
  return results;
}

if (import.meta.main) {
  const built = await buildAll();
  for (const b of built) process.stdout.write(`built ${path.relative(root, b.outfile)}\n`);
}
