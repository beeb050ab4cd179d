import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupRulesCommand,
  type EC2Client,
  type IpPermission,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroupRule,
} from "@aws-sdk/client-ec2";
import * as z from "zod";
import { ConflictError, InputError, OutcomeUnknownError } from "../../errors.ts";
import type { PlannedChange, Snapshot } from "../../types.ts";
import type { CallCounter, CallOptions, ResourceWriter } from "../ports.ts";
import {
  asTransient,
  callOptions,
  clientFor,
  type Ec2ClientSource,
  ec2ErrorCode,
  outcomeUnknown,
  retriesOnlyThrottling,
  withContext,
  writeFailureKind,
} from "./client.ts";

// The SDK's IpPermission in PascalCase, as DescribeSecurityGroups returns it. Strict, so a remediation that
// copied CloudTrail's camelCase `ipRanges.items` fails loudly instead of revoking nothing.
const description = z.string().optional();
const ipPermissionSchema = z.strictObject({
  IpProtocol: z.string().min(1),
  FromPort: z.number().int().optional(),
  ToPort: z.number().int().optional(),
  IpRanges: z.array(z.strictObject({ CidrIp: z.string().min(1), Description: description })).optional(),
  Ipv6Ranges: z.array(z.strictObject({ CidrIpv6: z.string().min(1), Description: description })).optional(),
  PrefixListIds: z
    .array(z.strictObject({ PrefixListId: z.string().min(1), Description: description }))
    .optional(),
  UserIdGroupPairs: z
    .array(
      z.strictObject({
        GroupId: z.string().optional(),
        GroupName: z.string().optional(),
        UserId: z.string().optional(),
        VpcId: z.string().optional(),
        VpcPeeringConnectionId: z.string().optional(),
        PeeringStatus: z.string().optional(),
        Description: description,
      }),
    )
    .optional(),
});

const groupId = z.string().regex(/^sg-[0-9a-f]+$/, "a security group id (sg-...)");

// By content only, never by security group rule id: a rule id survives ModifySecurityGroupRules, so a revoke by id
// could delete whatever the owner rewrote the rule into since the read. EC2 revokes exact permissions atomically.
// `authorize`: the unprotected ports of a tcp/udp range, authorized for the same CIDRs before the revoke (EC2 revokes
// a range whole, so this is how only the protected ports close).
const revokeIngressSchema = z.strictObject({
  kind: z.literal("revoke-security-group-ingress"),
  groupId,
  authorize: z.array(ipPermissionSchema).optional(),
  ipPermissions: z.array(ipPermissionSchema).min(1),
});

const revokeRulesSchema = z.strictObject({
  kind: z.literal("revoke-security-group-rules"),
  groupId,
  ingress: z.array(ipPermissionSchema),
  egress: z.array(ipPermissionSchema),
});

export const securityGroupOperationSchema = z.union([revokeIngressSchema, revokeRulesSchema]);

/** Revoke inbound rules by exact permission (the offending CIDR only). */
export type RevokeSecurityGroupIngressOperation = z.infer<typeof revokeIngressSchema>;
/** Revoke every listed inbound and outbound permission (the default group must have none: EC2.2, CIS 5.4). */
export type RevokeSecurityGroupRulesOperation = z.infer<typeof revokeRulesSchema>;
export type SecurityGroupOperation = z.infer<typeof securityGroupOperationSchema>;
export type IpPermissionInput = z.infer<typeof ipPermissionSchema>;

/**
 * What the revoke request carries. Descriptions are dropped (AWS matches rules without them) and so is
 * PeeringStatus, which is output-only.
 */
