// Runs first in every npm script, before anything that needs a recent Node.js. Plain JavaScript on purpose: an old
// Node must be able to parse this file to say what is wrong, instead of failing on a `.ts` file or a missing API.
import { readFileSync } from "node:fs";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const wanted = /(\d+)\.(\d+)/.exec(pkg.engines?.node || "") || [];
const need = [Number(wanted[1] || 0), Number(wanted[2] || 0)];
const have = process.versions.node.split(".").map(Number);
if (have[0] < need[0] || (have[0] === need[0] && have[1] < need[1])) {
  process.stderr.write(
    "network-guardian needs Node.js " +
      need.join(".") +
      " or newer; this is Node.js " +
      process.version +
      ".\n" +
      "Install Node.js 24 (or " +
      need.join(".") +
      "+), for example `nvm install 24 && nvm use 24`, then run the command again.\n",
  );
  process.exit(1);
}
