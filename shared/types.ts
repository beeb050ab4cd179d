// The core vocabulary every layer speaks. Cloud-neutral: the Azure and AWS adapters translate into these.

export type Cloud = "azure" | "aws";

/** Who made a change, as the event names the caller. */
export interface Actor {
  /** Human-readable: a UPN, an app id, an ARN. Undefined when the event carries no identity. */
  name?: string;
  /** Object id (Azure) or principal id (AWS). */
  principalId?: string;
  /** Azure: `User`, `ServicePrincipal`; AWS: `userIdentity.type` (IAMUser, AssumedRole, ...). */
  principalType?: string;
  /** Azure app id (appid claim); AWS role ARN behind an assumed-role session. */
  appId?: string;
  sourceIp?: string;
}

export type Operation = "write" | "delete" | "action";

/** A normalised change: one resource to (re-)evaluate, whatever trigger announced it. */
export interface ResourceChange {
  cloud: Cloud;
  /** Azure subscription id or AWS account id. */
  account: string;
  region?: string;
  /** The resource to evaluate (the parent NSG for a security rule write). */
  resourceId: string;
  /** Lower-cased ARM type (`microsoft.network/networksecuritygroups`) or an AWS type (`aws:ec2:security-group`). */
  resourceType: string;
  operation: Operation;
  /** The operation the caller performed, as the event names it (`Microsoft.Network/.../securityRules/write`, `AuthorizeSecurityGroupIngress`). */
  operationName: string;
  /** The resource the caller touched when it differs from `resourceId` (a child security rule). */
  subjectId?: string;
  actor: Actor;
  eventId: string;
  correlationId?: string;
  /** ISO 8601. */
  time: string;
  /** The resource itself when the event carried it (Resource Notifications); then no read is needed. */
  resource?: unknown;
  /** Trigger-specific details the AWS or Azure adapters may need (request parameters, rule ids). */
  details?: Record<string, unknown>;
}

export type SkipReason =
  | "validation-handshake"
  | "irrelevant-event-type"
  | "unsupported-resource-type"
  | "failed-operation"
  | "read-only"
  | "malformed";

/** An event the normaliser did not turn into a change, and why. Nothing is dropped silently. */
export interface SkippedEvent {
  eventId?: string;
  eventType?: string;
  reason: SkipReason;
  detail: string;
}

export interface NormaliseResult {
  changes: ResourceChange[];
  skipped: SkippedEvent[];
}

/** The resource as the cloud API returned it, plus the token for an optimistic-concurrency write. */
export interface Snapshot {
  cloud: Cloud;
  resourceId: string;
  resourceType: string;
  /** ARM etag or, for AWS, undefined (AWS writes are by exact rule id or permission). */
  etag?: string;
  /** The raw API shape (ARM GET JSON, one DescribeSecurityGroups item). Rules read this. */
  resource: unknown;
  /** Tags as a flat map, extracted by the adapter for scope and exemption checks. */
  tags: Record<string, string>;
  /** Resource group (Azure) when the id has one. */
  resourceGroup?: string;
  account: string;
  region?: string;
  /**
   * `event` when the adapter made it from the resource an event carried (Resource Notifications): it may show that
   * nothing needs doing, but a write never starts from it (forged or stale content); writers refuse it.
   */
  origin?: "read" | "event";
  /**
   * What the reader resolved beyond the resource itself because rules need it to judge the resource, keyed by kind
   * (AWS: `prefixLists`, the managed prefix lists the group's rules reference, by id). Absent when nothing was
   * resolved. (Subscriptions' tenants are not kept here: they reach rules as RuleContext.tenantOf.)
   */
  related?: Record<string, unknown>;
}

/**
 * Another resource read for an evaluation that the cloud refused to show (no permission, a subscription of another
 * tenant): the cloud's reason. Retrying will not change it; a rule that needed it judges without it and says why.
 */
export interface UnreadableResource {
  unreadable: string;
}

