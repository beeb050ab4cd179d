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
  SLACK_WEBHOOK_URL: z.url().optional(),
  TEAMS_WEBHOOK_URL: z.url().optional(),
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
  // The reconcile: the subscriptions it lists (Azure; the template sets the app's own), the SQS queue of its pages
  // (AWS; the template sets it) and, for tests and the demo, an SQS endpoint.
  GUARDIAN_AZURE_SUBSCRIPTIONS: list,
  GUARDIAN_RECONCILE_QUEUE_URL: z.url().optional(),
  GUARDIAN_SQS_ENDPOINT: z.url().optional(),
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
  aws: { region?: string; ec2Endpoint?: string; accountId?: string; timeoutMs?: number };
  reconcile: { azureSubscriptions: readonly string[]; queueUrl?: string; sqsEndpoint?: string };
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
    azure: Object.freeze({
      endpoint: e.AZURE_ARM_ENDPOINT,
      caFile: e.AZURE_ARM_CA_FILE,
      tenantId: e.AZURE_TENANT_ID,
      subscriptionId: e.AZURE_SUBSCRIPTION_ID,
      clientId: e.AZURE_CLIENT_ID,
      pollIntervalMs: e.AZURE_ARM_POLL_INTERVAL_MS,
      requestTimeoutMs: e.AZURE_ARM_TIMEOUT_MS,
    }),
    aws: Object.freeze({
      region: e.AWS_REGION,
      ec2Endpoint: e.GUARDIAN_EC2_ENDPOINT,
      accountId: e.GUARDIAN_AWS_ACCOUNT_ID,
      timeoutMs: e.GUARDIAN_AWS_TIMEOUT_MS,
    }),
    reconcile: Object.freeze({
      azureSubscriptions: Object.freeze(e.GUARDIAN_AZURE_SUBSCRIPTIONS),
      queueUrl: e.GUARDIAN_RECONCILE_QUEUE_URL,
      sqsEndpoint: e.GUARDIAN_SQS_ENDPOINT,
    }),
  });
}

let cached: GuardianConfig | undefined;

/** The process's configuration, read from the environment on first use and frozen. */
export function config(): GuardianConfig {
  cached ??= parseConfig(process.env);
  return cached;
}
