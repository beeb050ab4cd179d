// Alerts as the pipeline would build them for an NSG security-rule write by a user.
// Shapes: the actor fields come from an Event Grid Microsoft.Resources.ResourceWriteSuccess event (claims upn / object id,
// authorization.evidence.principalType "User", claims ipaddr; MicrosoftDocs/azure-docs articles/event-grid/
// event-schema-subscriptions.md); the matched security rule uses the ARM SecurityRule properties (Azure/azure-rest-api-specs
// Microsoft.Network networkSecurityGroup.json, example SecurityRuleCreate.json); the portal link is the
// `https://portal.azure.com/#@<tenant>/resource<id>` form the portal itself uses.

import type { Alert } from "../../../shared/notify/types.ts";
import type { ActionResult, Finding } from "../../../shared/types.ts";

export const NSG_ID =
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-qubole/providers/Microsoft.Network/networkSecurityGroups/nsg-bastion";

export function sshFinding(overrides: Partial<Finding> = {}): Finding {
  return {
    policyRule: "no-ssh-from-internet",
    ruleId: "azure-nsg-admin-ports-from-internet",
    resourceId: NSG_ID,
    resourceType: "microsoft.network/networksecuritygroups",
    severity: "high",
    message: "SSH open to the Internet",
    controls: ["CIS Azure 6.2"],
    matched: [
      {
        securityRule: "allow-ssh-anywhere",
        priority: 100,
        direction: "Inbound",
        access: "Allow",
        protocol: "Tcp",
        sourceAddressPrefix: "*",
        destinationPortRange: "22",
      },
    ],
    ...overrides,
  };
}

export function remediated(finding: Finding = sshFinding()): ActionResult {
  return {
    finding,
    mode: "remediate",
    outcome: "applied",
    reason: "mode remediate",
    planned: {
      remediation: "azure-nsg-delete-rule",
      resourceId: finding.resourceId,
      summary: "delete security rule allow-ssh-anywhere",
      operation: { delete: `${finding.resourceId}/securityRules/allow-ssh-anywhere` },
      before: { name: "allow-ssh-anywhere" },
      after: null,
    },
  };
}

export function dryRun(finding: Finding = sshFinding()): ActionResult {
  return { ...remediated(finding), outcome: "dry-run", reason: "dry-run switch is on" };
}

export function alertOnly(finding: Finding = sshFinding()): ActionResult {
  return { finding, mode: "alert", outcome: "skipped-mode", reason: "policy entry mode is alert" };
}

export function nsgAlert(results: ActionResult[], overrides: Partial<Alert> = {}): Alert {
  return {
    cloud: "azure",
    account: "00000000-0000-0000-0000-000000000000",
    resourceId: NSG_ID,
    resourceType: "microsoft.network/networksecuritygroups",
    operationName: "Microsoft.Network/networkSecurityGroups/securityRules/write",
    actor: {
      name: "alice@contoso.com",
      principalId: "9a8b7c6d-1111-2222-3333-444455556666",
      principalType: "User",
      sourceIp: "203.0.113.24",
    },
    eventId: "4a0b1c2d-3e4f-5061-7283-94a5b6c7d8e9",
    correlationId: "54ef1e39-6a82-44b3-abc1-bdeb6ce4d3c6",
    time: "2025-03-14T09:26:53.5897932Z",
    results,
    consoleUrl: `https://portal.azure.com/#@contoso.onmicrosoft.com/resource${NSG_ID}/overview`,
    dryRun: false,
    ...overrides,
  };
}

/** `n` distinct findings, one per offending rule, to push the renderers past their limits. */
export function manyResults(n: number): ActionResult[] {
  return Array.from({ length: n }, (_, i) =>
    remediated(
      sshFinding({
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
      }),
    ),
  );
}
