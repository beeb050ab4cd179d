import * as z from "zod";
import { parsePrefix } from "../net/ip.ts";
import { ruleRegistry } from "../rules/index.ts";
import type { RuleDefinition } from "../rules/types.ts";

const prefix = z.string().refine((s) => parsePrefix(s) !== undefined, {
  message: "expected an IPv4 or IPv6 address or CIDR prefix, e.g. 203.0.113.10/32",
});

const scopeSchema = z
  .strictObject({
    subscriptions: z.array(z.string()).optional().describe("Azure subscription ids; omitted = all"),
    accounts: z.array(z.string()).optional().describe("AWS account ids; omitted = all"),
    resourceGroups: z.array(z.string()).optional().describe("Azure resource group names (case-insensitive)"),
    regions: z.array(z.string()).optional(),
    tags: z
      .record(z.string(), z.string())
      .optional()
      .describe("Only resources carrying every one of these tags (value '*' = any value)"),
    names: z
      .array(z.string().min(1))
      .optional()
      .describe("Only resources whose name matches one of these patterns (* and ?, case-insensitive)"),
  })
  .describe("Which resources the rule applies to; every given list must match");

const routeSchema = z
  .strictObject({
    to: z.array(z.string()).describe("Destination names; [] drops what this route matches (logged)"),
    severities: z.array(z.enum(["low", "medium", "high", "critical"])).optional(),
    kinds: z
      .array(z.enum(["remediated", "dry-run", "alerted", "approved", "rejected", "held", "exempt", "failed"]))
      .optional(),
    clouds: z.array(z.enum(["azure", "aws"])).optional(),
    accounts: z.array(z.string()).optional().describe("Azure subscription ids or AWS account ids"),
    resourceGroups: z.array(z.string()).optional().describe("Azure resource group names (case-insensitive)"),
    tags: z.record(z.string(), z.string()).optional().describe("Every one must match; value '*' = any value"),
  })
  .describe(
    "Decisions matching every given condition go to `to`; every matching route adds its destinations",
  );

const alertsSchema = z
  .strictObject({
    collapseSeconds: z
      .int()
      .min(0)
      .max(900)
      .default(30)
      .describe("Decisions about one resource within this window become one message"),
    destinations: z
      .array(
        z.strictObject({
          name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes"),
          type: z.enum(["slack", "teams", "webhook"]),
          url: z
            .string()
            .regex(
              /^[A-Z][A-Z0-9_]*_WEBHOOK_URL$/,
              "the name of the setting that holds the URL, ending in _WEBHOOK_URL (the URL is a secret: never in the policy)",
            )
            .describe("The app setting / environment variable whose value is the webhook URL"),
        }),
      )
      .optional()
      .describe("Default: slack, teams and webhook from SLACK_, TEAMS_ and GUARDIAN_WEBHOOK_URL when set"),
    routes: z.array(routeSchema).optional().describe("A decision no route matches goes to every destination"),
  })
  .describe("Where alerts go and how bursts collapse");

const exemptionSchema = z.strictObject({
  resourceId: z.string().min(1).describe("The exempt resource's id (ARM id, security group id)"),
  expires: z.iso
    .date({ error: "a calendar date as YYYY-MM-DD (e.g. 2027-01-31)" })
    .describe("YYYY-MM-DD; the exemption ends at the start of this day (UTC)"),
  reason: z.string().min(1).describe("Why, for the audit trail"),
});

const armId = z
  .string()
  .regex(
    /^\/subscriptions\/[^/]+(\/resourceGroups\/[^/]+)?(\/providers\/.+)?$/i,
    "expected an ARM resource id",
  );

const subnetRoleSchema = z
  .strictObject({
    ids: z.array(armId).optional().describe("These subnets (ARM ids, case-insensitive)"),
    names: z
      .array(z.string().min(1))
      .optional()
      .describe("Subnets whose name matches one of these patterns (* and ?, case-insensitive)"),
    tags: z
      .record(z.string(), z.string())
      .optional()
      .describe(
        "Subnets whose virtual network carries every one of these tags (value '*' = any); with names, both must match",
      ),
  })
  .refine((r) => (r.ids?.length ?? 0) + (r.names?.length ?? 0) + Object.keys(r.tags ?? {}).length > 0, {
    message: "a subnet role needs ids, names or tags",
  })
  .describe(
    "Which subnets have the role: a listed id, or a name pattern and/or the tags of their virtual network",
  );