export type Severity = "low" | "medium" | "high" | "critical";

/** One offending part of a resource. Cloud Custodian style: the filter annotates, the action acts only on this. */
export type Matched = Record<string, unknown>;

export interface Finding {
  /** The policy entry's name (unique within the policy). */
  policyRule: string;
  /** The rule implementation's id (= its file name in shared/rules). */
  ruleId: string;
  resourceId: string;
  resourceType: string;
  severity: Severity;
  message: string;
  controls: string[];
  matched: Matched[];
  /**
   * Set when the guardian must not remediate this finding whatever the mode, with the reason a person needs (the
   * exposure comes through a prefix list shared with other groups; a list that could not be read). Alerted instead.
   */
  alertOnly?: string;
  /** A stable identity of what the finding decides about (see Violation.key): decided once across duplicates. */
  key?: string;
  /** Which kind of offending parts the finding holds when its entry reports several (see Violation.kind). */
  kind?: string;
  /** The highest mode the finding may be handled with; the entry's mode is lowered to it. */
  maxMode?: Mode;
}

export type Mode = "remediate" | "alert" | "report";

/** A change planned by a remediation: pure data, applied by a cloud adapter. */
export interface PlannedChange {
  remediation: string;
  resourceId: string;
  /** Human-readable, e.g. "delete security rule allow-ssh". */
  summary: string;
  /** What the adapter needs to apply it (the write body, the rule id to revoke, ...). */
  operation: Record<string, unknown>;
  /** The part of the resource before the change, for audit and undo. */
  before: unknown;
  /** The part of the resource after the change, as planned. */
  after: unknown;
  /**
   * True when this change removes everything the finding matched; false when other parts still need writes of
   * their own. Undefined when the remediation cannot tell: the pipeline then re-reads to find out.
   */
  complete?: boolean;
  /**
   * Set when the change is a decision on a request rather than a fix: what the pipeline records once it is applied
   * ("approved", "rejected"), or "held" for a decision to leave it as it is, which writes nothing.
   */
  decision?: "approved" | "rejected" | "held";
}

export type ActionOutcome =
  | "applied"
  | "dry-run"
  | "skipped-mode"
  | "skipped-exempt"
  | "skipped-self"
  | "skipped-cap"
  | "conflict"
  | "already-compliant"
  | "failed"
  /** Remediation mode, but the finding says why the guardian does not change it (Finding.alertOnly): alerted. */
  | "alert-only"
  /** The change could not be handled (an event for an account the guardian does not run in): dead-lettered. */
  | "dead-lettered"
  // Decisions on a connection request: accepted, rejected, or deliberately left as it is and announced.
  | "approved"
  | "rejected"
  | "held"
  /** Not about a finding's exposure: something the guardian was asked that had no effect (an exempt tag that exempts nothing). */
  | "warning";

export interface ActionResult {
  finding: Finding;
  mode: Mode;
  outcome: ActionOutcome;
  /** Why this outcome (mode, exemption with its reason, dry-run switch, 412 after retries, error text). */
  reason: string;
  planned?: PlannedChange;
  /**
   * Set on a `failed` or `conflict` outcome that the event's redelivery will try again (throttled, unreachable,
   * outcome unknown, kept changing): recorded, not alerted; if every delivery fails it is dead-lettered and alerted.
   */
  retryable?: boolean;
}

/** One decision, written as one JSON log line (and, later, to durable storage). */
export interface AuditRecord {
  kind: "guardian.decision";
  time: string;
  cloud: Cloud;
  resourceId: string;
  eventId: string;
  correlationId?: string;
  actor: Actor;
  policyRule: string;
  ruleId: string;
  severity: Severity;
  mode: Mode;
  outcome: ActionOutcome;
  reason: string;
  matched: Matched[];
  remediation?: string;
  /** The planned change in words ("remove * from the allowed principals of ..."), for whoever reads the log. */
  summary?: string;
  before?: unknown;
  after?: unknown;
}
