// The ARM emulator in a process of its own, for the scan section: the estate it holds (10,000 NSGs) and the garbage
// of answering pages then stay out of the heap the bench measures, which is the scan's alone. It listens on
// 127.0.0.1, writes `{ url, ca }` as its first line on stdout, answers one JSON line per command read on stdin, and
// stops the emulator and exits when stdin closes (the parent is done or gone).
import { createInterface } from "node:readline";
import { startArmEmulator } from "../../test/harness/arm-emulator/index.ts";
import { seedAzureEstate } from "../../test/harness/estate.ts";

const pageSize = Number(process.argv[2] ?? "100");
const emu = await startArmEmulator({ lroPolls: 0, pageSize });
process.stdout.write(`${JSON.stringify({ url: emu.url, ca: emu.ca })}\n`);

for await (const line of createInterface({ input: process.stdin })) {
  try {
    const command = JSON.parse(line) as {
      op?: unknown;
      subscriptionId?: unknown;
      nsgs?: unknown;
      openEvery?: unknown;
    };
    if (command.op === "reset") {
      emu.reset();
      process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
    } else if (
      command.op === "seedAzureEstate" &&
      typeof command.subscriptionId === "string" &&
      typeof command.nsgs === "number" &&
      typeof command.openEvery === "number"
    ) {
      const started = performance.now();
      seedAzureEstate(emu, {
        subscriptionId: command.subscriptionId,
        nsgs: command.nsgs,
        openEvery: command.openEvery,
      });
      process.stdout.write(
        `${JSON.stringify({ ok: true, seconds: (performance.now() - started) / 1000 })}\n`,
      );
    } else {
      process.stdout.write(`${JSON.stringify({ ok: false, error: `unknown command: ${line}` })}\n`);
    }
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: String(error) })}\n`);
  }
}
await emu.stop();
