import { describe, expect, it } from "vitest";
import {
  escapeMrkdwn,
  fitSectionText,
  renderSlack,
  SLACK_MAX_BLOCKS,
  SLACK_MAX_HEADER_TEXT,
  SLACK_MAX_SECTION_TEXT,
  type SlackBlock,
} from "../../../shared/notify/slack.ts";
import { alertOnly, dryRun, manyResults, nsgAlert, remediated, sshFinding } from "./alert-fixtures.ts";

function headerText(blocks: SlackBlock[]): string {
  const header = blocks[0] as { type: string; text: { type: string; text: string } };
  expect(header.type).toBe("header");
  expect(header.text.type).toBe("plain_text");
  return header.text.text;
}

function sectionTexts(blocks: SlackBlock[]): string[] {
  return blocks
    .filter((b) => b.type === "section")
    .map((b) => (b as { text: { type: string; text: string } }).text)
    .map((t) => {
      expect(t.type).toBe("mrkdwn");
      return t.text;
    });
}

function contextText(blocks: SlackBlock[]): string {
  const last = blocks[blocks.length - 1] as { type: string; elements: { type: string; text: string }[] };
  expect(last.type).toBe("context");
  return last.elements.map((e) => e.text).join(" ");
}

describe("renderSlack", () => {
  it("describes a remediated finding: header, who, linked resource, what was done, ids", () => {
    const { text, blocks } = renderSlack(nsgAlert([remediated()]));

    expect(headerText(blocks)).toBe("HIGH · Remediated: SSH open to the Internet on nsg-bastion");
    expect(text).toContain("Remediated: SSH open to the Internet on nsg-bastion");
    expect(text).toContain("alice@contoso.com");

    const [who, result] = sectionTexts(blocks);
    expect(who).toContain("*Who:* alice@contoso.com (User, id 9a8b7c6d-1111-2222-3333-444455556666)");
    expect(who).toContain("*Source IP:* 203.0.113.24");
    expect(who).toContain("*When:* 2025-03-14T09:26:53.5897932Z");
    expect(who).toContain("*Operation:* Microsoft.Network/networkSecurityGroups/securityRules/write");
    expect(who).toContain(
      "<https://portal.azure.com/#@contoso.onmicrosoft.com/resource/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-qubole/providers/Microsoft.Network/networkSecurityGroups/nsg-bastion/overview|nsg-bastion>",
    );
    expect(who).toContain("*Subscription:* 00000000-0000-0000-0000-000000000000");

    expect(result).toContain(
      "*HIGH* · *no-ssh-from-internet* (azure-nsg-admin-ports-from-internet) · CIS Azure 6.2",
    );
    expect(result).toContain("SSH open to the Internet");
    expect(result).toContain("• `rule allow-ssh-anywhere (priority 100): TCP port 22 from *`");
    expect(result).toContain("*Done:* Deleted security rule allow-ssh-anywhere");
    expect(result).not.toContain("DRY RUN");

    const context = contextText(blocks);
    expect(context).toContain("Event 4a0b1c2d-3e4f-5061-7283-94a5b6c7d8e9");
    expect(context).toContain("Correlation 54ef1e39-6a82-44b3-abc1-bdeb6ce4d3c6");
    expect(blocks).toHaveLength(4);
  });

  it("marks a dry run unmistakably, in the header and in the result", () => {
    const { blocks } = renderSlack(nsgAlert([dryRun()], { dryRun: true }));
    expect(headerText(blocks)).toBe(
      "HIGH · DRY RUN, would remediate: SSH open to the Internet on nsg-bastion",
    );
    const [who, result] = sectionTexts(blocks);
    expect(who).toContain("*DRY RUN:*");
    expect(result).toContain("*Done:* DRY RUN — would have: delete security rule allow-ssh-anywhere");
    expect(result).toContain("*Why:* dry-run switch is on");
  });

  it("says an alert-only finding was not remediated, and why", () => {
    const { blocks } = renderSlack(nsgAlert([alertOnly()]));
    expect(headerText(blocks)).toBe("HIGH · Violation: SSH open to the Internet on nsg-bastion");
    const result = sectionTexts(blocks)[1];
    expect(result).toContain("*Done:* Not remediated: policy mode is alert");
    expect(result).toContain("*Why:* policy entry mode is alert");
  });

  it("puts a failure first in the headline even when another finding was remediated", () => {
    const failed = {
      ...remediated(sshFinding({ severity: "critical" })),
      outcome: "failed" as const,
      reason: "HTTP 403",
    };
    const { blocks } = renderSlack(nsgAlert([remediated(), failed]));
    expect(headerText(blocks)).toBe("CRITICAL · Remediation FAILED: 2 findings on nsg-bastion");
    // Most severe result first.
    expect(sectionTexts(blocks)[1]).toContain("*CRITICAL*");
  });

  it("says so when the event carried no caller identity", () => {
    const { blocks } = renderSlack(nsgAlert([remediated()], { actor: {} }));
    expect(sectionTexts(blocks)[0]).toContain("*Who:* unknown (the event carried no caller identity)");
  });

  it("keeps within 50 blocks and says how many findings were left out", () => {
    const { blocks } = renderSlack(nsgAlert(manyResults(120)));
    expect(blocks).toHaveLength(SLACK_MAX_BLOCKS);
    const texts = sectionTexts(blocks);
    // Header, who, 46 results, the marker, context.
    expect(texts.filter((t) => t.includes("*Done:*"))).toHaveLength(46);
    expect(texts.at(-1)).toContain("… (74 more findings not shown");
    // Severity order: every shown finding is a high one (60 of the 120 are high).
    expect(texts.slice(1, -1).every((t) => t.startsWith("*HIGH*"))).toBe(true);
  });

  it("shows all 47 findings when they fit exactly, with no marker", () => {
    const { blocks } = renderSlack(nsgAlert(manyResults(47)));
    expect(blocks).toHaveLength(SLACK_MAX_BLOCKS);
    expect(sectionTexts(blocks).some((t) => t.includes("more findings not shown"))).toBe(false);
  });

  it("truncates an oversized section with a visible marker, never above 3,000 characters", () => {
    const matched = Array.from({ length: 40 }, (_, i) => ({
      securityRule: `rule-${i}`,
      sourceAddressPrefixes: Array.from({ length: 30 }, (_, j) => `198.51.100.${j}/32`),
    }));
    const { blocks } = renderSlack(
      nsgAlert([remediated(sshFinding({ matched, message: "x".repeat(5000) }))]),
    );
    const result = sectionTexts(blocks)[1] ?? "";
    expect(result.length).toBeLessThanOrEqual(SLACK_MAX_SECTION_TEXT);
    expect(result).toMatch(/… \(\d+ more chars\)/);
    for (const text of sectionTexts(blocks)) expect(text.length).toBeLessThanOrEqual(SLACK_MAX_SECTION_TEXT);
  });

  it("lists at most ten matched parts and counts the rest", () => {
    const matched = Array.from({ length: 15 }, (_, i) => ({ securityRule: `rule-${i}` }));
    const result = sectionTexts(renderSlack(nsgAlert([remediated(sshFinding({ matched }))])).blocks)[1] ?? "";
    expect(result).toContain("• `rule rule-9`");
    expect(result).not.toContain("rule-10");
    expect(result).toContain("• … (5 more)");
  });

  it("caps the header at 150 characters with a marker", () => {
    const { blocks } = renderSlack(nsgAlert([remediated(sshFinding({ message: "A".repeat(400) }))]));
    const header = headerText(blocks);
    expect(header.length).toBeLessThanOrEqual(SLACK_MAX_HEADER_TEXT);
    expect(header).toMatch(/… \(\d+ more chars\)$/);
  });

  it("escapes &, < and > in user-controlled text so nothing pings or links", () => {
    const finding = sshFinding({
      policyRule: "<!channel> ssh & rdp",
      message: "Rule <https://evil.example|click> allows 22",
      matched: [{ description: "a > b" }],
    });
    const { text, blocks } = renderSlack(
      nsgAlert([remediated(finding)], { actor: { name: "<@U024BE7LH>" } }),
    );
    const all = [text, ...sectionTexts(blocks)].join("\n");
    expect(all).toContain("&lt;!channel&gt; ssh &amp; rdp");
    expect(all).toContain("Rule &lt;https://evil.example|click&gt; allows 22");
    expect(all).toContain("description: a &gt; b");
    expect(all).toContain("*Who:* &lt;@U024BE7LH&gt;");
    expect(all).not.toContain("<!channel>");
    expect(all).not.toContain("<https://evil.example");
    // The header is plain_text, which Slack does not parse for links or mentions: kept verbatim.
    expect(headerText(blocks)).toContain("Rule <https://evil.example|click> allows 22");
  });

  it("links only http(s) console URLs", () => {
    const who = sectionTexts(
      renderSlack(nsgAlert([remediated()], { consoleUrl: "javascript:alert(1)" })).blocks,
    )[0];
    expect(who).toContain("*Resource:* nsg-bastion (microsoft.network/networksecuritygroups)");
  });
});

