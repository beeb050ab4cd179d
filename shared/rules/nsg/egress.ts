// Deny-by-default egress on an NSG, shared by the egress rule and its remediations. Outbound traffic to the Internet
// must meet a Deny before the platform's AllowInternetOutBound (65001) lets it through, and above that Deny only the
// allowed destinations may be opened: service tags the workload needs (Storage, AzureMonitor, ...), the firewall's
// address, listed prefixes, and private space. The same effective-exposure analysis as inbound, with the ends swapped.

import { parsePrefix, reachesPublicSpace, withinAny } from "../../net/ip.ts";
import { isAnywhereTag } from "../common/sources.ts";
import { isAllow, isDirection, PROTOCOLS, type Protocol, ruleExposure } from "./exposure.ts";
import { ALL_PORTS } from "./ports.ts";
import type { ParsedNsg, SecurityRule } from "./schema.ts";

/** Tags for addresses inside Azure's own network, never the Internet. */
const INTERNAL_TAGS = new Set(["virtualnetwork", "azureloadbalancer"]);

export interface EgressAllowances {
  /** Service tags that may be opened (a regional variant such as Storage.WestEurope is allowed with its base tag). */
  serviceTags: readonly string[];
  /** Addresses or prefixes that may be opened (the firewall's private IP, listed prefixes). */
  prefixes: readonly string[];
}

/** Whether an outbound destination token reaches the Internet beyond what the policy allows. */
export function isOffendingDestination(token: string, allow: EgressAllowances): boolean {
  if (isAnywhereTag(token)) return true;
  const prefix = parsePrefix(token);
  if (prefix) {
    if (prefix.bits === 0) return true;
    const allowed = allow.prefixes.map(parsePrefix).filter((p) => p !== undefined);
    if (withinAny(prefix, allowed)) return false;
    return reachesPublicSpace(prefix);
  }
  const tag = token.trim().toLowerCase();
  if (tag === "" || INTERNAL_TAGS.has(tag)) return false;
  return !allow.serviceTags.some((t) => {
    const base = t.trim().toLowerCase();
    return tag === base || tag.startsWith(`${base}.`);
  });
}

/** The platform's AllowInternetOutBound as ARM documents it, for an NSG whose default rules the input left out. */
const ALLOW_INTERNET_OUTBOUND: SecurityRule = {
  name: "AllowInternetOutBound",
  properties: {
    protocol: "*",
    sourcePortRange: "*",
    destinationPortRange: "*",
    sourceAddressPrefix: "*",
    destinationAddressPrefix: "Internet",
    access: "Allow",
    priority: 65001,
    direction: "Outbound",
  },
};

/** The default outbound Allows (AllowVnetOutBound, AllowInternetOutBound) that lie below every user rule. */
function defaultOutboundAllows(nsg: ParsedNsg): SecurityRule[] {
  const listed = nsg.defaultSecurityRules.filter((r) => isDirection(r, "Outbound") && isAllow(r));
  return listed.length > 0 ? listed : [ALLOW_INTERNET_OUTBOUND];
}

/** What still reaches the Internet through the default rules: the Deny is missing, or does not cover all of it. */
export function defaultEgressLeak(
  nsg: ParsedNsg,
  allow: EgressAllowances,
  protocols: readonly Protocol[] = PROTOCOLS,
): ReturnType<typeof ruleExposure> {
  for (const rule of defaultOutboundAllows(nsg)) {
    const exposure = ruleExposure(nsg, rule, {
      direction: "Outbound",
      ports: ALL_PORTS,
      protocols,
      isOffendingSource: (token) => isOffendingDestination(token, allow),
    });
    if (exposure) return exposure;
  }
  return undefined;
}

export const MIN_PRIORITY = 100;
export const MAX_PRIORITY = 4096;

/**
 * A free outbound priority for the Deny: `preferred` when no outbound rule holds it, else the nearest free one below
 * it in precedence (towards 4096), else above it; without a preference, the lowest precedence free (the highest number,
 * right above the default rules), so every allowed destination above keeps working. Undefined when none is free.
 * ARM refuses two rules with the same priority and direction.
 */
export function freeOutboundPriority(nsg: ParsedNsg, preferred?: number): number | undefined {
  const used = new Set(
    nsg.securityRules.filter((r) => isDirection(r, "Outbound")).map((r) => r.properties.priority),
  );
  if (preferred !== undefined) {
    for (let p = preferred; p <= MAX_PRIORITY; p++) if (!used.has(p)) return p;
    for (let p = preferred - 1; p >= MIN_PRIORITY; p--) if (!used.has(p)) return p;
    return undefined;
  }
  for (let p = MAX_PRIORITY; p >= MIN_PRIORITY; p--) if (!used.has(p)) return p;
  return undefined;
}

/** The name of the Deny the guardian adds: a fixed one, numbered when the NSG already has a rule of that name. */
export function denyRuleName(nsg: ParsedNsg): string {
  const taken = new Set(nsg.securityRules.map((r) => r.name.toLowerCase()));
  const base = "guardian-deny-internet-outbound";
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}-${i}`)) return `${base}-${i}`;
}
