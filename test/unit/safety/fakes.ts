// In-memory stand-ins for the clouds, built from the real-shaped fixtures (test/fixtures, READMEs there), for tests of
// hostile input that need a whole handler but no server: reads answer with a fixture resource under the id asked for,
// writes are counted (and may fail as a script says). Everything else is the real code.

import { readFileSync } from "node:fs";
import type { Context, SQSEvent } from "aws-lambda";
import { memoryAuditSink } from "../../../shared/audit/index.ts";
import { isOwnAwsIdentity } from "../../../shared/clouds/aws/identity.ts";
import { awsSecurityGroupSnapshot } from "../../../shared/clouds/aws/kinds/security-group.ts";
import { azureSnapshot } from "../../../shared/clouds/azure/snapshot.ts";
import type { Logger } from "../../../shared/log.ts";
import type { CloudPort, GuardianDeps } from "../../../shared/pipeline.ts";
import { parsePolicy } from "../../../shared/policy/load.ts";
import type { Policy } from "../../../shared/policy/schema.ts";
import type { DepsFactory } from "../../../shared/runtime.ts";
import type { PlannedChange, Snapshot } from "../../../shared/types.ts";

const FIXTURES = new URL("../../fixtures/", import.meta.url);

/** A fresh copy of a fixture file under test/fixtures (path relative to it). */
export function fixture(path: string): unknown {
  return JSON.parse(readFileSync(new URL(path, FIXTURES), "utf8"));
}

export const BASELINE = readFileSync(new URL("../../../policies/baseline.yaml", import.meta.url), "utf8");

/** The ARM NSG fixtures and the DescribeSecurityGroups items, the resources the fakes answer with. */
export const NSG_FIXTURES = ["azure/nsg/nsg-mixed.json", "azure/nsg/NetworkSecurityGroupGet.json"];

function securityGroups(): Record<string, unknown>[] {
  const describe = fixture("aws/sg/describe-security-groups.json") as {
    SecurityGroups: Record<string, unknown>[];
  };
  return describe.SecurityGroups;
}

/** Every real-shaped event fixture, Event Grid and CloudEvents (arrays or single events) and EventBridge. */
export function eventFixtures(): unknown[] {
  const azure = [
    "batch.eventgrid.json",
    "malformed.eventgrid.json",
    "resource-action-success.eventgrid.json",
    "resource-delete-success.eventgrid.json",
    "resource-notifications-created-nsg.eventgrid.json",
    "resource-notifications-deleted-nsg.cloudevents.json",
    "resource-write-failure.eventgrid.json",
    "resource-write-success.cloudevents.json",
    "resource-write-success.eventgrid.json",
    "validation.eventgrid.json",
  ].map((f) => fixture(`events/azure/${f}`));
  const aws = [
    "authorize-egress-v105.json",
    "authorize-ingress-by-group-name.json",
    "authorize-ingress-flat-cidr-iam-user.json",
    "authorize-ingress-v105-items.json",
    "authorize-ingress-v108-ruleset.json",
    "create-security-group.json",
    "delete-security-group-by-name.json",
    "modify-security-group-rules.json",
    "revoke-ingress.json",
  ].map((f) => fixture(`events/aws/${f}`));
  return [...azure, ...aws];
}

export interface FakeClouds {
  clouds: GuardianDeps["clouds"];
  calls: { reads: number; writes: number };
}

/**
 * Azure: any NSG id reads as nsg-mixed.json under that id (etag included); a carried resource becomes a snapshot as
 * the real port makes it. AWS: a group id or name of the fixture reads as that group; any other `sg-` id as the first
 * fixture group with an open rule, under that id. `writeFault` may make a write fail (a conflict, a throttle).
 */