describe("escapeMrkdwn", () => {
  it("escapes & first so entities are not double-escaped wrongly", () => {
    expect(escapeMrkdwn("a & <b> &lt;")).toBe("a &amp; &lt;b&gt; &amp;lt;");
  });
});

describe("fitSectionText", () => {
  it("keeps whole lines and counts the dropped ones", () => {
    const lines = Array.from({ length: 100 }, (_, i) => `line ${i} ${"y".repeat(50)}`);
    const out = fitSectionText(lines, 500);
    expect(out.length).toBeLessThanOrEqual(500);
    expect(out).toMatch(/\n… \(\d+ more lines\)$/);
    expect(out.startsWith("line 0 ")).toBe(true);
  });

  it("never cuts through an entity or a link", () => {
    // With a 90-char limit the cut falls at 58: inside the second `&amp;`, then inside the link.
    const entity = fitSectionText([`${"a".repeat(50)}&amp;&amp;${"b".repeat(100)}`], 90);
    expect(entity.length).toBeLessThanOrEqual(90);
    expect(entity.startsWith(`${"a".repeat(50)}&amp;…`)).toBe(true);
    const link = fitSectionText([`${"a".repeat(40)}<https://x.example|y>${"b".repeat(100)}`], 90);
    expect(link.startsWith(`${"a".repeat(40)}…`)).toBe(true);
    expect(link).not.toContain("<https");
  });
});

