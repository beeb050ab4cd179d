// Provider side of Private Link: who may connect to our resources. Every pending request is decided by the first
// allow entry that matches it (approve, reject or hold); a request nobody listed is held and alerted, because Azure
// cannot approve a rejected connection again (the requester must create a new endpoint), so rejection is opt-in.
// Approved connections are evaluated too: one whose requester is no longer allowed is a finding (alerted; the policy
// may reject it). An entry by tenant needs the requester's tenant, resolved before evaluating (context.tenantOf): when
// it cannot be, the entry decides nothing and neither may any after it: the request is held, never approved on a
// guess and never rejected (final) on one.
//
// An entry by `groupIds` (sub-resources: blob, dfs, vault, sqlServer) needs the sub-resource requested. SQL and
// Cosmos DB record it on the connection (`groupIds`, `groupId`); Storage, Key Vault and Private Link Service
// connections do not (their REST specs' PrivateEndpointConnectionProperties have no such field), so it is read from
// the requesting private endpoint (`context.related`, read by the pipeline only when such an entry needs it): the
// `groupIds` of its connections whose `privateLinkServiceId` names this resource. That endpoint often lives in the
// requester's subscription or tenant (Databricks): one the guardian may not read (403/401), that no longer exists
// (404) or that was not read (offline) leaves the sub-resource unknown, which holds the request exactly as an
// unresolved tenant does.
import * as z from "zod";
import { groupIdsRequestedOf } from "../clouds/azure/private-link/requesters.ts";
import type { Snapshot } from "../types.ts";
import { type Requester, requesterCriteria, requesterVerdict, type Verdict } from "./private-link/allow.ts";
import { type ConnectionView, connectionsOf, isStatus } from "./private-link/connections.ts";
import { anyGlob } from "./private-link/glob.ts";
import { CONNECTION_TARGET_TYPES, PRIVATE_ENDPOINT_TYPE } from "./private-link/types.ts";
import type { RuleContext, RuleDefinition, Violation } from "./types.ts";

const REQUESTER_KEYS = ["subscriptions", "tenants", "resourceGroups", "endpointIds"] as const;

const allowEntry = z
  .strictObject({
    name: z.string().min(1).describe("Names the entry in alerts and in the decision's description"),
    ...requesterCriteria,
    groupIds: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe(
        "Sub-resources the request may ask for (blob, dfs, vault, sqlServer), case-insensitive: SQL and Cosmos DB " +
          "connections record them; for Storage, Key Vault and Private Link Services they are read from the " +
          "requesting private endpoint, and a request whose endpoint cannot be read is held",
      ),
    targets: z
      .strictObject({
        types: z
          .array(z.string().min(1))
          .min(1)
          .optional()
          .describe("ARM types of our resource, case-insensitive"),
        resourceIds: z.array(z.string().min(1)).min(1).optional().describe("Our resource id patterns (`*`)"),
        tags: z.record(z.string(), z.string()).optional().describe("Tags our resource must carry"),
      })
      .optional()
      .describe("Which of our resources this entry covers; all in the policy entry's scope when left out"),
    decision: z.enum(["approve", "reject", "hold"]).default("approve"),
  })
  .refine((e) => REQUESTER_KEYS.some((k) => e[k] !== undefined), {
    message: `name at least one of ${REQUESTER_KEYS.join(", ")}: an entry without one would match every requester`,
  });

export const privateEndpointConnectionsOptions = z.strictObject({
  allow: z.array(allowEntry).default([]).describe("First match decides; order matters"),
  unlisted: z
    .enum(["hold", "reject"])
    .default("hold")
    .describe(
      "A pending request no entry matches: hold (leave pending, alert) or reject (final: never approvable again)",
    ),
  noLongerAllowed: z
    .enum(["alert", "reject"])
    .default("alert")
    .describe("An approved connection no approve entry matches any more: alert, or reject it"),
});

type Options = z.infer<typeof privateEndpointConnectionsOptions>;
type AllowEntry = Options["allow"][number];
type Decision = "approve" | "reject" | "hold";

