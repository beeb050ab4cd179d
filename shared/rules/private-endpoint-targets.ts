// Consumer side of Private Link (anti-exfiltration): our private endpoints may connect only to allow-listed targets.
// An endpoint to anything else (a storage account in a stranger's tenant) is a path for data to leave through the
// VNet without touching the Internet: a finding, alerted by default (removing the endpoint is opt-in). Both
// `privateLinkServiceConnections` and `manualPrivateLinkServiceConnections` are read; a target is the resource id in
// `privateLinkServiceId`, or a Private Link Service alias when the endpoint was made by alias. An allowed endpoint
// still waiting for its provider (Pending) is reported with how long it has waited. An entry by tenant needs the
// target's tenant (context.tenantOf); when it cannot be determined, the endpoint is alerted, never removed.
import * as z from "zod";
import { parseArmResourceId } from "../clouds/azure/ids.ts";
import type { Snapshot } from "../types.ts";
import { anyGlob } from "./private-link/glob.ts";
import { PRIVATE_ENDPOINT_TYPE } from "./private-link/types.ts";
import type { RuleContext, RuleDefinition, Violation } from "./types.ts";

const guid = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, "expected a GUID");
const TARGET_KEYS = ["resourceIds", "subscriptions", "tenants", "aliases"] as const;

const allowEntry = z
  .strictObject({
    name: z.string().min(1),
    resourceIds: z.array(z.string().min(1)).min(1).optional().describe("Target resource id patterns (`*`)"),
    subscriptions: z.array(guid).min(1).optional().describe("Target subscriptions"),
    tenants: z
      .array(guid)
      .min(1)
      .optional()
      .describe("Target tenants (as resolved for the target's subscription; unresolved never matches)"),
    aliases: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe("Private Link Service alias patterns (`*`)"),
  })
  .refine((e) => TARGET_KEYS.some((k) => e[k] !== undefined), {
    message: `name at least one of ${TARGET_KEYS.join(", ")}: an entry without one would allow every target`,
  });

export const privateEndpointTargetsOptions = z.strictObject({
  allow: z.array(allowEntry).default([]),
  reportPending: z.boolean().default(true).describe("Report our endpoints still waiting for the provider"),
});
type Options = z.infer<typeof privateEndpointTargetsOptions>;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export interface EndpointTarget {
  /** `privateLinkServiceConnections` or `manualPrivateLinkServiceConnections`. */
  list: "privateLinkServiceConnections" | "manualPrivateLinkServiceConnections";
  name: string;
  /** An ARM resource id, or a Private Link Service alias. */
  target: string;
  isAlias: boolean;
  subscriptionId?: string;
  groupIds: string[];
  status: string;
}

export function endpointTargets(snapshot: Snapshot): EndpointTarget[] {
  const r = snapshot.resource;
  const props = isRecord(r) && isRecord(r.properties) ? r.properties : {};
  const out: EndpointTarget[] = [];
  for (const list of ["privateLinkServiceConnections", "manualPrivateLinkServiceConnections"] as const) {
    const items = Array.isArray(props[list]) ? (props[list] as unknown[]) : [];
    for (const item of items) {
      if (!isRecord(item)) continue;
      const p = isRecord(item.properties) ? item.properties : {};
      const target = typeof p.privateLinkServiceId === "string" ? p.privateLinkServiceId : "";
      const isAlias = target !== "" && !target.startsWith("/");
      const parsed = isAlias ? undefined : parseArmResourceId(target);
      const state = isRecord(p.privateLinkServiceConnectionState) ? p.privateLinkServiceConnectionState : {};
      out.push({
        list,
        name: typeof item.name === "string" ? item.name : "",
        target,
        isAlias,
        ...(parsed?.subscriptionId ? { subscriptionId: parsed.subscriptionId } : {}),
        groupIds: Array.isArray(p.groupIds)
          ? p.groupIds.filter((g): g is string => typeof g === "string")
          : [],
        status: typeof state.status === "string" ? state.status : "",
      });
    }
  }
  return out;
}

/**
 * The first entry allowing the target, or the first that would if the target's tenant were known (`undetermined`:
 * later entries cannot decide, and the target is neither allowed nor condemned on a guess).
 */
function allowedBy(
  options: Options,
  t: EndpointTarget,
  tenant: string | undefined,
): { entry?: string; undetermined?: string } {
  const lower = (xs: readonly string[] | undefined, v: string | undefined) =>
    v !== undefined && (xs ?? []).some((x) => x.toLowerCase() === v.toLowerCase());
  for (const e of options.allow) {
    if (t.isAlias) {
      // An alias names no subscription or tenant: only an alias pattern can allow it.
      if (
        e.aliases !== undefined &&
        anyGlob(e.aliases, t.target) &&
        !e.resourceIds &&
        !e.subscriptions &&
        !e.tenants
      )
        return { entry: e.name };
      continue;
    }
    if (e.aliases) continue;
    if (e.resourceIds && !anyGlob(e.resourceIds, t.target)) continue;
    if (e.subscriptions && !lower(e.subscriptions, t.subscriptionId)) continue;
    if (e.tenants) {
      if (tenant === undefined) {
        if (t.subscriptionId !== undefined) return { undetermined: e.name };
        continue;
      }
      if (!lower(e.tenants, tenant)) continue;
    }
    return { entry: e.name };
  }
  return {};
}

