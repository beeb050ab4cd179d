// The allow-list of who may connect, shared by the provider-side rule (who may connect to our resources) and the
// consumer-side rule (what our endpoints may connect to). Every criterion an entry names must hold (AND); a criterion
// left out does not constrain. An entry naming no criterion at all is refused by the schema: it would allow anyone.

import * as z from "zod";
import { anyGlob } from "./glob.ts";

const guid = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, "expected a GUID");

/** Who is asking: the requesting private endpoint, by its id and what the id says. */
export const requesterCriteria = {
  subscriptions: z.array(guid).min(1).optional().describe("Requesting endpoint's subscription ids"),
  tenants: z
    .array(guid)
    .min(1)
    .optional()
    .describe(
      "Requesting endpoint's tenant ids (as resolved for its subscription; unresolved never matches)",
    ),
  resourceGroups: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe("Requesting endpoint's resource group names, `*` wildcards, case-insensitive"),
  endpointIds: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe("Requesting private endpoint id patterns, `*` wildcards, case-insensitive"),
};

export interface Requester {
  endpointId?: string;
  subscriptionId?: string;
  resourceGroup?: string;
  tenantId?: string;
  /** Why the tenant is not known (set instead of tenantId when it could not be resolved). */
  tenantUnknown?: string;
}

/**
 * An entry's verdict on a requester: it matches, it does not, or it would if the requester's tenant were known
 * (every other criterion holds and the entry names tenants). An undetermined entry must neither allow nor, by being
 * passed over, let a later entry or the default reject: rejection is final.
 */
export type Verdict = "match" | "no" | "unknown";

export interface RequesterCriteria {
  subscriptions?: readonly string[] | undefined;
  tenants?: readonly string[] | undefined;
  resourceGroups?: readonly string[] | undefined;
  endpointIds?: readonly string[] | undefined;
}

const lowerIn = (list: readonly string[], value: string | undefined) =>
  value !== undefined && list.some((x) => x.toLowerCase() === value.toLowerCase());

/** True when every criterion the entry names holds for the requester (an unknown value never matches). */
export function requesterMatches(c: RequesterCriteria, r: Requester): boolean {
  return requesterVerdict(c, r) === "match";
}

/** Whether the entry covers the requester; "unknown" when only the unresolved tenant stands between. */
export function requesterVerdict(c: RequesterCriteria, r: Requester): Verdict {
  if (c.subscriptions && !lowerIn(c.subscriptions, r.subscriptionId)) return "no";
  if (c.resourceGroups && !anyGlob(c.resourceGroups, r.resourceGroup)) return "no";
  if (c.endpointIds && !anyGlob(c.endpointIds, r.endpointId)) return "no";
  if (c.tenants) {
    if (r.tenantId !== undefined) return lowerIn(c.tenants, r.tenantId) ? "match" : "no";
    // No subscription to resolve (the endpoint is gone): nothing will ever say its tenant.
    return r.subscriptionId === undefined ? "no" : "unknown";
  }
  return "match";
}

export function namesCriterion(c: Record<string, unknown>, keys: readonly string[]): boolean {
  return keys.some((k) => c[k] !== undefined);
}
