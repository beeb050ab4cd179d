// The Lambda half of the fault-injection test (issue 7): a few hundred CloudTrail events about groups opened to the
// world, driven through the on-change handler (several execution environments at once) while the proxy in front of
// moto fails 20% of EC2 calls the ways EC2 and networks fail (throttling, 5xx, connection resets before and after moto
// applied the call, a call that never answers). Deliveries are repeated as EventBridge and Lambda would: duplicates
// (EventBridge is at-least-once), and up to three attempts of a failed invocation (Lambda's asynchronous retries,
// MaximumRetryAttempts 2 in the template) before the dead-letter queue. For a quarter of the groups a person edits the
// group between the guardian's read and its write. Everything is judged from moto's state and the alerts received:
// - no exposure is left open by an invocation that acknowledged its event;
// - no neighbouring rule is changed, and no person's edit is undone;
// - no alert says FAILED about a group that was fixed, and none says Remediated about one still open.
// Bounded: a fixed seed, a fixed number of events, 1 s per-request timeouts.

import path from "node:path";
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateVpcCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
  type IpPermission,
  ModifySecurityGroupRulesCommand,
  type SecurityGroup,
  UpdateSecurityGroupRuleDescriptionsIngressCommand,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Ec2Proxy, startEc2Proxy } from "../harness/ec2-proxy.ts";
import { type Fault, faultKind, randomFaults, seededRandom } from "../harness/faults.ts";
import { ec2ClientFor, MOTO_ACCOUNT, type MotoServer, startMoto } from "../harness/moto.ts";
import { type SinkRequest, startWebhookSink, type WebhookSink } from "../harness/webhook-sink.ts";
import {
  adaptAwsEvent,
  assumedRoleIdentity,
  type CloudTrailEvent,
  lambdaContext,
  loadAwsEvent,
} from "./helpers/aws-events.ts";
import { type LambdaHandler, lambdaHandler, slackText } from "./helpers/lambda-harness.ts";

const REGION = "us-east-1";
const GROUPS = 120;
const ENVIRONMENTS = 8;
const FAULT_RATE = 0.2;
const DUPLICATE_RATE = 0.5;
const LAMBDA_ATTEMPTS = 3;
// GUARDIAN_FAULT_SEED replays a run (as in function-faults.test.ts).
const SEED = Number(process.env.GUARDIAN_FAULT_SEED ?? 0x5eed_0007);
// Throttling and 5xx (EC2 answered, nothing applied), resets before and after moto applied the call, and calls never
// answered, before and after moto applied them.
const MIX: readonly { weight: number; fault: Fault }[] = [
  { weight: 2, fault: { status: 503, code: "RequestLimitExceeded" } },
  { weight: 2, fault: { status: 500, code: "InternalError" } },
  { weight: 2, fault: { kind: "reset-before" } },
  { weight: 2, fault: { kind: "reset-after" } },
  { weight: 1, fault: { kind: "hang" } },
  { weight: 1, fault: { kind: "hang-after" } },
];
const ENGINEER = assumedRoleIdentity({
  account: MOTO_ACCOUNT,
  roleName: "AWSReservedSSO_NetworkAdmin_5f3c2a1b9d8e7f60",
  sessionName: "priya.raman@example.com",
});

type Edit = "none" | "add-rule" | "narrow-in-place" | "describe-neighbour";

interface Case {
  groupId: string;
  opened: IpPermission;
  offending: string;
  edit: Edit;
  edited: boolean;
  event: CloudTrailEvent;
  /** Sources the group must keep whatever happens: seeded neighbours, plus what the person adds. */
  keep: string[];
}

function sources(group: SecurityGroup): string[] {
  return (group.IpPermissions ?? []).flatMap((p) => {
    const key = `${p.IpProtocol} ${p.FromPort ?? ""}-${p.ToPort ?? ""}`;
    return [
      ...(p.IpRanges ?? []).map((r) => `${key} ${r.CidrIp}${r.Description ? ` "${r.Description}"` : ""}`),
      ...(p.Ipv6Ranges ?? []).map((r) => `${key} ${r.CidrIpv6}`),
      ...(p.UserIdGroupPairs ?? []).map((r) => `${key} ${r.GroupId}`),
    ];
  });
}

