import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../shared/config.ts";
import { TransientError } from "../../../shared/errors.ts";
import { channelsFrom } from "../../../shared/notify/channels.ts";
import {
  type AttemptResult,
  DEFAULT_RETRY,
  deliver,
  parseRetryAfter,
  redactor,
  WebhookDeliveryError,
} from "../../../shared/notify/deliver.ts";

const SLACK_URL = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX";
// Shape of a Workflows "When a Teams webhook request is received" URL: the `sig` parameter is the secret.
const TEAMS_URL =
  "https://prod-00.westeurope.logic.azure.com:443/workflows/0123456789abcdef0123456789abcdef/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdEFG";

function scripted(results: AttemptResult[]) {
  let calls = 0;
  const attempt = async (): Promise<AttemptResult> => {
    const r = results[Math.min(calls, results.length - 1)];
    calls++;
    if (!r) throw new Error("no scripted result");
    return r;
  };
  return { attempt, calls: () => calls };
}

function recordingSleep() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

describe("deliver", () => {
  it("honours Retry-After on 429 and succeeds", async () => {
    const { attempt, calls } = scripted([
      { ok: false, status: 429, body: "rate_limited", retryAfterMs: 2000 },
      { ok: true, status: 200 },
    ]);
    const { waits, sleep } = recordingSleep();
    const n = await deliver(attempt, { channel: "slack", url: SLACK_URL, policy: DEFAULT_RETRY, sleep });
    expect(n).toBe(2);
    expect(calls()).toBe(2);
    expect(waits).toEqual([2000]);
  });

  it("backs off exponentially on 5xx and network faults, then gives up with a TransientError", async () => {
    const { attempt, calls } = scripted([
      { ok: false, status: 503, body: "" },
      {
        ok: false,
        error: new TypeError("fetch failed", {
          cause: Object.assign(new Error("x"), { code: "ECONNRESET" }),
        }),
      },
      { ok: false, status: 500, body: "internal_error" },
    ]);
    const { waits, sleep } = recordingSleep();
    const error = await deliver(attempt, {
      channel: "slack",
      url: SLACK_URL,
      policy: { ...DEFAULT_RETRY, backoffMs: 100 },
      sleep,
    }).catch((e: unknown) => e);
    expect(calls()).toBe(3);
    expect(waits).toEqual([100, 200]);
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toBeInstanceOf(WebhookDeliveryError);
    const e = error as WebhookDeliveryError;
    expect(e.channel).toBe("slack");
    expect(e.status).toBe(500);
    expect(e.attempts).toBe(3);
    expect(e.message).toContain("failed after 3 attempts: HTTP 500: internal_error");
  });

  it("does not retry a 4xx other than 429 but still throws, with the body", async () => {
    const { attempt, calls } = scripted([{ ok: false, status: 400, body: "invalid_blocks" }]);
    const error = (await deliver(attempt, { channel: "slack", url: SLACK_URL, policy: DEFAULT_RETRY }).catch(
      (e: unknown) => e,
    )) as WebhookDeliveryError;
    expect(calls()).toBe(1);
    expect(error).toBeInstanceOf(TransientError);
    expect(error.status).toBe(400);
    expect(error.message).toContain("rejected the alert (not retried): HTTP 400: invalid_blocks");
  });

  it("fails at once, carrying retryAfterMs, when Retry-After exceeds the wait budget", async () => {
    const { attempt, calls } = scripted([{ ok: false, status: 429, body: "", retryAfterMs: 120_000 }]);
    const { waits, sleep } = recordingSleep();
    const error = (await deliver(attempt, {
      channel: "teams",
      url: TEAMS_URL,
      policy: DEFAULT_RETRY,
      sleep,
    }).catch((e: unknown) => e)) as WebhookDeliveryError;
    expect(calls()).toBe(1);
    expect(waits).toEqual([]);
    expect(error.retryAfterMs).toBe(120_000);
    expect(error.message).toContain("exceed the 30000 ms budget");
  });

  it("never puts the webhook URL or its signature in the error", async () => {
    const { attempt } = scripted([{ ok: false, status: 404, body: `no workflow at ${TEAMS_URL}` }]);
    const error = (await deliver(attempt, { channel: "teams", url: TEAMS_URL, policy: DEFAULT_RETRY }).catch(
      (e: unknown) => e,
    )) as Error;
    expect(error.message).not.toContain("AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdEFG");
    expect(error.message).not.toContain("/workflows/0123456789abcdef");
    expect(error.message).toContain("https://prod-00.westeurope.logic.azure.com/<redacted>");
  });

  it("keeps a URL-quoting network error out of the cause too", async () => {
    const { attempt } = scripted([
      { ok: false, error: new TypeError(`Failed to parse URL from ${SLACK_URL}`) },
    ]);
    const error = (await deliver(attempt, {
      channel: "slack",
      url: SLACK_URL,
      policy: { ...DEFAULT_RETRY, maxAttempts: 1 },
    }).catch((e: unknown) => e)) as Error;
    expect(String((error.cause as Error).message)).not.toContain("XXXXXXXXXXXXXXXXXXXXXXXX");
    expect(error.message).not.toContain("XXXXXXXXXXXXXXXXXXXXXXXX");
  });
});

