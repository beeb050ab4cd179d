import { outboxFor, type SenderParts, senderDeps } from "../../alerts-runtime.ts";
import { logAuditSink } from "../../audit/index.ts";
import type { GuardianConfig } from "../../config.ts";
import { InputError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import type { WebhookUrl } from "../../notify/deliver.ts";
import type { OutboxPort } from "../../notify/outbox.ts";
import {
  type CloudPort,
  type DecisionStore,
  type GuardianDeps,
  type InvocationScope,
  ResourceLocks,
} from "../../pipeline.ts";
import { loadPolicyFile } from "../../policy/file.ts";
import type { Policy } from "../../policy/schema.ts";
import type { PlannedChange, ResourceChange, Snapshot } from "../../types.ts";
import {
  type PageQueue,
  pageQueue,
  type ReconcileDeps,
  type ReconcileStartDeps,
} from "../../usecases/reconcile.ts";
import type { SenderDeps } from "../../usecases/send-alerts.ts";
import { pageLister } from "../listers.ts";
import type { CallCounter, CallOptions, ResourceReader, ResourceWriter } from "../ports.ts";
import { createDynamoClient, createSqsClient, DynamoAlertStore, SqsQueue } from "./alerts.ts";
import { clientFor, type Ec2ClientSource, type Ec2Timeouts, regionalClients } from "./client.ts";
import { isOwnAwsIdentity } from "./identity.ts";
import { awsKindOf } from "./kinds/index.ts";
import { AWS_SECURITY_GROUP_TYPE } from "./kinds/security-group.ts";
import {
  AWS_VPC_ENDPOINT_CONNECTION_TYPE,
  endpointConnectionSnapshot,
} from "./kinds/vpc-endpoint-connection.ts";
import { AwsPrefixListReader, groupsReferencing, PrefixListResolver } from "./prefix-lists.ts";
import {
  AwsEndpointConnectionReader,
  AwsEndpointServiceReader,
  AwsVpcReader,
  listEndpointConnections,
} from "./privatelink-reader.ts";
import { AwsEndpointConnectionWriter, AwsEndpointServiceWriter } from "./privatelink-writer.ts";
import { secretReader } from "./secrets.ts";
import { AwsSecurityGroupReader } from "./security-group-reader.ts";
import { AwsSecurityGroupWriter } from "./security-group-writer.ts";

interface AwsPortDeps {
  /** Clients for reads (the SDK retries every transient failure). */
  clients: Ec2ClientSource;
  /** Clients for writes: `retry: "throttling-only"` (see AwsSecurityGroupWriter). */
  writeClients: Ec2ClientSource;
  counter: CallCounter;
  /** Shared by the reads of one bound port: each prefix list is read once per invocation. */
  prefixLists: PrefixListResolver;
}

/** The readers, by kind id: each kind says which call reads it (`AwsKind.read`); the SDK-bound code is here. */
export const awsReaders = {
  "security-group": (deps) =>
    new AwsSecurityGroupReader({
      clients: deps.clients,
      counter: deps.counter,
      prefixLists: deps.prefixLists,
    }),
  "prefix-list": (deps) => new AwsPrefixListReader(deps.prefixLists),
  "vpc-endpoint-service": (deps) => new AwsEndpointServiceReader(deps),
  "vpc-endpoint-connection": (deps) => new AwsEndpointConnectionReader(deps),
  vpc: (deps) => new AwsVpcReader(deps),
} satisfies Record<string, (deps: AwsPortDeps) => ResourceReader>;

const securityGroupWriter = (deps: AwsPortDeps) =>
  new AwsSecurityGroupWriter({
    clients: deps.writeClients,
    readClients: deps.clients,
    counter: deps.counter,
  });

// PrivateLink writes go through the write clients (no blind retry after a lost answer); the re-read before a reject
// through the read clients.
const endpointServiceWriter = (deps: AwsPortDeps) =>
  new AwsEndpointServiceWriter({ clients: deps.writeClients, counter: deps.counter });
const endpointConnectionWriter = (deps: AwsPortDeps) =>
  new AwsEndpointConnectionWriter({
    clients: deps.writeClients,
    readClients: deps.clients,
    counter: deps.counter,
  });

/** The writers, by planned-operation kind (`PlannedChange.operation.kind`); a kind lists those it accepts. */
export const awsWriters = {
  "revoke-security-group-ingress": securityGroupWriter,
  "revoke-security-group-rules": securityGroupWriter,
  "modify-vpc-endpoint-service-configuration": endpointServiceWriter,
  "modify-vpc-endpoint-service-permissions": endpointServiceWriter,
  "accept-vpc-endpoint-connections": endpointConnectionWriter,
  "reject-vpc-endpoint-connections": endpointConnectionWriter,
} satisfies Record<string, (deps: AwsPortDeps) => ResourceWriter>;

/**
 * What a change of one kind re-evaluates instead of itself, by kind id: a prefix list's entries are part of every
 * rule that references it, so a change of the list is a change of each of those security groups.
 */
export const awsDependents = {
  "prefix-list": async (deps, change, options) => {
    const ids = await groupsReferencing(change.resourceId, {
      clients: deps.clients,
      counter: deps.counter,
      region: change.region,
      signal: options.signal,
    });
    return ids.map(
      (groupId): ResourceChange => ({
        ...change,
        resourceId: groupId,
        resourceType: AWS_SECURITY_GROUP_TYPE,
        subjectId: change.resourceId,
      }),
    );
  },
} satisfies Record<
  string,
  (deps: AwsPortDeps, change: ResourceChange, options: CallOptions) => Promise<ResourceChange[]>
>;

function kindOf(resourceType: string, what: string) {
  const kind = awsKindOf(resourceType);
  if (!kind) throw new InputError(`no AWS ${what} for resource type ${resourceType}`);
  return kind;
}

export interface AwsPortOptions {
  /** Clients for writes: `retry: "throttling-only"` ones (see AwsSecurityGroupWriter); the read clients otherwise. */
  writeClients?: Ec2ClientSource;
  /** The account the guardian runs in (configuration); else the invocation's, as the platform says. */
  homeAccount?: string;
  /** Set on the copy bound to one invocation (CloudPort.forInvocation). */
  invocation?: InvocationScope;
}

/**
 * The AWS side of the pipeline: readers by kind, writers by planned operation, dependents by kind, from the tables
 * above, each call in the region its change names and within the invocation's budget (CallOptions.signal). A copy is
 * bound to each invocation (a fresh prefix list cache, the account it runs in); the clients are the instance's.
 */
export function awsPort(
  clients: Ec2ClientSource,
  ownRoleArns: readonly string[],
  counter?: CallCounter,
  options: AwsPortOptions = {},
): CloudPort {
  const shared = counter ?? { reads: 0, writes: 0 };
  const deps: AwsPortDeps = {
    clients,
    writeClients: options.writeClients ?? clients,
    counter: shared,
    prefixLists: new PrefixListResolver({ clients, counter: shared }),
  };
  const home = options.homeAccount ?? options.invocation?.account;
  // Only a port bound to an invocation keeps what it read (prefix lists) from one read to the next; an unbound one
  // (the CLI, a test harness without invocations) reads them afresh every time rather than keep them for ever.
  const bound = options.invocation !== undefined;
  const readers = new Map<string, ResourceReader>();
  const writers = new Map<string, ResourceWriter>();
  const writerFor = (change: PlannedChange, snapshot: Snapshot): ResourceWriter => {
    const kind = kindOf(snapshot.resourceType, "writer");
    const op = typeof change.operation.kind === "string" ? change.operation.kind : "";
    const factory = Object.hasOwn(awsWriters, op) ? awsWriters[op as keyof typeof awsWriters] : undefined;
    if (!(kind.writes as readonly string[]).includes(op) || !factory) {
      throw new InputError(
        `no AWS writer for ${op || "(no operation kind)"} on ${kind.label} ${snapshot.resourceId}`,
      );
    }
    let writer = writers.get(op);
    if (!writer) {
      writer = factory(deps);
      writers.set(op, writer);
    }
    return writer;
  };
  return {
    reader: {
      read(ref, callOptions) {
        const kind = kindOf(ref.resourceType, "reader");
        let reader = readers.get(kind.id);
        if (!reader) {
          const factory = Object.hasOwn(awsReaders, kind.id)
            ? awsReaders[kind.id as keyof typeof awsReaders]
            : undefined;
          if (!factory) throw new InputError(`no AWS reader for ${kind.label}s`);
          if (!bound) {
            return factory({
              ...deps,
              prefixLists: new PrefixListResolver({ clients, counter: shared }),
            }).read(ref, callOptions);
          }
          reader = factory(deps);
          readers.set(kind.id, reader);
        }
        return reader.read(ref, callOptions);
      },
      async list(scope, callOptions) {
        const kind = kindOf(scope.resourceType, "lister");
        if (kind.type !== AWS_VPC_ENDPOINT_CONNECTION_TYPE)
          throw new InputError(`no AWS lister for ${kind.label}s`);
        const filters = Object.entries(scope.filters ?? {}).map(([Name, values]) => ({
          Name,
          Values: [...values],
        }));
        const items = await listEndpointConnections(
          clientFor(clients, scope.region),
          filters,
          deps.counter,
          callOptions?.signal,
        );
        return items.map((item) =>
          endpointConnectionSnapshot(item, { account: scope.account, region: scope.region }),
        );
      },
    },
    writer: {
      apply(change, snapshot, callOptions) {
        return writerFor(change, snapshot).apply(change, snapshot, callOptions);
      },
      isApplied(change, snapshot) {
        return writerFor(change, snapshot).isApplied?.(change, snapshot);
      },
    },
    // CloudTrail events never carry the resource. A connection change does when it comes from our own listing of
    // connections (the notification path and the sweep read them with one DescribeVpcEndpointConnections).
    snapshotFromEvent: (change) =>
      change.resourceType === AWS_VPC_ENDPOINT_CONNECTION_TYPE && change.resource !== undefined
        ? endpointConnectionSnapshot(change.resource, { account: change.account, region: change.region })
        : undefined,
    consoleUrl: (ref) =>
      kindOf(ref.resourceType, "console page").consoleUrl(ref.region ?? "us-east-1", ref.resourceId),
    isOwnChange: (actor) => isOwnAwsIdentity(actor, ownRoleArns),
    forInvocation: (invocation) => awsPort(clients, ownRoleArns, shared, { ...options, invocation }),
    misrouted: (change) =>
      home === undefined || change.account === home
        ? undefined
        : `the event is for AWS account ${change.account}, but the guardian runs in account ${home} and can neither read nor change resources there (an event bus forwarding another account's events?)`,
    expand: async (change, callOptions = {}) => {
      const kind = awsKindOf(change.resourceType);
      if (kind === undefined || !Object.hasOwn(awsDependents, kind.id)) return undefined;
      return awsDependents[kind.id as keyof typeof awsDependents](deps, change, callOptions);
    },
  };
}

export interface AwsRuntimeOverrides {
  /** Clients for every call (a test's or the bench's); per-region clients from the configuration otherwise. */
  clients?: Ec2ClientSource;
  decisions?: DecisionStore;
  policy?: Policy;
  outbox?: OutboxPort;
  counter?: CallCounter;
}

/**
 * A Lambda invocation's budget for its cloud calls: what Lambda leaves it (context.getRemainingTimeInMillis()) less a
 * reserve for settling, auditing and alerting after the last call (a fifth, between 1 and 10 s), and never more than
 * GUARDIAN_BUDGET_MS when that is set.
 */
export function lambdaBudgetMs(remainingMs: number, configuredMs?: number): number {
  const reserve = Math.min(10_000, Math.max(1_000, Math.floor(remainingMs * 0.2)));
  const left = Math.max(0, remainingMs - reserve);
  return configuredMs === undefined ? left : Math.min(left, configuredMs);
}

function timeoutsOf(cfg: GuardianConfig): Partial<Ec2Timeouts> {
  const ms = cfg.aws.timeoutMs;
  return ms === undefined ? {} : { requestMs: ms, connectMs: Math.min(3_000, ms) };
}

/**
 * Every destination URL setting: the secret to read it from at send time where one is configured (`X_WEBHOOK_SECRET_ARN`
 * for `X_WEBHOOK_URL`), else the URL given as is.
 */
export function awsWebhookUrls(cfg: GuardianConfig): Record<string, WebhookUrl> {
  const out: Record<string, WebhookUrl> = { ...cfg.webhookUrls };
  const secrets: Record<string, string> = { ...cfg.webhookSecretArns };
  if (cfg.slackWebhookSecretArn) secrets.SLACK_WEBHOOK_URL = cfg.slackWebhookSecretArn;
  if (cfg.teamsWebhookSecretArn) secrets.TEAMS_WEBHOOK_URL = cfg.teamsWebhookSecretArn;
  for (const [setting, arn] of Object.entries(secrets)) out[setting] = secretReader(arn);
  return out;
}

export async function awsGuardianDeps(
  cfg: GuardianConfig,
  log: Logger,
  overrides: AwsRuntimeOverrides = {},
): Promise<GuardianDeps> {
  const common = {
    ...(cfg.aws.ec2Endpoint === undefined ? {} : { endpoint: cfg.aws.ec2Endpoint }),
    timeouts: timeoutsOf(cfg),
  };
  const clients = overrides.clients ?? regionalClients(common, cfg.aws.region);
  const writeClients =
    overrides.clients ?? regionalClients({ ...common, retry: "throttling-only" }, cfg.aws.region);
  if (cfg.selfIdentities.length === 0) {
    // Without its role ARN the guardian cannot tell its own revokes from a person's; it would re-evaluate them
    // (harmless, they are compliant) but could not say so. The deploy template always sets it.
    log.warn("guardian.identity-unknown", {
      message:
        "GUARDIAN_SELF_IDENTITIES is not set: the guardian's own changes will not be recognised as its own",
    });
  }
  if (cfg.slackWebhookUrl !== undefined || cfg.teamsWebhookUrl !== undefined) {
    log.warn("guardian.webhook-in-environment", {
      message:
        "a webhook URL is set in the environment, where whoever reads the function's configuration sees it: set SLACK_WEBHOOK_SECRET_ARN / TEAMS_WEBHOOK_SECRET_ARN instead",
    });
  }
  const policy = overrides.policy ?? (await loadPolicyFile(cfg.policyFile));
  return {
    policy,
    clouds: {
      aws: awsPort(clients, cfg.selfIdentities, overrides.counter, {
        writeClients,
        ...(cfg.aws.accountId === undefined ? {} : { homeAccount: cfg.aws.accountId }),
      }),
    },
    outbox:
      overrides.outbox ??
      (await outboxFor(alertQueue(cfg), policy, { webhookUrls: awsWebhookUrls(cfg) }, log)),
    audit: logAuditSink(log),
    selfIdentities: cfg.selfIdentities,
    dryRun: cfg.dryRun,
    log,
    locks: new ResourceLocks(),
    ...(cfg.budgetMs === undefined ? {} : { budgetMs: cfg.budgetMs }),
    ...decisionsFrom(cfg, log, overrides),
  };
}

/**
 * The shared decision store when a table is configured (the template always configures one). Loaded on the first
 * claim: only invocations with a keyed finding (a connection request, a VPC finding) pay for Powertools' persistence
 * layer, so the security group path keeps its cold start.
 */
function decisionsFrom(
  cfg: GuardianConfig,
  log: Logger,
  overrides: AwsRuntimeOverrides,
): { decisions?: DecisionStore } {
  if (overrides.decisions) return { decisions: overrides.decisions };
  const table = cfg.aws.decisionsTable;
  if (table === undefined) {
    log.warn("guardian.decisions-unshared", {
      message:
        "GUARDIAN_DECISIONS_TABLE is not set: a connection request delivered twice may be decided and announced twice",
    });
    return {};
  }
  let store: Promise<DecisionStore> | undefined;
  // Powertools' persistence layer is imported on the first claim: the security group path never loads it.
  const load = () => {
    store ??= import("./decision-store.ts").then(
      ({ DynamoDbDecisionStore }) =>
        new DynamoDbDecisionStore({
          tableName: table,
          client: createDynamoClient({ region: cfg.aws.region, endpoint: cfg.aws.dynamodbEndpoint }),
          ttlSeconds: cfg.aws.decisionTtlSeconds,
        }),
    );
    return store;
  };
  return {
    decisions: {
      claim: async (key) => (await load()).claim(key),
      complete: async (key, outcome) => (await load()).complete(key, outcome),
      release: async (key) => (await load()).release(key),
    },
  };
}

function sqsClient(cfg: GuardianConfig) {
  return createSqsClient({ region: cfg.aws.region, endpoint: cfg.aws.sqsEndpoint });
}

/** The outbox queue (GUARDIAN_ALERT_QUEUE, an SQS queue URL), when configured. */
function alertQueue(cfg: GuardianConfig): SqsQueue | undefined {
  return cfg.alerts.queue ? new SqsQueue(sqsClient(cfg), cfg.alerts.queue) : undefined;
}

/** The outbox and its dead-letter queue (for `guardian alerts replay`). */
export function awsAlertQueues(cfg: GuardianConfig): { queue: SqsQueue; deadLetters: SqsQueue } {
  const { queue, deadLetterQueue } = cfg.alerts;
  if (!queue || !deadLetterQueue)
    throw new InputError("set GUARDIAN_ALERT_QUEUE and GUARDIAN_ALERT_DLQ (SQS queue URLs)");
  const sqs = sqsClient(cfg);
  return { queue: new SqsQueue(sqs, queue), deadLetters: new SqsQueue(sqs, deadLetterQueue) };
}

/** The queues and table the sender needs on AWS; InputError naming what is missing. */
export function awsSenderParts(cfg: GuardianConfig, clock?: SenderParts["clock"]): SenderParts {
  const { queue, deadLetterQueue, table } = cfg.alerts;
  if (!queue || !deadLetterQueue || !table) {
    throw new InputError(
      "the alert sender needs GUARDIAN_ALERT_QUEUE, GUARDIAN_ALERT_DLQ and GUARDIAN_ALERT_TABLE",
    );
  }
  const sqs = sqsClient(cfg);
  const dynamo = createDynamoClient({ region: cfg.aws.region, endpoint: cfg.aws.dynamodbEndpoint });
  return {
    queue: new SqsQueue(sqs, queue),
    deadLetters: new SqsQueue(sqs, deadLetterQueue),
    store: new DynamoAlertStore(dynamo, table, clock?.now),
    ...(clock ? { clock } : {}),
  };
}

export async function awsSenderDeps(
  cfg: GuardianConfig,
  log: Logger,
  overrides: { policy?: Policy; clock?: SenderParts["clock"] } = {},
): Promise<SenderDeps> {
  const policy = overrides.policy ?? (await loadPolicyFile(cfg.policyFile));
  return senderDeps(awsSenderParts(cfg, overrides.clock), policy, { webhookUrls: awsWebhookUrls(cfg) }, log);
}

/** The reconcile's page queue on AWS (GUARDIAN_RECONCILE_QUEUE_URL, an SQS queue URL). */
function reconcileQueue(cfg: GuardianConfig): PageQueue {
  if (!cfg.reconcile.queueUrl) throw new InputError("the reconcile needs GUARDIAN_RECONCILE_QUEUE_URL");
  return pageQueue(new SqsQueue(sqsClient(cfg), cfg.reconcile.queueUrl));
}

function reconcileRegion(cfg: GuardianConfig): string {
  if (!cfg.aws.region) throw new InputError("the reconcile needs AWS_REGION (the region it lists)");
  return cfg.aws.region;
}

/** The reconcile tick on AWS: the policy, the SQS page queue and the Lambda's region. No EC2 client. */
export async function awsReconcileStartDeps(
  cfg: GuardianConfig,
  log: Logger,
  overrides: { policy?: Policy; queue?: PageQueue } = {},
): Promise<ReconcileStartDeps> {
  const region = reconcileRegion(cfg);
  return {
    policy: overrides.policy ?? (await loadPolicyFile(cfg.policyFile)),
    log,
    queue: overrides.queue ?? reconcileQueue(cfg),
    targets: [{ cloud: "aws", region }],
  };
}

/**
 * A reconcile page worker's dependencies on AWS: the event path's (the same clients, decision store and outbox), a
 * lister over read clients, the SQS page queue and the Lambda's region as the target.
 */
export async function awsReconcileDeps(
  cfg: GuardianConfig,
  log: Logger,
  overrides: AwsRuntimeOverrides & { queue?: PageQueue; pageSize?: number } = {},
): Promise<ReconcileDeps> {
  const region = reconcileRegion(cfg);
  const clients =
    overrides.clients ??
    regionalClients(
      {
        ...(cfg.aws.ec2Endpoint === undefined ? {} : { endpoint: cfg.aws.ec2Endpoint }),
        timeouts: timeoutsOf(cfg),
      },
      region,
    );
  const queue = overrides.queue ?? reconcileQueue(cfg);
  const guardian = await awsGuardianDeps(cfg, log, overrides);
  return {
    guardian,
    lister: pageLister({
      aws: clients,
      ...(overrides.counter ? { awsCounter: overrides.counter } : {}),
      ...(overrides.pageSize ? { awsPageSize: overrides.pageSize } : {}),
    }),
    queue,
    targets: [{ cloud: "aws", region }],
  };
}
