import type { z } from "zod";
import type { Actor, Cloud, Matched, Mode, Snapshot, UnreadableResource } from "../types.ts";

/** What a rule reports about one resource; the policy layer adds the entry name, severity and controls. */
export interface Violation {
  message: string;
  /** The offending parts, each enough for a remediation to act on that part alone. */
  matched: Matched[];
  /**
   * The control ids this violation's matched parts fail, when the rule can tell (a security group open to a
   * specific public prefix fails no Security Hub control; one open to 0.0.0.0/0 on 22 fails several). When
   * present, the finding should carry these instead of the rule's `controls` (plus the entry's own).
   */
  controls?: string[];
  /** Why the guardian must not remediate this violation whatever the mode (see Finding.alertOnly). */
  alertOnly?: string;
  /**
   * A stable identity of what this violation decides about (one connection request in one state), for rules whose
   * findings are decisions: duplicate deliveries of the same trigger, or a trigger and the sweep, decide it once.
   */
  key?: string;
  /**
   * Which kind of offending parts this violation holds, when a rule reports several kinds for one entry (world-open
   * sources apart from specific public prefixes): each becomes a finding of its own, told apart by this field.
   */
  kind?: string;
  /** The highest mode this violation may be handled with: the entry's mode is lowered to it (alert, report). */
  maxMode?: Mode;
}

/** Context a rule may use beyond its own options (policy-wide settings). */
export interface RuleContext {
  /** Prefixes the policy trusts everywhere (a bastion's or a tunnel server's IP), merged with the rule's own. */
  trustedSources: readonly string[];
  /**
   * The change being evaluated, when there is one (not in `guardian evaluate`): evidence only, such as who added a
   * principal. A rule's verdict never depends on it; the snapshot is the truth.
   */
  change?: {
    actor: Actor;
    operationName: string;
    /** When the trigger saw the change (the event's time, or the sweep's). */
    time?: string;
    /** The trigger's id (a CloudTrail eventID): a finding about what one call did is keyed by it. */
    eventId?: string;
    details?: Record<string, unknown>;
  };
  /** The policy's subnet roles, by name (see SubnetRole). */
  subnetRoles?: Readonly<Record<string, SubnetRole>>;
  /** The policy's firewalls, by name. */
  firewalls?: Readonly<Record<string, { privateIp: string }>>;
  /**
   * Another resource read for this evaluation (a subnet's route table, for a rule that `reads` its type), by id:
   * null when it no longer exists, `{ unreadable }` when the cloud refused to show it (403, another tenant),
   * undefined when it was not read (then the rule judges nothing that needs it).
   */
  related?(resourceId: string): Snapshot | UnreadableResource | null | undefined;
  /**
   * The tenant of a subscription (lower-cased id) as the adapter resolved it before evaluating, or why it could not;
   * undefined when nobody looked it up. Only subscriptions a rule's `tenantsNeeded` named are looked up.
   */
  tenantOf?(subscriptionId: string): TenantLookup | undefined;
}

/**
 * A subscription's Entra tenant as resolved (ARM's answer to an unauthenticated GET of the subscription), or why it
 * could not be (the subscription is unknown to ARM, ARM could not be reached). An unresolved tenant never matches.
 */
export type TenantLookup = { tenantId: string } | { unresolved: string };

/** Which subnets have a role: a listed id, or a name pattern and/or their virtual network's tags. */
export interface SubnetRole {
  ids?: string[] | undefined;
  names?: string[] | undefined;
  tags?: Record<string, string> | undefined;
}

export interface RuleDefinition<Options extends z.ZodType = z.ZodType> {
  /** Equals the file name in shared/rules (checked by a meta-test). */
  id: string;
  description: string;
  cloud: Cloud;
  /** Lower-cased resource types this rule evaluates (ARM type or AWS type). */
  resourceTypes: readonly string[];
  /** Default control ids (CIS, Security Hub); a policy entry may add its own. */
  controls: readonly string[];
  /** A strict zod object: unknown keys are typos and must fail. */
  options: Options;
  /** Permissions the guardian needs to read what this rule evaluates. */
  permissions: readonly string[];
  /** Remediation ids this rule's findings can be fixed with; the first is the default. */
  remediations: readonly string[];
  /** A policy entry using this rule, as YAML (validated against the policy schema by a meta-test). */
  example: string;
  /**
   * Why this snapshot lacks what the rule needs (an endpoint service given without its permissions), or undefined.
   * `guardian evaluate` lists such resources as not evaluated instead of calling them compliant.
   */
  cannotEvaluate?(snapshot: Snapshot): string | undefined;
  /**
   * Pure: the lower-cased types of other resources this rule will look at through `context.related` for this
   * snapshot (a subnet role that routes egress through a firewall reads the subnet's route table). The pipeline
   * reads them before evaluating; nothing is read for an entry that names none.
   */
  reads?(snapshot: Snapshot, options: z.infer<Options>, context: RuleContext): readonly string[];
  /**
   * Pure: of the resources of the types `reads` names, the only ones (by id) this rule needs for this snapshot (the
   * requesting endpoints of the connections an allow entry by groupIds may cover); left out, every one is read.
   */
  readsOnly?(snapshot: Snapshot, options: z.infer<Options>): readonly string[];
  /**
   * Pure: the subscriptions whose tenants this rule needs for this snapshot (a requester's, when an allow entry names
   * tenants). The pipeline resolves them before evaluating and hands them over as `context.tenantOf`; none is looked
   * up for an entry that names no tenant.
   */
  tenantsNeeded?(snapshot: Snapshot, options: z.infer<Options>): readonly string[];
  /**
   * What a remediate-mode entry must also set for its remediation to be able to act (an NSG to attach): the option's
   * path under the entry and why, or undefined. Checked when the policy loads.
   */
  remediateNeeds?(options: unknown): { path: (string | number)[]; message: string } | undefined;
  /** Pure: no I/O, no clock. */
  evaluate(snapshot: Snapshot, options: z.infer<Options>, context: RuleContext): Violation[];
}
