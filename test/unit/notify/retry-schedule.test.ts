// The outage a webhook may have before its messages are dead-lettered, as README.md and docs/alerts.md state it:
// 16 queue deliveries, 15 delays of 30 s, 1, 2, 4, 8 minutes then 15 minutes, each cut by a jitter of up to half.
import { describe, expect, it } from "vitest";
import { backoffMs, DEFAULT_DELIVERY_RETRY } from "../../../shared/usecases/send-alerts.ts";

const total = (random: () => number) => {
  let ms = 0;
  // The sender dead-letters when `attempt >= maxAttempts`: delays follow deliveries 1 .. maxAttempts - 1.
  for (let attempt = 1; attempt < DEFAULT_DELIVERY_RETRY.maxAttempts; attempt++)
    ms += backoffMs(attempt, DEFAULT_DELIVERY_RETRY, random);
  return ms / 60_000;
};

describe("the default delivery retry schedule", () => {
  it("keeps trying between about 1 h 23 min and 2 h 45 min, so an hour-long outage loses nothing", () => {
    expect(total(() => 1)).toBeCloseTo(165.5, 5); // no jitter: 0.5 + 1 + 2 + 4 + 8 + 10 × 15 minutes
    expect(total(() => 0)).toBeCloseTo(82.75, 5); // the most jitter takes off: half of each delay
    expect(total(() => 0)).toBeGreaterThan(60);
  });
});
