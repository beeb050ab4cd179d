import * as z from "zod";
import { InputError } from "./errors.ts";

const flag = z
  .enum(["true", "false", "1", "0", "yes", "no", ""])
  .optional()
  .transform((v) => v === "true" || v === "1" || v === "yes");
const list = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  );

const secretArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/,
    "a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>-<suffix>)",
  );

const envSchema = z.object({
  GUARDIAN_POLICY_FILE: z.string().default("policies/baseline.yaml"),
  GUARDIAN_DRY_RUN: flag,
  GUARDIAN_SELF_IDENTITIES: list,
  GUARDIAN_BUDGET_MS: z.coerce.number().int().min(1).optional(),
  // Webhook URLs are checked per destination when the channels are built, never here: a broken one disables its
  // channel with a loud error, it must not stop the guardian (see shared/notify/channels.ts). Every other
  // `*_WEBHOOK_URL` setting is read too, for destinations the policy names.
  SLACK_WEBHOOK_URL: z.string().optional(),
  TEAMS_WEBHOOK_URL: z.string().optional(),
  GUARDIAN_WEBHOOK_URL: z.string().optional(),
  // The alert outbox: an SQS queue URL (AWS) or an Azure Storage queue name; unset = alerts are posted inline.
  GUARDIAN_ALERT_QUEUE: z.string().optional(),
  // Where undeliverable alert messages go: an SQS queue URL, or an Azure queue name (default <queue>-poison).
  GUARDIAN_ALERT_DLQ: z.string().optional(),
  // The sender's store: a DynamoDB table (AWS) or an Azure Storage table.
  GUARDIAN_ALERT_TABLE: z.string().optional(),
  // Azure Storage for the alert queues and table: a connection string (Azurite) or, deployed, the service URIs the
  // Functions host also reads for the queue trigger (identity-based connection GUARDIAN_ALERTS_STORAGE).
  GUARDIAN_ALERTS_STORAGE: z.string().optional(),
  GUARDIAN_ALERTS_STORAGE__queueServiceUri: z.url().optional(),
  GUARDIAN_ALERTS_STORAGE__tableServiceUri: z.url().optional(),
  GUARDIAN_SQS_ENDPOINT: z.url().optional(),
  GUARDIAN_DYNAMODB_ENDPOINT: z.url().optional(),
  // AWS: the webhook URLs stay in Secrets Manager and are read at run time; only their ARNs are configured.
  SLACK_WEBHOOK_SECRET_ARN: secretArn.optional(),
  TEAMS_WEBHOOK_SECRET_ARN: secretArn.optional(),
  AZURE_ARM_ENDPOINT: z.url().optional(),
  AZURE_ARM_CA_FILE: z.string().optional(),
  AZURE_TENANT_ID: z.string().optional(),
  AZURE_SUBSCRIPTION_ID: z.string().optional(),
  AZURE_CLIENT_ID: z.string().optional(),
  AZURE_ARM_POLL_INTERVAL_MS: z.coerce.number().int().min(0).optional(),
  AZURE_ARM_TIMEOUT_MS: z.coerce.number().int().min(1).optional(),
  AWS_REGION: z.string().optional(),
  GUARDIAN_EC2_ENDPOINT: z.url().optional(),
  // The account the guardian runs in (the template sets it); else the Lambda's invokedFunctionArn says it.
  GUARDIAN_AWS_ACCOUNT_ID: z
    .string()
    .regex(/^\d{12}$/, "a 12-digit AWS account id")
    .optional(),
  // Per-request timeout of EC2 calls (ms); connecting gets at most 3 s of it.
  GUARDIAN_AWS_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).optional(),
  GUARDIAN_DECISIONS_TABLE: z.string().min(1).optional(),
  GUARDIAN_DECISION_TTL_SECONDS: z.coerce.number().int().min(60).max(2_592_000).default(86_400),
  // The reconcile: the subscriptions it lists (Azure; the template sets the app's own) and the SQS queue of its
  // pages (AWS; the template sets it).
  GUARDIAN_AZURE_SUBSCRIPTIONS: list,
  GUARDIAN_RECONCILE_QUEUE_URL: z.url().optional(),
});

