// The registry mirror on the build machines serves only Biome's linux binaries, so `npm install` leaves Biome's other
// platform packages out of package-lock.json and `npm ci` then refuses the lock as out of sync. This records them
// (they are optional and skipped on linux, so nothing is fetched). Run after changing dependencies:
//   npm install && node scripts/patch-lock.ts
import { readFileSync, writeFileSync } from "node:fs";

interface LockPackage {
  version?: string;
  [key: string]: unknown;
}

const file = process.argv[2] ?? "package-lock.json";
const lock = JSON.parse(readFileSync(file, "utf8")) as { packages: Record<string, LockPackage> };
const platforms: Record<string, [os: string, cpu: string, libc?: string]> = {
  "android-arm64": ["android", "arm64"],
  "android-x64": ["android", "x64"],
  "darwin-arm64": ["darwin", "arm64"],
  "darwin-x64": ["darwin", "x64"],
  "linux-arm64-musl": ["linux", "arm64", "musl"],
  "linux-x64-musl": ["linux", "x64", "musl"],
  "win32-arm64": ["win32", "arm64"],
  "win32-x64": ["win32", "x64"],
};
const version = lock.packages["node_modules/@biomejs/biome"]?.version;
if (!version) throw new Error(`${file} has no @biomejs/biome`);
let added = 0;
for (const [name, [os, cpu, libc]] of Object.entries(platforms)) {
  const key = `node_modules/@biomejs/cli-${name}`;
  if (lock.packages[key]) continue;
  lock.packages[key] = {
    version,
    cpu: [cpu],
    dev: true,
    ...(libc ? { libc: [libc] } : {}),
    license: "MIT OR Apache-2.0",
    optional: true,
    os: [os],
    engines: { node: ">=14.21.3" },
  };
  added++;
}
const entries = Object.entries(lock.packages).sort(([a], [b]) =>
  a === "" ? -1 : b === "" ? 1 : a.localeCompare(b),
);
lock.packages = Object.fromEntries(entries);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
process.stdout.write(`${file}: recorded ${added} platform package(s)\n`);
