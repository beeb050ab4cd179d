import { expect, it } from "vitest";
import { runDemo } from "../../demo/run.ts";

it("the demo (npm start) plays every scenario and every expected outcome happens", async () => {
  const lines: string[] = [];
  const ok = await runDemo({ print: (t) => lines.push(t) });
  const out = lines.join("\n");
  expect(out).toContain("SSH-from-Internet rule deleted");
  expect(out).toContain("alice@contoso.com");
  expect(out).toMatch(/All \d+ expected outcomes happened/);
  expect(ok).toBe(true);
}, 120_000);