/** Everything the guardian reads from its environment, validated once. */
export interface GuardianConfig {
  policyFile: string;
  dryRun: boolean;
  selfIdentities: readonly string[];
  /** Each invocation's time budget for its cloud calls; the entry's platform default when unset. */
  budgetMs?: number;
  slackWebhookUrl?: string;
  teamsWebhookUrl?: string;
  /** Secrets Manager secrets holding the webhook URLs (AWS); read when an alert is sent. */
  slackWebhookSecretArn?: string;
  teamsWebhookSecretArn?: string;
  /** Secrets Manager secrets holding other destinations' URLs, by the URL setting they stand for (`X_WEBHOOK_URL`). */
  webhookSecretArns: Readonly<Record<string, string>>;
  /** Every `*_WEBHOOK_URL` setting, unchecked (a broken one disables only its destination). */
  webhookUrls: Readonly<Record<string, string>>;
  alerts: {
    queue?: string;
    deadLetterQueue?: string;
    table?: string;
    storageConnectionString?: string;
    queueServiceUri?: string;
    tableServiceUri?: string;
  };
  azure: {
    endpoint?: string;
    caFile?: string;
    tenantId?: string;
    subscriptionId?: string;
    clientId?: string;
    pollIntervalMs?: number;
    /** Each ARM request's own timeout. */
    requestTimeoutMs?: number;
  };
  /**
   * The shared decision store (one decision and one alert per connection request across instances and triggers):
   * a DynamoDB table on AWS, an Azure Storage table (in the alerts' storage account) on Azure; none: per instance.
   */
  decisions: {
    table?: string;
    /** How long a decision stays made: a request still held after this is announced again. */
    ttlSeconds: number;
  };
  aws: {
    region?: string;
    ec2Endpoint?: string;
    accountId?: string;
    timeoutMs?: number;
    sqsEndpoint?: string;
    dynamodbEndpoint?: string;
    /** DynamoDB table of decision claims (one decision and one alert per connection request); none: per delivery. */
    decisionsTable?: string;
    /** How long a decision stays made: a request still held after this is announced again. */
    decisionTtlSeconds: number;
  };
  reconcile: { azureSubscriptions: readonly string[]; queueUrl?: string };
}

export function parseConfig(env: Record<string, string | undefined>): GuardianConfig {
  const result = envSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new InputError(`invalid configuration: ${problems}`);
  }
  const e = result.data;
  return Object.freeze({
    policyFile: e.GUARDIAN_POLICY_FILE,
    dryRun: e.GUARDIAN_DRY_RUN,
    selfIdentities: Object.freeze(e.GUARDIAN_SELF_IDENTITIES),
    budgetMs: e.GUARDIAN_BUDGET_MS,
    slackWebhookUrl: e.SLACK_WEBHOOK_URL,
    teamsWebhookUrl: e.TEAMS_WEBHOOK_URL,
    slackWebhookSecretArn: e.SLACK_WEBHOOK_SECRET_ARN,
    teamsWebhookSecretArn: e.TEAMS_WEBHOOK_SECRET_ARN,
    webhookSecretArns: Object.freeze(webhookSecretArns(env)),
    webhookUrls: Object.freeze(webhookUrls(env)),
    alerts: Object.freeze({
      queue: e.GUARDIAN_ALERT_QUEUE || undefined,
      deadLetterQueue: e.GUARDIAN_ALERT_DLQ || undefined,
      table: e.GUARDIAN_ALERT_TABLE || undefined,
      storageConnectionString: e.GUARDIAN_ALERTS_STORAGE || undefined,
      queueServiceUri: e.GUARDIAN_ALERTS_STORAGE__queueServiceUri,
      tableServiceUri: e.GUARDIAN_ALERTS_STORAGE__tableServiceUri,
    }),
    azure: Object.freeze({
      endpoint: e.AZURE_ARM_ENDPOINT,
      caFile: e.AZURE_ARM_CA_FILE,
      tenantId: e.AZURE_TENANT_ID,
      subscriptionId: e.AZURE_SUBSCRIPTION_ID,
      clientId: e.AZURE_CLIENT_ID,
      pollIntervalMs: e.AZURE_ARM_POLL_INTERVAL_MS,
      requestTimeoutMs: e.AZURE_ARM_TIMEOUT_MS,
    }),
    decisions: Object.freeze({
      table: e.GUARDIAN_DECISIONS_TABLE,
      ttlSeconds: e.GUARDIAN_DECISION_TTL_SECONDS,
    }),
    aws: Object.freeze({
      region: e.AWS_REGION,
      ec2Endpoint: e.GUARDIAN_EC2_ENDPOINT,
      accountId: e.GUARDIAN_AWS_ACCOUNT_ID,
      timeoutMs: e.GUARDIAN_AWS_TIMEOUT_MS,
      sqsEndpoint: e.GUARDIAN_SQS_ENDPOINT,
      dynamodbEndpoint: e.GUARDIAN_DYNAMODB_ENDPOINT,
      decisionsTable: e.GUARDIAN_DECISIONS_TABLE,
      decisionTtlSeconds: e.GUARDIAN_DECISION_TTL_SECONDS,
    }),
    reconcile: Object.freeze({
      azureSubscriptions: Object.freeze(e.GUARDIAN_AZURE_SUBSCRIPTIONS),
      queueUrl: e.GUARDIAN_RECONCILE_QUEUE_URL,
    }),
  });
}

function webhookUrls(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(env)) {
    const value = env[key];
    if (/^[A-Z][A-Z0-9_]*_WEBHOOK_URL$/.test(key) && typeof value === "string") out[key] = value;
  }
  return out;
}

/** `X_WEBHOOK_SECRET_ARN` settings, keyed by the URL setting `X_WEBHOOK_URL` whose value they hold (AWS). */
function webhookSecretArns(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(env)) {
    const value = env[key];
    const m = /^([A-Z][A-Z0-9_]*)_WEBHOOK_SECRET_ARN$/.exec(key);
    if (m && typeof value === "string" && value.trim() !== "") out[`${m[1]}_WEBHOOK_URL`] = value.trim();
  }
  return out;
}

let cached: GuardianConfig | undefined;

/** The process's configuration, read from the environment on first use and frozen. */
export function config(): GuardianConfig {
  cached ??= parseConfig(process.env);
  return cached;
}
