// The command as a user gets it: `npm pack` (which builds the bundle), the tarball installed into an empty prefix
// without the network, and the `guardian` that npm links into the prefix's bin directory, run from elsewhere.
import { execFile } from "node:child_process";
import { lstat, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repo = path.resolve(import.meta.dirname, "../..");
let work: string;
let bin: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd,
        encoding: "utf8",
        // The node running the tests first on PATH: the bin's `#!/usr/bin/env node` finds it, as a user's shell would.
        env: {
          ...process.env,
          PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH}`,
          ...env,
        },
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 99) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "guardian-install-"));
  const npm = { npm_config_cache: path.join(work, "npm-cache"), npm_config_update_notifier: "false" };
  const pack = await run("npm", ["pack", "--pack-destination", work], repo, npm);
  expect(pack.stderr + pack.stdout).not.toMatch(/npm error/);
  expect(pack.code).toBe(0);
  const [tarball] = (await readdir(work)).filter((f) => f.endsWith(".tgz"));
  if (tarball === undefined) throw new Error(`npm pack wrote no tarball:\n${pack.stderr}`);
  const prefix = path.join(work, "prefix");
  const install = await run(
    "npm",
    [
      "install",
      "--global",
      "--prefix",
      prefix,
      "--offline",
      "--no-audit",
      "--no-fund",
      path.join(work, tarball),
    ],
    work,
    npm,
  );
  expect(install.stderr).not.toMatch(/npm (error|warn)/);
  expect(install.code).toBe(0);
  bin = path.join(prefix, "bin", "guardian");
}, 120_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("the installed guardian command", () => {
  it("is a symlink into the package, which holds the built JavaScript and no node_modules", async () => {
    expect((await lstat(bin)).isSymbolicLink()).toBe(true);
    const pkgDir = path.join(work, "prefix", "lib", "node_modules", "network-guardian");
    const files = await readdir(pkgDir, { recursive: true });
    expect(files).toContain(path.join("dist", "cli", "guardian.mjs"));
    expect(files).toContain("LICENSE");
    expect(files.some((f) => f.startsWith("node_modules"))).toBe(false);
    expect(files.some((f) => f.endsWith(".ts"))).toBe(false);
  });

  it("loads no cloud SDK for --version, --help or evaluate: the scan's and replay's imports are chunks of their own", async () => {
    // What `npm pack` built: the entry's static imports (its closure) hold no AWS or Azure SDK module.
    const meta = JSON.parse(await readFile(path.join(repo, "dist", "cli-meta.json"), "utf8")) as {
      outputs: Record<
        string,
        { bytes: number; imports: { path: string; kind: string }[]; inputs: Record<string, unknown> }
      >;
    };
    const entry = Object.keys(meta.outputs).find((k) => k.endsWith("cli/bundle/guardian.mjs"));
    expect(entry).toBeDefined();
    const closure = new Set<string>();
    const stack = [entry ?? ""];
    for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
      if (closure.has(next)) continue;
      closure.add(next);
      for (const i of meta.outputs[next]?.imports ?? []) {
        if (i.kind === "import-statement" && meta.outputs[i.path]) stack.push(i.path);
      }
    }
    const modules = [...closure].flatMap((o) => Object.keys(meta.outputs[o]?.inputs ?? {}));
    expect(modules.filter((m) => /node_modules\/@(aws-sdk|azure|smithy)\//.test(m))).toEqual([]);
    expect(modules.some((m) => m.endsWith("cli/scan-run.ts"))).toBe(false);
    // The scan's code ships, in a chunk the command imports when it runs.
    const all = Object.values(meta.outputs).flatMap((o) => Object.keys(o.inputs));
    expect(all.some((m) => m.endsWith("cli/scan-run.ts"))).toBe(true);
  });

  it("prints its version, the one in package.json", async () => {
    const pkg = JSON.parse(await readFile(path.join(repo, "package.json"), "utf8")) as { version: string };
    const version = await run(bin, ["--version"], work);
    expect(version).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });

  it("evaluates an NSG that opens SSH and RDP to the Internet: findings, exit 1", async () => {
    const nsg = path.join(repo, "test/fixtures/azure/nsg/nsg-mixed.json");
    const evaluated = await run(bin, ["evaluate", nsg], work);
    expect(evaluated.stdout).toMatch(/1 resource evaluated, [1-9]\d* findings?/);
    expect(evaluated.stdout).toContain("azure-no-ssh-from-internet");
    expect(evaluated.code).toBe(1);
  });

  it("lists the rules", async () => {
    const rules = await run(bin, ["rules"], work);
    expect(rules.code).toBe(0);
    expect(rules.stdout).toContain("nsg-inbound-exposure (azure)");
    expect(rules.stdout).toContain("sg-ingress-exposure (aws)");
  });

  it("offers no demo (it needs the emulators of a clone)", async () => {
    const demo = await run(bin, ["demo"], work);
    expect(demo.code).toBe(2);
    expect(demo.stderr).toMatch(/unknown command 'demo'/);
  });

  it("on an older Node, says which version it needs before running anything", async () => {
    const old = await run(process.execPath, ["--import", PRETEND_NODE_20, bin, "evaluate", "x.json"], work);
    expect(old.code).toBe(2);
    expect(old.stdout).toBe("");
    expect(old.stderr).toMatch(
      /^error: guardian needs Node\.js 22\.18 or newer; this is Node\.js v20\.20\.2\.\nInstall Node\.js 24/,
    );
  });
});

// A preload that makes this Node report itself as 20.20.2, as the image's old Node would.
const PRETEND_NODE_20 = `data:text/javascript,${encodeURIComponent(
  'Object.defineProperty(process.versions, "node", { value: "20.20.2" }); Object.defineProperty(process, "version", { value: "v20.20.2" });',
)}`;

describe("the npm scripts on an older Node", () => {
  it("stop in the preflight with what to install, before any TypeScript is loaded", async () => {
    const old = await run(process.execPath, ["--import", PRETEND_NODE_20, "scripts/preflight.mjs"], repo);
    expect(old.code).toBe(1);
    expect(old.stderr).toMatch(
      /^network-guardian needs Node\.js 22\.18 or newer; this is Node\.js v20\.20\.2\./,
    );
    const current = await run(process.execPath, ["scripts/preflight.mjs"], repo);
    expect(current).toMatchObject({ code: 0, stderr: "" });
  });

  it("every script that runs TypeScript goes through the preflight; npm stops on the engines field", async () => {
    const pkg = JSON.parse(await readFile(path.join(repo, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
      engines: { node: string };
    };
    for (const name of ["start", "test", "build", "bench", "guardian", "prepack"]) {
      expect(pkg.scripts[name], name).toMatch(/^node scripts\/preflight\.mjs && /);
    }
    expect(await readFile(path.join(repo, ".npmrc"), "utf8")).toMatch(/^engine-strict=true$/m);
    expect(pkg.engines.node).toBe(">=22.18");
    // The README states the same minimum.
    expect(await readFile(path.join(repo, "README.md"), "utf8")).toContain("Node.js 22.18 or newer");
  });

  it("the package has no runtime dependencies: the bin and the deployed bundles inline them all", async () => {
    const pkg = JSON.parse(await readFile(path.join(repo, "package.json"), "utf8")) as Record<
      string,
      unknown
    >;
    // A package added to "dependencies" would be fetched by every install of the CLI (and break this offline test):
    // add it to devDependencies; esbuild puts what is used into the bundles.
    expect(pkg.dependencies).toBeUndefined();
    expect(pkg.license).toBe("MIT");
    expect(await readFile(path.join(repo, "LICENSE"), "utf8")).toMatch(/^MIT License\n/);
  });
});
