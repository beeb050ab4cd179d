// The deployable Lambda bundle (esbuild output of lambdas/on-change.ts), configured only through its environment as in
// AWS, against moto's EC2 and the local webhook sink. Events are the CloudTrail-shaped fixtures of
// test/fixtures/events/aws/ (README there) adapted to the groups seeded in moto; SQS records and the Lambda context
// follow the AWS Lambda developer guide (see helpers/aws-events.ts).
//
// EC2 calls go through a small recording proxy in front of moto so each case can say how many reads and writes the
// guardian made (moto itself does not count requests). The test's own reads go to moto directly.

import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
  type IpPermission,
  type SecurityGroup,
  type SecurityGroupRule,
} from "@aws-sdk/client-ec2";
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import type { Context, SQSBatchResponse } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildAll } from "../../scripts/build.ts";
import { awsConsoleUrl } from "../../shared/clouds/aws/console.ts";
import type { OnChangeResult } from "../../shared/usecases/on-change.ts";
import { ec2ClientFor, MOTO_ACCOUNT, type MotoServer, startMoto } from "../harness/moto.ts";
import { type SinkRequest, startWebhookSink, type WebhookSink } from "../harness/webhook-sink.ts";
import {
  adaptAwsEvent,
  assumedRoleIdentity,
  type CloudTrailEvent,
  lambdaContext,
  loadAwsEvent,
  sqsEvent,
  sqsRecord,
} from "./helpers/aws-events.ts";

const REGION = "us-east-1";
const FUNCTION_NAME = "network-guardian-on-change";
const GUARDIAN_ROLE = `arn:aws:iam::${MOTO_ACCOUNT}:role/network-guardian`;
const POLICY_FILE = path.resolve(import.meta.dirname, "../../policies/baseline.yaml");
const nativeRequire = createRequire(import.meta.url);

// A human engineer signed in through IAM Identity Center: the role carries the reserved SSO path.
const ENGINEER = assumedRoleIdentity({
  account: MOTO_ACCOUNT,
  roleName: "AWSReservedSSO_NetworkAdmin_5f3c2a1b9d8e7f60",
  rolePath: "/aws-reserved/sso.amazonaws.com/",
  sessionName: "priya.raman@example.com",
  mfaAuthenticated: true,
});
const ENGINEER_ARN = `arn:aws:sts::${MOTO_ACCOUNT}:assumed-role/AWSReservedSSO_NetworkAdmin_5f3c2a1b9d8e7f60/priya.raman@example.com`;
// The guardian's own Lambda role: the session name Lambda uses is the function name.
const GUARDIAN_SESSION = assumedRoleIdentity({
  account: MOTO_ACCOUNT,
  roleName: "network-guardian",
  sessionName: FUNCTION_NAME,
});

type LambdaResult = OnChangeResult | SQSBatchResponse;
type LambdaHandler = (event: unknown, context: Context) => Promise<LambdaResult>;
type LogLine = { level: string; message: string; requestId?: string } & Record<string, unknown>;

interface Ec2Recorder {
  endpoint: string;
  /** The EC2 `Action` of every request the guardian sent, in order. */
  actions: string[];
  /** The form parameters of the same requests. */
  bodies: URLSearchParams[];
  stop(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  "host",
  "connection",
  "content-length",
  "transfer-encoding",
  "keep-alive",
  "expect",
]);

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Forwards EC2 query-API requests to moto and records their Action (the form field every EC2 call carries). */
async function startEc2Recorder(target: string): Promise<Ec2Recorder> {
  const actions: string[] = [];
  const bodies: URLSearchParams[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const params = new URLSearchParams(body.toString("utf8"));
      actions.push(params.get("Action") ?? "(none)");
      bodies.push(params);
      const headers = new Headers();
      for (const [key, value] of Object.entries(req.headers)) {
        if (value !== undefined && !HOP_BY_HOP.has(key))
          headers.set(key, Array.isArray(value) ? value.join(", ") : value);
      }
      const upstream = await fetch(new URL(req.url ?? "/", target), {
        method: req.method ?? "POST",
        headers,
        ...(body.length > 0 ? { body } : {}),
      });
      const payload = Buffer.from(await upstream.arrayBuffer());
      res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "text/xml" });
      res.end(payload);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    actions,
    bodies,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** Runs `fn` with stdout captured: the Lambda logger writes one JSON line per record there, as CloudWatch sees it. */
async function capturingStdout<T>(fn: () => Promise<T>): Promise<{ value: T; logs: LogLine[] }> {
  const original = process.stdout.write;
  let text = "";
  process.stdout.write = ((chunk: string | Uint8Array) => {
    text += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    return true;
  }) as typeof process.stdout.write;
  try {
    const value = await fn();
    return { value, logs: parseLogs(text) };
  } finally {
    process.stdout.write = original;
  }
}

function parseLogs(text: string): LogLine[] {
  return text
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as LogLine);
}

function asOnChange(result: LambdaResult): OnChangeResult {
  if (!("outcomes" in result)) throw new Error("expected an OnChangeResult, got an SQS batch response");
  return result;
}

function slackTextOf(request: SinkRequest): string {
  const body = request.body as {
    text?: string;
    blocks?: { text?: { text?: string }; elements?: { text?: string }[] }[];
  };
  const parts = [body.text ?? ""];
  for (const block of body.blocks ?? []) {
    if (block.text?.text !== undefined) parts.push(block.text.text);
    for (const element of block.elements ?? []) if (element.text !== undefined) parts.push(element.text);
  }
  return parts.join("\n");
}

interface CardElement {
  type: string;
  text?: string;
  url?: string;
  facts?: { title: string; value: string }[];
  items?: CardElement[];
  inlines?: { text?: string }[];
}