function toRequestPermission(permission: IpPermissionInput): IpPermission {
  const out: IpPermission = { IpProtocol: permission.IpProtocol };
  if (permission.FromPort !== undefined) out.FromPort = permission.FromPort;
  if (permission.ToPort !== undefined) out.ToPort = permission.ToPort;
  if (permission.IpRanges?.length) out.IpRanges = permission.IpRanges.map((r) => ({ CidrIp: r.CidrIp }));
  if (permission.Ipv6Ranges?.length)
    out.Ipv6Ranges = permission.Ipv6Ranges.map((r) => ({ CidrIpv6: r.CidrIpv6 }));
  if (permission.PrefixListIds?.length) {
    out.PrefixListIds = permission.PrefixListIds.map((p) => ({ PrefixListId: p.PrefixListId }));
  }
  if (permission.UserIdGroupPairs?.length) {
    out.UserIdGroupPairs = permission.UserIdGroupPairs.map(
      ({ Description: _d, PeeringStatus: _p, ...pair }) => pair,
    );
  }
  return out;
}

/** What an authorize request carries: the sources with their descriptions (the original rule's, carried over). */
function toAuthorizePermission(permission: IpPermissionInput): IpPermission {
  const out = toRequestPermission(permission);
  if (permission.IpRanges?.length) out.IpRanges = permission.IpRanges.map((r) => ({ ...r }));
  if (permission.Ipv6Ranges?.length) out.Ipv6Ranges = permission.Ipv6Ranges.map((r) => ({ ...r }));
  return out;
}

/** A permission with no source revokes nothing and EC2 rejects it; the Describe output has such empty shells. */
function hasSource(permission: IpPermission): boolean {
  return Boolean(
    permission.IpRanges?.length ||
      permission.Ipv6Ranges?.length ||
      permission.PrefixListIds?.length ||
      permission.UserIdGroupPairs?.length,
  );
}

// The rule is gone or changed since the read: the pipeline re-reads and re-plans, never repeats the write.
const GONE_CODES = new Set([
  "InvalidPermission.NotFound",
  "InvalidSecurityGroupRuleId.NotFound",
  "InvalidGroup.NotFound",
]);

interface RevokeResult {
  Return?: boolean | undefined;
  UnknownIpPermissions?: IpPermission[] | undefined;
}

export interface AwsSecurityGroupWriterOptions {
  /**
   * Clients made with `retry: "throttling-only"` (createEc2Client): a write the SDK retried after a lost answer could
   * meet InvalidPermission.NotFound for its own success. With other clients such a retry is reported as
   * OutcomeUnknownError rather than taken for a concurrent edit.
   */
  clients: Ec2ClientSource;
  /** Shared with the reader to check API economy; a fresh one when omitted. */
  counter?: CallCounter;
  /** Clients for the writer's own reads (the rule ids a revoke removes): every transient failure retried. */
  readClients?: Ec2ClientSource;
}

/**
 * Applies planned security group changes: exact revokes, never a rewrite of the whole group. Throws ConflictError
 * when what it revokes is no longer there (re-read and re-plan), OutcomeUnknownError when a revoke was sent and its
 * answer lost (re-read to learn whether it landed), TransientError when it certainly did not land.
 */
export class AwsSecurityGroupWriter implements ResourceWriter {
  readonly counter: CallCounter;
  readonly #clients: Ec2ClientSource;
  readonly #readClients: Ec2ClientSource;

  constructor(options: AwsSecurityGroupWriterOptions) {
    this.#clients = options.clients;
    this.#readClients = options.readClients ?? options.clients;
    this.counter = options.counter ?? { reads: 0, writes: 0 };
  }

