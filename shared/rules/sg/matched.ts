// The `matched` entries the security group rules emit and the remediations read back. A Finding travels
// through audit, alerts and maybe a queue as plain JSON, so remediations re-validate what they read.

import * as z from "zod";
import type { IpPermission } from "./security-group.ts";

const permissionKey = {
  /** IpProtocol exactly as the group holds it (`tcp`, `6`, `-1`), since revokes must match it exactly. */
  protocol: z.string(),
  fromPort: z.number().int().optional(),
  toPort: z.number().int().optional(),
};

export const exposureMatchSchema = z.looseObject({
  ...permissionKey,
  cidr: z.string(),
  family: z.enum(["ipv4", "ipv6"]),
  /** The protected ports (or ranges) of the policy that this permission opens, e.g. ["22"]. */
  ports: z.array(z.string()).optional(),
  /** The Security Hub and CIS controls this part fails; empty for a specific public prefix. */
  controls: z.array(z.string()).optional(),
  /** A security group rule id (`sgr-...`), when whoever built the finding knew it; informative only. */
  ruleId: z.string().optional(),
  /** Set when the CIDR is an entry of this managed prefix list that the permission references, not its own. */
  prefixListId: z.string().optional(),
});
export type ExposureMatch = z.infer<typeof exposureMatchSchema>;

export const defaultRuleMatchSchema = z.looseObject({
  direction: z.enum(["ingress", "egress"]),
  ...permissionKey,
  cidr: z.string().optional(),
  prefixListId: z.string().optional(),
  groupId: z.string().optional(),
  userId: z.string().optional(),
});
export type DefaultRuleMatch = z.infer<typeof defaultRuleMatchSchema>;

/** The permission's key fields as a matched entry carries them (undefined ports are left out). */
export function keyOf(permission: IpPermission): { protocol: string; fromPort?: number; toPort?: number } {
  return {
    protocol: permission.IpProtocol,
    ...(permission.FromPort === undefined ? {} : { fromPort: permission.FromPort }),
    ...(permission.ToPort === undefined ? {} : { toPort: permission.ToPort }),
  };
}

/** Entries of `matched` that fit the schema; others (another rule's, or damaged) are ignored. */
export function parseMatched<T extends z.ZodType>(schema: T, matched: readonly unknown[]): z.infer<T>[] {
  return matched.flatMap((m) => {
    const parsed = schema.safeParse(m);
    return parsed.success ? [parsed.data] : [];
  });
}
