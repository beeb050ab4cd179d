// Time to remediate (event handed to the handler → the emulator acknowledged the write) and API economy (reads and
// writes per event), through the real handlers of functions/on-change.ts and lambdas/on-change.ts, against the ARM
// emulator and moto. Each guardian event is interleaved with the floor: the same read and write sent directly with
// the same SDK client, so a noisy machine slows both alike.
import { DescribeSecurityGroupsCommand, RevokeSecurityGroupIngressCommand } from "@aws-sdk/client-ec2";
import { type EventGridEvent, InvocationContext } from "@azure/functions";
import type { Context } from "aws-lambda";
import { createEc2Client } from "../../shared/clouds/aws/client.ts";
import { awsGuardianDeps } from "../../shared/clouds/aws/runtime.ts";
import { AzureNetwork } from "../../shared/clouds/azure/network.ts";
import { azureGuardianDeps } from "../../shared/clouds/azure/runtime.ts";
import type { CallCounter } from "../../shared/clouds/ports.ts";
import { parseConfig } from "../../shared/config.ts";
import type { Logger } from "../../shared/log.ts";
import type { CloudPort, GuardianDeps } from "../../shared/pipeline.ts";
import type { Cloud } from "../../shared/types.ts";
import { staticTokenCredential } from "../../test/harness/arm-emulator/index.ts";
import { MOTO_ACCOUNT } from "../../test/harness/moto.ts";
import {
  adaptAwsEvent,
  assumedRoleIdentity,
  lambdaContext,
  loadAwsEvent,
} from "../../test/integration/helpers/aws-events.ts";
import { withoutLogLines } from "../lib/quiet.ts";
import { median, now, percentile, round } from "../lib/stats.ts";
import {
  type AzureEventKind,
  aliceWritesRule,
  armCounts,
  createBastion,
  createNsg,
  engineerAuthorizes,
  GUARDIAN_TOKEN,
  REGION,
  RG,
  SUBSCRIPTION,
  type World,
} from "../lib/world.ts";

type FunctionHandler = (event: EventGridEvent, context: InvocationContext) => Promise<unknown>;
type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface LatencyResult {
  path: string;
  events: number;
  /** Event handed to the handler → the write acknowledged by the emulator. */
  remediateP50Ms: number;
  remediateP99Ms: number;
  /** The whole invocation, audit and alerts included. */
  handlerP50Ms: number;
  handlerP99Ms: number;
  /** The same read and write sent directly with the SDK, measured in the same run. */
  floorP50Ms: number;
  floorP99Ms: number;
  ratioP50: number;
  outcomes: Record<string, number>;
}

export interface EconomyResult {
  scenario: string;
  events: number;
  readsPerEvent: number;
  writesPerEvent: number;
  maxReads: number;
  maxWrites: number;
  /** ARM long-running-operation status polls per event (the SDK's poller), not counted as reads. */
  pollsPerEvent?: number;
  alertsPerEvent: number;
}

/** Resolves when the wrapped writer's apply resolves: the moment the emulator acknowledged the remediation. */
interface AckClock {
  ack?: number;
}

function acking(port: CloudPort, clock: AckClock): CloudPort {
  return {
    ...port,
    writer: {
      async apply(change, snapshot) {
        await port.writer.apply(change, snapshot);
        clock.ack = now();
      },
    },
  };
}

/** Configuration and clients once per instance, as environmentDeps does; only the log is per invocation. */
function cachedFactory(
  make: (log: Logger) => Promise<GuardianDeps>,
  cloud: Cloud,
  clock: AckClock,
): (log: Logger) => Promise<GuardianDeps> {
  let base: Promise<GuardianDeps> | undefined;
  return async (log) => {
    base ??= make(log);
    const deps = await base;
    const port = deps.clouds[cloud];
    if (!port) throw new Error(`no ${cloud} port`);
    return { ...deps, log, clouds: { [cloud]: acking(port, clock) } };
  };
}

function invocationContext(): InvocationContext {
  return new InvocationContext({
    invocationId: crypto.randomUUID(),
    functionName: "onChange",
    logHandler: () => {},
  });
}

function tally(outcomes: Record<string, number>, result: unknown): void {
  const list = (result as { outcomes?: { actions: { outcome: string }[] }[] })?.outcomes ?? [];
  const names = list.flatMap((o) => o.actions.map((a) => a.outcome));
  for (const name of names.length > 0 ? names : ["none"]) outcomes[name] = (outcomes[name] ?? 0) + 1;
}