function targetMatches(entry: AllowEntry, snapshot: Snapshot): boolean {
  const t = entry.targets;
  if (!t) return true;
  if (t.types && !t.types.some((x) => x.toLowerCase() === snapshot.resourceType)) return false;
  if (t.resourceIds && !anyGlob(t.resourceIds, snapshot.resourceId)) return false;
  for (const [k, v] of Object.entries(t.tags ?? {})) {
    if (!Object.hasOwn(snapshot.tags, k) || snapshot.tags[k] !== v) return false;
  }
  return true;
}

/** The sub-resources a connection asks for, where they were found, or why they are not known. */
export type GroupsRequested =
  | { groupIds: string[]; from: "connection" | "private endpoint" }
  | { unknown: string };

/**
 * The sub-resources requested: the connection's own (SQL, Cosmos DB), else those its requesting private endpoint asks
 * of this resource (read through `context.related`); unknown, with the reason, when that endpoint could not be read.
 */
export function groupsRequested(
  c: ConnectionView,
  snapshot: Snapshot,
  context?: Pick<RuleContext, "related">,
): GroupsRequested {
  if (c.groupIds && c.groupIds.length > 0) return { groupIds: c.groupIds, from: "connection" };
  const endpointId = c.privateEndpointId;
  if (!endpointId) return { unknown: "the connection names no private endpoint (it was deleted)" };
  const endpoint = context?.related?.(endpointId);
  if (endpoint === undefined)
    return { unknown: `the provider does not report it and the private endpoint ${endpointId} was not read` };
  if (endpoint === null)
    return {
      unknown: `the provider does not report it and the private endpoint ${endpointId} no longer exists (404)`,
    };
  if ("unreadable" in endpoint)
    return {
      unknown: `the provider does not report it and the private endpoint could not be read: ${endpoint.unreadable}`,
    };
  const props = snapshot.resource as { properties?: { alias?: unknown } } | undefined;
  const alias = typeof props?.properties?.alias === "string" ? props.properties.alias : undefined;
  const asked = groupIdsRequestedOf(endpoint, {
    resourceId: snapshot.resourceId,
    ...(alias ? { alias } : {}),
  });
  if (asked === undefined)
    return { unknown: `the private endpoint ${endpointId} names no connection to this resource` };
  return { groupIds: asked, from: "private endpoint" };
}

/**
 * Whether the entry's sub-resources cover the request: every one requested must be listed. "unknown" when the
 * sub-resource could not be determined; "no" when the request names none (a Private Link Service has none to list).
 */
function groupsVerdict(entry: AllowEntry, requested: GroupsRequested): Verdict {
  if (!entry.groupIds) return "match";
  if ("unknown" in requested) return "unknown";
  if (requested.groupIds.length === 0) return "no";
  const allowed = new Set(entry.groupIds.map((g) => g.toLowerCase()));
  return requested.groupIds.every((g) => allowed.has(g.toLowerCase())) ? "match" : "no";
}

/** The requester as the connection and the resolved tenants say; `tenantUnknown` says why its tenant is not known. */
export function requesterOf(c: ConnectionView, context?: Pick<RuleContext, "tenantOf">): Requester {
  const lookup = c.subscriptionId ? context?.tenantOf?.(c.subscriptionId.toLowerCase()) : undefined;
  return {
    ...(c.privateEndpointId ? { endpointId: c.privateEndpointId } : {}),
    ...(c.subscriptionId ? { subscriptionId: c.subscriptionId } : {}),
    ...(c.resourceGroup ? { resourceGroup: c.resourceGroup } : {}),
    ...(lookup && "tenantId" in lookup
      ? { tenantId: lookup.tenantId }
      : { tenantUnknown: lookup?.unresolved ?? "it was not looked up" }),
  };
}

/**
 * The first allow entry covering this connection to this resource, or the first one that would if what is unknown
 * were known (`undetermined`, with why: the requester's tenant, the sub-resource requested): entries after it cannot
 * decide, since first match wins.
 */
