// Real HTTP from the channels to the local webhook sink (test/harness/webhook-sink.ts), directly (the inline outbox
// the CLI and the demo use) and through the sink's failure modes.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { channelsFrom } from "../../shared/notify/channels.ts";
import type { renderSlack } from "../../shared/notify/slack.ts";
import { InlineOutbox } from "../../shared/usecases/send-alerts.ts";
import { startWebhookSink, summarizeDelivery, type WebhookSink } from "../harness/webhook-sink.ts";
import { nsgAlert, remediated } from "../unit/notify/alert-fixtures.ts";

let sink: WebhookSink;
beforeEach(async () => {
  sink = await startWebhookSink();
});
afterEach(async () => {
  await sink.stop();
});

const instant = { now: () => Date.now(), sleep: async () => undefined };

describe("channels against the webhook sink (inline outbox)", () => {
  it("delivers to Slack (200 ok) and Teams (202), the bodies the renderers make", async () => {
    const outbox = new InlineOutbox(
      channelsFrom(undefined, { SLACK_WEBHOOK_URL: sink.slackUrl, TEAMS_WEBHOOK_URL: sink.teamsUrl }),
      { clock: instant },
    );
    const report = await outbox.enqueue(nsgAlert([remediated()]));
    expect(report).toEqual([
      { channel: "slack", ok: true },
      { channel: "teams", ok: true },
    ]);
    const slack = sink.received.find((r) => r.path.startsWith("/slack/"));
    expect(slack?.headers["content-type"]).toContain("application/json");
    const blocks = (slack?.body as ReturnType<typeof renderSlack> | undefined)?.blocks ?? [];
    expect(blocks[0]).toMatchObject({ type: "header" });
    expect(sink.received.map(summarizeDelivery).sort()).toEqual([
      "slack  200  HIGH · Remediated: SSH open to the Internet on nsg-bastion",
      "teams  202  HIGH · Remediated: SSH open to the Internet on nsg-bastion",
    ]);
  });

  it("honours Retry-After on 429, retries a dropped connection, and never retries a 4xx", async () => {
    const { channels } = channelsFrom(undefined, { SLACK_WEBHOOK_URL: sink.slackUrl });
    const waits: number[] = [];
    const outbox = new InlineOutbox(
      { channels, broken: [] },
      { clock: { now: () => Date.now(), sleep: async (ms) => void waits.push(ms) } },
    );
    sink.failNext(429, 1, 2, "/slack");
    sink.failNext("close", 1, undefined, "/slack");
    expect(await outbox.enqueue(nsgAlert([remediated()]))).toEqual([{ channel: "slack", ok: true }]);
    expect(sink.attempts.map((a) => a.status)).toEqual([429, 0, 200]);
    expect(waits[0]).toBe(2000);

    sink.failNext(410, 1, undefined, "/slack");
    const [report] = await outbox.enqueue(nsgAlert([remediated()]));
    expect(report?.ok).toBe(false);
    expect(report?.error).toContain("HTTP 410: channel_is_archived");
    expect(report?.error).not.toContain("XXXXXXXXXXXXXXXXXXXXXXXX");
    expect(sink.attempts.map((a) => a.status)).toEqual([429, 0, 200, 410]);
  });

  it("one channel down does not stop the other", async () => {
    const down = await startWebhookSink();
    const downUrl = down.slackUrl;
    await down.stop();
    const outbox = new InlineOutbox(
      channelsFrom(undefined, { SLACK_WEBHOOK_URL: downUrl, TEAMS_WEBHOOK_URL: sink.teamsUrl }),
      { clock: instant },
    );
    const report = await outbox.enqueue(nsgAlert([remediated()]));
    expect(report[1]).toEqual({ channel: "teams", ok: true });
    expect(report[0]?.ok).toBe(false);
    expect(report[0]?.error).toMatch(
      /slack webhook failed after 3 attempts: no response \(.*ECONNREFUSED.*\)/,
    );
    expect(report[0]?.error).not.toContain("XXXXXXXXXXXXXXXXXXXXXXXX");
  });
});
