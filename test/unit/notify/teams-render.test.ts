import { describe, expect, it } from "vitest";
import {
  type AdaptiveCardElement,
  renderTeams,
  TEAMS_MAX_BYTES,
  type TeamsWebhookBody,
} from "../../../shared/notify/teams.ts";
import { alertOnly, dryRun, manyResults, nsgAlert, remediated, sshFinding } from "./alert-fixtures.ts";

function card(body: TeamsWebhookBody) {
  return body.attachments[0].content;
}

function texts(elements: AdaptiveCardElement[]): string[] {
  const out: string[] = [];
  for (const e of elements) {
    if (e.type === "TextBlock") out.push(String(e.text));
    if (e.type === "Container") out.push(...texts(e.items as AdaptiveCardElement[]));
  }
  return out;
}

function facts(body: TeamsWebhookBody): Record<string, string> {
  const set = card(body).body.find((e) => e.type === "FactSet");
  expect(set).toBeDefined();
  const rows = (set?.facts ?? []) as { title: string; value: string }[];
  return Object.fromEntries(rows.map((f) => [f.title, f.value]));
}

describe("renderTeams", () => {
  it("wraps one Adaptive Card in a Workflows message, not a MessageCard", () => {
    const body = renderTeams(nsgAlert([remediated()]));
    expect(body.type).toBe("message");
    expect(body.attachments).toHaveLength(1);
    expect(body.attachments[0].contentType).toBe("application/vnd.microsoft.card.adaptive");
    expect(body.attachments[0].contentUrl).toBeNull();
    const c = card(body);
    expect(c.$schema).toBe("http://adaptivecards.io/schemas/adaptive-card.json");
    expect(c.type).toBe("AdaptiveCard");
    expect(c.version).toBe("1.4");
    expect(JSON.stringify(body)).not.toContain("MessageCard");
  });

  it("describes a remediated finding: title, facts, result and a link to the portal", () => {
    const body = renderTeams(nsgAlert([remediated()]));
    const c = card(body);
    const first = c.body[0] as { type: string; text: string; color: string };
    expect(first.type).toBe("TextBlock");
    expect(first.text).toBe("HIGH · Remediated: SSH open to the Internet on nsg-bastion");
    expect(first.color).toBe("Attention");
    expect(c.fallbackText).toBe(first.text);

    expect(facts(body)).toEqual({
      Who: "alice@contoso.com",
      "Principal type": "User",
      "Principal id": "9a8b7c6d-1111-2222-3333-444455556666",
      "Source IP": "203.0.113.24",
      When: "2025-03-14T09:26:53.5897932Z",
      Operation: "Microsoft.Network/networkSecurityGroups/securityRules/write",
      Resource: "nsg-bastion (microsoft.network/networksecuritygroups)",
      Subscription: "00000000-0000-0000-0000-000000000000",
    });

    const all = texts(c.body);
    expect(all).toContain("**Done:** Deleted security rule allow-ssh-anywhere");
    expect(all.some((t) => t.includes("- rule allow-ssh-anywhere (priority 100): TCP port 22 from *"))).toBe(
      true,
    );
    expect(all.at(-1)).toContain("Event 4a0b1c2d-3e4f-5061-7283-94a5b6c7d8e9");
    expect(all.at(-1)).toContain("Correlation 54ef1e39-6a82-44b3-abc1-bdeb6ce4d3c6");

    expect(c.actions).toEqual([
      {
        type: "Action.OpenUrl",
        title: "Open in Azure portal",
        url: `https://portal.azure.com/#@contoso.onmicrosoft.com/resource${nsgAlert([]).resourceId}/overview`,
      },
    ]);
  });

  it("marks a dry run", () => {
    const all = texts(card(renderTeams(nsgAlert([dryRun()], { dryRun: true }))).body);
    expect(all[0]).toContain("DRY RUN, would remediate");
    expect(all).toContain("DRY RUN: the guardian is in dry-run mode; nothing was changed.");
    expect(all).toContain("**Done:** DRY RUN — would have: delete security rule allow-ssh-anywhere");
  });

  it("says an alert-only finding was not remediated", () => {
    const all = texts(card(renderTeams(nsgAlert([alertOnly()]))).body);
    expect(all).toContain("**Done:** Not remediated: policy mode is alert");
    expect(all).toContain("**Why:** policy entry mode is alert");
  });

  it("stays under the size budget with many findings and says how many were left out", () => {
    const body = renderTeams(nsgAlert(manyResults(500)));
    expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
    const c = card(body);
    const shown = c.body.filter((e) => e.type === "Container").length;
    expect(shown).toBeGreaterThan(5);
    expect(shown).toBeLessThan(500);
    const marker = texts(c.body).find((t) => t.includes("more findings not shown"));
    expect(marker).toBe(
      `… (${500 - shown} more findings not shown: the card would exceed Teams' message size; every finding is in the audit log)`,
    );
  });

  it("honours a smaller budget and keeps every finding when they fit", () => {
    const small = renderTeams(nsgAlert(manyResults(10)), 6000);
    expect(Buffer.byteLength(JSON.stringify(small))).toBeLessThanOrEqual(6000);
    const full = renderTeams(nsgAlert(manyResults(10)));
    expect(card(full).body.filter((e) => e.type === "Container")).toHaveLength(10);
    expect(texts(card(full).body).some((t) => t.includes("more findings not shown"))).toBe(false);
  });

  it("offers no action for a console URL that is not http(s)", () => {
    expect(card(renderTeams(nsgAlert([remediated()], { consoleUrl: "" }))).actions).toEqual([]);
  });

  it("truncates a huge message with a marker instead of dropping it", () => {
    const all = texts(
      card(renderTeams(nsgAlert([remediated(sshFinding({ message: "m".repeat(5000) }))]))).body,
    );
    const message = all.find((t) => t.startsWith("mmm"));
    expect(message?.length).toBeLessThanOrEqual(1000);
    expect(message).toMatch(/… \(\d+ more chars\)$/);
  });
});
