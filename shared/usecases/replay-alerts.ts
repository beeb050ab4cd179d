// `guardian alerts replay`: moves what the dead-letter queue holds back onto the outbox, once the cause is fixed.
// A message the sender dead-lettered is sent again with a fresh attempt budget (its id is unchanged, so a copy that
// was delivered after all is still dropped); a message the platform redrove (it kept failing) goes back as it was.
import { InputError } from "../errors.ts";
import { decodeMessage, encodeMessage, type OutboxMessage, type QueuePort } from "../notify/outbox.ts";
import { revive } from "./send-alerts.ts";

export interface ReplayResult {
  replayed: number;
  /** Messages that are not the guardian's: left on the dead-letter queue, with why. */
  skipped: { reason: string }[];
}

export async function replayDeadLetters(
  deadLetters: QueuePort,
  outbox: QueuePort,
  options: { max?: number } = {},
): Promise<ReplayResult> {
  const max = options.max ?? 1000;
  const result: ReplayResult = { replayed: 0, skipped: [] };
  while (result.replayed + result.skipped.length < max) {
    const batch = await deadLetters.receive(Math.min(10, max - result.replayed - result.skipped.length));
    if (batch.length === 0) break;
    for (const item of batch) {
      let message: OutboxMessage;
      try {
        message = decodeMessage(item.body);
      } catch (error) {
        // Not acknowledged: it stays on the dead-letter queue for a person to read.
        result.skipped.push({ reason: error instanceof InputError ? error.message : String(error) });
        continue;
      }
      const again = message.kind === "dead" ? revive(message) : message;
      await outbox.send(encodeMessage(again, outbox.maxBytes));
      await item.ack();
      result.replayed++;
    }
  }
  return result;
}