function summarise(
  path: string,
  remediate: number[],
  handler: number[],
  floor: number[],
  outcomes: Record<string, number>,
): LatencyResult {
  return {
    path,
    events: handler.length,
    remediateP50Ms: round(percentile(remediate, 50), 2),
    remediateP99Ms: round(percentile(remediate, 99), 2),
    handlerP50Ms: round(percentile(handler, 50), 2),
    handlerP99Ms: round(percentile(handler, 99), 2),
    floorP50Ms: round(percentile(floor, 50), 2),
    floorP99Ms: round(percentile(floor, 99), 2),
    ratioP50: round(percentile(remediate, 50) / percentile(floor, 50), 2),
    outcomes,
  };
}

function economy(
  scenario: string,
  samples: { reads: number; writes: number; polls?: number; alerts: number }[],
): EconomyResult {
  const result: EconomyResult = {
    scenario,
    events: samples.length,
    readsPerEvent: median(samples.map((s) => s.reads)),
    writesPerEvent: median(samples.map((s) => s.writes)),
    maxReads: Math.max(...samples.map((s) => s.reads)),
    maxWrites: Math.max(...samples.map((s) => s.writes)),
    alertsPerEvent: median(samples.map((s) => s.alerts)),
  };
  if (samples.some((s) => s.polls !== undefined))
    result.pollsPerEvent = median(samples.map((s) => s.polls ?? 0));
  return result;
}

/** Alert messages per channel since `from` (Slack and Teams each get one per alert). */
const alertsSince = (world: World, from: number): number => (world.sink.received.length - from) / 2;

export async function azureRemediation(
  world: World,
  events: number,
  economyEvents: number,
): Promise<{ latency: LatencyResult; economy: EconomyResult[] }> {
  const clock: AckClock = {};
  const cfg = parseConfig({
    GUARDIAN_POLICY_FILE: world.functionEnv().GUARDIAN_POLICY_FILE,
    AZURE_ARM_ENDPOINT: world.emu.url,
    AZURE_ARM_CA_FILE: world.caFile,
    SLACK_WEBHOOK_URL: world.sink.slackUrl,
    TEAMS_WEBHOOK_URL: world.sink.teamsUrl,
    AZURE_ARM_POLL_INTERVAL_MS: world.functionEnv().AZURE_ARM_POLL_INTERVAL_MS,
  });
  const credential = staticTokenCredential(GUARDIAN_TOKEN);
  const factory = cachedFactory((log) => azureGuardianDeps(cfg, log, { credential }), "azure", clock);
  const { createOnChangeHandler } = await withoutLogLines(() => import("../../functions/on-change.ts"));
  const handler: FunctionHandler = createOnChangeHandler(factory);
  const floorClient = new AzureNetwork({
    credential,
    endpoint: world.emu.url,
    ca: world.emu.ca,
    pollIntervalMs: 0,
  }).client(SUBSCRIPTION);

  const remediate: number[] = [];
  const total: number[] = [];
  const floor: number[] = [];
  const outcomes: Record<string, number> = {};
  const risky: { reads: number; writes: number; polls: number; alerts: number }[] = [];
  const self: { reads: number; writes: number; alerts: number }[] = [];

  const fresh = async (kind: AzureEventKind = "subscription", risk = true) => {
    world.emu.reset();
    await createNsg(world, "nsg-bastion");
    return aliceWritesRule(world, "nsg-bastion", { kind, risky: risk });
  };
  const deliver = async (event: object) => {
    const requests = world.emu.requests.length;
    const alerts = world.sink.received.length;
    clock.ack = undefined;
    const start = now();
    const result = await handler(event as EventGridEvent, invocationContext());
    const end = now();
    return { result, start, end, counts: armCounts(world, requests), alerts: alertsSince(world, alerts) };
  };

  for (let i = 0; i < events; i++) {
    const event = await fresh();
    const eventsBefore = world.emu.events.length;
    const run = await deliver(event);
    tally(outcomes, run.result);
    if (clock.ack !== undefined) remediate.push(clock.ack - run.start);
    total.push(run.end - run.start);
    risky.push({ ...run.counts, alerts: run.alerts });
    if (i < economyEvents) {
      // The guardian's own write raised an event carrying its claims: it must cost nothing.
      const own = world.emu.events
        .slice(eventsBefore)
        .find((e) => (e as { eventType?: string }).eventType === "Microsoft.Resources.ResourceWriteSuccess");
      if (own) {
        const again = await deliver(own);
        self.push({ reads: again.counts.reads, writes: again.counts.writes, alerts: again.alerts });
      }
    }

    // The floor: one GET and one etag-guarded PUT flipping the rule to Deny (what deny-rule writes), from the SDK.
    await fresh();
    const t0 = now();
    const nsg = await floorClient.networkSecurityGroups.get(RG, "nsg-bastion");
    const open = nsg.securityRules?.find((r) => r.name === "open-ssh");
    await floorClient.securityRules.createOrUpdate(
      RG,
      "nsg-bastion",
      "open-ssh",
      { ...open, access: "Deny" },
      { requestOptions: { headers: { "If-Match": open?.etag ?? "*" } }, updateIntervalInMs: 0 },
    );
    floor.push(now() - t0);
  }

  const scenarios: [string, AzureEventKind, boolean][] = [
    ["Azure NSG, compliant change (subscription event)", "subscription", false],
    ["Azure NSG, compliant change (event carries the resource)", "resource-notification", false],
    ["Azure NSG, SSH opened (event carries the resource)", "resource-notification", true],
  ];
  const extra: EconomyResult[] = [];
  for (const [name, kind, risk] of scenarios) {
    const samples = [];
    for (let i = 0; i < economyEvents; i++) {
      const run = await deliver(await fresh(kind, risk));
      samples.push({ ...run.counts, alerts: run.alerts });
    }
    extra.push(economy(name, samples));
  }
  return {
    latency: summarise("Azure NSG (Function, deny-rule)", remediate, total, floor, outcomes),
    economy: [
      economy("Azure NSG, SSH opened (subscription event)", risky),
      ...extra,
      economy("Azure NSG, the guardian's own write", self),
    ],
  };
}

