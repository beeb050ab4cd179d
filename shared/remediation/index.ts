import { deleteRule } from "./nsg-delete-rule.ts";
import { denyRule } from "./nsg-deny-rule.ts";
import { restrictSource } from "./nsg-restrict-source.ts";
import { revokeAll } from "./sg-revoke-all.ts";
import { revokeCidr } from "./sg-revoke-cidr.ts";
import type { Remediation } from "./types.ts";

/** Every remediation, keyed by the id a policy names. One line per remediation. */
export const remediationRegistry = {
  "delete-rule": deleteRule,
  "deny-rule": denyRule,
  "restrict-source": restrictSource,
  "revoke-cidr": revokeCidr,
  "revoke-all": revokeAll,
} satisfies Record<string, Remediation>;

export function remediationById(id: string): Remediation | undefined {
  return (remediationRegistry as Record<string, Remediation>)[id];
}
