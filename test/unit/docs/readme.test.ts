// The README is for users: its sections in the order a newcomer needs them, and every exit code the CLI uses.
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { EXIT } from "../../../cli/guardian.ts";

const readme = readFileSync("README.md", "utf8");

it("orders its sections: quick start, policy, deploying, safety, how it works, configuration", () => {
  const headings = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
  const order = ["Quick start", "Writing a policy", "Deploying", "Safety", "How it works", "Configuration"];
  expect(headings.filter((h) => order.includes(h ?? ""))).toEqual(order);
  // What it does and for whom comes before all of them.
  expect(readme.indexOf("It is for platform and security engineers")).toBeLessThan(
    readme.indexOf("## Quick start"),
  );
});

it("documents every exit code the command line uses, and how to capture its inputs", () => {
  for (const code of Object.values(EXIT)) expect(readme).toMatch(new RegExp(`^\\| ${code} +\\| \\S`, "m"));
  for (const command of [
    "az rest",
    "az network nsg show",
    "aws ec2 describe-security-groups",
    "aws cloudtrail lookup-events",
  ]) {
    expect(readme).toContain(command);
  }
});