export async function awsRemediation(
  world: World,
  events: number,
  economyEvents: number,
): Promise<{ latency: LatencyResult; economy: EconomyResult[] }> {
  const clock: AckClock = {};
  const counter: CallCounter = { reads: 0, writes: 0 };
  const env = world.lambdaEnv();
  const cfg = parseConfig(env);
  const credentials = { accessKeyId: "testing", secretAccessKey: "testing", sessionToken: "testing" };
  const clients = createEc2Client({ region: REGION, endpoint: world.moto.endpoint, credentials });
  const factory = cachedFactory((log) => awsGuardianDeps(cfg, log, { clients, counter }), "aws", clock);
  const { createOnChangeHandler } = await import("../../lambdas/on-change.ts");
  const handler = createOnChangeHandler(factory) as unknown as LambdaHandler;
  const context = () =>
    lambdaContext({ functionName: "network-guardian-on-change", account: MOTO_ACCOUNT, region: REGION });

  await world.moto.reset();
  const { groupId } = await createBastion(world, "bench-bastion");
  const remediate: number[] = [];
  const total: number[] = [];
  const floor: number[] = [];
  const outcomes: Record<string, number> = {};
  const risky: { reads: number; writes: number; alerts: number }[] = [];

  const deliver = async (event: unknown) => {
    const reads = counter.reads;
    const writes = counter.writes;
    const alerts = world.sink.received.length;
    clock.ack = undefined;
    const start = now();
    const result = await withoutLogLines(() => handler(event, context()));
    const end = now();
    return {
      result,
      start,
      end,
      reads: counter.reads - reads,
      writes: counter.writes - writes,
      alerts: alertsSince(world, alerts),
    };
  };

  for (let i = 0; i < events; i++) {
    const run = await deliver(await engineerAuthorizes(world, groupId));
    tally(outcomes, run.result);
    if (clock.ack !== undefined) remediate.push(clock.ack - run.start);
    total.push(run.end - run.start);
    risky.push({ reads: run.reads, writes: run.writes, alerts: run.alerts });

    // The floor: one DescribeSecurityGroups and one RevokeSecurityGroupIngress, straight from the SDK.
    await engineerAuthorizes(world, groupId);
    const t0 = now();
    await clients.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
    await clients.send(
      new RevokeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: [{ IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "0.0.0.0/0" }] }],
      }),
    );
    floor.push(now() - t0);
  }

  const compliant = [];
  for (let i = 0; i < economyEvents; i++) {
    const run = await deliver(await engineerAuthorizes(world, groupId, { risky: false, port: 8443 + i }));
    compliant.push(run);
  }
  // The guardian's own revoke, recorded by CloudTrail with its Lambda role's session.
  const own = [];
  const guardianSession = assumedRoleIdentity({
    account: MOTO_ACCOUNT,
    roleName: "network-guardian",
    sessionName: "network-guardian-on-change",
  });
  for (let i = 0; i < economyEvents; i++) {
    const event = adaptAwsEvent(loadAwsEvent("revoke-ingress.json"), {
      account: MOTO_ACCOUNT,
      region: REGION,
      identity: guardianSession,
      group: { groupId },
      ipPermissions: [{ IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "0.0.0.0/0" }] }],
    });
    own.push(await deliver(event));
  }
  clients.destroy();
  return {
    latency: summarise("AWS security group (Lambda, revoke-cidr)", remediate, total, floor, outcomes),
    economy: [
      economy("AWS SG, 22 opened to 0.0.0.0/0", risky),
      economy("AWS SG, compliant change", compliant),
      economy("AWS SG, the guardian's own revoke", own),
    ],
  };
}
