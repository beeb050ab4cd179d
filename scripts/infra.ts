// The deploy templates' permissions and event filters, derived from what the code declares, and a check that the
// templates in infra/ still say exactly that.
//
//   node scripts/infra.ts          rewrite the derived parts of infra/azure/guardian.json and infra/aws/guardian.yaml
//   node scripts/infra.ts --check  exit 1 and name every difference (what CI and the infra test run)
//
// Why derived: a rule or remediation that declares a permission the deployed role lacks fails only in production
// (403 on the first remediation), and a role granting what nothing declares is privilege an auditor will ask about.

import { spawnSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { awsKinds } from "../shared/clouds/aws/kinds/index.ts";
import { azureKinds } from "../shared/clouds/azure/kinds/index.ts";
import { AWS_HANDLED_EVENTS } from "../shared/events/aws.ts";
import { SUPPORTED_AZURE_RESOURCE_TYPES, TAG_OPERATION_PREFIX } from "../shared/events/azure.ts";
import { remediationRegistry } from "../shared/remediation/index.ts";
import type { Remediation } from "../shared/remediation/types.ts";
import { ruleRegistry } from "../shared/rules/index.ts";
import type { RuleDefinition } from "../shared/rules/types.ts";

const root = path.resolve(import.meta.dirname, "..");
export const AZURE_TEMPLATE = path.join(root, "infra", "azure", "guardian.json");
export const AWS_TEMPLATE = path.join(root, "infra", "aws", "guardian.yaml");

/** What the templates must contain, computed from the registries and the event tables. */
export interface DerivedInfra {
  /** Every `Microsoft.*` permission a rule reads with or a remediation writes with: the custom role's actions. */
  azureActions: string[];
  /** Every `ec2:` action declared: the Lambda role's EC2 permissions. */
  awsEc2Actions: string[];
  /** The CloudTrail event names the Lambda handles: the EventBridge pattern's `detail.eventName`. */
  awsEventNames: string[];
  /** `data.operationName` prefixes (case-insensitive in Event Grid) of the Azure types the guardian evaluates. */
  azureOperationPrefixes: string[];
  /** The role's EC2 write statements: each write action with the IAM resource types its remediations act on. */
  awsWriteStatements: AwsWriteStatement[];
}

export interface AwsWriteStatement {
  /** The `# <generated:…>` block of the template statement that grants them. */
  block: string;
  /** IAM resource types (`security-group`, `vpc-endpoint-service`): `arn:…:ec2:<region>:<account>:<type>/*`. */
  resourceTypes: string[];
  actions: string[];
}

/**
 * The roles that run rules and remediations: the event path's (on-change, the connection notifications, the sweep)
 * and the reconcile page worker's. Each holds exactly the derived EC2 policy, written into both from the same
 * registries (the generated blocks appear once in each); no other role may grant an EC2 action.
 */
export const AWS_EC2_ROLES = ["GuardianRole", "ReconcilePageRole"] as const;

/**
 * Who may touch which queue, and with what: the reconcile queue is the tick's (it enqueues first pages) and the page
 * worker's (its event source receives, deletes and reads attributes; it enqueues next pages). A grant by any other
 * role, or of another action, is reported, so the event path's Lambdas can never read or feed the reconcile.
 */
export const AWS_QUEUE_GRANTS: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>> = {
  ReconcileQueue: {
    ReconcileRole: ["sqs:SendMessage"],
    ReconcilePageRole: [
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ],
  },
};

/** Which template statement grants writes on which resource types (a new set needs a new statement there). */
export const AWS_WRITE_BLOCKS: Readonly<Record<string, string>> = {
  "security-group,security-group-rule": "ec2-write",
  "vpc-endpoint-service": "ec2-write-endpoint-services",
};

/**
 * Each EC2 write a remediation declares, scoped to the resource types its kinds' writes act on
 * (`AwsKind.writeResourceTypes`), grouped into the template's write statements.
 */
export function awsWriteStatements(
  remediations: Iterable<Pick<Remediation, "permissions" | "resourceTypes">> = Object.values(
    remediationRegistry,
  ),
  kinds: readonly { type: string; writeResourceTypes: readonly string[] }[] = awsKinds,
): AwsWriteStatement[] {
  const byAction = new Map<string, Set<string>>();
  for (const remediation of remediations) {
    const writes = remediation.permissions.filter((p) => /^ec2:/.test(p) && !isEc2ReadAction(p));
    if (writes.length === 0) continue;
    const types = remediation.resourceTypes.flatMap(
      (t) => kinds.find((k) => k.type === t)?.writeResourceTypes ?? [],
    );
    for (const action of writes) {
      const set = byAction.get(action) ?? new Set<string>();
      for (const t of types) set.add(t);
      byAction.set(action, set);
    }
  }
  const groups = new Map<string, AwsWriteStatement>();
  for (const [action, types] of byAction) {
    const resourceTypes = sorted(types);
    const key = resourceTypes.join(",");
    const block = AWS_WRITE_BLOCKS[key];
    if (block === undefined) {
      throw new Error(
        `${action} writes on ${key || "no resource type"}: add a statement for it to the AWS template and to AWS_WRITE_BLOCKS`,
      );
    }
    const group = groups.get(key) ?? { block, resourceTypes, actions: [] };
    group.actions.push(action);
    groups.set(key, group);
  }
  return [...groups.values()]
    .map((g) => ({ ...g, actions: sorted(g.actions) }))
    .sort((a, b) => a.block.localeCompare(b.block));
}

const sorted = (values: Iterable<string>): string[] => [...new Set(values)].sort();

/** Splits declared permissions by cloud; anything else has no template to go in and is reported. */
export function partitionPermissions(permissions: Iterable<string>): {
  azure: string[];
  aws: string[];
  unknown: string[];
} {
  const azure: string[] = [];
  const aws: string[] = [];
  const unknown: string[] = [];
  for (const p of permissions) {
    if (/^Microsoft\.[A-Za-z]+\/\S+$/.test(p)) azure.push(p);
    else if (/^ec2:[A-Za-z]+$/.test(p)) aws.push(p);
    else unknown.push(p);
  }
  return { azure: sorted(azure), aws: sorted(aws), unknown: sorted(unknown) };
}

/** Every permission a registered rule or remediation declares, and every permission a kind's reads need. */
export function declaredPermissions(
  rules: Iterable<Pick<RuleDefinition, "permissions">> = Object.values(ruleRegistry),
  remediations: Iterable<Pick<Remediation, "permissions">> = Object.values(remediationRegistry),
  kinds: Iterable<{ readPermissions: readonly string[] }> = [...azureKinds, ...awsKinds],
): string[] {
  return sorted([
    ...[...rules, ...remediations].flatMap((x) => [...x.permissions]),
    ...[...kinds].flatMap((k) => [...k.readPermissions]),
  ]);
}

export function operationPrefixes(
  types: Readonly<Record<string, { childTypes: readonly string[] }>>,
): string[] {
  const all = Object.entries(types).flatMap(([type, support]) => [type, ...support.childTypes]);
  // A child's prefix is covered by its parent's; listing it too would spend Event Grid's 25-value budget.
  const kept = all.filter((t) => !all.some((other) => other !== t && t.startsWith(`${other}/`)));
  return sorted(kept.map((t) => `${t}/`));
}

export function deriveInfra(): DerivedInfra {
  const permissions = partitionPermissions(declaredPermissions());
  if (permissions.unknown.length > 0) {
    throw new Error(
      `permissions with no cloud prefix (Microsoft.* or ec2:): ${permissions.unknown.join(", ")}`,
    );
  }
  return {
    azureActions: permissions.azure,
    awsEc2Actions: permissions.aws,
    awsEventNames: sorted(Object.keys(AWS_HANDLED_EVENTS)),
    // Tag writes at any scope too: they may add or remove an exemption tag (the normaliser skips other resources').
    azureOperationPrefixes: sorted([
      ...operationPrefixes(SUPPORTED_AZURE_RESOURCE_TYPES),
      TAG_OPERATION_PREFIX,
    ]),
    awsWriteStatements: awsWriteStatements(),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Reading the templates

const armResource = z.looseObject({
  type: z.string(),
  apiVersion: z.string(),
  name: z.string(),
  properties: z.unknown().optional(),
});
export type ArmResource = z.infer<typeof armResource>;

const armTemplate = z.looseObject({ $schema: z.string(), resources: z.array(armResource) });

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Every resource of an ARM template (inline nested deployments' too), each checked for a type, apiVersion and name. */
export function armResources(template: unknown): ArmResource[] {
  const out: ArmResource[] = [];
  const visit = (resources: readonly unknown[]) => {
    for (const raw of resources) {
      const r = armResource.parse(raw);
      out.push(r);
      const props = r.properties;
      if (r.type === "Microsoft.Resources/deployments" && isRecord(props) && isRecord(props.template)) {
        const nested = props.template.resources;
        visit(Array.isArray(nested) ? nested : []);
      }
    }
  };
  visit(armTemplate.parse(template).resources);
  return out;
}

const roleDefinitionProps = z.looseObject({
  permissions: z.array(
    z.looseObject({
      actions: z.array(z.string()),
      notActions: z.array(z.string()).optional(),
      dataActions: z.array(z.string()).optional(),
    }),
  ),
});

const advancedFilter = z.looseObject({
  operatorType: z.string(),
  key: z.string(),
  values: z.array(z.string()),
});
const eventSubscriptionProps = z.looseObject({
  filter: z.looseObject({ advancedFilters: z.array(advancedFilter).optional() }),
});

function single<T>(items: T[], what: string): T {
  const [first, ...rest] = items;
  if (first === undefined || rest.length > 0)
    throw new Error(`expected exactly one ${what}, found ${items.length}`);
  return first;
}

export function azureRoleDefinition(template: unknown): z.infer<typeof roleDefinitionProps> {
  const role = single(
    armResources(template).filter((r) => r.type === "Microsoft.Authorization/roleDefinitions"),
    "custom role definition in the Azure template",
  );
  return roleDefinitionProps.parse(role.properties);
}

export function azureOperationNameFilter(template: unknown): z.infer<typeof advancedFilter> {
  const subscription = single(
    armResources(template).filter((r) => r.type === "Microsoft.EventGrid/systemTopics/eventSubscriptions"),
    "Event Grid event subscription in the Azure template",
  );
  const filters = eventSubscriptionProps.parse(subscription.properties).filter.advancedFilters ?? [];
  return single(
    filters.filter((f) => f.key === "data.operationName"),
    "advanced filter on data.operationName",
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Entries the templates deploy

/** One deployed entry point: the file under functions/ or lambdas/ and what the template runs of it. */
export interface DeployedEntry {
  side: "functions" | "lambdas";
  /** The file name without `.ts`: `on-change` is functions/on-change.ts, bundled to dist/functions/on-change.mjs. */
  name: string;
  /** The Azure function name the event subscription delivers to, or the export the Lambda handler names. */
  runs: string;
}

/** The value of `variables('name')` in the template or any inline nested template, where the expression is used. */
function armVariable(template: unknown, name: string): unknown {
  const found: unknown[] = [];
  const visit = (t: unknown) => {
    if (!isRecord(t)) return;
    if (isRecord(t.variables) && name in t.variables) found.push(t.variables[name]);
    for (const r of Array.isArray(t.resources) ? t.resources : []) {
      if (isRecord(r) && isRecord(r.properties)) visit(r.properties.template);
    }
  };
  visit(template);
  return single(found, `variable ${name} in the Azure template`);
}

/** `onChange` → `on-change`: an Azure function lives in the file named after it in kebab case. */
const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`).replace(/^-/, "");

/**
 * What the templates deploy: the Azure functions their Event Grid subscriptions deliver to, and the handlers of their
 * Lambda functions. The build ships exactly these, so no entry point is deployed without a template wiring it (and
 * its exposure) deliberately.
 */
export function deployedEntries(azure: unknown, awsText: string): DeployedEntry[] {
  const out: DeployedEntry[] = [];
  for (const sub of armResources(azure).filter(
    (r) => r.type === "Microsoft.EventGrid/systemTopics/eventSubscriptions",
  )) {
    const destination = z
      .looseObject({
        destination: z.looseObject({
          endpointType: z.literal("AzureFunction"),
          properties: z.looseObject({ resourceId: z.string() }),
        }),
      })
      .parse(sub.properties).destination;
    // `[format('{0}/functions/{1}', <site id>, variables('functionName'))]` or a literal function name.
    const expression =
      /^\[format\('\{0\}\/functions\/\{1\}', .*, (?:variables\('(\w+)'\)|'([^']+)')\)\]$/.exec(
        destination.properties.resourceId,
      );
    const runs = expression?.[1] ? armVariable(azure, expression[1]) : expression?.[2];
    if (typeof runs !== "string") {
      throw new Error(`cannot read the function name of ${destination.properties.resourceId}`);
    }
    out.push({ side: "functions", name: kebab(runs), runs });
  }
  // Timer-triggered functions (the private endpoint sweep) have no subscription resource: the template names them in
  // `timerFunctions`, so that an entry without a schedule in the deployed app still fails the check.
  const timers = z.array(z.string()).parse(armVariable(azure, "timerFunctions"));
  for (const runs of timers) out.push({ side: "functions", name: kebab(runs), runs });
  // Queue-triggered functions (the alert sender) have none either: the template names them in `queueFunctions`,
  // beside the queues it creates for them.
  const queued = z.array(z.string()).parse(armVariable(azure, "queueFunctions"));
  for (const runs of queued) out.push({ side: "functions", name: kebab(runs), runs });
  for (const r of Object.values(parseCfn(awsText)).filter((x) => x.Type === "AWS::Lambda::Function")) {
    const handler = z.looseObject({ Handler: z.string() }).parse(r.Properties).Handler;
    const dot = handler.lastIndexOf(".");
    if (dot <= 0) throw new Error(`Lambda handler ${handler} is not <file>.<export>`);
    out.push({ side: "lambdas", name: handler.slice(0, dot), runs: handler.slice(dot + 1) });
  }
  const seen = new Set<string>();
  return out.filter((e) => {
    const key = `${e.side}/${e.name}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Reads both templates from infra/ and lists the entries they deploy. */
export async function templateEntries(): Promise<DeployedEntry[]> {
  const [azure, aws] = await Promise.all([readFile(AZURE_TEMPLATE, "utf8"), readFile(AWS_TEMPLATE, "utf8")]);
  return deployedEntries(JSON.parse(azure) as unknown, aws);
}

const cfnResource = z.looseObject({ Type: z.string(), Properties: z.unknown().optional() });
const cfnTemplate = z.looseObject({ Resources: z.record(z.string(), cfnResource) });
export type CfnResource = z.infer<typeof cfnResource>;

const iamStatement = z.looseObject({
  Effect: z.enum(["Allow", "Deny"]),
  Action: z.union([z.string(), z.array(z.string())]),
  Resource: z.unknown(),
});
export type IamStatement = z.infer<typeof iamStatement>;
const roleProps = z.looseObject({
  Policies: z
    .array(
      z.looseObject({
        PolicyName: z.string(),
        PolicyDocument: z.looseObject({ Statement: z.array(z.unknown()) }),
      }),
    )
    .optional(),
  ManagedPolicyArns: z.unknown().optional(),
});

/** Parses the CloudFormation YAML; the template uses only long-form intrinsics (`Fn::Sub:`), so plain YAML reads it. */
export function parseCfn(text: string): Record<string, CfnResource> {
  return cfnTemplate.parse(parseYaml(text)).Resources;
}

/** Every Allow statement of every IAM role in the template, with the role's logical id. */
export function awsRoleStatements(
  resources: Record<string, CfnResource>,
): { role: string; statement: IamStatement }[] {
  const out: { role: string; statement: IamStatement }[] = [];
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type === "AWS::IAM::Policy" || r.Type === "AWS::IAM::ManagedPolicy") {
      throw new Error(
        `${id}: grant the guardian's permissions inline on its role, where the check reads them`,
      );
    }
    if (r.Type !== "AWS::IAM::Role") continue;
    const props = roleProps.parse(r.Properties);
    if (props.ManagedPolicyArns !== undefined) {
      throw new Error(`${id}: managed policies grant more than the code declares; use inline statements`);
    }
    for (const policy of props.Policies ?? []) {
      for (const raw of policy.PolicyDocument.Statement) {
        // A statement granted only when a parameter is set (`Fn::If: [condition, statement, AWS::NoValue]`) is read
        // as granted: least privilege is judged on the configured case.
        const statement = iamStatement.parse(whenTrue(raw));
        if (statement.Effect === "Allow") out.push({ role: id, statement });
      }
    }
  }
  return out;
}

/** The value of `Fn::If: [condition, value, otherwise]` when its condition holds; anything else as it is. */
export function whenTrue(value: unknown): unknown {
  if (isRecord(value) && Array.isArray(value["Fn::If"]) && Object.keys(value).length === 1) {
    return value["Fn::If"][1];
  }
  return value;
}

export const actionsOf = (s: IamStatement): string[] =>
  typeof s.Action === "string" ? [s.Action] : s.Action;

const eventRuleProps = z.looseObject({
  EventPattern: z.looseObject({
    source: z.array(z.string()),
    "detail-type": z.array(z.string()),
    detail: z.looseObject({ eventSource: z.array(z.string()), eventName: z.array(z.string()) }),
  }),
});

export function awsEventPattern(
  resources: Record<string, CfnResource>,
): z.infer<typeof eventRuleProps>["EventPattern"] {
  const rule = single(
    Object.values(resources).filter((r) => r.Type === "AWS::Events::Rule"),
    "EventBridge rule in the AWS template",
  );
  return eventRuleProps.parse(rule.Properties).EventPattern;
}

// ---------------------------------------------------------------------------------------------------------------
// Webhook secrets

/**
 * Each alert channel's webhook URL is a credential. On AWS the function gets the ARN of a Secrets Manager secret and
 * reads the URL at run time (shared/clouds/aws/secrets.ts); on Azure the app setting is a Key Vault reference, which
 * the platform resolves. Neither template may put the URL itself in the function's configuration.
 */
export const WEBHOOKS = [
  {
    urlSetting: "SLACK_WEBHOOK_URL",
    secretArnSetting: "SLACK_WEBHOOK_SECRET_ARN",
    awsParameter: "SlackWebhookSecretArn",
    awsCondition: "HasSlack",
  },
  {
    urlSetting: "TEAMS_WEBHOOK_URL",
    secretArnSetting: "TEAMS_WEBHOOK_SECRET_ARN",
    awsParameter: "TeamsWebhookSecretArn",
    awsCondition: "HasTeams",
  },
] as const;

const SECRET_READ = "secretsmanager:GetSecretValue";

/** A CloudFormation value given only when a parameter is set: `Fn::If: [condition, {Ref: parameter}, NoValue]`. */
function ifSet(condition: string, parameter: string): Json {
  return { "Fn::If": [condition, { Ref: parameter }, { Ref: "AWS::NoValue" }] };
}

/** The generated items of the webhook-secrets Resource list, in the template's flow style. */
export function webhookSecretResources(): string[] {
  return WEBHOOKS.map(
    (w) => `"Fn::If": [${w.awsCondition}, { Ref: ${w.awsParameter} }, { Ref: AWS::NoValue }]`,
  );
}

/** Every way the templates could leak a webhook URL or over-grant its secret; empty when they do neither. */
export function webhookProblems(azure: unknown, awsText: string): string[] {
  const problems: string[] = [];
  if (awsText.includes("{{resolve:secretsmanager")) {
    problems.push(
      "AWS template: a secret is resolved into the configuration ({{resolve:secretsmanager...}})",
    );
  }
  const resources = parseCfn(awsText);
  const functions = Object.values(resources).filter((r) => r.Type === "AWS::Lambda::Function");
  // The webhooks are read by the function that posts alerts (the sender); a function that does not post names none.
  let posting = 0;
  for (const fn of functions) {
    const props = isRecord(fn.Properties) ? fn.Properties : {};
    const env =
      isRecord(props.Environment) && isRecord(props.Environment.Variables) ? props.Environment.Variables : {};
    const names = WEBHOOKS.some((w) => w.secretArnSetting in env);
    if (names) posting++;
    for (const w of WEBHOOKS) {
      if (w.urlSetting in env) problems.push(`AWS template: the Lambda's environment sets ${w.urlSetting}`);
      if (
        names &&
        JSON.stringify(env[w.secretArnSetting]) !== JSON.stringify(ifSet(w.awsCondition, w.awsParameter))
      ) {
        problems.push(`AWS template: ${w.secretArnSetting} is not the ${w.awsParameter} parameter`);
      }
    }
  }
  if (posting !== 1)
    problems.push(`AWS template: ${posting} Lambdas read the webhook secrets instead of one`);
  const grants = awsRoleStatements(resources).filter(({ statement }) =>
    actionsOf(statement).some((a) => a.toLowerCase().startsWith("secretsmanager:")),
  );
  const expected = JSON.stringify(WEBHOOKS.map((w) => ifSet(w.awsCondition, w.awsParameter)));
  if (grants.length !== 1)
    problems.push(`AWS template: ${grants.length} Secrets Manager grants instead of one`);
  for (const { statement } of grants) {
    if (actionsOf(statement).join() !== SECRET_READ) {
      problems.push(`AWS template: the Secrets Manager grant allows ${actionsOf(statement).join(", ")}`);
    }
    if (JSON.stringify(statement.Resource) !== expected) {
      problems.push("AWS template: the Secrets Manager grant is not scoped to exactly the webhook secrets");
    }
  }
  const settings = JSON.stringify(azure);
  for (const w of WEBHOOKS) {
    const setting = new RegExp(`"name":"${w.urlSetting}","value":"([^"]*)"`).exec(settings)?.[1];
    if (setting === undefined || !setting.includes("@Microsoft.KeyVault(")) {
      problems.push(`Azure template: ${w.urlSetting} is not a Key Vault reference`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------------
// Comparing

export interface TemplateFacts {
  azureActions: string[];
  azureOperationPrefixes: string[];
  awsEventNames: string[];
  /** What each role of AWS_EC2_ROLES, and each other role granting any EC2 action, grants of EC2. */
  awsRoles: AwsRoleFacts[];
}

export interface AwsRoleFacts {
  role: string;
  ec2Actions: string[];
  /** Each EC2 write action the role grants, with the resource types of its statement. */
  writeScopes: { action: string; resourceTypes: string[] }[];
}

const EC2_ARN_IN_THIS_ACCOUNT =
  /^arn:\$\{AWS::Partition\}:ec2:\$\{AWS::Region\}:\$\{AWS::AccountId\}:([a-z-]+)\/\*$/;

/** The resource types of a write statement's `Resource` list (`Fn::Sub` ARNs in this account and region). */
export function writeResourceTypes(resource: unknown): string[] {
  const list = Array.isArray(resource) ? resource : [resource];
  return sorted(
    list.map((r) => {
      const sub = isRecord(r) ? r["Fn::Sub"] : undefined;
      const type = typeof sub === "string" ? EC2_ARN_IN_THIS_ACCOUNT.exec(sub)?.[1] : undefined;
      return type ?? `(unscoped: ${JSON.stringify(r)})`;
    }),
  );
}

const isEc2 = (action: string) => action.toLowerCase().startsWith("ec2:");

export function templateFacts(azure: unknown, awsText: string): TemplateFacts {
  const resources = parseCfn(awsText);
  const statements = awsRoleStatements(resources);
  const roles = sorted([
    ...AWS_EC2_ROLES,
    ...statements.filter((s) => actionsOf(s.statement).some(isEc2)).map((s) => s.role),
  ]);
  return {
    azureActions: azureRoleDefinition(azure).permissions.flatMap((p) => p.actions),
    azureOperationPrefixes: azureOperationNameFilter(azure).values,
    awsEventNames: awsEventPattern(resources).detail.eventName,
    awsRoles: roles.map((role) => {
      const own = statements.filter((s) => s.role === role).map((s) => s.statement);
      return {
        role,
        ec2Actions: own.flatMap(actionsOf).filter(isEc2),
        writeScopes: own.flatMap((statement) =>
          actionsOf(statement)
            .filter((a) => isEc2(a) && !isEc2ReadAction(a))
            .map((action) => ({ action, resourceTypes: writeResourceTypes(statement.Resource) })),
        ),
      };
    }),
  };
}

/** Every grant on a queue of AWS_QUEUE_GRANTS by another role or of another action, and every `sqs:` grant on `*`. */
export function queueGrantProblems(
  resources: Record<string, CfnResource>,
  grants: typeof AWS_QUEUE_GRANTS = AWS_QUEUE_GRANTS,
): string[] {
  const problems: string[] = [];
  const granted = new Map<string, string[]>();
  for (const { role, statement } of awsRoleStatements(resources)) {
    const sqs = actionsOf(statement).filter((a) => a.toLowerCase().startsWith("sqs:"));
    if (sqs.length === 0) continue;
    const targets = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
    for (const target of targets) {
      if (target === "*") problems.push(`AWS ${role}: ${sqs.join(", ")} on every queue (Resource "*")`);
      const queue =
        isRecord(target) && Array.isArray(target["Fn::GetAtt"]) ? target["Fn::GetAtt"][0] : undefined;
      if (typeof queue !== "string" || !(queue in grants)) continue;
      const key = `${queue}\u0000${role}`;
      granted.set(key, [...(granted.get(key) ?? []), ...sqs]);
    }
  }
  for (const [queue, allowed] of Object.entries(grants)) {
    for (const [key, actions] of granted) {
      const [q, role = ""] = key.split("\u0000");
      if (q !== queue) continue;
      const want = allowed[role];
      if (want === undefined) {
        problems.push(
          `AWS ${role}: may use ${queue} (${sorted(actions).join(", ")}), which only ${Object.keys(allowed).join(" and ")} may`,
        );
      } else if (sorted(actions).join() !== sorted(want).join()) {
        problems.push(
          `AWS ${role}: grants ${sorted(actions).join(", ")} on ${queue} instead of ${sorted(want).join(", ")}`,
        );
      }
    }
    for (const [role, want] of Object.entries(allowed)) {
      if (!granted.has(`${queue}\u0000${role}`)) {
        problems.push(`AWS ${role}: lacks ${sorted(want).join(", ")} on ${queue}`);
      }
    }
  }
  return problems;
}

function compare(
  what: string,
  expected: string[],
  actual: string[],
  missing: string,
  extra: string,
): string[] {
  const problems: string[] = [];
  const have = new Set(actual);
  const want = new Set(expected);
  for (const e of expected) if (!have.has(e)) problems.push(`${what}: ${e} ${missing}`);
  for (const a of new Set(actual)) if (!want.has(a)) problems.push(`${what}: ${a} ${extra}`);
  if (actual.length !== have.size) problems.push(`${what}: lists an entry twice`);
  return problems;
}

/** Every difference between what the code declares and what the templates say; empty when they agree. */
export function infraDrift(derived: DerivedInfra, facts: TemplateFacts): string[] {
  const declared = "is declared by the code but missing from the template";
  const granted = "is in the template but declared by no rule or remediation (least privilege)";
  return [
    ...compare("Azure custom role actions", derived.azureActions, facts.azureActions, declared, granted),
    ...facts.awsRoles.flatMap((role) =>
      (AWS_EC2_ROLES as readonly string[]).includes(role.role)
        ? compare(`AWS ${role.role} EC2 actions`, derived.awsEc2Actions, role.ec2Actions, declared, granted)
        : [
            `AWS ${role.role} EC2 actions: ${sorted(role.ec2Actions).join(", ")} granted to a role that runs no rule or remediation (AWS_EC2_ROLES)`,
          ],
    ),
    ...compare(
      "EventBridge detail.eventName",
      derived.awsEventNames,
      facts.awsEventNames,
      "is handled (AWS_HANDLED_EVENTS) but not routed to the Lambda",
      "is routed to the Lambda but not in AWS_HANDLED_EVENTS",
    ),
    ...facts.awsRoles.flatMap((role) =>
      derived.awsWriteStatements.flatMap((statement) =>
        statement.actions.flatMap((action) => {
          const granted = role.writeScopes.filter((w) => w.action === action);
          const want = statement.resourceTypes.join(",");
          return granted
            .filter((w) => w.resourceTypes.join(",") !== want)
            .map(
              (w) =>
                `AWS ${role.role} EC2 actions: ${action} is granted on ${w.resourceTypes.join(", ")} but its remediations write ${want}`,
            );
        }),
      ),
    ),
    ...compare(
      "Event Grid data.operationName filter",
      derived.azureOperationPrefixes,
      facts.azureOperationPrefixes,
      "is a supported resource type but filtered out",
      "lets through a type the guardian does not evaluate",
    ),
  ];
}

export async function checkTemplates(derived: DerivedInfra = deriveInfra()): Promise<string[]> {
  const azure: unknown = JSON.parse(await readFile(AZURE_TEMPLATE, "utf8"));
  const awsText = await readFile(AWS_TEMPLATE, "utf8");
  return [
    ...infraDrift(derived, templateFacts(azure, awsText)),
    ...queueGrantProblems(parseCfn(awsText)),
    ...webhookProblems(azure, awsText),
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

/** Read-only EC2 actions take `Resource: "*"` (no resource-level permissions); the rest are scoped to groups. */
export const isEc2ReadAction = (action: string): boolean => /^ec2:(Describe|Get|List)/.test(action);

/**
 * Replaces every YAML list between `# <generated:NAME>` and `# </generated:NAME>` with `items`, at the begin
 * marker's indentation: a block that appears in several roles (the EC2 policy of AWS_EC2_ROLES) gets the same list
 * in each. CloudFormation YAML cannot be round-tripped through a parser without losing comments.
 */
export function replaceGeneratedBlock(text: string, name: string, items: readonly string[]): string {
  const pattern = new RegExp(
    `^([ \\t]*)# <generated:${name}>[^\\n]*\\n(?:.*\\n)*?[ \\t]*# </generated:${name}>`,
    "gm",
  );
  let found = 0;
  const out = text.replace(pattern, (whole: string, indent: string) => {
    found++;
    const begin = whole.split("\n")[0] ?? "";
    return [begin, ...items.map((i) => `${indent}- ${i}`), `${indent}# </generated:${name}>`].join("\n");
  });
  if (found === 0) throw new Error(`no generated block "${name}" in the AWS template`);
  return out;
}

export function writeAwsTemplate(text: string, derived: DerivedInfra): string {
  let out = replaceGeneratedBlock(text, "ec2-read", derived.awsEc2Actions.filter(isEc2ReadAction));
  for (const statement of derived.awsWriteStatements) {
    out = replaceGeneratedBlock(out, statement.block, statement.actions);
  }
  out = replaceGeneratedBlock(out, "event-names", derived.awsEventNames);
  return replaceGeneratedBlock(out, "webhook-secrets", webhookSecretResources());
}

/** The end (exclusive) of the JSON array that starts at `open`, skipping brackets inside strings. */
function jsonArrayEnd(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
    } else if (c === "[") depth++;
    else if (c === "]" && --depth === 0) return i + 1;
  }
  throw new Error("unterminated JSON array");
}

/**
 * Replaces the JSON array that follows the only match of `anchor` with `items`, leaving the rest of the text (and
 * its formatting) alone, so a regeneration changes only the lines that changed.
 */
export function replaceJsonArrayAfter(text: string, anchor: RegExp, items: readonly string[]): string {
  const global = new RegExp(anchor.source, `${anchor.flags.replace("g", "")}g`);
  const matches = [...text.matchAll(global)];
  const match = single(matches, `match of ${anchor} in the Azure template`);
  const open = text.indexOf("[", match.index + match[0].length);
  if (open < 0) throw new Error(`no array after ${anchor}`);
  const end = jsonArrayEnd(text, open);
  if (JSON.stringify(JSON.parse(text.slice(open, end))) === JSON.stringify(items)) return text;
  return text.slice(0, open) + JSON.stringify(items) + text.slice(end);
}

/** The Azure template text with the role's actions and the operation-name filter values replaced. */
export function writeAzureTemplate(text: string, derived: DerivedInfra): string {
  let out = replaceJsonArrayAfter(text, /"actions":\s*(?=\[)/, derived.azureActions);
  out = replaceJsonArrayAfter(
    out,
    /"key":\s*"data\.operationName",\s*"values":\s*(?=\[)/,
    derived.azureOperationPrefixes,
  );
  // The edits must have landed where the reader looks.
  const parsed: unknown = JSON.parse(out);
  const actions = azureRoleDefinition(parsed).permissions.flatMap((p) => p.actions);
  const prefixes = azureOperationNameFilter(parsed).values;
  if (
    actions.join() !== derived.azureActions.join() ||
    prefixes.join() !== derived.azureOperationPrefixes.join()
  ) {
    throw new Error(
      "the Azure template's arrays moved: the role actions or the operationName filter was not updated",
    );
  }
  return out;
}

async function writeTemplates(derived: DerivedInfra): Promise<void> {
  await writeFile(AZURE_TEMPLATE, writeAzureTemplate(await readFile(AZURE_TEMPLATE, "utf8"), derived));
  // Keep the file as Biome formats it, so `biome ci` stays clean after a regeneration.
  const biome = path.join(root, "node_modules", ".bin", "biome");
  const formatted = spawnSync(biome, ["format", "--write", AZURE_TEMPLATE], { cwd: root, encoding: "utf8" });
  if (formatted.status !== 0) throw new Error(`biome format failed: ${formatted.stderr}`);
  await writeFile(AWS_TEMPLATE, writeAwsTemplate(await readFile(AWS_TEMPLATE, "utf8"), derived));
}

if (import.meta.main) {
  const derived = deriveInfra();
  if (process.argv.includes("--check")) {
    const problems = await checkTemplates(derived);
    for (const p of problems) process.stderr.write(`${p}\n`);
    if (problems.length > 0) {
      process.stderr.write("run `node scripts/infra.ts` to regenerate the derived parts of infra/\n");
      process.exit(1);
    }
    process.stdout.write("infra/ templates match the declared permissions and events\n");
  } else {
    await writeTemplates(derived);
    const problems = await checkTemplates(derived);
    if (problems.length > 0) throw new Error(`still drifting after regeneration: ${problems.join("; ")}`);
    process.stdout.write(
      `wrote ${path.relative(root, AZURE_TEMPLATE)} and ${path.relative(root, AWS_TEMPLATE)}: ` +
        `${derived.azureActions.length} Azure actions, ${derived.awsEc2Actions.length} EC2 actions, ` +
        `${derived.awsEventNames.length} CloudTrail events\n`,
    );
  }
}
