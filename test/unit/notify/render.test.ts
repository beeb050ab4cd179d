// Golden renderings of every kind of decision for Slack (Block Kit), Teams (Workflows Adaptive Card) and the generic
// JSON webhook, each checked against its channel's limits; hostile names never become links or formatting.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { decided, pastTense } from "../../../shared/notify/format.ts";
import { alertPayloadJsonSchema, renderJson } from "../../../shared/notify/json.ts";
import { alertPayloadSchema, DECISION_KINDS, headline } from "../../../shared/notify/model.ts";
import {
  renderSlack,
  SLACK_MAX_BLOCKS,
  SLACK_MAX_HEADER_TEXT,
  SLACK_MAX_SECTION_TEXT,
  type SlackMessage,
} from "../../../shared/notify/slack.ts";
import {
  escapeMarkdown,
  renderTeams,
  TEAMS_MAX_BYTES,
  type TeamsWebhookBody,
} from "../../../shared/notify/teams.ts";
import { undoFor } from "../../../shared/remediation/index.ts";
import { goldenCases, HOSTILE, storm } from "./decision-fixtures.ts";

const golden = (name: string) => path.join(import.meta.dirname, "golden", name);

/** Every text Slack parses as mrkdwn. */
function slackTexts(message: SlackMessage): string[] {
  const out = [message.text];
  for (const block of message.blocks) {
    // A header is plain_text: Slack never parses it for links or mentions.
    const text = block.text as { type?: string; text?: string } | undefined;
    if (text?.text !== undefined && text.type === "mrkdwn") out.push(text.text);
    for (const e of (block.elements as { text?: string }[] | undefined) ?? []) if (e.text) out.push(e.text);
  }
  return out;
}

function checkSlackLimits(message: SlackMessage): void {
  expect(message.blocks.length).toBeLessThanOrEqual(SLACK_MAX_BLOCKS);
  for (const block of message.blocks) {
    const text = (block.text as { text?: string } | undefined)?.text ?? "";
    if (block.type === "header") expect(text.length).toBeLessThanOrEqual(SLACK_MAX_HEADER_TEXT);
    if (block.type === "section") expect(text.length).toBeLessThanOrEqual(SLACK_MAX_SECTION_TEXT);
  }
}

interface Element {
  type: string;
  text?: string;
  items?: Element[];
  inlines?: Element[];
  facts?: { title: string; value: string }[];
}

function walk(elements: Element[], visit: (e: Element) => void): void {
  for (const e of elements) {
    visit(e);
    walk(e.items ?? [], visit);
    walk(e.inlines ?? [], visit);
  }
}

function cardOf(body: TeamsWebhookBody) {
  return body.attachments[0].content;
}

/** Unescaped Markdown link or emphasis in any text Teams reads as Markdown (TextBlock, FactSet). */
function markdownTexts(body: TeamsWebhookBody): string[] {
  const out: string[] = [];
  walk(cardOf(body).body as Element[], (e) => {
    if (e.type === "TextBlock" && e.text !== undefined) out.push(e.text);
    for (const f of e.facts ?? []) out.push(f.title, f.value);
  });
  return out;
}

const cases = goldenCases();

describe("golden renderings per decision kind", () => {
  it("cover every kind of decision", () => {
    const kinds = new Set(Object.values(cases).flatMap((list) => list.map((d) => d.kind)));
    expect([...kinds].sort()).toEqual([...DECISION_KINDS].sort());
  });

  for (const [name, decisions] of Object.entries(cases)) {
    it(`${name}: Slack, Teams and JSON match their golden files and their limits`, async () => {
      expect(decisions).toHaveLength(1);
      const slack = renderSlack(decisions);
      const teams = renderTeams(decisions);
      const json = renderJson(decisions);
      checkSlackLimits(slack);
      expect(Buffer.byteLength(JSON.stringify(teams))).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
      expect(alertPayloadSchema.parse(json)).toEqual(json);
      await expect(`${JSON.stringify(slack, null, 2)}\n`).toMatchFileSnapshot(golden(`${name}.slack.json`));
      await expect(`${JSON.stringify(teams, null, 2)}\n`).toMatchFileSnapshot(golden(`${name}.teams.json`));
      await expect(`${JSON.stringify(json, null, 2)}\n`).toMatchFileSnapshot(golden(`${name}.json`));
    });
  }
});

