// The deploy templates in infra/ against the code they deploy: permissions derived from the rule and remediation
// registries (least privilege both ways), event routing derived from the normalisers' tables, and the wiring
// (handler, function name, environment variables) matching the entry points and shared/config.ts. The AWS template
// is also validated by cfn-lint (a spawned process: that is the boundary this test crosses).
//
// The routing checks replay the real-shaped event fixtures (test/fixtures/events/{aws,azure}/README.md gives each
// sample's source) through a small model of the EventBridge pattern and of the Event Grid filter, and compare with
// what the normaliser makes of the same event: nothing the guardian would act on may be filtered out.

import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_DEQUEUE_COUNT } from "../../functions/reconcile-page.ts";
import { entries } from "../../scripts/build.ts";
import {
  type ArmResource,
  AWS_TEMPLATE,
  AZURE_TEMPLATE,
  actionsOf,
  armResources,
  awsEventPattern,
  awsRoleStatements,
  azureOperationNameFilter,
  azureRoleDefinition,
  type CfnResource,
  checkTemplates,
  type DerivedInfra,
  declaredPermissions,
  deployedEntries,
  deriveInfra,
  infraDrift,
  isEc2ReadAction,
  operationPrefixes,
  parseCfn,
  partitionPermissions,
  queueGrantProblems,
  templateFacts,
  webhookProblems,
  writeAwsTemplate,
  writeAzureTemplate,
} from "../../scripts/infra.ts";
import { EVENT_GRID_BUDGET_MS } from "../../shared/clouds/azure/runtime.ts";
import { parseConfig } from "../../shared/config.ts";
import { AWS_HANDLED_EVENTS, CLOUDTRAIL_DETAIL_TYPE, normaliseAwsEvent } from "../../shared/events/aws.ts";
import { normaliseEventGrid, SUPPORTED_AZURE_RESOURCE_TYPES } from "../../shared/events/azure.ts";
import { remediationRegistry } from "../../shared/remediation/index.ts";
import { ruleRegistry } from "../../shared/rules/index.ts";

const root = path.resolve(import.meta.dirname, "../..");
const read = (relative: string) => readFileSync(path.join(root, relative), "utf8");

const azureText = readFileSync(AZURE_TEMPLATE, "utf8");
const awsText = readFileSync(AWS_TEMPLATE, "utf8");
const azure: unknown = JSON.parse(azureText);
const aws = parseCfn(awsText);
const derived = deriveInfra();
/** Every entry the templates deploy, as scripts/build.ts ships them. */
const SHIPPED = [
  "functions/on-change",
  "functions/reconcile",
  "functions/reconcile-page",
  "functions/send-alerts",
  "functions/sweep-private-endpoints",
  "lambdas/on-change",
  "lambdas/on-endpoint-connection",
  "lambdas/reconcile",
  "lambdas/reconcile-page",
  "lambdas/send-alerts",
  "lambdas/sweep-endpoint-connections",
];

type Json = Record<string, unknown>;
const isRecord = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const props = (r: { properties?: unknown } | undefined): Json => {
  if (!isRecord(r?.properties)) throw new Error("resource has no properties object");
  return r.properties;
};
const cfnProps = (r: CfnResource | undefined): Json => {
  if (!isRecord(r?.Properties)) throw new Error("resource has no Properties");
  return r.Properties;
};
const ofType = (type: string): ArmResource[] => armResources(azure).filter((r) => r.type === type);
const cfnOfType = (type: string): [string, CfnResource][] =>
  Object.entries(aws).filter(([, r]) => r.Type === type);

/** The environment variables shared/config.ts reads: the keys of its envSchema. */
function configKeys(): Set<string> {
  const source = read("shared/config.ts");
  const block = /const envSchema = z\.object\(\{([\s\S]*?)\n\}\);/.exec(source)?.[1];
  if (block === undefined) throw new Error("shared/config.ts: envSchema not found");
  return new Set([...block.matchAll(/^\s+([A-Z][A-Za-z0-9_]*):/gm)].map((m) => m[1] ?? ""));
}

describe("derivation from the code", () => {
  it("puts every declared permission in exactly one cloud's template", () => {
    const all = declaredPermissions();
    const { azure: az, aws: ec2, unknown } = partitionPermissions(all);
    expect(unknown).toEqual([]);
    expect([...az, ...ec2].sort()).toEqual(all);
    for (const rule of Object.values(ruleRegistry)) {
      for (const p of rule.permissions) expect(rule.cloud === "azure" ? az : ec2).toContain(p);
    }
    for (const remediation of Object.values(remediationRegistry)) {
      for (const p of remediation.permissions) expect([...az, ...ec2]).toContain(p);
    }
  });

  it("flags a permission that no template can hold", () => {
    expect(partitionPermissions(["s3:GetObject", "Microsoft.Storage/storageAccounts/read"])).toEqual({
      azure: ["Microsoft.Storage/storageAccounts/read"],
      aws: [],
      unknown: ["s3:GetObject"],
    });
  });

  it("routes exactly the handled CloudTrail events and the supported Azure types", () => {
    expect(derived.awsEventNames).toEqual(Object.keys(AWS_HANDLED_EVENTS).sort());
    // Every supported type's prefix, but for one a shorter prefix covers (subnets under virtual networks).
    const types = Object.keys(SUPPORTED_AZURE_RESOURCE_TYPES);
    expect(derived.azureOperationPrefixes).toEqual(
      [
        ...types
          .filter((t) => !types.some((other) => other !== t && t.startsWith(`${other}/`)))
          .map((t) => `${t}/`),
        "microsoft.resources/tags/",
      ].sort(),
    );
    expect(derived.azureOperationPrefixes).not.toContain("microsoft.network/virtualnetworks/subnets/");
    // A child type is covered by its parent's prefix; a type of its own gets its own.
    expect(
      operationPrefixes({
        "microsoft.network/networksecuritygroups": {
          childTypes: ["microsoft.network/networksecuritygroups/securityrules"],
        },
        "microsoft.storage/storageaccounts": { childTypes: [] },
      }),
    ).toEqual(["microsoft.network/networksecuritygroups/", "microsoft.storage/storageaccounts/"]);
  });
});

