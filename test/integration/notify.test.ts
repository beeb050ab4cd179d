// Real HTTP from the notifiers to the local webhook sink (test/harness/webhook-sink.ts).
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TransientError } from "../../shared/errors.ts";
import {
  notifiersFromConfig,
  renderSlack,
  SlackNotifier,
  sendAll,
  TeamsNotifier,
  type WebhookDeliveryError,
} from "../../shared/notify/index.ts";
import { startWebhookSink, summarizeDelivery, type WebhookSink } from "../harness/webhook-sink.ts";
import { manyResults, nsgAlert, remediated } from "../unit/notify/alert-fixtures.ts";

const fast = { retry: { maxAttempts: 3, backoffMs: 10, maxTotalWaitMs: 5000 } };

let sink: WebhookSink;
beforeEach(async () => {
  sink = await startWebhookSink();
});
afterEach(async () => {
  await sink.stop();
});

describe("notifiers against the webhook sink", () => {
  it("delivers to Slack (200 ok) and Teams (202) in one sendAll", async () => {
    const notifiers = notifiersFromConfig({
      slackWebhookUrl: sink.slackUrl,
      teamsWebhookUrl: sink.teamsUrl,
      ...fast,
    });
    const alert = nsgAlert([remediated()]);
    const report = await sendAll(notifiers, alert);
    expect(report).toEqual([
      { channel: "slack", ok: true },
      { channel: "teams", ok: true },
    ]);
    await sink.waitFor(2);

    const slack = sink.received.find((r) => r.path.startsWith("/slack/"));
    expect(slack?.status).toBe(200);
    expect(slack?.headers["content-type"]).toContain("application/json");
    expect(slack?.body).toEqual(renderSlack(alert));

    const teams = sink.received.find((r) => r.path.startsWith("/teams/"));
    expect(teams?.status).toBe(202);
    const body = teams?.body as {
      type: string;
      attachments: { contentType: string; content: { version: string } }[];
    };
    expect(body.type).toBe("message");
    expect(body.attachments[0]?.contentType).toBe("application/vnd.microsoft.card.adaptive");
    expect(body.attachments[0]?.content.version).toBe("1.4");

    expect(sink.received.map(summarizeDelivery).sort()).toEqual([
      "slack  200  HIGH · Remediated: SSH open to the Internet on nsg-bastion",
      "teams  202  HIGH · Remediated: SSH open to the Internet on nsg-bastion",
    ]);
  });

  it("rejects an over-limit Slack payload the way Slack does", async () => {
    const blocks = Array.from({ length: 51 }, () => ({ type: "divider" }));
    const response = await fetch(sink.slackUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: "x", blocks }),
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toBe("invalid_blocks");
    expect(sink.received).toHaveLength(0);
  });

  it("passes the sink's Block Kit limits with 120 findings", async () => {
    await new SlackNotifier(sink.slackUrl, fast).send(nsgAlert(manyResults(120)));
    expect(sink.received).toHaveLength(1);
    const body = sink.received[0]?.body as { blocks: unknown[] } | undefined;
    expect(body?.blocks).toHaveLength(50);
  });

  it.each([
    ["slack", "/slack", 200],
    ["teams", "/teams", 202],
  ])("%s: honours Retry-After on 429, then succeeds", async (name, prefix, okStatus) => {
    sink.failNext(429, 1, 1, prefix);
    const waits: number[] = [];
    // Recording the wait shows the header was read (1 s -> 1000 ms) without the test sleeping.
    const options = { ...fast, sleep: async (ms: number) => void waits.push(ms) };
    const notifier =
      name === "slack"
        ? new SlackNotifier(sink.slackUrl, options)
        : new TeamsNotifier(sink.teamsUrl, options);
    await notifier.send(nsgAlert([remediated()]));
    expect(sink.attempts.map((a) => a.status)).toEqual([429, okStatus]);
    expect(waits).toEqual([1000]);
    expect(sink.received).toHaveLength(1);
  });

  it("waits for real on Retry-After: 0 and delivers on the second attempt", async () => {
    sink.failNext(429, 1, 0);
    await new TeamsNotifier(sink.teamsUrl, fast).send(nsgAlert([remediated()]));
    expect(sink.attempts.map((a) => a.status)).toEqual([429, 202]);
  });

  it.each([
    ["slack", "/slack"],
    ["teams", "/teams"],
  ])(
    "%s: persistent 500 gives up after 3 attempts with a TransientError free of the URL",
    async (name, prefix) => {
      sink.failNext(500, 10, undefined, prefix);
      const notifier =
        name === "slack" ? new SlackNotifier(sink.slackUrl, fast) : new TeamsNotifier(sink.teamsUrl, fast);
      const error = await notifier.send(nsgAlert([remediated()])).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransientError);
      const e = error as WebhookDeliveryError;
      expect(e.channel).toBe(name);
      expect(e.status).toBe(500);
      expect(e.attempts).toBe(3);
      expect(sink.attempts).toHaveLength(3);
      expect(e.message).toContain("HTTP 500");
      expect(e.message).toContain(`${sink.url}/<redacted>`);
      expect(e.message).not.toContain("XXXXXXXXXXXXXXXXXXXXXXXX");
      expect(e.message).not.toContain("sink-signature-0000");
      expect(e.message).not.toContain("/workflows/");
    },
  );

  it("retries a dropped connection and delivers", async () => {
    sink.failNext("close", 1, undefined, "/slack");
    await new SlackNotifier(sink.slackUrl, fast).send(nsgAlert([remediated()]));
    expect(sink.attempts.map((a) => a.status)).toEqual([0, 200]);
    expect(sink.received).toHaveLength(1);
  });

  it("reports a 4xx once, with Slack's error text, without retrying", async () => {
    sink.failNext(410, 1, undefined, "/slack");
    const error = (await new SlackNotifier(sink.slackUrl, fast)
      .send(nsgAlert([remediated()]))
      .catch((e: unknown) => e)) as WebhookDeliveryError;
    expect(error).toBeInstanceOf(TransientError);
    expect(error.status).toBe(410);
    expect(error.message).toContain("HTTP 410: channel_is_archived");
    expect(sink.attempts).toHaveLength(1);
  });

  it("one channel down does not stop the other", async () => {
    // A port nobody listens on: connection refused, as when a proxy or the channel host is down.
    const down = await startWebhookSink();
    const downUrl = down.slackUrl;
    await down.stop();
    const notifiers = notifiersFromConfig({
      slackWebhookUrl: downUrl,
      teamsWebhookUrl: sink.teamsUrl,
      ...fast,
    });

    const report = await sendAll(notifiers, nsgAlert([remediated()]));

    expect(report[1]).toEqual({ channel: "teams", ok: true });
    expect(report[0]?.channel).toBe("slack");
    expect(report[0]?.ok).toBe(false);
    expect(report[0]?.error).toMatch(
      /^TransientError: slack webhook http:\/\/127\.0\.0\.1:\d+\/<redacted> failed after 3 attempts: no response \(.*ECONNREFUSED.*\)/,
    );
    expect(report[0]?.error).not.toContain("XXXXXXXXXXXXXXXXXXXXXXXX");
    expect(sink.received).toHaveLength(1);
    expect(sink.received[0]?.path.startsWith("/teams/")).toBe(true);
  });
});
