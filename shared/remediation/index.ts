import type { ActionResult } from "../types.ts";
import { decideConnection } from "./decide-connection.ts";
import { decidePrivateEndpointConnection } from "./decide-private-endpoint-connection.ts";
import { deleteRule } from "./delete-rule.ts";
import { denyRule } from "./deny-rule.ts";
import { narrowPrivateLinkService } from "./narrow-private-link-service.ts";
import { nsgEgressDelete } from "./nsg-egress-delete.ts";
import { nsgEgressDeny } from "./nsg-egress-deny.ts";
import { removePrincipals } from "./remove-principals.ts";
import { removePrivateEndpoint } from "./remove-private-endpoint.ts";
import { requireAcceptance } from "./require-acceptance.ts";
import { restrictSource } from "./restrict-source.ts";
import { revokeAll } from "./revoke-all.ts";
import { revokeCidr } from "./revoke-cidr.ts";
import { sepRemoveResources } from "./sep-remove-resources.ts";
import { storageCloseNetwork } from "./storage-close-network.ts";
import { subnetRestore } from "./subnet-restore.ts";
import type { Remediation, UndoStep, UndoWhere } from "./types.ts";

/** Every remediation, keyed by the id a policy names. One line per remediation. */
export const remediationRegistry = {
  "delete-rule": deleteRule,
  "deny-rule": denyRule,
  "restrict-source": restrictSource,
  "revoke-cidr": revokeCidr,
  "revoke-all": revokeAll,
  "storage-close-network": storageCloseNetwork,
  "decide-private-endpoint-connection": decidePrivateEndpointConnection,
  "narrow-private-link-service": narrowPrivateLinkService,
  "remove-private-endpoint": removePrivateEndpoint,
  "subnet-restore": subnetRestore,
  "sep-remove-resources": sepRemoveResources,
  "nsg-egress-delete": nsgEgressDelete,
  "nsg-egress-deny": nsgEgressDeny,
  "require-acceptance": requireAcceptance,
  "remove-principals": removePrincipals,
  "decide-connection": decideConnection,
} satisfies Record<string, Remediation>;

export function remediationById(id: string): Remediation | undefined {
  // Own properties only: an id such as `toString` must not reach Object.prototype.
  return Object.hasOwn(remediationRegistry, id)
    ? (remediationRegistry as Record<string, Remediation>)[id]
    : undefined;
}

/** The undo step of an applied remediation, bounded like every alert field; undefined when it offers none. */
export function undoFor(result: ActionResult, where: UndoWhere): UndoStep | undefined {
  const planned = result.planned;
  const undo = planned ? remediationById(planned.remediation)?.undo?.(planned, where) : undefined;
  if (!undo) return undefined;
  return {
    ...(undo.command ? { command: undo.command.slice(0, 4000) } : {}),
    ...(undo.portal ? { portal: undo.portal.slice(0, 1000) } : {}),
  };
}
