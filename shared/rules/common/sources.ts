// Which sources of an inbound rule expose it, and how far the guardian may act on each kind. Shared by the NSG and
// security group exposure rules, so both clouds draw the same line:
// - world-open: `*`, Internet, Any, 0.0.0.0/0, ::/0. The CIS and Security Hub controls concern these; a policy
//   entry in remediate mode removes them.
// - a specific public prefix outside the trusted sources (an office range such as 203.0.113.0/24): often
//   allow-listed on purpose, so it is a finding of its own, alerted by default and remediated only when the entry
//   opts in (`publicPrefixes: remediate`). It fails no world-open control.
// - a prefix that does not parse (`010.0.0.0/8`): what it covers cannot be told, so it is reported, never acted on.
import * as z from "zod";
import {
  isMalformedAddress,
  isWholeSpace,
  type Prefix,
  parsePrefix,
  reachesPublicSpace,
  withinAny,
} from "../../net/ip.ts";
import type { Mode } from "../../types.ts";

export type SourceClass = "world-open" | "public-prefix" | "malformed-prefix";

/** Every class, in the order findings are reported. */
export const SOURCE_CLASSES: readonly SourceClass[] = ["world-open", "public-prefix", "malformed-prefix"];

export const publicPrefixesOption = z
  .union([z.boolean(), z.enum(["remediate", "alert", "report", "ignore"])])
  .default("alert")
  .describe(
    "Specific public prefixes outside the trusted sources (an office range): a finding of their own. " +
      "alert (default, also true): alerted, never remediated; remediate: handled as the entry's mode says; " +
      "report: recorded only; ignore (also false): not reported. World-open sources (*, Internet, Any, /0) always " +
      "follow the entry's mode.",
  );

export type PublicPrefixesSetting = z.infer<typeof publicPrefixesOption>;

function setting(value: PublicPrefixesSetting): "remediate" | "alert" | "report" | "ignore" {
  if (value === true) return "alert";
  if (value === false) return "ignore";
  return value;
}

/** Spellings of "any source" in an NSG rule, compared lower-cased; an AWS CIDR never uses them. */
const ANYWHERE_TAGS = new Set(["*", "internet", "any"]);

export function isAnywhereTag(token: string): boolean {
  return ANYWHERE_TAGS.has(token.trim().toLowerCase());
}

/**
 * Whether a source as written opens a rule to the whole Internet: an anywhere tag, a `/0` of either family, or a bare
 * `0.0.0.0`. As an address 0.0.0.0 is "this host" and no packet comes from it, but the CIS Azure Foundations audit of
 * RDP/SSH/UDP/HTTP(S) exposure (v2.0.0 6.1-6.4) lists `0.0.0.0` beside `*`, `<nw>/0`, Internet and Any: whoever
 * writes it means anywhere. Only as an Allow's source: a Deny of 0.0.0.0 is read as written (it covers nothing else).
 */
export function isWorldOpenSource(token: string): boolean {
  if (isAnywhereTag(token) || token.trim() === "0.0.0.0") return true;
  const prefix = parsePrefix(token);
  return prefix !== undefined && isWholeSpace(prefix);
}

export interface SourcePolicy {
  /** Prefixes the policy trusts (a bastion's, a tunnel server's). */
  trusted: readonly Prefix[];
  publicPrefixes: PublicPrefixesSetting;
}

/**
 * The class of a source as written (an NSG token or an AWS CIDR), or undefined when it does not expose the rule:
 * private space, a prefix within a trusted one, another service tag (VirtualNetwork, AzureLoadBalancer, Storage),
 * or a public prefix when the entry ignores those. World-open spellings always expose, whatever is trusted.
 */
export function sourceClass(token: string, policy: SourcePolicy): SourceClass | undefined {
  if (isWorldOpenSource(token)) return "world-open";
  const prefix = parsePrefix(token);
  if (!prefix) return isMalformedAddress(token) ? "malformed-prefix" : undefined;
  if (setting(policy.publicPrefixes) === "ignore") return undefined;
  if (withinAny(prefix, policy.trusted) || !reachesPublicSpace(prefix)) return undefined;
  return "public-prefix";
}

/** The highest mode a finding of this class may be handled with (the entry's mode is lowered to it), if any. */
export function maxModeFor(cls: SourceClass, publicPrefixes: PublicPrefixesSetting): Mode | undefined {
  if (cls === "world-open") return undefined;
  if (cls === "malformed-prefix") return "alert";
  const s = setting(publicPrefixes);
  return s === "remediate" || s === "ignore" ? undefined : s;
}

/** Words for a class, appended to a finding's message so that a reader sees why it is (or is not) remediated. */
export function classNote(cls: SourceClass): string {
  switch (cls) {
    case "world-open":
      return "";
    case "public-prefix":
      return " (specific public prefixes outside trustedSources)";
    case "malformed-prefix":
      return " (not valid address prefixes: what they cover cannot be told)";
  }
}
