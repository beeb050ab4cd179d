import {
  DescribeSecurityGroupsCommand,
  type DescribeSecurityGroupsCommandInput,
  type SecurityGroup,
} from "@aws-sdk/client-ec2";
import { InputError } from "../../errors.ts";
import { PREFIX_LISTS } from "../../rules/sg/prefix-lists.ts";
import type { Snapshot } from "../../types.ts";
import type { CallCounter, CallOptions, ResourceReader, ResourceRef } from "../ports.ts";
import {
  asTransient,
  callOptions,
  clientFor,
  type Ec2ClientSource,
  ec2ErrorCode,
  withContext,
} from "./client.ts";
import { AWS_SECURITY_GROUP_TYPE, awsSecurityGroupSnapshot } from "./kinds/security-group.ts";
import { PrefixListResolver } from "./prefix-lists.ts";

export { AWS_SECURITY_GROUP_TYPE };

/** How a ref names its security group: by id, or by name when the CloudTrail request carried only `groupName`. */
export type SecurityGroupLocator =
  | { by: "id"; groupId: string }
  | { by: "name"; groupName: string; vpcId?: string };

const NAME_PREFIX = "name:";
// A VPC id followed by "/" scopes a name. Group names may contain "/", so a group literally named
// "vpc-<hex>/..." would be misread; such names are not a realistic concern and the ref stays a plain string.
const VPC_SCOPED_NAME = /^(vpc-[0-9a-f]{8,17})\/(.+)$/;
const GROUP_ARN = /^arn:aws[a-z-]*:ec2:[^:]*:\d{12}:security-group\/(sg-[0-9a-f]+)$/;

/** The resource id for a group known only by name: `name:<groupName>` or `name:<vpcId>/<groupName>`. */
export function securityGroupNameRef(groupName: string, vpcId?: string): string {
  return vpcId === undefined ? `${NAME_PREFIX}${groupName}` : `${NAME_PREFIX}${vpcId}/${groupName}`;
}

export function parseSecurityGroupResourceId(resourceId: string): SecurityGroupLocator {
  if (resourceId.startsWith(NAME_PREFIX)) {
    const rest = resourceId.slice(NAME_PREFIX.length);
    const scoped = VPC_SCOPED_NAME.exec(rest);
    if (scoped?.[1] !== undefined && scoped[2] !== undefined)
      return { by: "name", groupName: scoped[2], vpcId: scoped[1] };
    if (rest.length === 0) throw new InputError(`security group ref "${resourceId}" names no group`);
    return { by: "name", groupName: rest };
  }
  const fromArn = GROUP_ARN.exec(resourceId)?.[1];
  if (fromArn !== undefined) return { by: "id", groupId: fromArn };
  if (resourceId.startsWith("sg-")) return { by: "id", groupId: resourceId };
  throw new InputError(
    `"${resourceId}" is not a security group id (sg-...), a security group ARN or a name:<groupName> ref`,
  );
}

function describeInput(locator: SecurityGroupLocator): DescribeSecurityGroupsCommandInput {
  if (locator.by === "id") return { GroupIds: [locator.groupId] };
  const filters = [{ Name: "group-name", Values: [locator.groupName] }];
  if (locator.vpcId !== undefined) filters.push({ Name: "vpc-id", Values: [locator.vpcId] });
  return { Filters: filters };
}

export interface AwsSecurityGroupReaderOptions {
  clients: Ec2ClientSource;
  /** Shared with the writer to check API economy; a fresh one when omitted. */
  counter?: CallCounter;
  /** Resolves referenced prefix lists; shared by the reads of one invocation. A fresh one when omitted. */
  prefixLists?: PrefixListResolver;
}

/**
 * Reads one security group with one DescribeSecurityGroups call; the snapshot keeps the SDK's item as is. When its
 * ingress references managed prefix lists, they are resolved (owner, and entries of customer-managed ones) and attached
 * as `related.prefixLists`, so the rules can judge what the lists allow.
 */
export class AwsSecurityGroupReader implements ResourceReader {
  readonly counter: CallCounter;
  readonly #clients: Ec2ClientSource;
  readonly #prefixLists: PrefixListResolver;

  constructor(options: AwsSecurityGroupReaderOptions) {
    this.#clients = options.clients;
    this.counter = options.counter ?? { reads: 0, writes: 0 };
    this.#prefixLists =
      options.prefixLists ?? new PrefixListResolver({ clients: options.clients, counter: this.counter });
  }

  async read(ref: ResourceRef, options: CallOptions = {}): Promise<Snapshot | undefined> {
    if (ref.cloud !== "aws" || ref.resourceType !== AWS_SECURITY_GROUP_TYPE) {
      throw new InputError(
        `AwsSecurityGroupReader cannot read ${ref.cloud} ${ref.resourceType} "${ref.resourceId}"`,
      );
    }
    const locator = parseSecurityGroupResourceId(ref.resourceId);
    const what = `DescribeSecurityGroups for ${ref.resourceId}`;
    const client = clientFor(this.#clients, ref.region);
    let groups: SecurityGroup[];
    const call = callOptions(options.signal, what);
    try {
      this.counter.reads += 1;
      const output = await client.send(new DescribeSecurityGroupsCommand(describeInput(locator)), call);
      groups = output.SecurityGroups ?? [];
    } catch (error) {
      // By id, a deleted group is an error; by filter it is an empty list (below).
      if (ec2ErrorCode(error) === "InvalidGroup.NotFound") return undefined;
      if (ec2ErrorCode(error) === "InvalidGroupId.Malformed") {
        throw new InputError(`${what}: malformed group id`, { cause: error });
      }
      throw asTransient(error, what) ?? withContext(error, what);
    }
    if (groups.length > 1) {
      // Name-only requests address the default VPC, but nothing in a Describe item says which VPC is default.
      const candidates = groups.map((g) => `${g.GroupId ?? "?"} (${g.VpcId ?? "no VPC"})`).join(", ");
      throw new InputError(
        `${what}: the name matches ${groups.length} groups (${candidates}); the ref must name the VPC (name:<vpcId>/<groupName>)`,
      );
    }
    const group = groups[0];
    if (group === undefined) return undefined;
    const snapshot = awsSecurityGroupSnapshot(group, {
      resourceId: ref.resourceId,
      account: ref.account,
      region: ref.region,
    });
    const referenced = (group.IpPermissions ?? []).flatMap((p) =>
      (p.PrefixListIds ?? []).flatMap((l) => (l.PrefixListId === undefined ? [] : [l.PrefixListId])),
    );
    if (referenced.length > 0) {
      snapshot.related = {
        [PREFIX_LISTS]: await this.#prefixLists.resolve(referenced, ref.region, options.signal),
      };
    }
    return snapshot;
  }
}