const firewallSchema = z
  .strictObject({
    privateIp: z
      .string()
      .refine(
        (s) => parsePrefix(s) !== undefined && !s.includes("/"),
        "expected an IP address, e.g. 10.0.1.4",
      )
      .describe("The firewall's (or appliance's) private IP, the next hop of a default route through it"),
  })
  .describe("A firewall that egress is routed through");

const baseEntry = {
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes")
    .describe("Unique name of this policy entry, used in alerts, exemption tags and audit"),
  description: z.string().optional(),
  enabled: z.boolean().default(true),
  mode: z
    .enum(["remediate", "alert", "report"])
    .default("alert")
    .describe("remediate: fix and alert; alert: alert only; report: record only"),
  severity: z.enum(["low", "medium", "high", "critical"]).default("medium"),
  controls: z
    .array(z.string())
    .optional()
    .describe("Control ids added to the rule's own (CIS, Security Hub)"),
  scope: scopeSchema.optional(),
  exemptions: z.array(exemptionSchema).default([]),
  tagExemptions: z
    .boolean()
    .optional()
    .describe(
      "Whether the policy's exemptTag exempts a resource from this entry. Only alert-mode entries may allow it (the " +
        "default for them; remediate and report entries never honour the tag): whoever can open a port can often " +
        "set a tag too. An exempt finding is still alerted, at low severity.",
    ),
};

function entrySchema(rule: RuleDefinition) {
  const [first, ...rest] = rule.remediations;
  const remediation =
    first === undefined
      ? z.never().optional()
      : z
          .enum([first, ...rest])
          .optional()
          .describe(`How to fix a finding; default ${first}`);
  return z
    .strictObject({
      ...baseEntry,
      rule: z.literal(rule.id).describe(rule.description),
      remediation,
      options: rule.options.optional(),
    })
    .describe(rule.description);
}

const entries = Object.values(ruleRegistry).map((r) => entrySchema(r as RuleDefinition));
const [firstEntry, ...otherEntries] = entries;
if (!firstEntry) throw new Error("the rule registry is empty");

export const policyEntrySchema = z.discriminatedUnion("rule", [firstEntry, ...otherEntries]);

const reconcileSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe("false: the scheduled reconcile does nothing"),
    intervalHours: z
      .int()
      .min(1)
      .max(168)
      .default(24)
      .describe(
        "Hours between reconcile runs (1-168). The schedule ticks hourly (on the hour, UTC); a run starts on the ticks whose hour since the epoch is a multiple of this",
      ),
    maxWritesPerPage: z
      .int()
      .min(0)
      .max(1000)
      .default(50)
      .describe(
        "Blast-radius cap of one reconcile page: at most this many remediation writes; the rest are alerted",
      ),
  })
  .describe(
    "The scheduled reconcile: lists every resource of every kind in scope, page by page, and acts per policy as the event path does",
  );

