import { InputError } from "../errors.ts";
import { PRIVATE_LINK_SERVICE_TYPE } from "../rules/private-link/types.ts";
import { narrowed, type PlsList, plsList } from "../rules/private-link-service-lists.ts";
import type { Finding, PlannedChange, Snapshot } from "../types.ts";
import { matchedOf, type Remediation, type RemediationContext } from "./types.ts";

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Narrows a Private Link Service's `autoApproval` and `visibility` subscription lists to the allow-list: one PUT of
 * the service as freshly read, with only those lists changed, guarded by its etag.
 */
export const narrowPrivateLinkService: Remediation = {
  id: "narrow-private-link-service",
  description:
    "Narrow a Private Link Service's autoApproval and visibility lists to the allow-listed subscriptions",
  resourceTypes: [PRIVATE_LINK_SERVICE_TYPE],
  permissions: ["Microsoft.Network/privateLinkServices/write"],
  plan(snapshot: Snapshot, finding: Finding, _context: RemediationContext): PlannedChange | undefined {
    const lists = new Map<PlsList, string[]>();
    for (const raw of matchedOf(finding)) {
      if (!isRecord(raw)) continue;
      const { list, allowed: allowList } = raw;
      if ((list !== "autoApproval" && list !== "visibility") || !Array.isArray(allowList)) continue;
      // Narrowed from the list as it is now (a fresh read), to the allow-list the rule applied.
      const allowed = allowList.filter((s): s is string => typeof s === "string");
      const now = plsList(snapshot, list);
      const want = narrowed(now, allowed);
      if (now.length !== want.length || now.some((s, i) => s !== want[i])) lists.set(list, want);
    }
    if (lists.size === 0) return undefined;
    const resource = snapshot.resource;
    if (!isRecord(resource) || !isRecord(resource.properties)) {
      throw new InputError(`narrow-private-link-service: ${snapshot.resourceId} has no properties`);
    }
    const body = structuredClone(resource) as Record<string, unknown> & {
      properties: Record<string, unknown>;
    };
    const before: Record<string, string[]> = {};
    const after: Record<string, string[]> = {};
    for (const [list, want] of lists) {
      before[list] = plsList(snapshot, list);
      after[list] = want;
      const holder = isRecord(body.properties[list])
        ? (body.properties[list] as Record<string, unknown>)
        : {};
      body.properties[list] = { ...holder, subscriptions: want };
    }
    return {
      remediation: "narrow-private-link-service",
      resourceId: snapshot.resourceId,
      summary: [...lists]
        .map(([list, want]) => `${list} ${JSON.stringify(before[list])} → ${JSON.stringify(want)}`)
        .join("; "),
      operation: { kind: "put-private-link-service", serviceId: snapshot.resourceId, body },
      before,
      after,
      complete: true,
    };
  },
};