function teamsCardOf(request: SinkRequest): {
  title: string;
  texts: string[];
  facts: Record<string, string>;
  url?: string;
} {
  const body = request.body as {
    type?: string;
    attachments?: { contentType?: string; content?: { body?: CardElement[]; actions?: CardElement[] } }[];
  };
  expect(body.type).toBe("message");
  const attachment = body.attachments?.[0];
  expect(attachment?.contentType).toBe("application/vnd.microsoft.card.adaptive");
  const elements = attachment?.content?.body ?? [];
  const flat = (list: CardElement[]): CardElement[] => list.flatMap((e) => [e, ...flat(e.items ?? [])]);
  const all = flat(elements);
  // A RichTextBlock reads as its runs joined; "Label: value" lines are the card's facts.
  const textOf = (e: CardElement) => e.text ?? e.inlines?.map((i) => i.text ?? "").join("");
  const texts = all.flatMap((e) => {
    const t = textOf(e);
    return t === undefined ? [] : [t];
  });
  const facts = Object.fromEntries(
    texts.flatMap((t) => {
      const m = /^([A-Z][A-Za-z ]+): (.*)$/s.exec(t);
      return m ? [[m[1], m[2]]] : [];
    }),
  );
  const url = attachment?.content?.actions?.find((a) => a.type === "Action.OpenUrl")?.url;
  return {
    title: elements[0] ? (textOf(elements[0]) ?? "") : "",
    texts,
    facts,
    ...(url === undefined ? {} : { url }),
  };
}

/** A permission list in a comparable form: sources sorted, empty lists dropped, the moto-only shape ignored. */
function normalised(permissions: IpPermission[] | undefined) {
  return (permissions ?? [])
    .map((p) => ({
      protocol: p.IpProtocol,
      from: p.FromPort,
      to: p.ToPort,
      v4: (p.IpRanges ?? []).map((r) => r.CidrIp).sort(),
      v6: (p.Ipv6Ranges ?? []).map((r) => r.CidrIpv6).sort(),
      groups: (p.UserIdGroupPairs ?? []).map((g) => g.GroupId).sort(),
    }))
    .sort((a, b) => `${a.protocol}${a.from}`.localeCompare(`${b.protocol}${b.from}`));
}

