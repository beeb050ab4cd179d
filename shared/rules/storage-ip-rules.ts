// Storage firewall IP rules (networkAcls.ipRules and ipv6Rules): an entry outside the policy's allowed addresses is
// a finding, and so is one wider than the policy tolerates (the world, a /8) even inside them; a required entry
// (the Qubole tunnel server) that no acceptable entry covers is a finding too, because removing it breaks the jobs.
//
// Storage takes public addresses only, as single IPs or CIDR ranges, and rejects /31 and /32 ranges ("use
// individual IP address rules"): a required /32 is written back as the bare address.
import * as z from "zod";
import { type Prefix, parsePrefix, prefixWithin } from "../net/ip.ts";
import { type IpRule, STORAGE_ACCOUNT_TYPE, storageAccountOf } from "./storage/account.ts";
import { MCSB_NS_2 } from "./storage/controls.ts";
import type { RuleContext, RuleDefinition, Violation } from "./types.ts";

const address = z
  .string()
  .refine((s) => parsePrefix(s) !== undefined, "expected an IP address or CIDR prefix, e.g. 203.0.113.10");

export const storageIpRulesOptions = z.strictObject({
  /** Addresses an IP rule may allow (with the policy's trustedSources and the required ones). */
  allowedAddresses: z.array(address).default([]),
  /** Addresses that must be allowed (a tunnel server): missing is a finding, and the remediation puts them back. */
  requiredAddresses: z.array(address).default([]),
  /** An IPv4 rule wider than this prefix length is always a finding, even inside the allowed addresses. */
  widestIpv4Prefix: z.int().min(0).max(32).default(16),
  /** The same for IPv6 rules. */
  widestIpv6Prefix: z.int().min(0).max(128).default(32),
});

type Options = z.infer<typeof storageIpRulesOptions>;

export type IpRuleList = "ipRules" | "ipv6Rules";
export type IpRuleReason = "not-allowed" | "too-wide" | "unparseable";

/** One offending entry, named by list, position and value so the remediation removes exactly that one. */
export type IpRuleMatch = {
  part: `networkAcls.${IpRuleList}`;
  index: number;
  value: string;
  reason: IpRuleReason;
};

/** A required address no acceptable entry covers, with the value to write back. */
export type MissingIpRuleMatch = {
  part: `networkAcls.${IpRuleList}`;
  missing: string;
  reason: "required-missing";
};

/** The rule value Storage accepts for a required address: a bare IP for a single address, else the CIDR range. */
export function storageIpValue(prefix: Prefix): string[] {
  const full = prefix.family === "ipv4" ? 32 : 128;
  if (prefix.bits === full) return [prefix.address.toString()];
  if (prefix.family === "ipv4" && prefix.bits === 31) {
    const first = prefix.address.toByteArray();
    const base = [...first.slice(0, 3), (first[3] ?? 0) & 0xfe];
    return [base.join("."), [...base.slice(0, 3), (base[3] ?? 0) + 1].join(".")];
  }
  return [prefix.text];
}

function judge(rule: IpRule, allowed: readonly Prefix[], options: Options): IpRuleReason | undefined {
  const prefix = parsePrefix(rule.value);
  if (!prefix) return "unparseable";
  const widest = prefix.family === "ipv4" ? options.widestIpv4Prefix : options.widestIpv6Prefix;
  if (prefix.bits < widest) return "too-wide";
  return allowed.some((a) => prefixWithin(prefix, a)) ? undefined : "not-allowed";
}

const WHY: Record<IpRuleReason | "required-missing", string> = {
  "not-allowed": "is not an allowed address",
  "too-wide": "is wider than the policy allows",
  unparseable: "is not an IP address or range",
  "required-missing": "is required but missing",
};

function evaluate(snapshot: Parameters<typeof storageAccountOf>[0], options: Options, context: RuleContext) {
  const acls = storageAccountOf(snapshot).properties?.networkAcls;
  const required = options.requiredAddresses.map((r) => parsePrefix(r) as Prefix);
  const allowed = [...context.trustedSources, ...options.allowedAddresses]
    .map(parsePrefix)
    .filter((p): p is Prefix => p !== undefined)
    .concat(required);
  const matched: (IpRuleMatch | MissingIpRuleMatch)[] = [];
  const acceptable: Prefix[] = [];
  for (const list of ["ipRules", "ipv6Rules"] as const) {
    (acls?.[list] ?? []).forEach((rule, index) => {
      const reason = judge(rule, allowed, options);
      if (reason) matched.push({ part: `networkAcls.${list}`, index, value: rule.value, reason });
      else acceptable.push(parsePrefix(rule.value) as Prefix);
    });
  }
  for (const r of required) {
    if (acceptable.some((a) => prefixWithin(r, a))) continue;
    const list: IpRuleList = r.family === "ipv4" ? "ipRules" : "ipv6Rules";
    for (const value of storageIpValue(r)) {
      matched.push({ part: `networkAcls.${list}`, missing: value, reason: "required-missing" });
    }
  }
  if (matched.length === 0) return [];
  const parts = matched.map((m) =>
    "missing" in m ? `${m.missing} ${WHY[m.reason]}` : `IP rule ${m.value} ${WHY[m.reason]}`,
  );
  const violation: Violation = { message: `Storage firewall: ${parts.join("; ")}`, matched };
  return [violation];
}

export const storageIpRules = {
  id: "storage-ip-rules",
  description:
    "Storage firewall IP rules outside the allowed addresses or wider than the policy allows, and required " +
    "addresses (a tunnel server) that are missing.",
  cloud: "azure",
  resourceTypes: [STORAGE_ACCOUNT_TYPE],
  controls: [MCSB_NS_2],
  options: storageIpRulesOptions,
  permissions: ["Microsoft.Storage/storageAccounts/read"],
  remediations: ["storage-close-network"],
  example: `- name: storage-ip-allow-list
  rule: storage-ip-rules
  mode: remediate
  severity: high
  options:
    allowedAddresses: [198.51.100.0/24]
    requiredAddresses: [203.0.113.10] # the Qubole tunnel server
`,
  evaluate,
} satisfies RuleDefinition<typeof storageIpRulesOptions>;
