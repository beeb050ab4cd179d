// Preloaded with `node --import` into a process the benchmark measures from outside (the CLI): on exit, writes the
// process's peak resident set and final heap to the file named by BENCH_RSS_FILE.
import { writeFileSync } from "node:fs";

const file = process.env.BENCH_RSS_FILE;
if (file) {
  process.on("exit", () => {
    const { heapUsed } = process.memoryUsage();
    writeFileSync(file, JSON.stringify({ maxRssKb: process.resourceUsage().maxRSS, heapUsed }));
  });
}
