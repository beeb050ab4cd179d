// How to put a PrivateLink remediation back: the `aws ec2` command that restores what the guardian changed (from the
// planned operation and its audited before-state), shell-quoted, and the console step. An accepted connection can be
// rejected again; a rejected request cannot be accepted again (AWS keeps it rejected: the consumer must ask anew).
import type { UndoStep, UndoWhere } from "../../remediation/types.ts";
import { shellQuote } from "../../shell.ts";
import type { PlannedChange } from "../../types.ts";

const CONSOLE = "VPC console → Endpoint services";

function command(action: string, where: UndoWhere, args: string[]): string {
  return [
    `aws ec2 ${action}`,
    ...(where.region ? [`--region ${shellQuote(where.region)}`] : []),
    ...args,
  ].join(" \\\n  ");
}

const text = (v: unknown): string | undefined => (typeof v === "string" && v.length > 0 ? v : undefined);

/** require-acceptance: turn automatic acceptance back on. */
export function undoRequireAcceptance(planned: PlannedChange, where: UndoWhere): UndoStep | undefined {
  const service = text(planned.operation.serviceId);
  if (!service) return undefined;
  return {
    command: command("modify-vpc-endpoint-service-configuration", where, [
      `--service-id ${shellQuote(service)}`,
      "--no-acceptance-required",
    ]),
    portal: `${CONSOLE} → ${service} → Actions → Modify endpoint acceptance setting → clear "Acceptance required"`,
  };
}

/** remove-principals: allow again exactly the principals removed. */
export function undoRemovePrincipals(planned: PlannedChange, where: UndoWhere): UndoStep | undefined {
  const service = text(planned.operation.serviceId);
  const removed = planned.operation.removeAllowedPrincipals;
  if (!service || !Array.isArray(removed) || removed.length === 0) return undefined;
  return {
    command: command("modify-vpc-endpoint-service-permissions", where, [
      `--service-id ${shellQuote(service)}`,
      `--add-allowed-principals ${shellQuote(JSON.stringify(removed))}`,
    ]),
    portal: `${CONSOLE} → ${service} → Allow principals → add ${removed.join(", ")}`,
  };
}

/** decide-connection: an acceptance is undone by rejecting the connection; a rejection cannot be undone. */
export function undoDecideConnection(planned: PlannedChange, where: UndoWhere): UndoStep | undefined {
  const service = text(planned.operation.serviceId);
  const ids = planned.operation.vpcEndpointIds;
  if (!service || !Array.isArray(ids) || ids.length === 0) return undefined;
  if (planned.decision === "approved") {
    return {
      command: command("reject-vpc-endpoint-connections", where, [
        `--service-id ${shellQuote(service)}`,
        `--vpc-endpoint-ids ${ids.map((id) => shellQuote(String(id))).join(" ")}`,
      ]),
      portal: `${CONSOLE} → ${service} → Endpoint connections → ${ids.join(", ")} → Actions → Reject endpoint connection request`,
    };
  }
  if (planned.decision === "rejected") {
    return {
      portal: `a rejected request cannot be accepted again: the owner of ${ids.join(", ")} creates a new endpoint to ${service}, and the guardian decides on that request`,
    };
  }
  return undefined;
}