export function fakeClouds(
  writeFault: (change: PlannedChange) => Error | undefined = () => undefined,
): FakeClouds {
  const calls = { reads: 0, writes: 0 };
  const apply = async (change: PlannedChange, _snapshot: Snapshot) => {
    calls.writes++;
    const fault = writeFault(change);
    if (fault) throw fault;
  };
  const azure: CloudPort = {
    reader: {
      async read(ref) {
        calls.reads++;
        if (!/\/networksecuritygroups\/[^/]+$/i.test(ref.resourceId)) return undefined;
        const nsg = fixture("azure/nsg/nsg-mixed.json") as Record<string, unknown>;
        nsg.id = ref.resourceId;
        return azureSnapshot(nsg, ref.resourceType);
      },
    },
    writer: { apply },
    snapshotFromEvent: (change) =>
      change.resource === undefined ? undefined : azureSnapshot(change.resource, change.resourceType),
    consoleUrl: (ref) => `https://portal.azure.com/#resource${ref.resourceId}`,
  };
  const aws: CloudPort = {
    reader: {
      async read(ref) {
        calls.reads++;
        const groups = securityGroups();
        const byName = ref.resourceId.startsWith("name:") ? ref.resourceId.slice(5) : undefined;
        const known = groups.find((g) => g.GroupId === ref.resourceId || g.GroupName === byName);
        if (known) return awsSecurityGroupSnapshot(known, { region: ref.region ?? "us-east-1" });
        if (!/^sg-[0-9a-z]+$/i.test(ref.resourceId)) return undefined;
        const open = groups.find((g) => JSON.stringify(g.IpPermissions).includes("0.0.0.0/0")) ?? groups[0];
        return awsSecurityGroupSnapshot({ ...open, GroupId: ref.resourceId }, { region: "us-east-1" });
      },
    },
    writer: { apply },
    snapshotFromEvent: () => undefined,
    consoleUrl: (ref) => `https://console.aws.amazon.com/ec2/home#SecurityGroup:groupId=${ref.resourceId}`,
    isOwnChange: (actor) => isOwnAwsIdentity(actor, []),
  };
  return { clouds: { azure, aws }, calls };
}

/** A deps factory as the handlers take one: the given policy (default: the baseline), fake clouds, no channels. */
export function fakeDepsFactory(
  options: { policy?: Policy; clouds?: FakeClouds; dryRun?: boolean } = {},
): DepsFactory {
  const policy = options.policy ?? parsePolicy(BASELINE, "baseline.yaml");
  const clouds = options.clouds ?? fakeClouds();
  return async (log: Logger) => ({
    policy,
    clouds: clouds.clouds,
    outbox: { enqueue: async () => [] },
    audit: memoryAuditSink(),
    selfIdentities: [],
    dryRun: options.dryRun ?? false,
    log,
  });
}

/** The Lambda context the Node.js runtime passes (the fields the handler and middy read). */
export function lambdaContext(requestId = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: "network-guardian-on-change",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:network-guardian-on-change",
    memoryLimitInMB: "512",
    awsRequestId: requestId,
    logGroupName: "/aws/lambda/network-guardian-on-change",
    logStreamName: "2026/11/23/[$LATEST]0123456789abcdef0123456789abcdef",
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** An SQS batch as Lambda delivers it (the record shape of the Lambda developer guide's SQS example event). */
export function sqsBatch(bodies: readonly string[]): SQSEvent {
  return {
    Records: bodies.map((body, i) => ({
      messageId: `059f36b4-87a3-44ab-83d2-66197509${String(i).padStart(4, "0")}`,
      receiptHandle: `AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a${i}`,
      body,
      attributes: {
        ApproximateReceiveCount: "1",
        SentTimestamp: "1545082649183",
        SenderId: "AIDAIENQZJOLO23YVJ4VO",
        ApproximateFirstReceiveTimestamp: "1545082649185",
      },
      messageAttributes: {},
      md5OfBody: "098f6bcd4621d373cade4e832627b4f6",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:network-guardian-events",
      awsRegion: "us-east-1",
    })),
  };
}

/** Captures stdout lines (the Lambda logger writes there) while `work` runs. */
export async function captureStdout<T>(
  work: () => Promise<T>,
): Promise<{ result: T | undefined; error: unknown; lines: string[] }> {
  const lines: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    for (const line of text.split("\n")) if (line !== "") lines.push(line);
    return true;
  }) as typeof process.stdout.write;
  try {
    return { result: await work(), error: undefined, lines };
  } catch (error) {
    return { result: undefined, error, lines };
  } finally {
    process.stdout.write = original;
  }
}