describe("matched parts as one line", () => {
  it("reads an NSG rule, a security group permission and a resource setting as a person would say them", async () => {
    const { describeMatched } = await import("../../../shared/notify/format.ts");
    expect(
      describeMatched({
        securityRule: "allow-ssh",
        priority: 110,
        protocol: "Tcp",
        sources: ["Internet"],
        ports: ["22"],
        direction: "Inbound",
      }),
    ).toBe("rule allow-ssh (priority 110): TCP port 22 from the Internet");
    expect(
      describeMatched({ protocol: "-1", cidr: "0.0.0.0/0", family: "ipv4", ports: ["22", "3389"] }),
    ).toBe("all traffic from 0.0.0.0/0 (covers 22, 3389)");
    expect(describeMatched({ protocol: "tcp", fromPort: 20, toPort: 25, cidr: "::/0", ports: ["22"] })).toBe(
      "TCP 20-25 from ::/0 (covers 22)",
    );
    expect(describeMatched({ part: "allowBlobPublicAccess", value: null })).toBe(
      "allowBlobPublicAccess is not set",
    );
    expect(
      describeMatched({ part: "networkAcls.defaultAction", value: "Allow", publicNetworkAccess: "Enabled" }),
    ).toBe("networkAcls.defaultAction is Allow (publicNetworkAccess: Enabled)");
    expect(describeMatched({ something: "else" })).toBe("something: else");
  });
});