describe("bundled Lambda on-change handler against moto and the webhook sink", () => {
  let outdir: string;
  let bundle: string;
  let moto: MotoServer;
  let sink: WebhookSink;
  let recorder: Ec2Recorder;
  let ec2: EC2Client;
  let handler: LambdaHandler;
  const savedEnv: Record<string, string | undefined> = {};

  function setEnv(values: Record<string, string>): void {
    for (const [key, value] of Object.entries(values)) {
      if (!(key in savedEnv)) savedEnv[key] = process.env[key];
      process.env[key] = value;
    }
  }

  function restoreEnv(): void {
    for (const [key, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }

  /**
   * A fresh module instance of the bundle (fresh configuration and clients), as a new execution environment.
   * Loaded by Node itself (require of an ES module, stable since Node 22.12): through Vitest's module runner the 2 MB
   * bundle is transformed first, about 10 s per instance on the CI machine. Node keeps one instance per path, so each
   * environment is a copy beside the original (its source map link still resolves).
   */
  async function loadHandler(instance: string): Promise<LambdaHandler> {
    const file = path.join(path.dirname(bundle), `on-change.${instance}.mjs`);
    await copyFile(bundle, file);
    const mod: unknown = nativeRequire(file);
    const exported = (mod as { handler?: unknown }).handler;
    if (typeof exported !== "function") throw new Error(`${bundle} exports no handler`);
    return exported as LambdaHandler;
  }

  async function invoke(fn: LambdaHandler, event: unknown) {
    const context = lambdaContext({ functionName: FUNCTION_NAME, account: MOTO_ACCOUNT, region: REGION });
    const { value, logs } = await capturingStdout(() => fn(event, context));
    return { result: value, logs, context };
  }

  async function describe1(groupId: string): Promise<SecurityGroup> {
    const out = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
    const group = out.SecurityGroups?.[0];
    if (group === undefined) throw new Error(`${groupId} not found`);
    return group;
  }

  async function createGroup(name: string, vpcId?: string): Promise<string> {
    const out = await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: name,
        Description: `${name} (test)`,
        ...(vpcId ? { VpcId: vpcId } : {}),
      }),
    );
    if (out.GroupId === undefined) throw new Error(`moto created ${name} without an id`);
    return out.GroupId;
  }

  async function authorize(groupId: string, permission: IpPermission): Promise<SecurityGroupRule[]> {
    const out = await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [permission] }),
    );
    return out.SecurityGroupRules ?? [];
  }

  /**
   * A bastion in a private VPC, reachable on 22 from the VPC's CIDR and from an ops group; then an engineer opens 22
   * to the world on it. Returns the event CloudTrail would have recorded for that last call.
   */
  async function bastionOpenedToWorld(
    name = "qubole-bastion",
  ): Promise<{ groupId: string; opsId: string; event: CloudTrailEvent }> {
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/16" }));
    const vpcId = vpc.Vpc?.VpcId ?? "";
    const opsId = await createGroup(`${name}-ops`, vpcId);
    const groupId = await createGroup(name, vpcId);
    await authorize(groupId, {
      IpProtocol: "tcp",
      FromPort: 22,
      ToPort: 22,
      IpRanges: [{ CidrIp: "10.0.0.0/16" }],
      UserIdGroupPairs: [{ GroupId: opsId }],
    });
    const opened: IpPermission = {
      IpProtocol: "tcp",
      FromPort: 22,
      ToPort: 22,
      IpRanges: [{ CidrIp: "0.0.0.0/0" }],
    };
    const ruleSet = await authorize(groupId, opened);
    const event = adaptAwsEvent(loadAwsEvent("authorize-ingress-v108-ruleset.json"), {
      account: MOTO_ACCOUNT,
      region: REGION,
      identity: ENGINEER,
      sourceIp: "198.51.100.77",
      group: { groupId },
      ipPermissions: [opened],
      ruleSet,
    });
    return { groupId, opsId, event };
  }

  beforeAll(async () => {
    outdir = await mkdtemp(path.join(tmpdir(), "guardian-lambda-"));
    const [built, startedMoto, startedSink] = await Promise.all([
      // Only the entry under test: the other bundles would only lengthen the set-up.
      buildAll(outdir, { only: (e) => e.side === "lambdas" && e.name === "on-change" }),
      startMoto(),
      startWebhookSink(),
    ]);
    moto = startedMoto;
    sink = startedSink;
    const lambda = built.find((b) => b.side === "lambdas" && b.name === "on-change");
    if (lambda === undefined) throw new Error("buildAll produced no lambdas/on-change bundle");
    // The bundle the deployed entry loads: require() of the entry itself would refuse its top-level await (the entry's
    // compile-cache loader is covered by build.test.ts).
    bundle = lambda.bundle;
    recorder = await startEc2Recorder(moto.endpoint);
    ec2 = ec2ClientFor(moto.endpoint);
    setEnv({
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: "testing",
      AWS_SECRET_ACCESS_KEY: "testing",
      AWS_SESSION_TOKEN: "testing",
      GUARDIAN_EC2_ENDPOINT: recorder.endpoint,
      GUARDIAN_POLICY_FILE: POLICY_FILE,
      GUARDIAN_SELF_IDENTITIES: GUARDIAN_ROLE,
      GUARDIAN_DRY_RUN: "false",
      SLACK_WEBHOOK_URL: sink.slackUrl,
      TEAMS_WEBHOOK_URL: sink.teamsUrl,
    });
    handler = await loadHandler("base");
  });

  afterAll(async () => {
    restoreEnv();
    ec2?.destroy();
    await recorder?.stop();
    await sink?.stop();
    await moto?.stop();
    if (outdir) await rm(outdir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await moto.reset();
    recorder.actions.length = 0;
    sink.received.length = 0;
    sink.attempts.length = 0;
  });

  it("revokes only 0.0.0.0/0 from the bastion's SSH permission and alerts Slack and Teams once each", async () => {
    const { groupId, opsId, event } = await bastionOpenedToWorld();
    recorder.actions.length = 0;

    const { result, logs, context } = await invoke(handler, event);

    const onChange = asOnChange(result);
    expect(onChange.skipped).toEqual([]);
    expect(onChange.retryable).toBe(false);
    expect(onChange.outcomes).toHaveLength(1);
    const outcome = onChange.outcomes[0];
    expect(outcome?.status).toBe("evaluated");
    expect(outcome?.actions.map((a) => [a.finding.policyRule, a.outcome])).toEqual([
      ["aws-no-admin-ports-from-world", "applied"],
    ]);
    expect(outcome?.deliveries).toEqual([
      { channel: "slack", ok: true },
      { channel: "teams", ok: true },
    ]);
    // One read, the ids of the rules the revoke removes (to settle a lost answer exactly), one surgical write.
    expect(recorder.actions).toEqual([
      "DescribeSecurityGroups",
      "DescribeSecurityGroupRules",
      "RevokeSecurityGroupIngress",
    ]);
    // The event recorded the rule id CloudTrail created for 0.0.0.0/0, but the revoke names the exact content: an id
    // survives ModifySecurityGroupRules, content does not.
    const revoke = recorder.bodies.at(-1);
    expect(revoke?.get("IpPermissions.1.IpRanges.1.CidrIp")).toBe("0.0.0.0/0");
    expect(revoke?.get("IpPermissions.1.FromPort")).toBe("22");
    expect(revoke?.has("SecurityGroupRuleId.1")).toBe(false);

    expect(normalised((await describe1(groupId)).IpPermissions)).toEqual([
      { protocol: "tcp", from: 22, to: 22, v4: ["10.0.0.0/16"], v6: [], groups: [opsId] },
    ]);

    const consoleUrl = awsConsoleUrl(REGION, groupId);
    expect(sink.received.map((r) => r.path.split("/")[1])).toEqual(["slack", "teams"]);
    const [slackRequest, teamsRequest] = sink.received as [SinkRequest, SinkRequest];
    const slack = slackTextOf(slackRequest);
    expect(slack).toContain(ENGINEER_ARN);
    expect(slack).toContain(`<${consoleUrl.replace(/&/g, "&amp;")}|\`${groupId}\`>`);
    expect(slack).toContain(
      `*Done:* \`Revoked ingress tcp 22 from 0.0.0.0/0 on ${groupId}; other sources stay\``,
    );
    expect(slack).toContain("*Operation:* `AuthorizeSecurityGroupIngress`");
    expect(slack).not.toContain("DRY RUN");

    const card = teamsCardOf(teamsRequest);
    expect(card.title).toMatch(/^CRITICAL · Remediated: /);
    expect(card.title).toContain(groupId);
    expect(card.facts.Who).toBe(ENGINEER_ARN);
    expect(card.facts.Account).toBe(MOTO_ACCOUNT);
    expect(card.url).toBe(consoleUrl);
    expect(card.texts.join("\n")).toContain(
      `Done: Revoked ingress tcp 22 from 0.0.0.0/0 on ${groupId}; other sources stay`,
    );

    // The audit record is one log line tagged with the invocation's request id.
    const decisions = logs.filter((l) => l.message === "guardian.decision");
    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toMatchObject({
      requestId: context.awsRequestId,
      resourceId: groupId,
      outcome: "applied",
      remediation: "revoke-cidr",
      eventId: (event.detail as { eventID: string }).eventID,
    });
  });

  it("never revokes the allow-listed office range beside the 0.0.0.0/0 an engineer added: it alerts it apart", async () => {
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/16" }));
    const groupId = await createGroup("office-ssh", vpc.Vpc?.VpcId);
    await authorize(groupId, {
      IpProtocol: "tcp",
      FromPort: 22,
      ToPort: 22,
      IpRanges: [{ CidrIp: "203.0.113.0/24", Description: "office" }],
    });
    const opened: IpPermission = {
      IpProtocol: "tcp",
      FromPort: 22,
      ToPort: 22,
      IpRanges: [{ CidrIp: "0.0.0.0/0" }],
    };
    const ruleSet = await authorize(groupId, opened);
    const event = adaptAwsEvent(loadAwsEvent("authorize-ingress-v108-ruleset.json"), {
      account: MOTO_ACCOUNT,
      region: REGION,
      identity: ENGINEER,
      group: { groupId },
      ipPermissions: [opened],
      ruleSet,
    });
    recorder.actions.length = 0;

    const { result, logs } = await invoke(handler, event);

    const outcome = asOnChange(result).outcomes[0];
    // The baseline remediates the world-open source; the office range is a finding of its own, alerted only.
    expect(outcome?.actions.map((a) => [a.finding.kind, a.mode, a.outcome])).toEqual([
      ["world-open", "remediate", "applied"],
      ["public-prefix", "alert", "skipped-mode"],
    ]);
    const [world, office] = outcome?.findings ?? [];
    expect(world?.controls).toContain("Security Hub EC2.13");
    expect(office?.controls).toEqual([]);
    expect(office?.matched.map((m) => m.cidr)).toEqual(["203.0.113.0/24"]);
    expect(recorder.actions).toEqual([
      "DescribeSecurityGroups",
      "DescribeSecurityGroupRules",
      "RevokeSecurityGroupIngress",
    ]);
    expect(normalised((await describe1(groupId)).IpPermissions)).toEqual([
      { protocol: "tcp", from: 22, to: 22, v4: ["203.0.113.0/24"], v6: [], groups: [] },
    ]);
    // Both are in the one alert; the audit has a decision for each.
    const slack = slackTextOf(sink.received[0] as SinkRequest);
    expect(slack).toContain("0.0.0.0/0");
    expect(slack).toContain("203.0.113.0/24");
    expect(logs.filter((l) => l.message === "guardian.decision").map((l) => l.outcome)).toEqual([
      "applied",
      "skipped-mode",
    ]);
  });

  it("re-evaluates a group someone tagged exempt: a remediate entry ignores the tag, revokes, and reports it", async () => {
    const { groupId, opsId } = await bastionOpenedToWorld("tagged-bastion");
    // Whoever opened the port tags the group exempt from the entry that would revoke it.
    await ec2.send(
      new CreateTagsCommand({
        Resources: [groupId],
        Tags: [{ Key: "guardian:exempt", Value: "aws-no-admin-ports-from-world" }],
      }),
    );
    const event = adaptAwsEvent(loadAwsEvent("ec2-create-tags-security-group.json"), {
      account: MOTO_ACCOUNT,
      region: REGION,
      identity: ENGINEER,
    });
    (event.detail as { requestParameters: unknown }).requestParameters = {
      resourcesSet: { items: [{ resourceId: groupId }, { resourceId: "i-0dc224bad2cb08740" }] },
      tagSet: { items: [{ key: "guardian:exempt", value: "aws-no-admin-ports-from-world" }] },
    };
    recorder.actions.length = 0;

    const { result } = await invoke(handler, event);

    const outcome = asOnChange(result).outcomes[0];
    expect(outcome?.change).toMatchObject({ resourceId: groupId, operationName: "CreateTags" });
    expect(outcome?.actions.map((a) => [a.finding.policyRule, a.outcome])).toEqual([
      ["aws-no-admin-ports-from-world", "applied"],
      ["exempt-tag", "warning"],
    ]);
    expect(outcome?.actions[1]?.reason).toContain(
      "entry aws-no-admin-ports-from-world does not accept tag exemptions (mode remediate",
    );
    expect(recorder.actions).toEqual([
      "DescribeSecurityGroups",
      "DescribeSecurityGroupRules",
      "RevokeSecurityGroupIngress",
    ]);
    expect(normalised((await describe1(groupId)).IpPermissions)).toEqual([
      { protocol: "tcp", from: 22, to: 22, v4: ["10.0.0.0/16"], v6: [], groups: [opsId] },
    ]);
    const slack = slackTextOf(sink.received[0] as SinkRequest);
    expect(slack).toContain(
      "tag guardian:exempt=aws-no-admin-ports-from-world entry aws-no-admin-ports-from-world does not accept tag exemptions",
    );
  });

  it("resolves a group the request names only by groupName and revokes the same way", async () => {
    // A default-VPC group, addressed by name as EC2-Classic-era clients do; a 1.05 record carries no rule ids, so
    // nothing in the event names the group's id.
    const opsId = await createGroup("launch-wizard-ops");
    const groupId = await createGroup("launch-wizard-1");
    await authorize(groupId, {
      IpProtocol: "tcp",
      FromPort: 22,
      ToPort: 22,
      IpRanges: [{ CidrIp: "172.31.0.0/16" }],
      UserIdGroupPairs: [{ GroupId: opsId }],
    });
    const opened: IpPermission = {
      IpProtocol: "tcp",
      FromPort: 22,
      ToPort: 22,
      IpRanges: [{ CidrIp: "0.0.0.0/0" }],
    };
    await authorize(groupId, opened);
    const event = adaptAwsEvent(loadAwsEvent("authorize-ingress-v105-items.json"), {
      account: MOTO_ACCOUNT,
      region: REGION,
      identity: ENGINEER,
      group: { groupName: "launch-wizard-1" },
      ipPermissions: [opened],
    });
    expect(JSON.stringify(event.detail)).not.toContain(groupId);
    recorder.actions.length = 0;

    const { result } = await invoke(handler, event);

    const outcome = asOnChange(result).outcomes[0];
    expect(outcome?.change.resourceId).toBe("name:launch-wizard-1");
    expect(outcome?.actions.map((a) => a.outcome)).toEqual(["applied"]);
    expect(recorder.actions).toEqual([
      "DescribeSecurityGroups",
      "DescribeSecurityGroupRules",
      "RevokeSecurityGroupIngress",
    ]);
    // A 1.05 record carries no rule ids: the revoke names the exact protocol, ports and CIDR instead.
    const revokeByPermission = recorder.bodies.at(-1);
    expect(revokeByPermission?.get("IpPermissions.1.IpRanges.1.CidrIp")).toBe("0.0.0.0/0");
    expect(revokeByPermission?.has("SecurityGroupRuleId.1")).toBe(false);
    expect(normalised((await describe1(groupId)).IpPermissions)).toEqual([
      { protocol: "tcp", from: 22, to: 22, v4: ["172.31.0.0/16"], v6: [], groups: [opsId] },
    ]);
    expect(sink.received).toHaveLength(2);
    const [slackRequest, teamsRequest] = sink.received as [SinkRequest, SinkRequest];
    // The alert links the resolved group, not the name.
    expect(slackTextOf(slackRequest)).toContain(`|\`${groupId}\`>`);
    expect(slackTextOf(slackRequest)).toContain(ENGINEER_ARN);
    expect(teamsCardOf(teamsRequest).url).toBe(awsConsoleUrl(REGION, groupId));
  });

  it("skips a failed call (errorCode) without reading, writing or alerting", async () => {
    const { groupId, opsId } = await bastionOpenedToWorld();
    // The engineer tried to add the same rule again: EC2 refused it as a duplicate.
    const event = adaptAwsEvent(loadAwsEvent("authorize-ingress-duplicate-error.json"), {
      account: MOTO_ACCOUNT,
      region: REGION,
      identity: ENGINEER,
      group: { groupId },
    });
    const before = await describe1(groupId);
    recorder.actions.length = 0;

    const { result } = await invoke(handler, event);

    const onChange = asOnChange(result);
    expect(onChange.outcomes).toEqual([]);
    expect(onChange.retryable).toBe(false);
    expect(onChange.skipped).toEqual([
      expect.objectContaining({
        reason: "failed-operation",
        eventId: (event.detail as { eventID: string }).eventID,
        eventType: "AuthorizeSecurityGroupIngress",
      }),
    ]);
    expect(onChange.skipped[0]?.detail).toContain("Client.InvalidPermission.Duplicate");
    expect(recorder.actions).toEqual([]);
    expect(sink.attempts).toEqual([]);
    const after = await describe1(groupId);
    expect(after.IpPermissions).toEqual(before.IpPermissions);
    expect(normalised(after.IpPermissions)[0]?.v4).toEqual(["0.0.0.0/0", "10.0.0.0/16"]);
    expect(normalised(after.IpPermissions)[0]?.groups).toEqual([opsId]);
  });

  it("does nothing about a change made by the guardian's own role session", async () => {
    const { groupId } = await bastionOpenedToWorld();
    // CloudTrail's echo of a revoke made by the guardian's Lambda role.
    const event = adaptAwsEvent(loadAwsEvent("revoke-ingress.json"), {
      account: MOTO_ACCOUNT,
      region: REGION,
      identity: GUARDIAN_SESSION,
      group: { groupId },
    });
    const before = await describe1(groupId);
    recorder.actions.length = 0;

    const { result, logs } = await invoke(handler, event);

    const outcome = asOnChange(result).outcomes[0];
    expect(outcome?.status).toBe("skipped-self");
    expect(outcome?.actions).toEqual([]);
    expect(outcome?.deliveries).toEqual([]);
    // Recognised before any read: the group is not even described.
    expect(recorder.actions).toEqual([]);
    expect(sink.attempts).toEqual([]);
    expect((await describe1(groupId)).IpPermissions).toEqual(before.IpPermissions);
    expect(logs.some((l) => l.message === "guardian.skip" && String(l.reason).includes("own identity"))).toBe(
      true,
    );
  });

  it("narrows tcp 0-65535 open to the world: 22 and 3389 close, 80 and 443 stay open; its own authorize is its own", async () => {
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/16" }));
    const groupId = await createGroup("web-all-tcp", vpc.Vpc?.VpcId);
    const opened: IpPermission = {
      IpProtocol: "tcp",
      FromPort: 0,
      ToPort: 65535,
      IpRanges: [{ CidrIp: "0.0.0.0/0", Description: "load test" }],
    };
    const ruleSet = await authorize(groupId, opened);
    const event = adaptAwsEvent(loadAwsEvent("authorize-ingress-v108-ruleset.json"), {
      account: MOTO_ACCOUNT,
      region: REGION,
      identity: ENGINEER,
      group: { groupId },
      ipPermissions: [opened],
      ruleSet,
    });
    recorder.actions.length = 0;

    const { result } = await invoke(handler, event);

    const outcome = asOnChange(result).outcomes[0];
    expect(outcome?.actions.map((a) => a.outcome)).toContain("applied");
    // Authorize the rest first, then revoke the original: never a moment with 80 and 443 closed.
    const writes = recorder.actions.filter((a) => !a.startsWith("Describe"));
    expect(writes).toEqual(["AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"]);
    const world = (await describe1(groupId)).IpPermissions?.filter((p) =>
      p.IpRanges?.some((r) => r.CidrIp === "0.0.0.0/0"),
    );
    const open = (port: number) =>
      world?.some((p) => p.IpProtocol === "tcp" && (p.FromPort ?? 0) <= port && port <= (p.ToPort ?? 0));
    expect([22, 3389].map(open)).toEqual([false, false]);
    expect([0, 21, 23, 80, 443, 3388, 3390, 65535].every(open)).toBe(true);
    // The original rule's description is carried to the ranges that keep it.
    expect(world?.flatMap((p) => p.IpRanges?.map((r) => r.Description))).toEqual([
      "load test",
      "load test",
      "load test",
    ]);
    const slack = slackTextOf(sink.received.find((r) => r.path.startsWith("/slack/")) as SinkRequest);
    expect(slack).toContain("keeps tcp 0-21, 23-3388, 3390-65535 to 0.0.0.0/0 open");
    expect(slack).not.toContain("also closes");

    // CloudTrail's record of the guardian's own AuthorizeSecurityGroupIngress: its own, skipped before any read.
    const own = adaptAwsEvent(loadAwsEvent("authorize-ingress-v108-ruleset.json"), {
      account: MOTO_ACCOUNT,
      region: REGION,
      identity: GUARDIAN_SESSION,
      group: { groupId },
      ipPermissions: [{ IpProtocol: "tcp", FromPort: 0, ToPort: 21, IpRanges: [{ CidrIp: "0.0.0.0/0" }] }],
    });
    recorder.actions.length = 0;
    sink.received.length = 0;
    const echo = asOnChange((await invoke(handler, own)).result).outcomes[0];
    expect(echo?.status).toBe("skipped-self");
    expect(recorder.actions).toEqual([]);
    expect(sink.received).toEqual([]);
  });

  it("in dry-run (GUARDIAN_DRY_RUN=true) changes nothing and the alert says what would have been done", async () => {
    const { groupId, event } = await bastionOpenedToWorld();
    const before = await describe1(groupId);
    recorder.actions.length = 0;

    const previous = process.env.GUARDIAN_DRY_RUN;
    process.env.GUARDIAN_DRY_RUN = "true";
    let invoked: Awaited<ReturnType<typeof invoke>>;
    try {
      // A fresh execution environment reads its configuration on its first invocation.
      invoked = await invoke(await loadHandler("dry-run"), event);
    } finally {
      if (previous === undefined) delete process.env.GUARDIAN_DRY_RUN;
      else process.env.GUARDIAN_DRY_RUN = previous;
    }

    const outcome = asOnChange(invoked.result).outcomes[0];
    expect(outcome?.actions.map((a) => a.outcome)).toEqual(["dry-run"]);
    expect(recorder.actions).toEqual(["DescribeSecurityGroups"]);
    expect((await describe1(groupId)).IpPermissions).toEqual(before.IpPermissions);

    expect(sink.received).toHaveLength(2);
    const [slackRequest, teamsRequest] = sink.received as [SinkRequest, SinkRequest];
    const slack = slackTextOf(slackRequest);
    expect(slack).toContain("DRY RUN, would remediate");
    expect(slack).toContain("*DRY RUN:* the guardian is in dry-run mode; nothing was changed.");
    expect(slack).toContain(
      `*Would do:* \`DRY RUN, nothing changed. Would have: revoke ingress tcp 22 from 0.0.0.0/0 on ${groupId}; other sources stay\``,
    );
    const card = teamsCardOf(teamsRequest);
    expect(card.title).toContain("DRY RUN, would remediate");
    expect(card.texts).toContain("DRY RUN: the guardian is in dry-run mode; nothing was changed.");
  });

  it("revokes an IPv6 ::/0 on 3389 and keeps the IPv4 private CIDR of the same permission", async () => {
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/16" }));
    const groupId = await createGroup("rdp-gateway", vpc.Vpc?.VpcId);
    await authorize(groupId, {
      IpProtocol: "tcp",
      FromPort: 3389,
      ToPort: 3389,
      IpRanges: [{ CidrIp: "10.0.0.0/16" }],
    });
    const opened: IpPermission = {
      IpProtocol: "tcp",
      FromPort: 3389,
      ToPort: 3389,
      Ipv6Ranges: [{ CidrIpv6: "::/0" }],
    };
    const ruleSet = await authorize(groupId, opened);
    const event = adaptAwsEvent(loadAwsEvent("authorize-ingress-by-group-name.json"), {
      account: MOTO_ACCOUNT,
      region: REGION,
      identity: ENGINEER,
      group: { groupId },
      ipPermissions: [opened],
      ruleSet,
    });
    recorder.actions.length = 0;

    const { result } = await invoke(handler, event);

    const outcome = asOnChange(result).outcomes[0];
    expect(outcome?.actions.map((a) => [a.finding.policyRule, a.outcome])).toEqual([
      ["aws-no-admin-ports-from-world", "applied"],
    ]);
    expect(outcome?.actions[0]?.finding.matched).toEqual([
      expect.objectContaining({ cidr: "::/0", family: "ipv6", fromPort: 3389, toPort: 3389 }),
    ]);
    expect(recorder.actions).toEqual([
      "DescribeSecurityGroups",
      "DescribeSecurityGroupRules",
      "RevokeSecurityGroupIngress",
    ]);
    expect(normalised((await describe1(groupId)).IpPermissions)).toEqual([
      { protocol: "tcp", from: 3389, to: 3389, v4: ["10.0.0.0/16"], v6: [], groups: [] },
    ]);
    expect(sink.received).toHaveLength(2);
    expect(slackTextOf(sink.received[0] as SinkRequest)).toContain("Revoked ingress tcp 3389 from ::/0");
  });

  it("only alerts about rules on a default security group (EC2.2 is alert mode in the baseline)", async () => {
    const defaults = await ec2.send(
      new DescribeSecurityGroupsCommand({ Filters: [{ Name: "group-name", Values: ["default"] }] }),
    );
    const groupId = defaults.SecurityGroups?.[0]?.GroupId ?? "";
    expect(defaults.SecurityGroups).toHaveLength(1);
    const opened: IpPermission = {
      IpProtocol: "tcp",
      FromPort: 443,
      ToPort: 443,
      IpRanges: [{ CidrIp: "172.31.0.0/16" }],
    };
    const ruleSet = await authorize(groupId, opened);
    // A default-VPC call by name ("default"), as in the fixture; its rule set carries the id.
    const event = adaptAwsEvent(loadAwsEvent("authorize-ingress-by-group-name.json"), {
      account: MOTO_ACCOUNT,
      region: REGION,
      identity: ENGINEER,
      ipPermissions: [opened],
      ruleSet,
    });
    const before = await describe1(groupId);
    recorder.actions.length = 0;

    const { result } = await invoke(handler, event);

    const outcome = asOnChange(result).outcomes[0];
    expect(outcome?.change.resourceId).toBe(groupId);
    expect(outcome?.actions.map((a) => [a.finding.policyRule, a.mode, a.outcome])).toEqual([
      ["aws-default-group-has-no-rules", "alert", "skipped-mode"],
    ]);
    expect(outcome?.actions[0]?.finding.controls).toContain("Security Hub EC2.2");
    expect(recorder.actions).toEqual(["DescribeSecurityGroups"]);
    const after = await describe1(groupId);
    expect(after.IpPermissions).toEqual(before.IpPermissions);
    expect(after.IpPermissionsEgress).toEqual(before.IpPermissionsEgress);

    expect(sink.received).toHaveLength(2);
    const [slackRequest, teamsRequest] = sink.received as [SinkRequest, SinkRequest];
    const slack = slackTextOf(slackRequest);
    expect(slack).toContain("aws-default-group-has-no-rules");
    expect(slack).toContain("*Done:* `Not remediated: policy entry mode is alert`");
    expect(slack).toContain("ingress tcp 443 from 172.31.0.0/16");
    expect(teamsCardOf(teamsRequest).title).toMatch(/^MEDIUM · Violation: /);
  });

  it("processes an SQS batch record by record and reports exactly the malformed one as failed", async () => {
    const a = await bastionOpenedToWorld("bastion-a");
    const b = await bastionOpenedToWorld("bastion-b");
    const queue = { account: MOTO_ACCOUNT, region: REGION, queueName: "network-guardian-events" };
    const first = sqsRecord(JSON.stringify(a.event), queue);
    const broken = JSON.stringify(b.event);
    // Cut mid-document: not JSON at all.
    const malformed = sqsRecord(broken.slice(0, Math.floor(broken.length / 2)), queue);
    const second = sqsRecord(JSON.stringify(b.event), queue);
    recorder.actions.length = 0;

    const { result, logs } = await invoke(handler, sqsEvent([first, malformed, second]));

    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: malformed.messageId }] });
    for (const group of [a, b]) {
      expect(normalised((await describe1(group.groupId)).IpPermissions)).toEqual([
        { protocol: "tcp", from: 22, to: 22, v4: ["10.0.0.0/16"], v6: [], groups: [group.opsId] },
      ]);
    }
    expect(recorder.actions).toEqual([
      "DescribeSecurityGroups",
      "DescribeSecurityGroupRules",
      "RevokeSecurityGroupIngress",
      "DescribeSecurityGroups",
      "DescribeSecurityGroupRules",
      "RevokeSecurityGroupIngress",
    ]);
    // One Slack and one Teams message per group, in record order.
    expect(sink.received).toHaveLength(4);
    expect(slackTextOf(sink.received[0] as SinkRequest)).toContain(a.groupId);
    expect(slackTextOf(sink.received[2] as SinkRequest)).toContain(b.groupId);
    const deadLetters = logs.filter((l) => l.message === "guardian.deadletter");
    expect(deadLetters).toEqual([
      expect.objectContaining({ what: "sqs-record", messageId: malformed.messageId, body: malformed.body }),
    ]);
  });

  it("sends an event that is JSON but not a usable event to the dead-letter paths (SQS redrive, Lambda on-failure)", async () => {
    const queue = { account: MOTO_ACCOUNT, region: REGION, queueName: "network-guardian-events" };
    const envelope = {
      version: "0",
      id: "c7d4a9e2-0b5f-4e1a-9c3d-2f6e8a1b4c5d",
      "detail-type": "AWS API Call via CloudTrail",
      source: "aws.ec2",
      account: MOTO_ACCOUNT,
      time: "2026-11-23T10:00:00Z",
      region: REGION,
      resources: [],
      detail: "not an object",
    };
    const record = sqsRecord(JSON.stringify(envelope), queue);
    recorder.actions.length = 0;
    const { result, logs } = await invoke(handler, sqsEvent([record]));
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: record.messageId }] });
    expect(logs.filter((l) => l.message === "guardian.deadletter")).toEqual([
      expect.objectContaining({ what: "event", reason: "malformed" }),
    ]);
    await expect(invoke(handler, envelope)).rejects.toThrow(/cannot handle this event: .*detail/);
    expect(recorder.actions).toEqual([]);
    expect(sink.attempts).toHaveLength(0);
  });

  it("still remediates when both webhooks are down, and dead-letters the whole alert in the log", async () => {
    const { groupId, opsId, event } = await bastionOpenedToWorld();
    recorder.actions.length = 0;
    // Every attempt of both channels (3 each by default) answers 500.
    sink.failNext(500, 6);

    const { result, logs } = await invoke(handler, event);

    const outcome = asOnChange(result).outcomes[0];
    expect(asOnChange(result).retryable).toBe(false);
    expect(outcome?.actions.map((a) => a.outcome)).toEqual(["applied"]);
    expect(outcome?.deliveries.map((d) => [d.channel, d.ok])).toEqual([
      ["slack", false],
      ["teams", false],
    ]);
    expect(normalised((await describe1(groupId)).IpPermissions)).toEqual([
      { protocol: "tcp", from: 22, to: 22, v4: ["10.0.0.0/16"], v6: [], groups: [opsId] },
    ]);
    expect(sink.received).toEqual([]);
    expect(sink.attempts.map((a) => a.status)).toEqual([500, 500, 500, 500, 500, 500]);

    const deadLetters = logs.filter((l) => l.message === "guardian.deadletter");
    expect(deadLetters.map((l) => l.channel).sort()).toEqual(["slack", "teams"]);
    for (const line of deadLetters) {
      expect(line).toMatchObject({
        level: "error",
        what: "alert",
        alert: {
          resourceId: groupId,
          actor: { name: ENGINEER_ARN },
          results: [expect.objectContaining({ outcome: "applied" })],
        },
      });
      // The webhook URLs are secrets: neither their path nor the signature reaches the log.
      const text = JSON.stringify(line);
      expect(text).not.toContain(new URL(sink.slackUrl).pathname);
      expect(text).not.toContain("sink-signature-0000");
    }
  });

  it("reads the webhook URLs from Secrets Manager at run time: the function's configuration holds only the ARNs", async () => {
    const secrets = new SecretsManagerClient({
      region: REGION,
      endpoint: moto.endpoint,
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    });
    const saved = { slack: process.env.SLACK_WEBHOOK_URL, teams: process.env.TEAMS_WEBHOOK_URL };
    try {
      const slack = await secrets.send(
        new CreateSecretCommand({ Name: "network-guardian/slack-webhook", SecretString: sink.slackUrl }),
      );
      const teams = await secrets.send(
        new CreateSecretCommand({ Name: "network-guardian/teams-webhook", SecretString: sink.teamsUrl }),
      );
      const { groupId, opsId, event } = await bastionOpenedToWorld();
      recorder.actions.length = 0;
      // What the template sets: the secrets' ARNs, no URL. The SDK's service endpoint variable points Secrets Manager
      // at moto, as GUARDIAN_EC2_ENDPOINT does EC2.
      delete process.env.SLACK_WEBHOOK_URL;
      delete process.env.TEAMS_WEBHOOK_URL;
      setEnv({
        SLACK_WEBHOOK_SECRET_ARN: slack.ARN ?? "",
        TEAMS_WEBHOOK_SECRET_ARN: teams.ARN ?? "",
        AWS_ENDPOINT_URL_SECRETS_MANAGER: moto.endpoint,
      });
      const configuration = JSON.stringify(process.env);
      expect(configuration).not.toContain(new URL(sink.slackUrl).pathname);
      expect(configuration).not.toContain("sink-signature-0000");

      const fresh = await loadHandler("secrets");
      const { result } = await invoke(fresh, event);

      const outcome = asOnChange(result).outcomes[0];
      expect(outcome?.actions.map((a) => a.outcome)).toEqual(["applied"]);
      expect(outcome?.deliveries).toEqual([
        { channel: "slack", ok: true },
        { channel: "teams", ok: true },
      ]);
      // The channels read their secrets concurrently: either may arrive first.
      expect(sink.received.map((r) => r.path.split("/")[1]).sort()).toEqual(["slack", "teams"]);
      expect(normalised((await describe1(groupId)).IpPermissions)).toEqual([
        { protocol: "tcp", from: 22, to: 22, v4: ["10.0.0.0/16"], v6: [], groups: [opsId] },
      ]);

      // A secret that cannot be read fails its channel only, loudly and without its value; enforcement carries on.
      await secrets.send(new DeleteSecretCommand({ SecretId: teams.ARN, ForceDeleteWithoutRecovery: true }));
      const again = await bastionOpenedToWorld("qubole-bastion-2");
      sink.received.length = 0;
      const broken = await invoke(await loadHandler("secrets-broken"), again.event);
      const brokenOutcome = asOnChange(broken.result).outcomes[0];
      expect(brokenOutcome?.actions.map((a) => a.outcome)).toEqual(["applied"]);
      expect(brokenOutcome?.deliveries.map((d) => [d.channel, d.ok])).toEqual([
        ["slack", true],
        ["teams", false],
      ]);
      expect(brokenOutcome?.deliveries[1]?.error).toContain(`secret ${teams.ARN} could not be read`);
      expect(sink.received.map((r) => r.path.split("/")[1])).toEqual(["slack"]);
    } finally {
      secrets.destroy();
      for (const key of [
        "SLACK_WEBHOOK_SECRET_ARN",
        "TEAMS_WEBHOOK_SECRET_ARN",
        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
      ]) {
        delete process.env[key];
      }
      if (saved.slack !== undefined) process.env.SLACK_WEBHOOK_URL = saved.slack;
      if (saved.teams !== undefined) process.env.TEAMS_WEBHOOK_URL = saved.teams;
    }
  });
});