describe("Lambda on-change handler under injected EC2 faults", () => {
  let moto: MotoServer;
  let proxy: Ec2Proxy;
  let sink: WebhookSink;
  let ec2: EC2Client;
  const saved: Record<string, string | undefined> = {};
  const originalWrite = process.stdout.write;

  beforeAll(async () => {
    [moto, sink] = await Promise.all([startMoto(), startWebhookSink()]);
    proxy = await startEc2Proxy(moto.endpoint);
    ec2 = ec2ClientFor(moto.endpoint);
    for (const [key, value] of Object.entries({
      AWS_ACCESS_KEY_ID: "testing",
      AWS_SECRET_ACCESS_KEY: "testing",
      AWS_SESSION_TOKEN: "testing",
    })) {
      saved[key] = process.env[key];
      process.env[key] = value;
    }
  });

  afterAll(async () => {
    process.stdout.write = originalWrite;
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    ec2?.destroy();
    await proxy?.stop();
    await sink?.stop();
    await moto?.stop();
  });

  async function seed(random: () => number): Promise<Case[]> {
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/16" }));
    const vpcId = vpc.Vpc?.VpcId;
    const ops = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: "ops", Description: "ops", VpcId: vpcId }),
    );
    // The person's edit of each group is drawn first, in order, so a seed gives the same plan whatever the timing.
    const rolls = Array.from({ length: GROUPS }, () => random());
    const one = async (i: number): Promise<Case> => {
      const created = await ec2.send(
        new CreateSecurityGroupCommand({ GroupName: `app-${i}`, Description: `app ${i}`, VpcId: vpcId }),
      );
      const groupId = created.GroupId ?? "";
      const rdp = i % 3 === 2;
      const port = rdp ? 3389 : 22;
      const keep = [
        `tcp ${port}-${port} 10.0.0.0/16`,
        `tcp ${port}-${port} ${ops.GroupId}`,
        "tcp 443-443 0.0.0.0/0",
      ];
      const opened: IpPermission = rdp
        ? { IpProtocol: "tcp", FromPort: 3389, ToPort: 3389, Ipv6Ranges: [{ CidrIpv6: "::/0" }] }
        : { IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "0.0.0.0/0" }] };
      // Neighbours: the VPC and the ops group on the same port (the same permission as the opening), and HTTPS from
      // the world, which the baseline leaves alone; then the opening. One call: the event records only the opening's
      // rule, as CloudTrail would have for a call of its own.
      const authorized = await ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: groupId,
          IpPermissions: [
            {
              IpProtocol: "tcp",
              FromPort: port,
              ToPort: port,
              IpRanges: [{ CidrIp: "10.0.0.0/16" }],
              UserIdGroupPairs: [{ GroupId: ops.GroupId }],
            },
            { IpProtocol: "tcp", FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
            opened,
          ],
        }),
      );
      const opening = {
        SecurityGroupRules: (authorized.SecurityGroupRules ?? []).filter(
          (r) => r.FromPort === port && (r.CidrIpv4 === "0.0.0.0/0" || r.CidrIpv6 === "::/0"),
        ),
      };
      const roll = rolls[i] ?? 1;
      const edit: Edit =
        roll < 0.08
          ? "add-rule"
          : roll < 0.16
            ? rdp
              ? "add-rule"
              : "narrow-in-place"
            : roll < 0.25
              ? "describe-neighbour"
              : "none";
      return {
        groupId,
        opened,
        offending: `tcp ${port}-${port} ${rdp ? "::/0" : "0.0.0.0/0"}`,
        edit,
        edited: false,
        keep,
        event: adaptAwsEvent(loadAwsEvent("authorize-ingress-v108-ruleset.json"), {
          account: MOTO_ACCOUNT,
          region: REGION,
          identity: ENGINEER,
          group: { groupId },
          ipPermissions: [opened],
          ruleSet: opening.SecurityGroupRules ?? [],
        }),
      };
    };
    const cases: Case[] = [];
    for (let i = 0; i < GROUPS; i += 10) {
      cases.push(
        ...(await Promise.all(Array.from({ length: Math.min(10, GROUPS - i) }, (_, k) => one(i + k)))),
      );
    }
    return cases;
  }

  /** The ingress sources of the given groups (every group when none is given) as moto holds them now, by id. */
  async function sourcesOf(groupIds?: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (groupIds?.length === 0) return out;
    let token: string | undefined;
    do {
      const page = await ec2.send(
        new DescribeSecurityGroupsCommand(groupIds ? { GroupIds: [...groupIds] } : { NextToken: token }),
      );
      for (const group of page.SecurityGroups ?? []) out.set(group.GroupId ?? "", sources(group));
      token = groupIds ? undefined : page.NextToken;
    } while (token);
    return out;
  }

  /** What a person does to the group just as the guardian's revoke goes out (directly to moto, never faulted). */
  async function personEdits(c: Case): Promise<void> {
    const port = c.opened.FromPort ?? 22;
    if (c.edit === "add-rule") {
      await ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: c.groupId,
          IpPermissions: [
            { IpProtocol: "tcp", FromPort: port, ToPort: port, IpRanges: [{ CidrIp: "10.50.0.0/16" }] },
          ],
        }),
      );
      c.keep.push(`tcp ${port}-${port} 10.50.0.0/16`);
    } else if (c.edit === "narrow-in-place") {
      const rules = await ec2.send(
        new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: "group-id", Values: [c.groupId] }] }),
      );
      const world = rules.SecurityGroupRules?.find(
        (r) => !r.IsEgress && r.CidrIpv4 === "0.0.0.0/0" && r.FromPort === 22,
      );
      if (world?.SecurityGroupRuleId === undefined) return;
      await ec2.send(
        new ModifySecurityGroupRulesCommand({
          GroupId: c.groupId,
          SecurityGroupRules: [
            {
              SecurityGroupRuleId: world.SecurityGroupRuleId,
              SecurityGroupRule: { IpProtocol: "tcp", FromPort: 22, ToPort: 22, CidrIpv4: "10.20.0.0/16" },
            },
          ],
        }),
      );
      c.keep.push("tcp 22-22 10.20.0.0/16");
    } else if (c.edit === "describe-neighbour") {
      await ec2.send(
        new UpdateSecurityGroupRuleDescriptionsIngressCommand({
          GroupId: c.groupId,
          IpPermissions: [
            {
              IpProtocol: "tcp",
              FromPort: port,
              ToPort: port,
              IpRanges: [{ CidrIp: "10.0.0.0/16", Description: "vpc, reviewed" }],
            },
          ],
        }),
      );
      c.keep = c.keep.map((s) => (s === `tcp ${port}-${port} 10.0.0.0/16` ? `${s} "vpc, reviewed"` : s));
    }
  }

  it("leaves no acknowledged exposure, changes no neighbour, undoes no person's edit and sends no false alert", {
    timeout: 120_000,
  }, async () => {
    const random = seededRandom(SEED);
    const t0 = Date.now();
    const cases = await seed(random);
    const seededMs = Date.now() - t0;
    const byGroup = new Map(cases.map((c) => [c.groupId, c]));
    const groupOf = (params: URLSearchParams) => params.get("GroupId") ?? params.get("GroupId.1") ?? "";

    const plan = randomFaults({ seed: SEED + 1, rate: FAULT_RATE, mix: MIX });
    proxy.faults = plan;
    proxy.beforeForward = async (call) => {
      if (call.action !== "RevokeSecurityGroupIngress") return;
      const c = byGroup.get(groupOf(call.params));
      if (c === undefined || c.edited || c.edit === "none") return;
      c.edited = true;
      await personEdits(c);
    };
    // The Lambda logger writes to stdout: keep it out of the test output.
    process.stdout.write = (() => true) as typeof process.stdout.write;

    const env = {
      AWS_REGION: REGION,
      GUARDIAN_EC2_ENDPOINT: proxy.endpoint,
      GUARDIAN_POLICY_FILE: path.resolve(import.meta.dirname, "../../policies/baseline.yaml"),
      GUARDIAN_SELF_IDENTITIES: `arn:aws:iam::${MOTO_ACCOUNT}:role/network-guardian`,
      GUARDIAN_DRY_RUN: "false",
      SLACK_WEBHOOK_URL: sink.slackUrl,
      GUARDIAN_AWS_TIMEOUT_MS: "1000",
    };
    const environments: LambdaHandler[] = Array.from({ length: ENVIRONMENTS }, () => lambdaHandler(env));

    // Each event once, about half of them twice more (EventBridge duplicates), in a shuffled order.
    const deliveries: Case[] = cases.flatMap((c) => (random() < DUPLICATE_RATE ? [c, c] : [c]));
    for (let i = deliveries.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [deliveries[i], deliveries[j]] = [deliveries[j] as Case, deliveries[i] as Case];
    }

    const violations: string[] = [];
    const deadLettered = new Set<string>();
    let invocations = 0;
    const errors: string[] = [];
    let acknowledged = 0;

    // Waves of distinct groups run at once, one per execution environment; a failed invocation is retried in a later
    // wave, as Lambda retries asynchronously.
    let queue = deliveries.map((c) => ({ c, attempt: 1 }));
    while (queue.length > 0) {
      const wave: typeof queue = [];
      const later: typeof queue = [];
      for (const item of queue) {
        if (wave.length < ENVIRONMENTS && !wave.some((w) => w.c.groupId === item.c.groupId)) wave.push(item);
        else later.push(item);
      }
      const alertsBefore = sink.received.length;
      const results = await Promise.all(
        wave.map(async ({ c }, slot) => {
          invocations++;
          const context = lambdaContext({
            functionName: "network-guardian-on-change",
            account: MOTO_ACCOUNT,
            region: REGION,
            timeoutMs: 20_000,
          });
          try {
            await (environments[slot] as LambdaHandler)(c.event, context);
            return true;
          } catch (error) {
            errors.push(error instanceof Error ? error.message.slice(0, 300) : String(error));
            return false;
          }
        }),
      );
      // Judge the wave: what each invocation acknowledged, and what each alert said, against moto as it is now.
      const alerted = (sink.received.slice(alertsBefore) as SinkRequest[]).flatMap((r) => {
        const text = slackText(r);
        return cases.filter((x) => text.includes(x.groupId)).map((x) => x.groupId);
      });
      const state = await sourcesOf([...new Set([...wave.map((w) => w.c.groupId), ...alerted])]);
      const exposed = (c: Case) => state.get(c.groupId)?.includes(c.offending) === true;
      for (const [i, { c, attempt }] of wave.entries()) {
        if (results[i]) {
          acknowledged++;
          if (exposed(c)) violations.push(`${c.groupId}: acknowledged with ${c.offending} still open`);
        } else if (attempt < LAMBDA_ATTEMPTS) later.push({ c, attempt: attempt + 1 });
        else deadLettered.add(c.groupId);
      }
      for (const request of sink.received.slice(alertsBefore) as SinkRequest[]) {
        const text = slackText(request);
        const c = cases.find((x) => text.includes(x.groupId));
        if (c === undefined) continue;
        const open = exposed(c);
        if (text.includes("Remediation FAILED") && !open)
          violations.push(`${c.groupId}: FAILED alert, but fixed`);
        if (/Remediated/.test(text) && open)
          violations.push(`${c.groupId}: Remediated alert, but still open`);
        // The person closed it in place before any revoke of the guardian's could land: not the guardian's fix.
        if (/Remediated/.test(text) && c.edit === "narrow-in-place" && c.edited)
          violations.push(`${c.groupId}: credited to the guardian, but the person closed it`);
      }
      queue = later;
    }

    // Every group: the neighbours and the person's edits are there exactly, and the exposure is gone unless every
    // delivery of its event ended in the dead-letter queue.
    let fixed = 0;
    const final = await sourcesOf();
    for (const c of cases) {
      const now = final.get(c.groupId) ?? [];
      const open = now.includes(c.offending);
      if (open && !deadLettered.has(c.groupId)) violations.push(`${c.groupId}: open, and not dead-lettered`);
      if (!open) fixed++;
      const expected = open ? [...c.keep, c.offending] : c.keep;
      if (JSON.stringify([...now].sort()) !== JSON.stringify([...expected].sort())) {
        violations.push(
          `${c.groupId} (${c.edit}): ${JSON.stringify(now)} instead of ${JSON.stringify(expected)}`,
        );
      }
    }
    process.stdout.write = originalWrite;

    const faults = new Map<string, number>();
    for (const { fault } of proxy.injected) {
      const name = fault.kind === undefined || fault.kind === "status" ? String(fault.status) : fault.kind;
      faults.set(name, (faults.get(name) ?? 0) + 1);
    }
    console.info(
      JSON.stringify({
        invocations,
        acknowledged,
        fixed,
        deadLettered: deadLettered.size,
        edited: cases.filter((c) => c.edited).length,
        calls: proxy.actions.length,
        faults: Object.fromEntries(faults),
        alerts: sink.received.length,
        retried: errors.length,
        seededMs,
        runMs: Date.now() - t0 - seededMs,
      }),
    );
    expect(violations).toEqual([]);
    // The run exercised what it claims to: every fault kind, on reads and writes, and the person's edits.
    expect(new Set(proxy.injected.map((f) => faultKind(f.fault)))).toEqual(
      new Set(MIX.map((m) => faultKind(m.fault))),
    );
    expect(proxy.injected.some((f) => f.action === "RevokeSecurityGroupIngress")).toBe(true);
    expect(proxy.injected.some((f) => f.action === "DescribeSecurityGroups")).toBe(true);
    expect(cases.filter((c) => c.edited).length).toBeGreaterThan(GROUPS / 8);
    expect(invocations).toBeGreaterThan(GROUPS * 1.4);
    // Nearly everything is fixed within Lambda's attempts; the rest is in the dead-letter queue, not acknowledged.
    expect(fixed).toBeGreaterThan(GROUPS * 0.9);
    expect(acknowledged).toBeGreaterThan(0);
  });
});