export function matchingEntry(
  options: Options,
  snapshot: Snapshot,
  c: ConnectionView,
  context?: Pick<RuleContext, "tenantOf" | "related">,
): { entry?: AllowEntry; undetermined?: AllowEntry; tenantUnknown?: string; groupsUnknown?: string } {
  const requester = requesterOf(c, context);
  let groups: GroupsRequested | undefined;
  for (const e of options.allow) {
    if (!targetMatches(e, snapshot)) continue;
    const byRequester = requesterVerdict(e, requester);
    if (byRequester === "no") continue;
    groups ??= e.groupIds ? groupsRequested(c, snapshot, context) : undefined;
    const byGroups = groupsVerdict(e, groups ?? { groupIds: [], from: "connection" });
    if (byGroups === "no") continue;
    if (byRequester === "match" && byGroups === "match") return { entry: e };
    return {
      undetermined: e,
      ...(byRequester === "unknown" ? { tenantUnknown: requester.tenantUnknown ?? "unknown" } : {}),
      ...(byGroups === "unknown" && groups && "unknown" in groups ? { groupsUnknown: groups.unknown } : {}),
    };
  }
  return {};
}

/**
 * Pure: the requesting private endpoints an entry by groupIds may need read: those of pending and approved connections
 * that record no sub-resource, whose requester such an entry covering this resource does not already rule out (the
 * tenant is not known here: an entry that could match but for it still needs the endpoint).
 */
function endpointsNeeded(snapshot: Snapshot, options: Options): string[] {
  const entries = options.allow.filter((e) => e.groupIds !== undefined && targetMatches(e, snapshot));
  if (entries.length === 0) return [];
  const ids = connectionsOf(snapshot).flatMap((c) =>
    (isStatus(c, "Pending") || isStatus(c, "Approved")) &&
    (c.groupIds === undefined || c.groupIds.length === 0) &&
    c.privateEndpointId !== undefined &&
    entries.some((e) => requesterVerdict(e, requesterOf(c)) !== "no")
      ? [c.privateEndpointId]
      : [],
  );
  return [...new Set(ids)];
}

/** Pure: the requesters' subscriptions, when an entry names tenants (nothing is looked up otherwise). */
function tenantsNeeded(snapshot: Snapshot, options: Options): string[] {
  if (!options.allow.some((e) => e.tenants !== undefined)) return [];
  const subs = connectionsOf(snapshot)
    .filter((c) => isStatus(c, "Pending") || isStatus(c, "Approved"))
    .flatMap((c) => (c.subscriptionId ? [c.subscriptionId.toLowerCase()] : []));
  return [...new Set(subs)];
}

function who(c: ConnectionView, r: Requester): string {
  const endpoint = c.privateEndpointId ?? "an endpoint that no longer exists";
  if (!c.subscriptionId) return endpoint;
  return `${endpoint} (subscription ${c.subscriptionId}${r.tenantId ? `, tenant ${r.tenantId}` : ""})`;
}

/** The sub-resources for the alert and audit: as the connection says, or, when an entry judges them, as determined. */
function groupsView(
  c: ConnectionView,
  snapshot: Snapshot,
  context: RuleContext,
  determined: boolean,
): { groupIds: string[] | null; groupIdsFrom?: string; groupIdsUnknown?: string } {
  if (c.groupIds && c.groupIds.length > 0) return { groupIds: c.groupIds, groupIdsFrom: "connection" };
  if (!determined || !context.related) return { groupIds: null };
  const requested = groupsRequested(c, snapshot, context);
  return "unknown" in requested
    ? { groupIds: null, groupIdsUnknown: requested.unknown }
    : { groupIds: requested.groupIds, groupIdsFrom: requested.from };
}