describe("redactor", () => {
  it("removes the URL, its path and query, and any sig value", () => {
    const redact = redactor(TEAMS_URL);
    expect(redact(`POST ${TEAMS_URL} failed`)).toBe(
      "POST https://prod-00.westeurope.logic.azure.com/<redacted> failed",
    );
    expect(redact("retrying ?api-version=1&sig=abc123&x=1")).toBe(
      "retrying ?api-version=1&sig=<redacted>&x=1",
    );
    expect(redactor(SLACK_URL)("path /services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX")).not.toContain(
      "XXXX",
    );
  });
});

describe("parseRetryAfter", () => {
  it("reads delta-seconds and HTTP-dates", () => {
    expect(parseRetryAfter("0")).toBe(0);
    expect(parseRetryAfter("30")).toBe(30_000);
    const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
    expect(parseRetryAfter("Wed, 21 Oct 2015 07:28:05 GMT", now)).toBe(5000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
  });
});

describe("channelsFrom: a broken destination is disabled, never fatal (issue 7, point 15)", () => {
  it("builds the default destinations only from the settings that are set", () => {
    expect(channelsFrom(undefined, {}).channels).toEqual([]);
    expect(channelsFrom(undefined, { SLACK_WEBHOOK_URL: "", TEAMS_WEBHOOK_URL: " " })).toEqual({
      channels: [],
      broken: [],
    });
    const { channels } = channelsFrom(undefined, {
      SLACK_WEBHOOK_URL: SLACK_URL,
      TEAMS_WEBHOOK_URL: TEAMS_URL,
    });
    expect(channels.map((c) => [c.name, c.type])).toEqual([
      ["slack", "slack"],
      ["teams", "teams"],
    ]);
  });

  it.each([
    ["http://example.com/workflows/secret?sig=s3cr3t", /must be an https URL/],
    ["not a url s3cr3t", /is not a valid URL/],
    ["@Microsoft.KeyVault(VaultName=kv-ng;SecretName=teams-webhook-url)", /unresolved Key Vault reference/],
    [
      "{{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:1:secret:s3cr3t:SecretString}}",
      /unresolved CloudFormation/,
    ],
  ])(
    "disables a destination set to %s with a reason that never quotes it; the others keep working",
    (value, why) => {
      const { channels, broken } = channelsFrom(undefined, {
        SLACK_WEBHOOK_URL: SLACK_URL,
        TEAMS_WEBHOOK_URL: value,
      });
      expect(channels.map((c) => c.name)).toEqual(["slack"]);
      expect(broken).toEqual([{ name: "teams", type: "teams", problem: expect.stringMatching(why) }]);
      expect(broken[0]?.problem).toContain("TEAMS_WEBHOOK_URL");
      expect(broken[0]?.problem).not.toContain("s3cr3t");
    },
  );

  it("reports a destination the policy names whose setting is missing", () => {
    const { channels, broken } = channelsFrom(
      [
        { name: "secops", type: "slack", url: "SECOPS_WEBHOOK_URL" },
        { name: "siem", type: "webhook", url: "SIEM_WEBHOOK_URL" },
      ],
      { SIEM_WEBHOOK_URL: "https://siem.example/intake", SLACK_WEBHOOK_URL: SLACK_URL },
    );
    expect(channels.map((c) => c.name)).toEqual(["siem"]);
    expect(broken).toEqual([{ name: "secops", type: "slack", problem: "SECOPS_WEBHOOK_URL is not set" }]);
  });

  it("does not expose the URL when a channel is logged or serialised", () => {
    const [slack] = channelsFrom(undefined, { SLACK_WEBHOOK_URL: SLACK_URL }).channels;
    expect(JSON.stringify(slack)).not.toContain("hooks.slack.com");
    expect(String(Object.values(slack ?? {}))).not.toContain("hooks.slack.com");
    expect(slack?.redact(`POST ${SLACK_URL} failed`)).not.toContain("XXXXXXXX");
  });

  it("a guardian with a broken webhook setting still parses its configuration", () => {
    const cfg = parseConfig({ SLACK_WEBHOOK_URL: "not a url", TEAMS_WEBHOOK_URL: "@Microsoft.KeyVault(x)" });
    expect(cfg.webhookUrls).toEqual({
      SLACK_WEBHOOK_URL: "not a url",
      TEAMS_WEBHOOK_URL: "@Microsoft.KeyVault(x)",
    });
  });
});
