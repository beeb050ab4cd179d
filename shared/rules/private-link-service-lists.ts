// A Private Link Service's `autoApproval.subscriptions` approves every request from those subscriptions without
// anyone deciding, and `visibility.subscriptions` says who may find the service by its alias and ask. A list wider
// than the allow-list (`*` above all) lets requests bypass the guardian: a finding, fixed by narrowing the lists
// (an etag-guarded PUT of the service) to the allow-listed subscriptions.
import * as z from "zod";
import type { Snapshot } from "../types.ts";
import { PRIVATE_LINK_SERVICE_TYPE } from "./private-link/types.ts";
import type { RuleContext, RuleDefinition, Violation } from "./types.ts";

const guid = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, "expected a GUID");

export const privateLinkServiceListsOptions = z.strictObject({
  autoApproval: z
    .array(guid)
    .default([])
    .describe("Subscriptions that may be approved automatically; none by default (the guardian decides)"),
  visibility: z
    .array(guid)
    .default([])
    .describe("Subscriptions that may see the service and request a connection"),
});
type Options = z.infer<typeof privateLinkServiceListsOptions>;

export type PlsList = "autoApproval" | "visibility";

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The subscriptions a Private Link Service lists under `autoApproval` or `visibility` (absent: none). */
export function plsList(snapshot: Snapshot, list: PlsList): string[] {
  const r = snapshot.resource;
  const props = isRecord(r) && isRecord(r.properties) ? r.properties : {};
  const holder = isRecord(props[list]) ? (props[list] as Record<string, unknown>) : {};
  return Array.isArray(holder.subscriptions)
    ? holder.subscriptions.filter((s): s is string => typeof s === "string")
    : [];
}

/**
 * The list narrowed to what the policy allows: entries outside the allow-list removed; `*` replaced by the
 * allow-listed subscriptions (the service stays reachable for those the policy names, and only those).
 */
export function narrowed(current: readonly string[], allowed: readonly string[]): string[] {
  const ok = new Set(allowed.map((s) => s.toLowerCase()));
  const kept = current.filter((s) => s !== "*" && ok.has(s.toLowerCase()));
  if (current.includes("*")) {
    for (const s of allowed) if (!kept.some((k) => k.toLowerCase() === s.toLowerCase())) kept.push(s);
  }
  return kept;
}

function evaluate(snapshot: Snapshot, options: Options, _context: RuleContext): Violation[] {
  const matched: Record<string, unknown>[] = [];
  for (const list of ["autoApproval", "visibility"] as const) {
    const allowed = options[list];
    const ok = new Set(allowed.map((s) => s.toLowerCase()));
    const current = plsList(snapshot, list);
    const outside = current.filter((s) => s === "*" || !ok.has(s.toLowerCase()));
    if (outside.length > 0) {
      matched.push({ list, outside, current, allowed, narrowed: narrowed(current, allowed) });
    }
  }
  if (matched.length === 0) return [];
  return [
    {
      message:
        `Private Link Service ${snapshot.resourceId} lists subscriptions beyond the allow-list: ` +
        matched
          .map((m) =>
            (m.outside as string[]).includes("*")
              ? `${m.list} is * (${m.list === "autoApproval" ? "every request is approved without a decision" : "anyone may find it and ask"})`
              : `${m.list} includes ${(m.outside as string[]).join(", ")}`,
          )
          .join("; "),
      matched,
    },
  ];
}

export const privateLinkServiceLists = {
  id: "private-link-service-lists",
  description:
    "Private Link Services whose autoApproval or visibility subscription lists are wider than the allow-list (`*` above all)",
  cloud: "azure",
  resourceTypes: [PRIVATE_LINK_SERVICE_TYPE],
  controls: ["MCSB NS-2"],
  options: privateLinkServiceListsOptions,
  permissions: [],
  remediations: ["narrow-private-link-service"],
  example: [
    "- name: private-link-service-lists",
    "  rule: private-link-service-lists",
    "  mode: remediate",
    "  severity: high",
    "  options:",
    "    autoApproval: []",
    "    visibility: ['5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f']",
    "",
  ].join("\n"),
  evaluate,
} satisfies RuleDefinition<typeof privateLinkServiceListsOptions>;