export const policySchema = z
  .strictObject({
    $schema: z.string().optional(),
    version: z.literal(1).describe("Policy file format version"),
    dryRun: z
      .boolean()
      .default(false)
      .describe(
        "Turn every remediation into a report of what would have been done (GUARDIAN_DRY_RUN=true forces it on)",
      ),
    exemptTag: z
      .string()
      .default("guardian:exempt")
      .describe(
        "A resource carrying this tag is exempt from the alert-mode entries that allow tag exemptions: value 'true' " +
          "for every such entry, or a comma-separated list of entry names. Any other value (empty, '*', an unknown " +
          "name) exempts nothing and is reported.",
      ),
    trustedSources: z
      .array(prefix)
      .default([])
      .describe("Prefixes trusted by every rule (a bastion's or a tunnel server's IP)"),
    maxWritesPerEvent: z
      .int()
      .min(0)
      .max(100)
      .default(10)
      .describe("Blast-radius cap: at most this many remediation writes per event; the rest are alerted"),
    subnetRoles: z
      .record(
        z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes"),
        subnetRoleSchema,
      )
      .default({})
      .describe("Named roles of subnets (private, public, ...) that subnet rules require things of"),
    firewalls: z
      .record(
        z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes"),
        firewallSchema,
      )
      .default({})
      .describe("Named firewalls that rules route egress through"),
    reconcile: reconcileSchema.prefault({}),
    rules: z
      .array(policyEntrySchema)
      .min(1, "a policy needs at least one entry (`guardian rules` lists them, with an example each)"),
    alerts: alertsSchema.optional(),
  })
  .superRefine((policy, ctx) => {
    const names = new Set<string>();
    const destinations = policy.alerts?.destinations;
    destinations?.forEach((d, index) => {
      if (names.has(d.name)) {
        ctx.addIssue({
          code: "custom",
          path: ["alerts", "destinations", index, "name"],
          message: `duplicate destination "${d.name}"`,
        });
      }
      names.add(d.name);
    });
    const known = destinations ? names : new Set(["slack", "teams", "webhook"]);
    policy.alerts?.routes?.forEach((route, index) => {
      route.to.forEach((name, i) => {
        if (!known.has(name)) {
          ctx.addIssue({
            code: "custom",
            path: ["alerts", "routes", index, "to", i],
            message: `unknown destination "${name}" (known: ${[...known].join(", ")})`,
          });
        }
      });
    });
    const seen = new Map<string, number>();
    policy.rules.forEach((entry, index) => {
      const earlier = seen.get(entry.name);
      if (earlier !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["rules", index, "name"],
          message: `duplicate entry name "${entry.name}" (also rules[${earlier}])`,
        });
      }
      seen.set(entry.name, index);
      const opts = (entry.options ?? {}) as {
        trustedSources?: string[];
        role?: unknown;
        roles?: unknown;
        firewall?: unknown;
      };
      const unknownRole = (role: string) =>
        `no subnet role "${role}" in subnetRoles (${Object.keys(policy.subnetRoles).join(", ") || "none defined"})`;
      if (typeof opts.role === "string" && !Object.hasOwn(policy.subnetRoles, opts.role)) {
        ctx.addIssue({
          code: "custom",
          path: ["rules", index, "options", "role"],
          message: unknownRole(opts.role),
        });
      }
      if (Array.isArray(opts.roles)) {
        opts.roles.forEach((role: unknown, i) => {
          if (typeof role === "string" && !Object.hasOwn(policy.subnetRoles, role)) {
            ctx.addIssue({
              code: "custom",
              path: ["rules", index, "options", "roles", i],
              message: unknownRole(role),
            });
          }
        });
      }
      if (entry.tagExemptions === true && entry.mode !== "alert") {
        ctx.addIssue({
          code: "custom",
          path: ["rules", index, "tagExemptions"],
          message:
            `tag exemptions are allowed only for alert-mode entries (this one is ${entry.mode}): whoever can open a ` +
            "port can often set the tag too; list the resource under exemptions (reviewed, with an expiry) instead",
        });
      }
      if (typeof opts.firewall === "string" && !Object.hasOwn(policy.firewalls, opts.firewall)) {
        ctx.addIssue({
          code: "custom",
          path: ["rules", index, "options", "firewall"],
          message: `no firewall "${opts.firewall}" in firewalls (${Object.keys(policy.firewalls).join(", ") || "none defined"})`,
        });
      }
      const rule = ruleRegistry[entry.rule as keyof typeof ruleRegistry] as RuleDefinition | undefined;
      if (entry.mode === "remediate" && rule !== undefined && rule.remediations.length === 0) {
        ctx.addIssue({
          code: "custom",
          path: ["rules", index, "mode"],
          message: `rule ${rule.id} has no remediation: use mode alert or report`,
        });
      }
      if (rule !== undefined && entry.mode === "remediate") {
        const missing = rule.remediateNeeds?.(entry.options ?? {});
        if (missing)
          ctx.addIssue({ code: "custom", path: ["rules", index, ...missing.path], message: missing.message });
      }
      if (
        entry.remediation === "restrict-source" &&
        policy.trustedSources.length === 0 &&
        !opts.trustedSources?.length
      ) {
        ctx.addIssue({
          code: "custom",
          path: ["rules", index, "remediation"],
          message:
            "restrict-source needs trustedSources (at the top of the policy or in this entry's options)",
        });
      }
    });
  });

export type Policy = z.infer<typeof policySchema>;
export type PolicyEntry = Policy["rules"][number];

/** The JSON Schema editors use to autocomplete and check policy files. */
export function policyJsonSchema(): unknown {
  return z.toJSONSchema(policySchema, { io: "input", unrepresentable: "any" });
}