describe("content a person acts on", () => {
  it("says who, when, where, what was wrong, what was done and how to undo it", () => {
    const [d] = cases["azure-remediated"] ?? [];
    const message = renderSlack([d as never]);
    const all = [JSON.stringify(message.blocks[0]), ...slackTexts(message)].join("\n");
    for (const expected of [
      "alice@contoso.com",
      "203.0.113.24",
      "2025-03-14T09:26:53.5897932Z",
      "nsg-bastion",
      "rg-qubole",
      "westeurope",
      "owner=data-platform@contoso.com",
      "no-ssh-from-internet",
      "azure-nsg-admin-ports-from-internet",
      "CIS Azure 6.2",
      "Before → after",
      "Deleted security rule allow-ssh-anywhere",
      "az network nsg rule create",
      "--priority '100'",
      "https://portal.azure.com/",
    ]) {
      expect(all, expected).toContain(expected);
    }
  });

  it("gives the exact aws command that puts back only what was revoked", () => {
    const [d] = cases["aws-remediated"] ?? [];
    expect(d?.undo?.command).toBe(
      [
        "aws ec2 authorize-security-group-ingress",
        "--region 'us-east-1'",
        "--group-id 'sg-0a1b2c3d4e5f60718'",
        `--ip-permissions '[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"IpRanges":[{"CidrIp":"0.0.0.0/0"}]}]'`,
      ].join(" \\\n  "),
    );
  });

  it("names the resource once in the headline, also when the finding's message already names it", () => {
    const [d] = cases["aws-remediated"] ?? [];
    if (!d) throw new Error("no aws-remediated case");
    expect(headline([d])).toBe("CRITICAL · Remediated: tcp 22 open to 0.0.0.0/0 on qubole-bastion");
    // The sg-ingress-exposure message names the group and its id; the resource name is the id.
    const named = {
      ...d,
      resourceName: "sg-0a1b2c3d4e5f60718",
      message: "Security group qubole-bastion (sg-0a1b2c3d4e5f60718) allows tcp 22 from 0.0.0.0/0",
    };
    expect(headline([named])).toBe(
      "CRITICAL · Remediated: Security group qubole-bastion (sg-0a1b2c3d4e5f60718) allows tcp 22 from 0.0.0.0/0",
    );
  });

  it("makes a dry run unmistakable", () => {
    const texts = slackTexts(renderSlack(cases["azure-dry-run"] ?? [])).join("\n");
    expect(texts).toContain("DRY RUN");
    expect(texts).toContain("Would do");
    expect(cases["azure-dry-run"]?.[0]?.undo).toBeUndefined();
  });
});