  async apply(change: PlannedChange, snapshot: Snapshot, options: CallOptions = {}): Promise<void> {
    if (snapshot.origin === "event") {
      // The port's contract: a write starts from the guardian's own read, never from content an event carried.
      throw new InputError(`refusing to write ${snapshot.resourceId} from a snapshot an event carried`);
    }
    const signal = options.signal;
    const parsed = securityGroupOperationSchema.safeParse(change.operation);
    if (!parsed.success) {
      throw new InputError(
        `planned change "${change.summary}" has an invalid AWS operation: ${z.prettifyError(parsed.error)}`,
        {
          path: "operation",
          cause: parsed.error,
        },
      );
    }
    const op = parsed.data;
    if (op.groupId !== snapshot.resourceId) {
      throw new InputError(
        `planned change targets ${op.groupId} but the snapshot is ${snapshot.resourceId}`,
        {
          path: "operation.groupId",
        },
      );
    }
    if (op.kind === "revoke-security-group-ingress") {
      const revoke = op.ipPermissions.map(toRequestPermission);
      const authorize = (op.authorize ?? []).map(toAuthorizePermission).filter(hasSource);
      if (authorize.length === 0) {
        await this.#revoke("ingress", snapshot.region, op.groupId, revoke, signal);
        return;
      }
      await this.#narrow(change, snapshot.region, op.groupId, authorize, revoke, signal);
      return;
    }
    const ingress = op.ingress.map(toRequestPermission).filter(hasSource);
    const egress = op.egress.map(toRequestPermission).filter(hasSource);
    if (ingress.length > 0) await this.#revoke("ingress", snapshot.region, op.groupId, ingress, signal);
    if (egress.length > 0) {
      try {
        await this.#revoke("egress", snapshot.region, op.groupId, egress, signal);
      } catch (error) {
        // The inbound half landed: whatever stopped the outbound half, the group is no longer as it was read.
        if (
          ingress.length > 0 &&
          !(error instanceof OutcomeUnknownError) &&
          !(error instanceof ConflictError)
        ) {
          throw new OutcomeUnknownError(
            `the inbound rules of ${op.groupId} were revoked, the outbound ones failed: ${(error as Error).message}`,
            { cause: error },
          );
        }
        throw error;
      }
    }
  }

  /**
   * Authorize the unprotected ports again, then revoke the original range. In that order because every range it
   * authorizes is a part of a permission the group already holds for the same CIDR: after the authorize the group
   * allows exactly what it allowed before (nothing more open, at any moment), and a failure between the two calls
   * leaves it as open as it was, the revoke still to do (the pipeline re-reads and retries; the next plan finds the
   * ranges already there). The other order would close 80 and 443 to the world for the time between the calls, or for
   * good if the authorize then failed: an outage the entry never asked for.
   *
   * The one way authorize-first could open something: the owner removes the original permission between the read and
   * the authorize. The revoke then finds it gone (ConflictError), and the ranges this call added are revoked again
   * before the conflict goes to the pipeline.
   *
   * When the group's rule quota refuses the authorize (RulesPerSecurityGroupLimitExceeded), the whole range is revoked
   * anyway and the alert says what else it closed: the exposure is a world-open admin port, and closing it wins over
   * keeping the neighbours (the undo command puts them back).
   */
  async #narrow(
    change: PlannedChange,
    region: string | undefined,
    group: string,
    authorize: IpPermission[],
    revoke: IpPermission[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const added = await this.#authorize(region, group, authorize, signal);
    if (added === "limit") {
      const ranges = authorize.map(
        (p) => `${p.IpProtocol} ${p.FromPort === p.ToPort ? p.FromPort : `${p.FromPort}-${p.ToPort}`}`,
      );
      // The alert, the audit and the undo are written from the planned change after apply: they must say what really
      // happened. Nothing was authorized: `after` loses the re-authorized ranges the planner appended after its
      // one-per-`before` entries, and the undo has nothing to take back before putting the original range back.
      if (Array.isArray(change.before) && Array.isArray(change.after)) {
        change.after = change.after.slice(0, change.before.length);
      }
      delete change.operation.authorize;
      change.summary +=
        `; the group's rule quota refused re-authorizing ${ranges.join(", ")} (RulesPerSecurityGroupLimitExceeded),` +
        " so the whole range was revoked: also closes those ports to the same CIDRs";
    }
    try {
      await this.#revoke("ingress", region, group, revoke, signal);
    } catch (error) {
      if (error instanceof ConflictError && added !== "limit" && added.length > 0) {
        // The original is gone or changed: what this call added must not outlive it.
        await this.#revokeQuietly(region, group, added, signal);
      }
      throw error;
    }
  }