/** Pure: the targets' subscriptions, when an entry names tenants (nothing is looked up otherwise). */
function tenantsNeeded(snapshot: Snapshot, options: Options): string[] {
  if (!options.allow.some((e) => e.tenants !== undefined)) return [];
  const subs = endpointTargets(snapshot).flatMap((t) =>
    t.subscriptionId ? [t.subscriptionId.toLowerCase()] : [],
  );
  return [...new Set(subs)];
}

/** Whole hours (or minutes under an hour) between two ISO times; undefined when either is unreadable. */
function waited(since: string | undefined, now: string | undefined): string | undefined {
  if (since === undefined || now === undefined) return undefined;
  const ms = Date.parse(now) - Date.parse(since);
  if (!Number.isFinite(ms) || ms < 0) return undefined;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.floor(hours / 24)} days`;
}

function evaluate(snapshot: Snapshot, options: Options, context: RuleContext): Violation[] {
  const out: Violation[] = [];
  const r = snapshot.resource;
  const systemData = isRecord(r) && isRecord(r.systemData) ? r.systemData : {};
  const createdAt = typeof systemData.createdAt === "string" ? systemData.createdAt : undefined;
  for (const t of endpointTargets(snapshot)) {
    const lookup = t.subscriptionId ? context.tenantOf?.(t.subscriptionId.toLowerCase()) : undefined;
    const tenant = lookup && "tenantId" in lookup ? lookup.tenantId : undefined;
    const tenantUnknown = lookup && "unresolved" in lookup ? lookup.unresolved : "it was not looked up";
    const where = t.isAlias
      ? `Private Link Service alias ${t.target}`
      : `${t.target || "(no target)"}${t.subscriptionId ? ` (subscription ${t.subscriptionId}${tenant ? `, tenant ${tenant}` : ", tenant unknown"})` : ""}`;
    const { entry, undetermined } = t.target === "" ? {} : allowedBy(options, t, tenant);
    const base = {
      endpoint: snapshot.resourceId,
      connection: t.name,
      list: t.list,
      target: t.target,
      targetSubscription: t.subscriptionId ?? null,
      targetTenant: tenant ?? null,
      groupIds: t.groupIds,
      status: t.status,
    };
    if (undetermined !== undefined) {
      out.push({
        message:
          `Private endpoint ${snapshot.resourceId} connects to ${where}; allow entry ${undetermined} names tenants and ` +
          `the target's tenant could not be determined (${tenantUnknown}): check it`,
        key: `${snapshot.resourceId.toLowerCase()}|${t.name.toLowerCase()}|tenant-unknown|${t.target.toLowerCase()}`,
        matched: [{ ...base, problem: "tenant-unknown", allowEntry: undetermined, why: tenantUnknown }],
        // Removing an endpoint that may well be allowed is not a step to take on a failed lookup.
        alertOnly: `the target's tenant could not be determined (${tenantUnknown})`,
      });
    } else if (entry === undefined) {
      out.push({
        message: `Private endpoint ${snapshot.resourceId} connects to ${where}, which is not allow-listed: a path for data to leave`,
        key: `${snapshot.resourceId.toLowerCase()}|${t.name.toLowerCase()}|unknown-target|${t.target.toLowerCase()}`,
        matched: [{ ...base, problem: "unknown-target" }],
      });
    } else if (options.reportPending && t.status.toLowerCase() === "pending") {
      const wait = waited(createdAt, context.change?.time);
      out.push({
        message:
          `Private endpoint ${snapshot.resourceId} is still waiting for ${where} to approve it` +
          (wait
            ? ` (pending ${wait}, since ${createdAt})`
            : createdAt
              ? ` (pending since ${createdAt})`
              : ""),
        key: `${snapshot.resourceId.toLowerCase()}|${t.name.toLowerCase()}|pending`,
        matched: [
          { ...base, problem: "pending", allowEntry: entry, since: createdAt ?? null, waited: wait ?? null },
        ],
      });
    }
  }
  return out;
}

export const privateEndpointTargets = {
  id: "private-endpoint-targets",
  description:
    "Our private endpoints connect only to allow-listed targets (resource id, subscription, tenant, or Private Link " +
    "Service alias); endpoints still pending with their provider are reported with how long they have waited",
  cloud: "azure",
  resourceTypes: [PRIVATE_ENDPOINT_TYPE],
  controls: ["MCSB NS-2", "MCSB DP-2"],
  options: privateEndpointTargetsOptions,
  permissions: [],
  remediations: ["remove-private-endpoint"],
  tenantsNeeded,
  example: [
    "- name: private-endpoint-targets",
    "  rule: private-endpoint-targets",
    "  mode: alert",
    "  severity: high",
    "  options:",
    "    allow:",
    "      - name: our-subscriptions",
    "        subscriptions: ['9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f']",
    "      - name: cassandra-operator",
    "        aliases: ['cassandra-operator.*.azure.privatelinkservice']",
    "",
  ].join("\n"),
  evaluate,
} satisfies RuleDefinition<typeof privateEndpointTargetsOptions>;