describe("templates against the code", () => {
  it("grant exactly what the rules and remediations declare, and route exactly the handled events", async () => {
    expect(await checkTemplates()).toEqual([]);
  });

  it("report a permission a new rule declares that the templates lack", () => {
    const newRule = {
      permissions: ["Microsoft.Network/virtualNetworks/subnets/read", "ec2:DescribeNatGateways"],
    };
    const { azure: az, aws: ec2 } = partitionPermissions(
      declaredPermissions([...Object.values(ruleRegistry), newRule]),
    );
    const problems = infraDrift(
      { ...derived, azureActions: az, awsEc2Actions: ec2 },
      templateFacts(azure, awsText),
    );
    expect(problems).toEqual([
      "Azure custom role actions: Microsoft.Network/virtualNetworks/subnets/read is declared by the code but missing from the template",
      // Both roles that run rules and remediations must get it: the event path's and the reconcile page worker's.
      "AWS GuardianRole EC2 actions: ec2:DescribeNatGateways is declared by the code but missing from the template",
      "AWS ReconcilePageRole EC2 actions: ec2:DescribeNatGateways is declared by the code but missing from the template",
    ]);
  });

  it("report a grant nothing declares, and event routing that differs from AWS_HANDLED_EVENTS", () => {
    const facts = templateFacts(azure, awsText);
    const problems = infraDrift(derived, {
      ...facts,
      azureActions: [...facts.azureActions, "Microsoft.Network/networkSecurityGroups/write"],
      awsRoles: facts.awsRoles.map((r) =>
        r.role === "GuardianRole"
          ? { ...r, ec2Actions: [...r.ec2Actions, "ec2:AuthorizeSecurityGroupEgress"] }
          : r,
      ),
      awsEventNames: [...facts.awsEventNames.filter((n) => n !== "ModifySecurityGroupRules"), "RunInstances"],
    });
    expect(problems).toEqual([
      "Azure custom role actions: Microsoft.Network/networkSecurityGroups/write is in the template but declared by no rule or remediation (least privilege)",
      "AWS GuardianRole EC2 actions: ec2:AuthorizeSecurityGroupEgress is in the template but declared by no rule or remediation (least privilege)",
      "EventBridge detail.eventName: ModifySecurityGroupRules is handled (AWS_HANDLED_EVENTS) but not routed to the Lambda",
      "EventBridge detail.eventName: RunInstances is routed to the Lambda but not in AWS_HANDLED_EVENTS",
    ]);
  });

  it("are regenerated by scripts/infra.ts: unchanged when nothing changed, exactly the new lists otherwise", () => {
    expect(writeAwsTemplate(awsText, derived)).toBe(awsText);
    expect(writeAzureTemplate(azureText, derived)).toBe(azureText);

    const changed: DerivedInfra = {
      azureActions: [...derived.azureActions, "Microsoft.Network/virtualNetworks/subnets/read"].sort(),
      awsEc2Actions: [
        ...derived.awsEc2Actions,
        "ec2:DescribeNatGateways",
        "ec2:ModifyNetworkInterfaceAttribute",
      ].sort(),
      awsEventNames: [...derived.awsEventNames, "CreateNatGateway"].sort(),
      azureOperationPrefixes: [
        ...derived.azureOperationPrefixes,
        "microsoft.network/applicationgateways/",
      ].sort(),
      awsWriteStatements: derived.awsWriteStatements.map((w) =>
        w.block === "ec2-write"
          ? { ...w, actions: [...w.actions, "ec2:ModifyNetworkInterfaceAttribute"].sort() }
          : w,
      ),
    };
    const newAws = writeAwsTemplate(awsText, changed);
    const newAzure = writeAzureTemplate(azureText, changed);
    expect(infraDrift(changed, templateFacts(JSON.parse(newAzure), newAws))).toEqual([]);
    // Reads stay unscoped (EC2 Describe has no resource-level permissions), writes land in the scoped statement.
    const statements = awsRoleStatements(parseCfn(newAws)).map((s) => s.statement);
    // One derivation, written into both roles that run rules and remediations.
    const reads = statements.filter((s) => s.Sid === "ReadSecurityGroups");
    expect(reads).toHaveLength(2);
    for (const s of reads) {
      expect(s.Action).toEqual(
        [...derived.awsEc2Actions.filter(isEc2ReadAction), "ec2:DescribeNatGateways"].sort(),
      );
    }
    const writes = statements.filter((s) => s.Sid === "RemediateSecurityGroups");
    expect(writes).toHaveLength(2);
    for (const s of writes) expect(s.Action).toContain("ec2:ModifyNetworkInterfaceAttribute");
    // Only the generated lists changed.
    const changedLines = (a: string, b: string) => {
      const before = new Set(a.split("\n"));
      return b.split("\n").filter((line) => !before.has(line));
    };
    expect(changedLines(awsText, newAws).map((l) => l.trim())).toEqual([
      "- ec2:DescribeNatGateways",
      "- ec2:ModifyNetworkInterfaceAttribute",
      "- CreateNatGateway",
      "- ec2:DescribeNatGateways",
      "- ec2:ModifyNetworkInterfaceAttribute",
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("AWS CloudFormation template", () => {
  it("passes cfn-lint", () => {
    const result = spawnSync("cfn-lint", [AWS_TEMPLATE], { encoding: "utf8" });
    if (result.error !== undefined) {
      throw new Error(
        `cfn-lint could not be run (${result.error.message}); install it with \`pip install cfn-lint\``,
      );
    }
    expect(`${result.stdout}${result.stderr}`).toBe("");
    expect(result.status).toBe(0);
  });

  const [[functionId, fn] = ["", undefined]] = cfnOfType("AWS::Lambda::Function");
  const fnProps = cfnProps(fn);
  const [[queueId] = [""]] = cfnOfType("AWS::SQS::Queue");
  const [[roleId] = [""]] = cfnOfType("AWS::IAM::Role");
  const getAtt = (id: string, attribute: string) => ({ "Fn::GetAtt": [id, attribute] });
  // Every Lambda that acts on the estate knows both acting roles: a revoke by the page worker, seen by on-change as
  // a CloudTrail event, is the guardian's own and starts no second round (and the other way round).
  const selfIdentities = {
    "Fn::Join": [",", [getAtt("GuardianRole", "Arn"), getAtt("ReconcilePageRole", "Arn")]],
  };

  it("ships exactly the entries the templates deploy, and every entry in the repository is deployed", async () => {
    const shipped = (await entries()).map((e) => `${e.side}/${e.name}`);
    expect(shipped).toEqual(SHIPPED);
    expect(deployedEntries(azure, awsText)).toEqual([
      { side: "functions", name: "on-change", runs: "onChange" },
      { side: "functions", name: "sweep-private-endpoints", runs: "sweepPrivateEndpoints" },
      { side: "functions", name: "reconcile", runs: "reconcile" },
      { side: "functions", name: "send-alerts", runs: "sendAlerts" },
      { side: "functions", name: "reconcile-page", runs: "reconcilePage" },
      { side: "lambdas", name: "on-change", runs: "handler" },
      { side: "lambdas", name: "on-endpoint-connection", runs: "handler" },
      { side: "lambdas", name: "sweep-endpoint-connections", runs: "handler" },
      { side: "lambdas", name: "reconcile", runs: "handler" },
      { side: "lambdas", name: "reconcile-page", runs: "handler" },
      { side: "lambdas", name: "send-alerts", runs: "handler" },
    ]);
    // The alert sender registers the queue trigger the template's queue feeds.
    expect(
      [...read("functions/send-alerts.ts").matchAll(/app\.(\w+)\("([^"]+)"/g)].map((m) => [m[1], m[2]]),
    ).toEqual([["storageQueue", "sendAlerts"]]);
    // No dormant entry point: every file beside the shared runtime is one a template deploys.
    const files = ["functions", "lambdas"].flatMap((side) =>
      readdirSync(path.join(root, side))
        .filter((f) => f.endsWith(".ts") && f !== "runtime.ts")
        .map((f) => `${side}/${f.replace(/\.ts$/, "")}`),
    );
    expect(files.sort()).toEqual([...shipped].sort());
    // Each Azure entry registers only the function the subscription delivers to, and no HTTP trigger.
    const source = read("functions/on-change.ts");
    const registered = (file: string) =>
      [...read(file).matchAll(/app\.(\w+)\("([^"]+)"/g)].map((m) => [m[1], m[2]]);
    expect(registered("functions/on-change.ts")).toEqual([["eventGrid", "onChange"]]);
    // The timer and queue functions the template names in its timerFunctions and queueFunctions.
    expect(registered("functions/reconcile.ts")).toEqual([["timer", "reconcile"]]);
    expect(registered("functions/reconcile-page.ts")).toEqual([["storageQueue", "reconcilePage"]]);
    expect(source).toContain("app.eventGrid");
    // A template that wires an entry the repository lacks fails the build instead of shipping less.
    const moved = JSON.parse(
      azureText.replace(`"functionName": "onChange"`, `"functionName": "onChangeHttp"`),
    );
    expect(deployedEntries(moved, awsText)[0]).toEqual({
      side: "functions",
      name: "on-change-http",
      runs: "onChangeHttp",
    });
  });

  it("deploys the built Lambda entry with a supported Node.js runtime", async () => {
    expect(["nodejs22.x", "nodejs24.x"]).toContain(fnProps.Runtime);
    expect(fnProps.Handler).toBe("on-change.handler");
    // The handler is `<file>.<export>` of the bundle scripts/build.ts writes to dist/lambdas/on-change.mjs.
    expect((await entries()).some((e) => e.side === "lambdas" && e.name === "on-change")).toBe(true);
    expect(read("lambdas/on-change.ts")).toMatch(/^export const handler = /m);
    expect(fnProps.Code).toEqual({
      S3Bucket: { Ref: "CodeS3Bucket" },
      S3Key: { Ref: "CodeS3Key" },
      S3ObjectVersion: {
        "Fn::If": ["HasCodeVersion", { Ref: "CodeS3ObjectVersion" }, { Ref: "AWS::NoValue" }],
      },
    });
    expect(fnProps.ReservedConcurrentExecutions).toEqual({ Ref: "ReservedConcurrency" });
  });

  it("configures the Lambdas through the variables shared/config.ts reads, secrets from Secrets Manager", () => {
    const env = (fnProps.Environment as { Variables: Json }).Variables;
    const keys = configKeys();
    for (const name of Object.keys(env).filter((n) => n !== "NODE_OPTIONS")) expect(keys).toContain(name);
    expect(env.GUARDIAN_SELF_IDENTITIES).toEqual(selfIdentities);
    expect(env.GUARDIAN_DRY_RUN).toEqual({ Ref: "DryRun" });
    expect(env.GUARDIAN_POLICY_FILE).toEqual({ Ref: "PolicyFile" });
    expect(env.GUARDIAN_AWS_ACCOUNT_ID).toEqual({ Ref: "AWS::AccountId" });
    // The on-change function only queues alerts; the sender holds the webhook secrets.
    expect(env.GUARDIAN_ALERT_QUEUE).toEqual({ Ref: "AlertQueue" });
    expect(env.SLACK_WEBHOOK_URL).toBeUndefined();
    const sender = (cfnProps(aws.SenderFunction).Environment as { Variables: Json }).Variables;
    for (const name of Object.keys(sender).filter((n) => n !== "NODE_OPTIONS")) expect(keys).toContain(name);
    expect(sender).toMatchObject({
      GUARDIAN_ALERT_QUEUE: { Ref: "AlertQueue" },
      GUARDIAN_ALERT_DLQ: { Ref: "AlertDeadLetterQueue" },
      GUARDIAN_ALERT_TABLE: { Ref: "AlertTable" },
    });
    for (const [name, condition, parameter] of [
      ["SLACK_WEBHOOK_SECRET_ARN", "HasSlack", "SlackWebhookSecretArn"],
      ["TEAMS_WEBHOOK_SECRET_ARN", "HasTeams", "TeamsWebhookSecretArn"],
    ] as const) {
      expect(env).not.toHaveProperty(name);
      expect(sender[name]).toEqual({
        "Fn::If": [condition, { Ref: parameter }, { Ref: "AWS::NoValue" }],
      });
    }
    expect(env).not.toHaveProperty("SLACK_WEBHOOK_URL");
    expect(env).not.toHaveProperty("TEAMS_WEBHOOK_URL");
    expect(awsText).not.toContain("{{resolve:");
  });

  it("lets the sender's role read exactly the webhook secrets the parameters name, and checks that in infra:check", () => {
    const grants = awsRoleStatements(aws).filter(({ statement }) =>
      actionsOf(statement).some((a) => a.startsWith("secretsmanager:")),
    );
    expect(grants.map(({ statement }) => [actionsOf(statement), statement.Resource])).toEqual([
      [
        ["secretsmanager:GetSecretValue"],
        [
          { "Fn::If": ["HasSlack", { Ref: "SlackWebhookSecretArn" }, { Ref: "AWS::NoValue" }] },
          { "Fn::If": ["HasTeams", { Ref: "TeamsWebhookSecretArn" }, { Ref: "AWS::NoValue" }] },
        ],
      ],
    ]);
    expect(webhookProblems(azure, awsText)).toEqual([]);
    // What the check catches: a URL resolved into the environment, a wildcard grant, a plain Azure setting.
    const resolved = awsText.replace(
      "SLACK_WEBHOOK_SECRET_ARN:",
      'SLACK_WEBHOOK_URL: "{{resolve:secretsmanager:slack:SecretString}}"\n          SLACK_WEBHOOK_SECRET_ARN:',
    );
    expect(webhookProblems(azure, resolved)).toEqual([
      expect.stringContaining("{{resolve:secretsmanager"),
      "AWS template: the Lambda's environment sets SLACK_WEBHOOK_URL",
    ]);
    const wildcard = awsText.replace(
      '- "Fn::If": [HasTeams, { Ref: TeamsWebhookSecretArn }, { Ref: AWS::NoValue }]',
      '- "arn:aws:secretsmanager:*:*:secret:*"',
    );
    expect(webhookProblems(azure, wildcard)).toEqual([
      "AWS template: the Secrets Manager grant is not scoped to exactly the webhook secrets",
    ]);
    const plainAzure = JSON.parse(
      azureText.replace(
        /@Microsoft\.KeyVault\(VaultName=\{0\};SecretName=slack-webhook-url\)/,
        "https://hooks.slack.com/services/x",
      ),
    ) as unknown;
    expect(webhookProblems(plainAzure, awsText)).toEqual([
      "Azure template: SLACK_WEBHOOK_URL is not a Key Vault reference",
    ]);
  });

  it("gives the role no wildcard, only scoped EC2 writes, and nothing beyond EC2, its logs, its queues and its decisions table", () => {
    const statements = awsRoleStatements(aws);
    const guardian = statements.filter((s) => s.role === roleId);
    expect(new Set(statements.map((s) => s.role))).toEqual(
      new Set([roleId, "SenderRole", "SchedulerRole", "ReconcileRole", "ReconcilePageRole"]),
    );
    // CloudFormation substitutes these; the test compares the template text, not JavaScript placeholders.
    const inThisAccount = (type: string) => ({
      "Fn::Sub": `arn:\${AWS::Partition}:ec2:\${AWS::Region}:\${AWS::AccountId}:${type}/*`,
    });
    const writeScopes = new Map(
      derived.awsWriteStatements.flatMap((w) => w.actions.map((a) => [a, w.resourceTypes])),
    );
    for (const { statement } of guardian) {
      const actions = actionsOf(statement);
      for (const action of actions) expect(action).not.toMatch(/\*/);
      const ec2 = actions.filter((a) => a.startsWith("ec2:"));
      if (ec2.length === 0) continue;
      expect(actions).toEqual(ec2);
      if (ec2.every(isEc2ReadAction)) {
        expect(statement.Resource).toBe("*");
      } else {
        expect(ec2.some(isEc2ReadAction)).toBe(false);
        // Each write only on the resource types its remediations' kinds write.
        const types = writeScopes.get(ec2[0] ?? "") ?? [];
        for (const action of ec2) expect(writeScopes.get(action), action).toEqual(types);
        expect(statement.Resource).toEqual(types.map(inThisAccount));
      }
    }
    expect(derived.awsWriteStatements.map((w) => w.resourceTypes)).toEqual([
      ["security-group", "security-group-rule"],
      ["vpc-endpoint-service"],
    ]);
    const others = guardian
      .filter(({ statement }) => !actionsOf(statement).some((a) => a.startsWith("ec2:")))
      .map(({ statement }) => ({ actions: actionsOf(statement), resource: statement.Resource }));
    expect(others).toEqual([
      {
        actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
        resource: getAtt("DecisionsTable", "Arn"),
      },
      { actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resource: getAtt("LogGroup", "Arn") },
      { actions: ["sqs:SendMessage"], resource: getAtt(queueId, "Arn") },
      { actions: ["sqs:SendMessage"], resource: getAtt("AlertQueue", "Arn") },
    ]);
    // The page worker: exactly the event path's EC2 statements (one derivation), its decisions, logs and outbox, and
    // the reconcile queue; no on-failure destination (SQS redrives its failed pages).
    const page = statements.filter((s) => s.role === "ReconcilePageRole").map((s) => s.statement);
    const ec2Of = (list: typeof page) => list.filter((s) => actionsOf(s).some((a) => a.startsWith("ec2:")));
    expect(ec2Of(page)).toEqual(ec2Of(guardian.map((s) => s.statement)));
    expect(
      page
        .filter((s) => !actionsOf(s).some((a) => a.startsWith("ec2:")))
        .map((s) => ({ actions: actionsOf(s), resource: s.Resource })),
    ).toEqual([
      {
        actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
        resource: getAtt("DecisionsTable", "Arn"),
      },
      { actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resource: getAtt("LogGroup", "Arn") },
      { actions: ["sqs:SendMessage"], resource: getAtt("AlertQueue", "Arn") },
      {
        actions: ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage", "sqs:SendMessage"],
        resource: getAtt("ReconcileQueue", "Arn"),
      },
    ]);
    // Only the tick and the page worker may touch the reconcile queue.
    expect(
      statements
        .filter(({ statement }) => JSON.stringify(statement.Resource).includes('"ReconcileQueue"'))
        .map((s) => s.role)
        .sort(),
    ).toEqual(["ReconcilePageRole", "ReconcileRole"]);
    // The scheduler may only start the sweep and the reconcile, and dead-letter what it could not deliver.
    expect(
      statements
        .filter((s) => s.role === "SchedulerRole")
        .map(({ statement }) => ({ actions: actionsOf(statement), resource: statement.Resource })),
    ).toEqual([
      { actions: ["lambda:InvokeFunction"], resource: getAtt("SweepFunction", "Arn") },
      { actions: ["lambda:InvokeFunction"], resource: getAtt("ReconcileFunction", "Arn") },
      { actions: ["sqs:SendMessage"], resource: getAtt(queueId, "Arn") },
    ]);
    // The reconcile tick reads no cloud and writes nothing: it enqueues first pages, logs, and may dead-letter.
    expect(
      statements
        .filter((s) => s.role === "ReconcileRole")
        .map(({ statement }) => ({ actions: actionsOf(statement), resource: statement.Resource })),
    ).toEqual([
      { actions: ["sqs:SendMessage"], resource: getAtt("ReconcileQueue", "Arn") },
      { actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resource: getAtt("LogGroup", "Arn") },
      { actions: ["sqs:SendMessage"], resource: getAtt(queueId, "Arn") },
    ]);
  });

  it("runs the alert sender on the outbox queue with partial batch failures, a store, an alarmed dead-letter queue", () => {
    const sender = cfnProps(aws.SenderFunction);
    expect(sender.Handler).toBe("send-alerts.handler");
    expect(read("lambdas/send-alerts.ts")).toMatch(/^export const handler = /m);
    expect(cfnProps(aws.SenderEventSource)).toMatchObject({
      FunctionName: { Ref: "SenderFunction" },
      EventSourceArn: getAtt("AlertQueue", "Arn"),
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
    // SQS's advice: the queue's visibility timeout at least six times the function's timeout.
    expect(Number(cfnProps(aws.AlertQueue).VisibilityTimeout)).toBeGreaterThanOrEqual(
      6 * Number(sender.Timeout),
    );
    expect(cfnProps(aws.AlertQueue).RedrivePolicy).toMatchObject({
      deadLetterTargetArn: getAtt("AlertDeadLetterQueue", "Arn"),
    });
    expect(cfnProps(aws.AlertTable)).toMatchObject({
      KeySchema: [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
      TimeToLiveSpecification: { AttributeName: "expiresAt", Enabled: true },
    });
    expect(cfnProps(aws.AlertDeadLetterAlarm)).toMatchObject({
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: getAtt("AlertDeadLetterQueue", "QueueName") }],
    });
    // Exactly what the sender does: its queue, its dead letters, its webhook secrets, its table, its logs.
    const granted = awsRoleStatements(aws)
      .filter((s) => s.role === "SenderRole")
      .filter(({ statement }) => !actionsOf(statement).some((a) => a.startsWith("secretsmanager:")))
      .map(({ statement }) => ({ actions: actionsOf(statement), resource: statement.Resource }));
    expect(
      awsRoleStatements(aws)
        .filter(({ statement }) => actionsOf(statement).some((a) => a.startsWith("secretsmanager:")))
        .map((s) => s.role),
    ).toEqual(["SenderRole"]);
    expect(granted).toEqual([
      {
        actions: [
          "sqs:ChangeMessageVisibility",
          "sqs:DeleteMessage",
          "sqs:GetQueueAttributes",
          "sqs:ReceiveMessage",
          "sqs:SendMessage",
        ],
        resource: getAtt("AlertQueue", "Arn"),
      },
      { actions: ["sqs:SendMessage"], resource: getAtt("AlertDeadLetterQueue", "Arn") },
      {
        actions: ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
        resource: getAtt("AlertTable", "Arn"),
      },
      { actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resource: getAtt("SenderLogGroup", "Arn") },
    ]);
  });

  it("reports a write granted on other resources than its remediations write", () => {
    const facts = templateFacts(azure, awsText);
    const problems = infraDrift(derived, {
      ...facts,
      awsRoles: facts.awsRoles.map((r) =>
        r.role === "ReconcilePageRole"
          ? {
              ...r,
              writeScopes: r.writeScopes.map((w) =>
                w.action === "ec2:AcceptVpcEndpointConnections"
                  ? { ...w, resourceTypes: ["security-group"] }
                  : w,
              ),
            }
          : r,
      ),
    });
    expect(problems).toEqual([
      "AWS ReconcilePageRole EC2 actions: ec2:AcceptVpcEndpointConnections is granted on security-group but its remediations write vpc-endpoint-service",
    ]);
  });

  it("reports a page worker lacking an action its kinds declare, and EC2 grants on a role that runs no rule", () => {
    const pageAt = awsText.indexOf("  ReconcilePageRole:\n");
    const read = derived.awsEc2Actions.find(isEc2ReadAction) ?? "";
    const line = `\n                  - ${read}\n`;
    const at = awsText.indexOf(line, pageAt);
    expect(pageAt).toBeGreaterThan(0);
    expect(at).toBeGreaterThan(pageAt);
    // The page worker's copy of the generated read list loses one action; the event path's keeps it.
    const lacking = awsText.slice(0, at + 1) + awsText.slice(at + line.length);
    expect(infraDrift(derived, templateFacts(azure, lacking))).toEqual([
      `AWS ReconcilePageRole EC2 actions: ${read} is declared by the code but missing from the template`,
    ]);
    // An EC2 grant on the sender's role is reported, whatever the action.
    const facts = templateFacts(azure, awsText);
    expect(
      infraDrift(derived, {
        ...facts,
        awsRoles: [...facts.awsRoles, { role: "SenderRole", ec2Actions: [read], writeScopes: [] }],
      }),
    ).toEqual([
      `AWS SenderRole EC2 actions: ${read} granted to a role that runs no rule or remediation (AWS_EC2_ROLES)`,
    ]);
  });

  it("lets no Lambda but the reconcile tick and page worker touch the reconcile queue, and checks that in infra:check", () => {
    expect(queueGrantProblems(aws)).toEqual([]);
    const withGrant = (role: string, statement: Json) => {
      const copy = structuredClone(aws);
      const policies = (cfnProps(copy[role]).Policies as { PolicyDocument: { Statement: unknown[] } }[])[0];
      policies?.PolicyDocument.Statement.push(statement);
      return copy;
    };
    const reconcileQueue = getAtt("ReconcileQueue", "Arn");
    // The on-change, connection and sweep Lambdas share GuardianRole: a receive there is reported.
    expect(
      queueGrantProblems(
        withGrant("GuardianRole", {
          Effect: "Allow",
          Action: "sqs:ReceiveMessage",
          Resource: reconcileQueue,
        }),
      ),
    ).toEqual([
      "AWS GuardianRole: may use ReconcileQueue (sqs:ReceiveMessage), which only ReconcileRole and ReconcilePageRole may",
    ]);
    // The tick may only enqueue: a receive there is reported too.
    expect(
      queueGrantProblems(
        withGrant("ReconcileRole", {
          Effect: "Allow",
          Action: ["sqs:ReceiveMessage"],
          Resource: [reconcileQueue],
        }),
      ),
    ).toEqual([
      "AWS ReconcileRole: grants sqs:ReceiveMessage, sqs:SendMessage on ReconcileQueue instead of sqs:SendMessage",
    ]);
    // Any queue at all (Resource "*") is reported for any role.
    expect(
      queueGrantProblems(
        withGrant("SenderRole", { Effect: "Allow", Action: "sqs:SendMessage", Resource: "*" }),
      ),
    ).toEqual(['AWS SenderRole: sqs:SendMessage on every queue (Resource "*")']);
    // The page worker without its grant cannot poll: reported as missing.
    const without = structuredClone(aws);
    const doc = (
      cfnProps(without.ReconcilePageRole).Policies as { PolicyDocument: { Statement: Json[] } }[]
    )[0];
    if (doc === undefined) throw new Error("ReconcilePageRole has no policy");
    doc.PolicyDocument.Statement = doc.PolicyDocument.Statement.filter((s) => s.Sid !== "ReconcilePages");
    expect(queueGrantProblems(without)).toEqual([
      "AWS ReconcilePageRole: lacks sqs:DeleteMessage, sqs:GetQueueAttributes, sqs:ReceiveMessage, sqs:SendMessage on ReconcileQueue",
    ]);
  });

  it("deploys the connection Lambda on the SNS topic PrivateLink publishes to, and the sweep on a schedule", async () => {
    const built = await entries();
    for (const [id, handler, file] of [
      ["EndpointConnectionFunction", "on-endpoint-connection.handler", "on-endpoint-connection"],
      ["SweepFunction", "sweep-endpoint-connections.handler", "sweep-endpoint-connections"],
    ] as const) {
      const props = cfnProps(aws[id]);
      expect(props.Handler).toBe(handler);
      expect(built.some((e) => e.side === "lambdas" && e.name === file)).toBe(true);
      expect(read(`lambdas/${file}.ts`)).toMatch(/^export const handler = /m);
      expect(props.Role).toEqual(getAtt(roleId, "Arn"));
      const env = (props.Environment as { Variables: Json }).Variables;
      for (const name of Object.keys(env).filter((n) => n !== "NODE_OPTIONS"))
        expect(configKeys()).toContain(name);
      expect(env.GUARDIAN_DECISIONS_TABLE).toEqual({ Ref: "DecisionsTable" });
      expect(env.GUARDIAN_SELF_IDENTITIES).toEqual(selfIdentities);
      // Alerts go to the outbox like on-change's; the webhook secrets stay with the sender.
      expect(env.GUARDIAN_ALERT_QUEUE).toEqual({ Ref: "AlertQueue" });
      expect(Object.keys(env).filter((n) => /WEBHOOK/.test(n))).toEqual([]);
    }
    expect(cfnProps(aws.ConnectionNotificationTopicPolicy).PolicyDocument).toMatchObject({
      Statement: [
        {
          Effect: "Allow",
          Principal: { Service: "vpce.amazonaws.com" },
          Action: "sns:Publish",
          Condition: { StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } },
        },
      ],
    });
    expect(cfnProps(aws.ConnectionNotificationSubscription)).toEqual({
      Protocol: "lambda",
      TopicArn: { Ref: "ConnectionNotificationTopic" },
      Endpoint: getAtt("EndpointConnectionFunction", "Arn"),
    });
    expect(cfnProps(aws.EndpointConnectionInvokePermission)).toMatchObject({
      FunctionName: { Ref: "EndpointConnectionFunction" },
      Principal: "sns.amazonaws.com",
      SourceArn: { Ref: "ConnectionNotificationTopic" },
    });
    expect(cfnProps(aws.ConnectionNotification)).toMatchObject({
      ConnectionNotificationArn: { Ref: "ConnectionNotificationTopic" },
      ConnectionEvents: ["Connect"],
    });
    expect(cfnProps(aws.SweepSchedule)).toMatchObject({
      ScheduleExpression: { Ref: "SweepRate" },
      Target: {
        Arn: getAtt("SweepFunction", "Arn"),
        RoleArn: getAtt("SchedulerRole", "Arn"),
        DeadLetterConfig: { Arn: getAtt(queueId, "Arn") },
      },
    });
    // The table the decision store writes: partition key `id`, TTL on `expiration` (shared/clouds/aws/decision-store.ts).
    expect(cfnProps(aws.DecisionsTable)).toMatchObject({
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
      TimeToLiveSpecification: { AttributeName: "expiration", Enabled: true },
    });
    for (const id of ["AsyncInvokeConfig", "EndpointConnectionInvokeConfig", "SweepInvokeConfig"]) {
      expect(cfnProps(aws[id])).toMatchObject({
        DestinationConfig: { OnFailure: { Destination: getAtt(queueId, "Arn") } },
      });
    }
  });

  it("schedules the reconcile hourly and caps its page workers; failed pages end in the dead-letter queue", () => {
    const schedule = cfnProps(aws.ReconcileSchedule);
    expect(schedule).toMatchObject({
      ScheduleExpression: "cron(0 * * * ? *)",
      ScheduleExpressionTimezone: "UTC",
      FlexibleTimeWindow: { Mode: "OFF" },
      Target: {
        Arn: getAtt("ReconcileFunction", "Arn"),
        RoleArn: getAtt("SchedulerRole", "Arn"),
        DeadLetterConfig: { Arn: getAtt(queueId, "Arn") },
      },
    });
    expect(cfnProps(aws.ReconcileFunction)).toMatchObject({
      Handler: "reconcile.handler",
      ReservedConcurrentExecutions: 1,
      Role: getAtt("ReconcileRole", "Arn"),
    });
    const worker = cfnProps(aws.ReconcilePageFunction);
    // The page worker acts as the event path does: its role, its decision table, its alert outbox.
    expect(worker).toMatchObject({
      Handler: "reconcile-page.handler",
      Role: getAtt("ReconcilePageRole", "Arn"),
    });
    const workerEnv = (worker.Environment as { Variables: Json }).Variables;
    expect(workerEnv.GUARDIAN_DECISIONS_TABLE).toEqual({ Ref: "DecisionsTable" });
    expect(workerEnv.GUARDIAN_ALERT_QUEUE).toEqual({ Ref: "AlertQueue" });
    expect(workerEnv.GUARDIAN_SELF_IDENTITIES).toEqual(selfIdentities);
    expect(cfnProps(aws.ReconcilePageEventSource)).toEqual({
      EventSourceArn: getAtt("ReconcileQueue", "Arn"),
      FunctionName: { Ref: "ReconcilePageFunction" },
      BatchSize: 1,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: { Ref: "ReconcileConcurrency" } },
    });
    const queue = cfnProps(aws.ReconcileQueue);
    // The visibility timeout outlasts the worker's timeout, so a page still running is not handed out twice.
    expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(6 * Number(worker.Timeout));
    expect(queue.RedrivePolicy).toEqual({ deadLetterTargetArn: getAtt(queueId, "Arn"), maxReceiveCount: 5 });
    expect(cfnProps(aws.ReconcileInvokeConfig)).toMatchObject({
      DestinationConfig: { OnFailure: { Destination: getAtt(queueId, "Arn") } },
    });
    for (const id of ["ReconcileFunction", "ReconcilePageFunction"]) {
      const env = (cfnProps(aws[id]).Environment as { Variables: Json }).Variables;
      expect(env.GUARDIAN_RECONCILE_QUEUE_URL).toEqual({ Ref: "ReconcileQueue" });
      for (const name of Object.keys(env).filter((n) => n !== "NODE_OPTIONS"))
        expect(configKeys()).toContain(name);
    }
    // Azure: the page queue and its poison queue exist, and the trigger retries a page five times before it.
    const resources = armResources(azure);
    const queues = resources
      .filter((r) => r.type === "Microsoft.Storage/storageAccounts/queueServices/queues")
      .map((r) => r.name)
      .filter((n) => n.includes("variables('reconcileQueue')"));
    expect(queues.map((n) => n.includes("{1}-poison"))).toEqual([false, true]);
    expect(JSON.parse(read("host.json")).extensions.queues.maxDequeueCount).toBe(MAX_DEQUEUE_COUNT);
    // A page on its last attempt is alerted (functions/reconcile-page.ts logs the line the rule looks for).
    const rules = ofType("Microsoft.Insights/scheduledQueryRules").map((r) =>
      JSON.stringify(props(r).criteria),
    );
    expect(rules.some((c) => c.includes("guardian.reconcile-deadletter"))).toBe(true);
    expect(read("functions/reconcile-page.ts")).toContain('"guardian.reconcile-deadletter"');
  });

  it("routes CloudTrail EC2 calls with retries and a dead-letter queue, and dead-letters failed invocations", () => {
    const pattern = awsEventPattern(aws);
    expect(pattern.source).toEqual(["aws.ec2"]);
    expect(pattern["detail-type"]).toEqual([CLOUDTRAIL_DETAIL_TYPE]);
    expect(pattern.detail.eventSource).toEqual(["ec2.amazonaws.com"]);

    const [[, rule] = ["", undefined]] = cfnOfType("AWS::Events::Rule");
    const targets = cfnProps(rule).Targets as Json[];
    expect(targets).toHaveLength(1);
    expect(targets[0]).toMatchObject({
      Arn: getAtt(functionId, "Arn"),
      RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 },
      DeadLetterConfig: { Arn: getAtt(queueId, "Arn") },
    });
    const [[, invokeConfig] = ["", undefined]] = cfnOfType("AWS::Lambda::EventInvokeConfig");
    expect(cfnProps(invokeConfig)).toMatchObject({
      FunctionName: { Ref: functionId },
      DestinationConfig: { OnFailure: { Destination: getAtt(queueId, "Arn") } },
    });
    const [[, permission] = ["", undefined]] = cfnOfType("AWS::Lambda::Permission");
    expect(cfnProps(permission)).toMatchObject({
      FunctionName: { Ref: functionId },
      Principal: "events.amazonaws.com",
      SourceArn: getAtt("ChangeRule", "Arn"),
    });
    const [[, alarm] = ["", undefined]] = cfnOfType("AWS::CloudWatch::Alarm");
    expect(cfnProps(alarm)).toMatchObject({
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: getAtt(queueId, "QueueName") }],
      Threshold: 0,
      ComparisonOperator: "GreaterThanThreshold",
    });
  });

  it("alerts when an event lands in the dead-letter container, as the AWS dead-letter queue's alarm does", () => {
    const [alert, ...others] = ofType("Microsoft.Insights/metricAlerts");
    expect(others).toEqual([]);
    const p = props(alert);
    // Scoped to the system topic whose subscription dead-letters into the container.
    expect(p.scopes).toEqual([
      "[resourceId('Microsoft.EventGrid/systemTopics', variables('systemTopicName'))]",
    ]);
    expect(p.criteria).toEqual({
      "odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
      allOf: [
        {
          criterionType: "StaticThresholdCriterion",
          name: "DeadLetteredEvents",
          metricNamespace: "Microsoft.EventGrid/systemTopics",
          metricName: "DeadLetteredCount",
          operator: "GreaterThan",
          threshold: 0,
          timeAggregation: "Total",
        },
      ],
    });
    expect(p.enabled).toBe(true);
    expect(String(p.description)).toContain("variables('deadLetterContainer')");
    // Notifies the action group given, like the AWS alarm's AlarmTopicArn; without one it still fires.
    expect(p.actions).toBe(
      "[if(empty(parameters('alertActionGroupId')), createArray(), createArray(createObject('actionGroupId', parameters('alertActionGroupId'))))]",
    );
    const top = (azure as { parameters: Json }).parameters;
    expect(top.alertActionGroupId).toMatchObject({ type: "string", defaultValue: "" });
    expect(alert?.dependsOn).toContain(
      "[resourceId('Microsoft.EventGrid/systemTopics', variables('systemTopicName'))]",
    );
  });

  it("gives each invocation a budget that ends before Event Grid's 30 s delivery timeout and the host's functionTimeout", () => {
    const host = JSON.parse(read("host.json")) as { functionTimeout: string };
    const [h = 0, m = 0, sec = 0] = host.functionTimeout.split(":").map(Number);
    const functionTimeoutMs = ((h * 60 + m) * 60 + sec) * 1000;
    expect(EVENT_GRID_BUDGET_MS).toBeLessThan(30_000);
    expect(EVENT_GRID_BUDGET_MS).toBeLessThan(functionTimeoutMs);
    // Both the budget and the per-request timeout are configurable; the default budget applies when unset.
    expect(parseConfig({}).budgetMs).toBeUndefined();
    expect(parseConfig({ GUARDIAN_BUDGET_MS: "5000", AZURE_ARM_TIMEOUT_MS: "1000" })).toMatchObject({
      budgetMs: 5000,
      azure: { requestTimeoutMs: 1000 },
    });
  });

  it("lets through every fixture event the guardian acts on, and only events it would skip are filtered", () => {
    const dir = path.join(root, "test/fixtures/events/aws");
    const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    expect(files.length).toBeGreaterThan(5);
    const pattern = awsEventPattern(aws);
    let acted = 0;
    for (const file of files) {
      const event: unknown = JSON.parse(readFileSync(path.join(dir, file), "utf8"));
      const result = normaliseAwsEvent(event);
      const actsOn = (result?.changes.length ?? 0) > 0;
      if (actsOn) acted++;
      if (actsOn) expect(matchesEventPattern(pattern, event), file).toBe(true);
      if (!matchesEventPattern(pattern, event)) expect(actsOn, file).toBe(false);
    }
    expect(acted).toBeGreaterThan(5);
  });
});

/**
 * The subset of EventBridge pattern matching the template uses: arrays of literal strings, `{ exists: false }`,
 * nested objects. Anything else fails loudly rather than matching by accident.
 */
function matchesEventPattern(pattern: unknown, event: unknown): boolean {
  if (!isRecord(pattern)) throw new Error("pattern must be an object");
  return Object.entries(pattern).every(([key, expected]) => {
    const value = isRecord(event) ? event[key] : undefined;
    if (Array.isArray(expected)) {
      return expected.some((option) => {
        if (typeof option === "string") return value === option;
        if (isRecord(option) && option.exists === false && Object.keys(option).length === 1)
          return value === undefined;
        throw new Error(`unsupported pattern element ${JSON.stringify(option)}`);
      });
    }
    if (isRecord(expected)) return matchesEventPattern(expected, value);
    throw new Error(`unsupported pattern value at ${key}`);
  });
}

// ---------------------------------------------------------------------------------------------------------------

describe("Azure ARM template", () => {
  it("is a subscription-scope template whose every resource names its type and a dated apiVersion", () => {
    expect((azure as Json).$schema).toBe(
      "https://schema.management.azure.com/schemas/2018-05-01/subscriptionDeploymentTemplate.json#",
    );
    const resources = armResources(azure);
    expect(resources.length).toBeGreaterThan(10);
    for (const r of resources) expect(r.apiVersion, r.type).toMatch(/^\d{4}-\d{2}-\d{2}(-preview)?$/);
    // ARM evaluates variables before any resource exists: reference() is not allowed in them.
    const nested = props(ofType("Microsoft.Resources/deployments")[0]).template as Json;
    for (const variables of [(azure as Json).variables, nested.variables]) {
      expect(JSON.stringify(variables)).not.toMatch(/reference\(/);
    }
  });

  it("defines a custom role of exactly the derived actions, assigned to the function at subscription scope", () => {
    const role = azureRoleDefinition(azure);
    expect(role.permissions).toHaveLength(1);
    expect(role.permissions[0]?.actions).toEqual(derived.azureActions);
    expect(role.permissions[0]?.notActions).toEqual([]);
    expect(role.permissions[0]?.dataActions).toEqual([]);
    const [definition] = ofType("Microsoft.Authorization/roleDefinitions");
    expect(props(definition).assignableScopes).toEqual(["[subscription().id]"]);

    // The subscription-scope assignment is a top-level resource of the subscription deployment.
    const topLevel = ((azure as Json).resources as Json[]).filter(
      (r) => r.type === "Microsoft.Authorization/roleAssignments",
    );
    expect(topLevel).toHaveLength(1);
    const assignment = props(topLevel[0] as { properties?: unknown });
    expect(assignment.roleDefinitionId).toBe(
      "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', variables('roleDefinitionName'))]",
    );
    expect(assignment.principalId).toMatch(/'network-guardian-resources'.*\.outputs\.principalId\.value\]$/);
    expect(assignment.principalType).toBe("ServicePrincipal");
    // No other assignment hands out the custom role.
    const custom = ofType("Microsoft.Authorization/roleAssignments").filter((r) =>
      String(props(r).roleDefinitionId).includes("variables('roleDefinitionName')"),
    );
    expect(custom).toHaveLength(1);
  });

  it("runs a Linux Flex Consumption Node.js app with a system-assigned identity and the guardian's settings", () => {
    const [plan] = ofType("Microsoft.Web/serverfarms");
    expect(plan).toMatchObject({
      sku: { tier: "FlexConsumption", name: "FC1" },
      properties: { reserved: true },
    });
    const [site] = ofType("Microsoft.Web/sites");
    expect(site).toMatchObject({ kind: "functionapp,linux", identity: { type: "SystemAssigned" } });
    const config = props(site).functionAppConfig as Json;
    expect(config.runtime).toEqual({ name: "node", version: "[parameters('nodeVersion')]" });
    expect(ofType("Microsoft.Insights/components")).toHaveLength(1);
    expect(ofType("Microsoft.Storage/storageAccounts")[0]).toMatchObject({
      properties: { allowSharedKeyAccess: false, allowBlobPublicAccess: false },
    });

    const nested = props(ofType("Microsoft.Resources/deployments")[0]).template as { variables: Json };
    const settings = [
      ...(nested.variables.baseSettings as { name: string; value: string }[]),
      ...(nested.variables.slackSettings as { name: string; value: string }[]),
      ...(nested.variables.teamsSettings as { name: string; value: string }[]),
    ];
    const keys = configKeys();
    const platform = new Set([
      "AzureWebJobsStorage__accountName",
      "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    ]);
    for (const { name } of settings) if (!platform.has(name)) expect(keys, name).toContain(name);
    const value = (name: string) => settings.find((s) => s.name === name)?.value;
    expect(value("GUARDIAN_DRY_RUN")).toBe("[if(parameters('dryRun'), 'true', 'false')]");
    expect(value("SLACK_WEBHOOK_URL")).toMatch(
      /^\[format\('@Microsoft\.KeyVault\(VaultName=\{0\};SecretName=/,
    );
    expect(value("TEAMS_WEBHOOK_URL")).toMatch(
      /^\[format\('@Microsoft\.KeyVault\(VaultName=\{0\};SecretName=/,
    );
    expect(String(props(site).siteConfig && (props(site).siteConfig as Json).appSettings)).toContain(
      "APPLICATIONINSIGHTS_CONNECTION_STRING",
    );
  });

  it("subscribes the function to the subscription's resource events, with retries and blob dead-lettering", () => {
    const [topic] = ofType("Microsoft.EventGrid/systemTopics");
    expect(topic).toMatchObject({
      location: "global",
      identity: { type: "SystemAssigned" },
      properties: { source: "[subscription().id]", topicType: "Microsoft.Resources.Subscriptions" },
    });
    const [subscription] = ofType("Microsoft.EventGrid/systemTopics/eventSubscriptions");
    const sub = props(subscription);
    const filter = sub.filter as Json;
    expect(filter.includedEventTypes).toEqual([
      "Microsoft.Resources.ResourceWriteSuccess",
      "Microsoft.Resources.ResourceDeleteSuccess",
      "Microsoft.Resources.ResourceActionSuccess",
    ]);
    expect(azureOperationNameFilter(azure)).toEqual({
      operatorType: "StringBeginsWith",
      key: "data.operationName",
      values: derived.azureOperationPrefixes,
    });
    expect(sub.retryPolicy).toEqual({ maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 });

    // The destination is the Event Grid function functions/on-change.ts registers.
    const registered = /app\.eventGrid\("([^"]+)"/.exec(read("functions/on-change.ts"))?.[1];
    const nested = props(ofType("Microsoft.Resources/deployments")[0]).template as { variables: Json };
    expect(nested.variables.functionName).toBe(registered);
    expect(sub.destination).toMatchObject({
      endpointType: "AzureFunction",
      properties: {
        resourceId:
          "[format('{0}/functions/{1}', resourceId('Microsoft.Web/sites', variables('functionAppName')), variables('functionName'))]",
        maxEventsPerBatch: 1,
      },
    });

    // Dead letters go to a container the template creates, written with the topic's identity (no account keys).
    expect(sub.deadLetterWithResourceIdentity).toMatchObject({
      identity: { type: "SystemAssigned" },
      deadLetterDestination: {
        endpointType: "StorageBlob",
        properties: { blobContainerName: "[variables('deadLetterContainer')]" },
      },
    });
    const containers = ofType("Microsoft.Storage/storageAccounts/blobServices/containers").map((c) => c.name);
    expect(containers.some((n) => n.includes("variables('deadLetterContainer')"))).toBe(true);
    const deadLetterWriter = ofType("Microsoft.Authorization/roleAssignments").find((r) =>
      String(props(r).principalId).includes("Microsoft.EventGrid/systemTopics"),
    );
    expect(String(deadLetterWriter?.scope)).toContain("variables('deadLetterContainer')");
  });

  it("creates the alert outbox, its dead-letter (poison) queue and the sender's table, with data-plane roles only", () => {
    const nested = props(ofType("Microsoft.Resources/deployments")[0]).template as { variables: Json };
    const queues = ofType("Microsoft.Storage/storageAccounts/queueServices/queues").map((q) => q.name);
    expect(queues).toEqual([
      "[format('{0}/default/{1}', variables('storageAccountName'), variables('alertQueue'))]",
      // The Functions host's poison queue name for a trigger on that queue: the sender dead-letters there too.
      "[format('{0}/default/{1}-poison', variables('storageAccountName'), variables('alertQueue'))]",
      // The reconcile's pages and their poison queue.
      "[format('{0}/default/{1}', variables('storageAccountName'), variables('reconcileQueue'))]",
      "[format('{0}/default/{1}-poison', variables('storageAccountName'), variables('reconcileQueue'))]",
    ]);
    // The sender's table, and the decision claims every instance shares (shared/clouds/azure/decision-store.ts).
    expect(ofType("Microsoft.Storage/storageAccounts/tableServices/tables").map((t) => t.name)).toEqual([
      "[format('{0}/default/{1}', variables('storageAccountName'), variables('alertTable'))]",
      "[format('{0}/default/{1}', variables('storageAccountName'), variables('decisionsTable'))]",
    ]);
    // Table names: 3-63 alphanumerics, not starting with a digit.
    for (const name of ["alertTable", "decisionsTable"]) {
      expect(nested.variables[name]).toMatch(/^[A-Za-z][A-Za-z0-9]{2,62}$/);
    }
    const settings = nested.variables.baseSettings as { name: string; value: string }[];
    expect(settings).toEqual(
      expect.arrayContaining([
        { name: "GUARDIAN_ALERT_QUEUE", value: "[variables('alertQueue')]" },
        { name: "GUARDIAN_ALERT_TABLE", value: "[variables('alertTable')]" },
        { name: "GUARDIAN_DECISIONS_TABLE", value: "[variables('decisionsTable')]" },
        { name: "GUARDIAN_DECISION_TTL_SECONDS", value: "[string(parameters('decisionTtlSeconds'))]" },
      ]),
    );
    // The TTL parameter reaches the nested deployment, within what the configuration accepts.
    const [deployment] = ofType("Microsoft.Resources/deployments");
    expect((props(deployment).parameters as Json).decisionTtlSeconds).toEqual({
      value: "[parameters('decisionTtlSeconds')]",
    });
    expect(((azure as Json).parameters as Json).decisionTtlSeconds).toMatchObject({
      minValue: 60,
      maxValue: 2592000,
    });
    // The runtime reads the same settings: the decisions table through the alerts' table service URI.
    expect(read("shared/config.ts")).toContain("GUARDIAN_DECISIONS_TABLE");
    expect(read("shared/clouds/azure/runtime.ts")).toContain("new TableDecisionStore(");
    const [site] = ofType("Microsoft.Web/sites");
    const appSettings = String((props(site).siteConfig as Json).appSettings);
    expect(appSettings).toContain("'GUARDIAN_ALERTS_STORAGE__queueServiceUri'");
    expect(appSettings).toContain("'GUARDIAN_ALERTS_STORAGE__tableServiceUri'");
    // The trigger reads the same queue name and identity-based connection.
    const source = read("functions/send-alerts.ts");
    expect(source).toContain('queueName: "%GUARDIAN_ALERT_QUEUE%"');
    expect(source).toContain('connection: "GUARDIAN_ALERTS_STORAGE"');
    const roles = nested.variables.roles as Json;
    const granted = ofType("Microsoft.Authorization/roleAssignments").map((r) =>
      String(props(r).roleDefinitionId),
    );
    for (const role of ["storageQueueDataContributor", "storageTableDataContributor"]) {
      expect(roles[role]).toMatch(/^[0-9a-f-]{36}$/);
      expect(granted.some((g) => g.includes(`variables('roles').${role}`))).toBe(true);
    }
    const [rule] = ofType("Microsoft.Insights/scheduledQueryRules");
    expect(JSON.stringify(props(rule).criteria)).toContain("guardian.alert-deadletter");
  });

  it("lets through every fixture event the guardian acts on, and only events it would skip are filtered", () => {
    const dir = path.join(root, "test/fixtures/events/azure");
    // The subscription delivers the Event Grid schema; its filter keys are Event Grid schema paths.
    const files = readdirSync(dir).filter((f) => f.endsWith(".eventgrid.json"));
    // Only what the subscription system topic publishes; Resource Notifications is another topic, not deployed here.
    const fromThisTopic = (event: unknown) =>
      isRecord(event) &&
      typeof event.eventType === "string" &&
      event.eventType.startsWith("Microsoft.Resources.");
    const [subscription] = ofType("Microsoft.EventGrid/systemTopics/eventSubscriptions");
    const filter = props(subscription).filter as EventGridFilter;
    let acted = 0;
    let filtered = 0;
    for (const file of files) {
      const parsed: unknown = JSON.parse(readFileSync(path.join(dir, file), "utf8"));
      for (const event of (Array.isArray(parsed) ? parsed : [parsed]).filter(fromThisTopic)) {
        const actsOn = normaliseEventGrid(event).changes.length > 0;
        const passes = passesEventGridFilter(filter, event);
        if (actsOn) acted++;
        if (!passes) filtered++;
        if (actsOn) expect(passes, `${file}: ${JSON.stringify((event as Json).id)}`).toBe(true);
      }
    }
    expect(acted).toBeGreaterThan(2);
    // The filter does real work: the failure, the list-keys action and the deployment write never reach the function.
    expect(filtered).toBeGreaterThan(2);
  });
});

interface EventGridFilter {
  includedEventTypes: string[];
  advancedFilters: { operatorType: string; key: string; values: string[] }[];
}

/** Event Grid's event-type filter and the StringBeginsWith operator (case-insensitive, per event-filtering.md). */
function passesEventGridFilter(filter: EventGridFilter, event: unknown): boolean {
  if (!isRecord(event) || typeof event.eventType !== "string") return false;
  if (!filter.includedEventTypes.includes(event.eventType)) return false;
  return filter.advancedFilters.every((f) => {
    if (f.operatorType !== "StringBeginsWith") throw new Error(`unsupported operator ${f.operatorType}`);
    const value = f.key
      .split(".")
      .reduce<unknown>((node, part) => (isRecord(node) ? node[part] : undefined), event);
    return typeof value === "string" && f.values.some((v) => value.toLowerCase().startsWith(v.toLowerCase()));
  });
}
