// One esbuild bundle per function and lambda entry: what a deployment ships, and what the benchmarks import.
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { build, type Plugin } from "esbuild";

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

/**
 * EC2's shape schemas (one 33,000-line module, 550 KB minified) key their member traits with computed properties
 * (`{ [_xN]: _aCc }`, where `_xN` is a string constant of the same module). esbuild cannot prove a computed key free
 * of side effects, so it keeps every schema, used or not. Writing those keys as the literal strings they are lets
 * tree shaking drop the schemas of the commands the guardian never sends: same values, 540 KB less to compile.
 */
export const ec2SchemaKeys: Plugin = {
  name: "ec2-schema-literal-keys",
  setup(b) {
    b.onLoad(
      { filter: /[\\/]@aws-sdk[\\/]client-ec2[\\/]dist-es[\\/]schemas[\\/]schemas_0\.js$/ },
      async (args) => {
        const source = await readFile(args.path, "utf8");
        const strings = new Map<string, string>();
        for (const m of source.matchAll(/^const (_\w+) = ("[^"\\]*");$/gm)) {
          if (m[1] !== undefined && m[2] !== undefined) strings.set(m[1], m[2]);
        }
        const contents = source.replace(/\[(_\w+)\]:/g, (all, name: string) => {
          const literal = strings.get(name);
          return literal === undefined ? all : `${literal}:`;
        });
        return { contents, loader: "js" };
      },
    );
  },
};

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
      // The ES module builds ("module") rather than CommonJS ("main"): esbuild can tree-shake them, and the
      // AWS SDK's CommonJS index alone carries the whole EC2 client (every command, the aggregated class).
      mainFields: ["module", "main"],
      plugins: [ec2SchemaKeys],
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
