// Decisions of every kind, made the way the pipeline makes them (an Alert through decisionsOf), on an Azure NSG and an
// AWS security group. Shapes: see alert-fixtures.ts (Event Grid actor claims, ARM SecurityRule) and, for AWS, a
// DescribeSecurityGroups IpPermission and a CloudTrail AssumedRole caller. The "hostile" variants carry names an
// attacker may choose: a security group name may hold `[]()`, `:`, `/` and `.` (EC2 allows a-z A-Z 0-9, spaces and
// ._-:/()#,@[]+=&;{}!$*), tag values anything.

import type { AlertDecision } from "../../../shared/notify/model.ts";
import { decisionsOf } from "../../../shared/notify/model.ts";
import type { Alert } from "../../../shared/notify/types.ts";
import { undoFor } from "../../../shared/remediation/index.ts";
import type { ActionResult, Finding } from "../../../shared/types.ts";
import { NSG_ID, nsgAlert, sshFinding } from "./alert-fixtures.ts";

export const HOSTILE = "[approve exemption](https://evil.example)";
const DECIDED = new Date("2025-03-14T09:26:55.000Z");

const SSH_RULE = {
  name: "allow-ssh-anywhere",
  id: `${NSG_ID}/securityRules/allow-ssh-anywhere`,
  etag: 'W/"00000000-0000-0000-0000-000000000001"',
  properties: {
    protocol: "Tcp",
    sourcePortRange: "*",
    destinationPortRange: "22",
    sourceAddressPrefix: "*",
    destinationAddressPrefix: "*",
    access: "Allow",
    priority: 100,
    direction: "Inbound",
    description: "temporary: vendor's support session",
  },
};

function nsgResult(
  outcome: string,
  finding: Finding = sshFinding(),
  mode: ActionResult["mode"] = "remediate",
): ActionResult {
  const planned = {
    remediation: "delete-rule",
    resourceId: NSG_ID,
    summary: "delete security rule allow-ssh-anywhere (it allowed Tcp 22 from *)",
    operation: { kind: "delete-security-rule", nsgId: NSG_ID, ruleName: "allow-ssh-anywhere" },
    before: SSH_RULE,
    after: null,
  };
  const reasons: Record<string, string> = {
    applied: "policy entry no-ssh-from-internet is in remediate mode (delete-rule)",
    "dry-run": "dry-run: nothing was changed",
    "skipped-mode": "mode alert: not remediated",
    "skipped-exempt": "tag guardian:exempt=no-ssh-from-internet",
    "skipped-cap": "blast-radius cap: at most 10 writes per event",
    failed: "ARM answered 403 AuthorizationFailed for securityRules/delete",
    approved: "the requesting subscription is in the policy's allow-list",
    rejected: "the requesting subscription is not in the policy's allow-list",
  };
  const withPlan = ["applied", "dry-run", "skipped-cap", "failed", "approved", "rejected"].includes(outcome);
  return {
    finding,
    mode,
    outcome: outcome as ActionResult["outcome"],
    reason: reasons[outcome] ?? outcome,
    ...(withPlan ? { planned } : {}),
  };
}

function azure(results: ActionResult[], overrides: Partial<Alert> = {}): Alert {
  return nsgAlert(results, {
    region: "westeurope",
    resourceGroup: "rg-qubole",
    tags: { owner: "data-platform@contoso.com", env: "prod" },
    ...overrides,
  });
}

const SG_ID = "sg-0a1b2c3d4e5f60718";
const SG_PERMISSION = {
  IpProtocol: "tcp",
  FromPort: 22,
  ToPort: 22,
  IpRanges: [{ CidrIp: "10.0.0.0/16", Description: "vpc" }, { CidrIp: "0.0.0.0/0" }],
  Ipv6Ranges: [],
  PrefixListIds: [],
  UserIdGroupPairs: [],
};

