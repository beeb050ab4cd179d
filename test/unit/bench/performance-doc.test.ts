// The benchmark tables live in docs/performance.md between two markers; `npm run bench` rewrites only those.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type BenchResults, RESULTS_END, RESULTS_START, render, withResults } from "../../../bench/run.ts";

describe("docs/performance.md", () => {
  it("has its tables replaced between the markers, and the text around them kept", () => {
    const doc = `# Performance\n\nwritten by hand\n\n${RESULTS_START}\nold tables\n${RESULTS_END}\n\nmore text\n`;
    expect(withResults(doc, "new tables")).toBe(
      `# Performance\n\nwritten by hand\n\n${RESULTS_START}\n\nnew tables\n\n${RESULTS_END}\n\nmore text\n`,
    );
    expect(() => withResults("# no markers", "x")).toThrow(/no <!-- bench:results:start -->/);
  });

  it("shows the tables of bench/results.json, the last full run", () => {
    const results = JSON.parse(readFileSync("bench/results.json", "utf8")) as BenchResults;
    const doc = readFileSync("docs/performance.md", "utf8");
    expect(doc).toContain(render(results));
    // The README keeps a summary and links the tables.
    expect(readFileSync("README.md", "utf8")).toContain("[docs/performance.md](docs/performance.md)");
  });
});