  /**
   * Authorizes the sources of `permissions` the group does not hold yet (a fresh DescribeSecurityGroupRules decides,
   * so a range someone already has, or an earlier attempt's, is not sent again). InvalidPermission.Duplicate means a
   * range arrived meanwhile: re-read and send what is still missing. A lost answer is settled the same way. Returns
   * the permissions this call added, or "limit" when the group's rule quota refused them.
   */
  async #authorize(
    region: string | undefined,
    group: string,
    permissions: IpPermission[],
    signal: AbortSignal | undefined,
  ): Promise<IpPermission[] | "limit"> {
    const context = `AuthorizeSecurityGroupIngress on ${group}`;
    const client = clientFor(this.#clients, region);
    const reads = clientFor(this.#readClients, region);
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      let rules: SecurityGroupRule[];
      try {
        rules = await this.#rules(reads, group, signal);
      } catch (error) {
        if (ec2ErrorCode(error) === "InvalidGroup.NotFound") {
          throw new ConflictError(`${context}: the group no longer exists`, group, { cause: error });
        }
        const what = `${context}: not sent, the group's rules could not be read`;
        throw asTransient(error, what) ?? withContext(error, what);
      }
      const held = new Set(rules.filter((r) => r.IsEgress === false).map(ruleKey));
      const missing = permissions.flatMap((p) => missingOf(p, held));
      if (missing.length === 0) return [];
      try {
        this.counter.writes += 1;
        await client.send(
          new AuthorizeSecurityGroupIngressCommand({ GroupId: group, IpPermissions: missing }),
          callOptions(signal, context),
        );
        return missing;
      } catch (error) {
        const code = ec2ErrorCode(error);
        if (code === "RulesPerSecurityGroupLimitExceeded") return "limit";
        if (code === "InvalidPermission.Duplicate" || writeFailureKind(error) === "unknown") {
          lastError = error;
          continue;
        }
        throw asTransient(error, context) ?? withContext(error, context);
      }
    }
    throw outcomeUnknown(lastError, `${context}: still unsettled after 3 attempts`);
  }

  /** Best effort: a failure here is logged in the conflict's path, never hides the conflict itself. */
  async #revokeQuietly(
    region: string | undefined,
    group: string,
    permissions: IpPermission[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    try {
      this.counter.writes += 1;
      await clientFor(this.#clients, region).send(
        new RevokeSecurityGroupIngressCommand({
          GroupId: group,
          IpPermissions: permissions.map((p) => toRequestPermission(p as IpPermissionInput)),
        }),
        callOptions(signal, `RevokeSecurityGroupIngress on ${group}`),
      );
    } catch {
      // The pipeline re-reads after the conflict and plans again from what the group holds.
    }
  }

  async #revoke(
    direction: "ingress" | "egress",
    region: string | undefined,
    group: string,
    permissions: IpPermission[],
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const action = direction === "ingress" ? "RevokeSecurityGroupIngress" : "RevokeSecurityGroupEgress";
    const context = `${action} on ${group}`;
    const client = clientFor(this.#clients, region);
    const input = { GroupId: group, IpPermissions: permissions };
    // Not started once the budget is spent: an abort mid-flight would leave the outcome unknown.
    const call = callOptions(signal, context);
    // The ids of the rules this revoke removes, read right before it: if its answer is lost, they tell whether it
    // landed (a revoke deletes the rules, ids and all) or someone rewrote the rule in place (ModifySecurityGroupRules
    // keeps the id), which the content alone cannot tell apart. Never used to address the revoke itself.
    const reads = clientFor(this.#readClients, region);
    const ids = await this.#ruleIds(reads, group, direction, permissions, signal, context);
    let result: RevokeResult;
    try {
      this.counter.writes += 1;
      result =
        direction === "ingress"
          ? await client.send(new RevokeSecurityGroupIngressCommand(input), call)
          : await client.send(new RevokeSecurityGroupEgressCommand(input), call);
    } catch (error) {
      const code = ec2ErrorCode(error);
      if (code !== undefined && GONE_CODES.has(code)) {
        const attempts = (error as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1;
        if (attempts > 1 && !retriesOnlyThrottling(client)) {
          // An earlier attempt of this same call may have been the one that removed it.
          const lost = new OutcomeUnknownError(
            `${context}: ${code} on attempt ${attempts}, after an attempt whose answer was lost`,
            { cause: error },
          );
          return this.#settle(reads, group, ids, lost, signal);
        }
        throw new ConflictError(`${context}: ${code}; the group or rule changed since it was read`, group, {
          cause: error,
        });
      }
      if (writeFailureKind(error) === "unknown") {
        return this.#settle(reads, group, ids, outcomeUnknown(error, context), signal);
      }
      throw asTransient(error, context) ?? withContext(error, context);
    }
    // Default VPC (and EC2 in general, per the API reference): unmatched permissions are reported, not raised.
    const unknown = result.UnknownIpPermissions ?? [];
    if (result.Return === false || unknown.length > 0) {
      throw new ConflictError(
        `${context}: ${unknown.length} permission(s) were not found (Return=${String(result.Return)}); the group changed since it was read`,
        group,
      );
    }
  }

  /**
   * Re-reads the group's rules right before the revoke and compares (EC2 has no etag): every source the revoke names
   * must still be there, else nothing is sent (ConflictError: the pipeline re-reads and re-plans). Returns the ids of
   * those rules, which settle a lost answer. When the rules cannot be read nothing is sent either (TransientError,
   * retried): without them a lost answer could not be told from someone's in-place edit.
   */
  async #ruleIds(
    client: EC2Client,
    group: string,
    direction: "ingress" | "egress",
    permissions: readonly IpPermission[],
    signal: AbortSignal | undefined,
    context: string,
  ): Promise<string[]> {
    let rules: SecurityGroupRule[];
    try {
      rules = await this.#rules(client, group, signal);
    } catch (error) {
      if (ec2ErrorCode(error) === "InvalidGroup.NotFound") {
        throw new ConflictError(`${context}: the group no longer exists`, group, { cause: error });
      }
      const what = `${context}: not sent, the rules it would remove could not be read`;
      throw asTransient(error, what) ?? withContext(error, what);
    }
    const byKey = new Map<string, string[]>();
    for (const rule of rules) {
      if (rule.IsEgress !== (direction === "egress") || rule.SecurityGroupRuleId === undefined) continue;
      const k = ruleKey(rule);
      byKey.set(k, [...(byKey.get(k) ?? []), rule.SecurityGroupRuleId]);
    }
    const wanted = permissions.flatMap(sourceKeys);
    const missing = wanted.filter((k) => !byKey.has(k));
    if (missing.length > 0) {
      throw new ConflictError(
        `${context}: not sent, ${missing.length} of the ${wanted.length} source(s) it revokes are no longer there; the group changed since it was read`,
        group,
      );
    }
    return wanted.flatMap((k) => byKey.get(k) ?? []);
  }

  async #rules(
    client: EC2Client,
    group: string,
    signal: AbortSignal | undefined,
  ): Promise<SecurityGroupRule[]> {
    const rules: SecurityGroupRule[] = [];
    let token: string | undefined;
    for (let page = 0; page < 20; page++) {
      this.counter.reads += 1;
      const output = await client.send(
        new DescribeSecurityGroupRulesCommand({
          Filters: [{ Name: "group-id", Values: [group] }],
          MaxResults: 1000,
          ...(token === undefined ? {} : { NextToken: token }),
        }),
        callOptions(signal, `DescribeSecurityGroupRules for ${group}`),
      );
      rules.push(...(output.SecurityGroupRules ?? []));
      token = output.NextToken;
      if (!token) break;
    }
    return rules;
  }

  /**
   * Settles a revoke whose answer was lost by the ids of the rules it was to remove: all gone, it landed (returns);
   * any still there, it did not (ConflictError: the pipeline re-reads, and revokes again what is still open, or finds
   * that someone else's in-place edit closed it). When they cannot be read now, the OutcomeUnknownError goes to the
   * pipeline, which re-reads (a few times) and settles by content.
   */
  async #settle(
    client: EC2Client,
    group: string,
    ids: readonly string[],
    lost: OutcomeUnknownError,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    if (ids.length === 0) throw lost;
    let rules: SecurityGroupRule[];
    try {
      rules = await this.#rules(client, group, signal);
    } catch {
      throw lost;
    }
    const left = rules.filter(
      (r) => r.SecurityGroupRuleId !== undefined && ids.includes(r.SecurityGroupRuleId),
    );
    if (left.length === 0) return;
    throw new ConflictError(
      `${lost.message}; it did not land: ${left.length} of its ${ids.length} rule(s) are still there` +
        ` (${left.map((r) => r.SecurityGroupRuleId).join(", ")}), as read or rewritten in place since`,
      group,
      { cause: lost },
    );
  }
}