function awsAlert(name: string, tags: Record<string, string>, actor: Alert["actor"]): Alert {
  const finding: Finding = {
    policyRule: "no-admin-ports-from-world",
    ruleId: "sg-ingress-exposure",
    resourceId: SG_ID,
    resourceType: "aws:ec2:security-group",
    severity: "critical",
    message: "tcp 22 open to 0.0.0.0/0",
    controls: ["AWS Security Hub EC2.13", "CIS AWS 5.2"],
    matched: [
      { direction: "ingress", protocol: "tcp", fromPort: 22, toPort: 22, cidr: "0.0.0.0/0", family: "ipv4" },
    ],
  };
  return {
    cloud: "aws",
    account: "123456789012",
    region: "us-east-1",
    resourceId: SG_ID,
    resourceName: name,
    resourceType: "aws:ec2:security-group",
    tags,
    operationName: "AuthorizeSecurityGroupIngress",
    actor,
    eventId: "6f0d0e39-7c3a-4a0e-9d6b-9c1f1b2e3a4d",
    time: "2025-03-14T09:30:12Z",
    results: [
      {
        finding,
        mode: "remediate",
        outcome: "applied",
        reason: "policy entry no-admin-ports-from-world is in remediate mode (revoke-cidr)",
        planned: {
          remediation: "revoke-cidr",
          resourceId: SG_ID,
          summary: `revoke ingress tcp 22 from 0.0.0.0/0 on ${SG_ID}; other sources stay`,
          complete: true,
          operation: { kind: "revoke-security-group-ingress", groupId: SG_ID },
          before: [SG_PERMISSION],
          after: [{ ...SG_PERMISSION, IpRanges: [{ CidrIp: "10.0.0.0/16", Description: "vpc" }] }],
        },
      },
    ],
    consoleUrl: `https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#SecurityGroup:groupId=${SG_ID}`,
    dryRun: false,
  };
}

const ENGINEER = {
  name: "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_NetworkAdmin_5f3c2a1b9d8e7f60/priya.raman@example.com",
  principalId: "AROAEXAMPLEROLEID1234:priya.raman@example.com",
  principalType: "AssumedRole",
  appId:
    "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_NetworkAdmin_5f3c2a1b9d8e7f60",
  sourceIp: "198.51.100.77",
};

const one = (alert: Alert): AlertDecision[] => decisionsOf(alert, DECIDED, undoFor);

/** One golden case per decision kind, plus the AWS ones and the hostile ones. */
export function goldenCases(): Record<string, AlertDecision[]> {
  return {
    "azure-remediated": one(azure([nsgResult("applied")])),
    "azure-dry-run": one(azure([nsgResult("dry-run")], { dryRun: true })),
    "azure-alerted": one(azure([nsgResult("skipped-mode", sshFinding(), "alert")])),
    "azure-approved": one(azure([nsgResult("approved")])),
    "azure-rejected": one(azure([nsgResult("rejected")])),
    "azure-held": one(azure([nsgResult("skipped-cap")])),
    "azure-exempt": one(azure([nsgResult("skipped-exempt", sshFinding(), "remediate")])),
    "azure-failed": one(azure([nsgResult("failed")])),
    "aws-remediated": one(awsAlert("qubole-bastion", { owner: "platform-team" }, ENGINEER)),
    "aws-hostile": one(
      awsAlert(
        HOSTILE,
        { owner: `<https://evil.example|${HOSTILE}>`, "*bold*": "_x_ `y`" },
        {
          ...ENGINEER,
          name: `<!channel> ${HOSTILE} \`rm -rf\``,
        },
      ),
    ),
    "azure-hostile": one(
      azure([nsgResult("applied", sshFinding({ message: `SSH open on ${HOSTILE}` }))], {
        resourceName: HOSTILE,
        tags: { owner: HOSTILE },
        actor: { name: `**${HOSTILE}** <at>everyone</at>`, sourceIp: "203.0.113.24" },
      }),
    ),
  };
}

/** `n` decisions about one NSG (a storm of rule writes, each its own event), to push renderers past their limits. */
export function storm(n: number): AlertDecision[] {
  return Array.from({ length: n }, (_, i) => {
    const finding = sshFinding({
      policyRule: `no-admin-ports-${i}`,
      message: `Port ${1000 + i} open to the Internet`,
      severity: i % 2 === 0 ? "high" : "medium",
      matched: [
        {
          securityRule: `allow-${i}`,
          sourceAddressPrefix: "0.0.0.0/0",
          destinationPortRange: String(1000 + i),
        },
      ],
    });
    return one(azure([nsgResult("applied", finding)], { eventId: `evt-${i}` }))[0] as AlertDecision;
  });
}