describe("hostile names (issue 7, point 17)", () => {
  for (const name of ["aws-hostile", "azure-hostile"]) {
    it(`${name}: Teams shows attacker-chosen values as plain text runs, never Markdown`, () => {
      const body = renderTeams(cases[name] ?? []);
      const json = JSON.stringify(body);
      expect(json).toContain(JSON.stringify(HOSTILE).slice(1, -1));
      for (const text of markdownTexts(body)) {
        expect(text).not.toContain("](");
        expect(text).not.toContain("evil.example");
        expect(text).not.toContain("<at>");
      }
      // Where the name does appear, it is in a TextRun, which Adaptive Card hosts never parse as Markdown.
      const holders: string[] = [];
      walk(cardOf(body).body as Element[], (e) => {
        if (e.text?.includes(HOSTILE)) holders.push(e.type);
      });
      expect(holders.length).toBeGreaterThan(0);
      expect(new Set(holders)).toEqual(new Set(["TextRun"]));
      expect(cardOf(body).fallbackText).not.toContain("<at>");
    });

    it(`${name}: Slack shows them as escaped inline code: no link, no mention, no formatting`, () => {
      const texts = slackTexts(renderSlack(cases[name] ?? []));
      for (const text of texts) {
        expect(text).not.toMatch(/<!channel>|<https:\/\/evil/);
        // Each occurrence of the name sits inside a code span.
        for (const m of text.matchAll(/\[approve exemption\]\(https:\/\/evil\.example\)/g)) {
          const before = text.slice(0, m.index);
          const ticks = (before.replace(/```[\s\S]*?```/g, "").match(/`/g) ?? []).length;
          expect(ticks % 2, text).toBe(1);
        }
      }
    });
  }

  it("escapeMarkdown neutralises links and emphasis", () => {
    expect(escapeMarkdown(HOSTILE)).toBe("\\[approve exemption\\]\\(https://evil\\.example\\)");
    expect(escapeMarkdown("**x**")).toBe("\\*\\*x\\*\\*");
  });

  it("quotes the undo command so a hostile rule description cannot break out of it", () => {
    const [d] = cases["azure-hostile"] ?? [];
    expect(d?.undo?.command).toContain("--description 'temporary: vendor'\\''s support session'");
  });

  it("never links a console URL that is not http(s)", () => {
    const [d] = cases["azure-remediated"] ?? [];
    const evil = { ...(d as NonNullable<typeof d>), consoleUrl: "javascript:alert(1)" };
    expect(JSON.stringify(renderSlack([evil]))).not.toContain("<javascript:");
    expect(cardOf(renderTeams([evil])).actions).toEqual([]);
  });
});

describe("storms and limits", () => {
  it("one Slack message for 120 decisions: 50 blocks, a visible marker for the rest", () => {
    const message = renderSlack(storm(120));
    checkSlackLimits(message);
    expect(message.blocks).toHaveLength(SLACK_MAX_BLOCKS);
    expect(JSON.stringify(message.blocks.at(-2))).toMatch(/… \d+ more decisions not shown/);
    expect(message.blocks[0]).toMatchObject({ text: { text: expect.stringContaining("120 decisions") } });
  });

  it("one Teams card for 500 decisions within the size budget, with a visible marker", () => {
    const body = renderTeams(storm(500));
    expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
    expect(JSON.stringify(body)).toMatch(/… \d+ more decisions not shown/);
  });

  it("one JSON body for 500 decisions within its budget, counting what it left out", () => {
    const body = renderJson(storm(500), 100_000);
    expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThanOrEqual(100_000);
    expect(body.omitted).toBe(500 - body.decisions.length);
    expect(body.omitted).toBeGreaterThan(0);
  });

  it("a section with one enormous value is cut with a marker, never past the limit", () => {
    const [d] = storm(1);
    const huge = {
      ...(d as NonNullable<typeof d>),
      message: "x".repeat(1000),
      matched: Array(11).fill("y".repeat(500)),
    };
    checkSlackLimits(renderSlack([huge]));
  });
});

describe("the generic webhook's documented payload", () => {
  it("docs/alert-payload.schema.json is the schema the code validates with (regenerate: guardian alerts schema --out)", () => {
    const file = path.join(import.meta.dirname, "../../../docs/alert-payload.schema.json");
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(alertPayloadJsonSchema());
  });
});

describe("undo for every remediation", () => {
  it("storage-close-network: one PATCH of the parts it changed, with their audited before-state", () => {
    const id =
      "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-data/providers/Microsoft.Storage/storageAccounts/stqubole";
    const undo = undoFor(
      {
        finding: goldenCases()["azure-remediated"]?.[0] as never,
        mode: "remediate",
        outcome: "applied",
        reason: "r",
        planned: {
          remediation: "storage-close-network",
          resourceId: id,
          summary: "close",
          operation: {},
          before: {
            networkAcls: { defaultAction: "Allow", ipRules: [{ value: "198.51.100.7", action: "Allow" }] },
          },
          after: { networkAcls: { defaultAction: "Deny", ipRules: [] } },
        },
      },
      { account: "00000000-0000-0000-0000-000000000000" },
    );
    expect(undo?.command).toBe(
      [
        "az rest --method patch",
        `--url 'https://management.azure.com${id}?api-version=2025-08-01'`,
        `--body '{"properties":{"networkAcls":{"defaultAction":"Allow","ipRules":[{"value":"198.51.100.7","action":"Allow"}]}}}'`,
      ].join(" \\\n  "),
    );
    expect(undo?.portal).toContain("stqubole › Networking");
  });
});

describe("matched parts of the subnet, policy and egress rules read as a person says them", () => {
  it("uses the part's own words, the entry it names, and an outbound rule's destinations", async () => {
    const { describeMatched } = await import("../../../shared/notify/format.ts");
    expect(
      describeMatched({ part: "networkSecurityGroup", current: null, why: "no network security group" }),
    ).toBe("no network security group");
    expect(
      describeMatched({
        definition: "datalake",
        resource: "/subscriptions/6d5c",
        why: "whole subscription 6d5c, another subscription than those approved",
      }),
    ).toBe(
      "datalake: /subscriptions/6d5c: whole subscription 6d5c, another subscription than those approved",
    );
    expect(
      describeMatched({
        securityRule: "open",
        priority: 200,
        protocol: "Tcp",
        destinations: ["Internet"],
        ports: ["443"],
        direction: "Outbound",
      }),
    ).toMatch(/^rule open \(priority 200\): TCP port 443 to (the )?Internet$/);
  });
});

describe("what was done reads as a past-tense sentence, whatever form the remediation's summary has", () => {
  it.each([
    // delete-rule, restrict-source, deny-rule (shared/rules/nsg/narrow.ts)
    [
      "delete security rule ssh (it allowed Tcp 22 from Internet)",
      "Deleted security rule ssh: it allowed TCP 22 from the Internet",
    ],
    [
      "remove port 22 from security rule admin (it allowed Tcp 22 from *); keeps 3389",
      "Removed port 22 from security rule admin: it allowed TCP 22 from *; it keeps 3389",
    ],
    [
      "set security rule ssh to Deny (it allowed Tcp 22 from *)",
      "Set security rule ssh to Deny: it allowed TCP 22 from *",
    ],
    // revoke-cidr, revoke-all, remove-principals, require-acceptance, sep-remove-resources, remove-private-endpoint
    [
      "revoke ingress tcp 22 from 0.0.0.0/0 on sg-1; other sources stay",
      "Revoked ingress tcp 22 from 0.0.0.0/0 on sg-1; other sources stay",
    ],
    [
      "require acceptance of connection requests on endpoint service vpce-svc-1",
      "Required acceptance of connection requests on endpoint service vpce-svc-1",
    ],
    ["delete private endpoint pe-1 (connects to st-1)", "Deleted private endpoint pe-1 (connects to st-1)"],
    // storage-close-network: its clauses are already past participles
    [
      "close storage account st1: firewall default action set to Deny (was Allow: all networks); put back required IP rule 203.0.113.10",
      "Closed storage account st1: firewall default action set to Deny (was Allow: all networks); put back required IP rule 203.0.113.10",
    ],
    // subnet-restore names the subnet first, then one clause per part
    [
      "subnet snet-private: attach service endpoint policy sep-a, sep-b; replace NSG nsg-old with nsg-private; remove service endpoint Microsoft.Storage, detach its service endpoint policies",
      "Changed subnet snet-private: attached service endpoint policy sep-a, sep-b; replaced NSG nsg-old with nsg-private; removed service endpoint Microsoft.Storage, detached its service endpoint policies",
    ],
    // narrow-private-link-service lists settings before → after
    ['visibility ["*"] → ["sub-1"]', 'Changed visibility ["*"] → ["sub-1"]'],
  ])("%s", (summary, done) => {
    expect(pastTense(summary)).toBe(done);
  });

  it("an approval or rejection that is the summary's own verb is not said twice", () => {
    expect(decided("Approved", "approve pending connection pe (x)")).toBe(
      "Approved pending connection pe (x)",
    );
    expect(decided("Rejected", "reject request vpce-1 from account 1 to vpce-svc-1")).toBe(
      "Rejected request vpce-1 from account 1 to vpce-svc-1",
    );
    expect(decided("Approved", "delete security rule x")).toBe("Approved: delete security rule x");
    expect(decided("Rejected", undefined)).toBe("Rejected");
  });
});