/** A rule's protocol, ports and source, as one comparable string (`-1` ports for a protocol without ports). */
function key(
  protocol: string | undefined,
  from: number | undefined,
  to: number | undefined,
  source: string,
): string {
  const name = (protocol ?? "").toLowerCase();
  return `${PROTOCOL_NAMES[name] ?? name}|${from ?? -1}|${to ?? -1}|${source}`;
}

// A request may name a protocol by number, a read by name (or the other way): one key for both.
const PROTOCOL_NAMES: Record<string, string> = { "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6" };

function ruleKey(rule: SecurityGroupRule): string {
  const source =
    rule.CidrIpv4 ?? rule.CidrIpv6 ?? rule.PrefixListId ?? rule.ReferencedGroupInfo?.GroupId ?? "(none)";
  return key(rule.IpProtocol, rule.FromPort, rule.ToPort, source);
}

/** The part of `p` whose sources `held` does not have yet (CIDRs only: what an authorize here carries). */
function missingOf(p: IpPermission, held: ReadonlySet<string>): IpPermission[] {
  const has = (source: string) => held.has(key(p.IpProtocol, p.FromPort, p.ToPort, source));
  const v4 = (p.IpRanges ?? []).filter((r) => !has(r.CidrIp ?? ""));
  const v6 = (p.Ipv6Ranges ?? []).filter((r) => !has(r.CidrIpv6 ?? ""));
  if (v4.length === 0 && v6.length === 0) return [];
  return [
    {
      IpProtocol: p.IpProtocol,
      ...(p.FromPort === undefined ? {} : { FromPort: p.FromPort }),
      ...(p.ToPort === undefined ? {} : { ToPort: p.ToPort }),
      ...(v4.length > 0 ? { IpRanges: v4 } : {}),
      ...(v6.length > 0 ? { Ipv6Ranges: v6 } : {}),
    },
  ];
}

function sourceKeys(p: IpPermission): string[] {
  const sources = [
    ...(p.IpRanges ?? []).map((r) => r.CidrIp ?? ""),
    ...(p.Ipv6Ranges ?? []).map((r) => r.CidrIpv6 ?? ""),
    ...(p.PrefixListIds ?? []).map((r) => r.PrefixListId ?? ""),
    ...(p.UserIdGroupPairs ?? []).map((r) => r.GroupId ?? r.GroupName ?? ""),
  ];
  return sources.map((source) => key(p.IpProtocol, p.FromPort, p.ToPort, source));
}
