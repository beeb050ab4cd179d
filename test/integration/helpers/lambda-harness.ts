// What the Lambda handler tests share: the handler built from source with the deployed wiring (configuration from an
// environment, clients per instance, ports bound per invocation), stdout captured as CloudWatch would see it, and a
// few moto helpers for groups and the alerts the webhook sink received.

import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateVpcCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
  type IpPermission,
  type SecurityGroup,
  type SecurityGroupRule,
} from "@aws-sdk/client-ec2";
import type { Context } from "aws-lambda";
import { createOnChangeHandler } from "../../../lambdas/on-change.ts";
import { awsGuardianDeps } from "../../../shared/clouds/aws/runtime.ts";
import { parseConfig } from "../../../shared/config.ts";
import { perInstance } from "../../../shared/runtime.ts";
import type { SinkRequest } from "../../harness/webhook-sink.ts";

export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;
export type LogLine = { level: string; message: string } & Record<string, unknown>;

/** A fresh execution environment of the on-change Lambda, configured by `env` as the deployed one is by its own. */
export function lambdaHandler(env: Record<string, string | undefined>): LambdaHandler {
  const cfg = parseConfig(env);
  return createOnChangeHandler(perInstance((log) => awsGuardianDeps(cfg, log))) as unknown as LambdaHandler;
}

/** Runs `fn` with stdout captured: the Lambda logger writes one JSON line per record there. */
export async function capturingStdout<T>(
  fn: () => Promise<T>,
): Promise<{ value?: T; error?: unknown; logs: LogLine[] }> {
  const original = process.stdout.write;
  let text = "";
  process.stdout.write = ((chunk: string | Uint8Array) => {
    text += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8");
    return true;
  }) as typeof process.stdout.write;
  try {
    const value = await fn();
    return { value, logs: parseLogs(text) };
  } catch (error) {
    return { error, logs: parseLogs(text) };
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

export async function createVpcGroup(ec2: EC2Client, name: string, cidr = "10.0.0.0/16"): Promise<string> {
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: cidr }));
  const out = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: name, Description: `${name} (test)`, VpcId: vpc.Vpc?.VpcId }),
  );
  if (out.GroupId === undefined) throw new Error(`moto created ${name} without an id`);
  return out.GroupId;
}

export async function authorize(
  ec2: EC2Client,
  groupId: string,
  permission: IpPermission,
): Promise<SecurityGroupRule[]> {
  const out = await ec2.send(
    new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [permission] }),
  );
  return out.SecurityGroupRules ?? [];
}

export async function describeGroup(ec2: EC2Client, groupId: string): Promise<SecurityGroup> {
  const out = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
  const group = out.SecurityGroups?.[0];
  if (group === undefined) throw new Error(`${groupId} not found`);
  return group;
}

/** Every (protocol ports, source) of a group's ingress, sorted: what a test compares before and after. */
export function ingressSources(group: SecurityGroup): string[] {
  return (group.IpPermissions ?? [])
    .flatMap((p) => {
      const key = `${p.IpProtocol} ${p.FromPort ?? ""}-${p.ToPort ?? ""}`;
      return [
        ...(p.IpRanges ?? []).map((r) => `${key} ${r.CidrIp}`),
        ...(p.Ipv6Ranges ?? []).map((r) => `${key} ${r.CidrIpv6}`),
        ...(p.PrefixListIds ?? []).map((r) => `${key} ${r.PrefixListId}`),
        ...(p.UserIdGroupPairs ?? []).map((r) => `${key} ${r.GroupId}`),
      ];
    })
    .sort();
}

/** The text of a Slack message as the sink received it (header, sections, context). */
export function slackText(request: SinkRequest): string {
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