function evaluate(snapshot: Snapshot, options: Options, context: RuleContext): Violation[] {
  const out: Violation[] = [];
  // Whether an entry judged the sub-resource: then the alert shows what it was found to be, or why it is unknown.
  const byGroups = options.allow.some((e) => e.groupIds !== undefined && targetMatches(e, snapshot));
  for (const c of connectionsOf(snapshot)) {
    const pending = isStatus(c, "Pending");
    if (!pending && !isStatus(c, "Approved")) continue;
    const requester = requesterOf(c, context);
    const { entry, undetermined, tenantUnknown, groupsUnknown } = matchingEntry(
      options,
      snapshot,
      c,
      context,
    );
    const groups = groupsView(c, snapshot, context, byGroups);
    // What the request asks for, when an entry by groupIds judged it: why no such entry covered it.
    const asks =
      !entry && Array.isArray(groups.groupIds) && groups.groupIds.length > 0
        ? ` for sub-resources ${groups.groupIds.join(", ")}`
        : "";
    let decision: Decision;
    let why: string;
    if (undetermined) {
      // Neither approve on a guess nor reject (final) on one: leave it as it is and say why.
      decision = "hold";
      const unknowns = [
        ...(tenantUnknown === undefined
          ? []
          : [`names tenants and the requester's tenant could not be determined (${tenantUnknown})`]),
        ...(groupsUnknown === undefined
          ? []
          : [
              `names sub-resources (groupIds) and the sub-resource requested could not be determined (${groupsUnknown})`,
            ]),
      ];
      why = `allow entry ${undetermined.name} ${unknowns.join(", and ")}`;
    } else if (pending) {
      decision = entry?.decision ?? options.unlisted;
      why = entry
        ? `allow entry ${entry.name} says ${entry.decision}`
        : `the requester is not allow-listed${asks}`;
    } else {
      if (entry?.decision === "approve") continue;
      decision = entry?.decision === "reject" || options.noLongerAllowed === "reject" ? "reject" : "hold";
      why = entry
        ? `allow entry ${entry.name} says ${entry.decision}`
        : `the requester is no longer allow-listed${asks}`;
    }
    const verb = decision === "approve" ? "Approve" : decision === "reject" ? "Reject" : "Hold for review";
    out.push({
      // The decision first: `guardian evaluate` shows what it would approve, hold or reject at a glance.
      message: `${verb}: ${pending ? "pending request" : "approved connection"} ${c.name} from ${who(c, requester)} (${why})`,
      // One connection in one state with one decision: a duplicate delivery or the sweep decides it once.
      key: `${c.id.toLowerCase()}|${c.status.toLowerCase()}|${decision}`,
      matched: [
        {
          connection: c.id,
          name: c.name,
          status: c.status,
          privateEndpointId: c.privateEndpointId ?? null,
          requesterSubscription: c.subscriptionId ?? null,
          requesterResourceGroup: c.resourceGroup ?? null,
          ...(requester.tenantId ? { requesterTenant: requester.tenantId } : {}),
          ...(tenantUnknown === undefined ? {} : { requesterTenantUnknown: tenantUnknown }),
          ...groups,
          decision,
          allowEntry: (entry ?? undetermined)?.name ?? null,
          why,
        },
      ],
    });
  }
  return out;
}

export const privateEndpointConnections = {
  id: "private-endpoint-connections",
  description:
    "Private endpoint connections to our resources: pending requests approved, rejected or held per the allow-list " +
    "(unlisted requesters held and alerted), approved connections whose requester is no longer allowed reported",
  cloud: "azure",
  resourceTypes: CONNECTION_TARGET_TYPES,
  controls: ["MCSB NS-2"],
  options: privateEndpointConnectionsOptions,
  // The requesting private endpoint is read only for an allow entry by groupIds, when the provider does not record the
  // sub-resource on the connection (Storage, Key Vault, Private Link Service).
  permissions: ["Microsoft.Network/privateEndpoints/read"],
  remediations: ["decide-private-endpoint-connection"],
  tenantsNeeded,
  reads: (snapshot, options) =>
    endpointsNeeded(snapshot, options).length > 0 ? [PRIVATE_ENDPOINT_TYPE] : [],
  readsOnly: endpointsNeeded,
  example: [
    "- name: private-link-requests",
    "  rule: private-endpoint-connections",
    "  mode: remediate",
    "  severity: high",
    "  options:",
    "    allow:",
    "      - name: databricks-serverless",
    "        subscriptions: ['3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f']",
    "        # Storage does not record the sub-resource on the connection: it is read from the requesting private",
    "        # endpoint, and a request whose endpoint the guardian may not read (another tenant) is held, with why.",
    "        # SQL (sqlServer) and Cosmos DB (Sql, MongoDB, ...) record it on the connection.",
    "        groupIds: [blob, dfs]",
    "        targets: { types: [Microsoft.Storage/storageAccounts] }",
    "      - name: our-own-vnets",
    "        tenants: ['72f988bf-86f1-41af-91ab-2d7cd011db47']",
    "    unlisted: hold",
    "    noLongerAllowed: alert",
    "",
  ].join("\n"),
  evaluate,
} satisfies RuleDefinition<typeof privateEndpointConnectionsOptions>;
