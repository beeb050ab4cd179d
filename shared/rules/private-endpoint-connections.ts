// Provider side of Private Link: who may connect to our resources. Every pending request is decided by the first
// allow entry that matches it (approve, reject or hold); a request nobody listed is held and alerted, because Azure
// cannot approve a rejected connection again (the requester must create a new endpoint), so rejection is opt-in.
// Approved connections are evaluated too: one whose requester is no longer allowed is a finding (alerted; the policy
// may reject it). An entry by tenant needs the requester's tenant, resolved before evaluating (context.tenantOf): when
// it cannot be, the entry decides nothing and neither may any after it: the request is held, never approved on a
// guess and never rejected (final) on one.
import * as z from "zod";
import type { Snapshot } from "../types.ts";
import { type Requester, requesterCriteria, requesterVerdict } from "./private-link/allow.ts";
import { type ConnectionView, connectionsOf, isStatus } from "./private-link/connections.ts";
import { anyGlob } from "./private-link/glob.ts";
import { CONNECTION_TARGET_TYPES } from "./private-link/types.ts";
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
        "Sub-resources the request may ask for (blob, dfs, vault, sqlServer); matches only when the provider reports them",
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

function groupsMatch(entry: AllowEntry, c: ConnectionView): boolean {
  if (!entry.groupIds) return true;
  // A provider that does not report the sub-resource cannot prove it is one of those allowed.
  if (!c.groupIds || c.groupIds.length === 0) return false;
  const allowed = new Set(entry.groupIds.map((g) => g.toLowerCase()));
  return c.groupIds.every((g) => allowed.has(g.toLowerCase()));
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
 * The first allow entry covering this connection to this resource, or the first one that would if the requester's
 * tenant were known (`undetermined`): entries after it cannot decide, since first match wins.
 */
export function matchingEntry(
  options: Options,
  snapshot: Snapshot,
  c: ConnectionView,
  context?: Pick<RuleContext, "tenantOf">,
): { entry?: AllowEntry; undetermined?: AllowEntry } {
  const requester = requesterOf(c, context);
  for (const e of options.allow) {
    if (!targetMatches(e, snapshot) || !groupsMatch(e, c)) continue;
    const verdict = requesterVerdict(e, requester);
    if (verdict === "match") return { entry: e };
    if (verdict === "unknown") return { undetermined: e };
  }
  return {};
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

function evaluate(snapshot: Snapshot, options: Options, context: RuleContext): Violation[] {
  const out: Violation[] = [];
  for (const c of connectionsOf(snapshot)) {
    const pending = isStatus(c, "Pending");
    if (!pending && !isStatus(c, "Approved")) continue;
    const requester = requesterOf(c, context);
    const { entry, undetermined } = matchingEntry(options, snapshot, c, context);
    let decision: Decision;
    let why: string;
    if (undetermined) {
      // Neither approve on a guess nor reject (final) on one: leave it as it is and say why.
      decision = "hold";
      why =
        `allow entry ${undetermined.name} names tenants and the requester's tenant could not be determined ` +
        `(${requester.tenantUnknown ?? "unknown"})`;
    } else if (pending) {
      decision = entry?.decision ?? options.unlisted;
      why = entry ? `allow entry ${entry.name} says ${entry.decision}` : "the requester is not allow-listed";
    } else {
      if (entry?.decision === "approve") continue;
      decision = entry?.decision === "reject" || options.noLongerAllowed === "reject" ? "reject" : "hold";
      why = entry
        ? `allow entry ${entry.name} says ${entry.decision}`
        : "the requester is no longer allow-listed";
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
          ...(undetermined ? { requesterTenantUnknown: requester.tenantUnknown ?? "unknown" } : {}),
          groupIds: c.groupIds ?? null,
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
  permissions: [],
  remediations: ["decide-private-endpoint-connection"],
  tenantsNeeded,
  example: [
    "- name: private-link-requests",
    "  rule: private-endpoint-connections",
    "  mode: remediate",
    "  severity: high",
    "  options:",
    "    allow:",
    "      - name: databricks-serverless",
    "        subscriptions: ['3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f']",
    "        groupIds: [blob, dfs]",
    "      - name: our-own-vnets",
    "        tenants: ['72f988bf-86f1-41af-91ab-2d7cd011db47']",
    "    unlisted: hold",
    "    noLongerAllowed: alert",
    "",
  ].join("\n"),
  evaluate,
} satisfies RuleDefinition<typeof privateEndpointConnectionsOptions>;
