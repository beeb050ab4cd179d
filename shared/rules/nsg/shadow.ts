// Whether setting an Allow to Deny where it stands would refuse traffic that a rule below it lets in. A Deny in the
// Allow's place is decided before every rule of lower precedence, the platform's default rules included: flipping an
// inbound Allow of `*` also refuses what AllowVnetInBound let in from inside the network (Azure Bastion and jump hosts
// reach 22/3389 so), a flipped Allow of the Internet refuses an allow-listed office range's own rule below it, and a
// flipped outbound Allow of `*` refuses AllowVnetOutBound's traffic and an allowed Storage rule below it. Deleting
// the Allow instead leaves that traffic to the rules below, so the remediations that flip check this first.

import { parsePrefix, reachesPublicSpace } from "../../net/ip.ts";
import {
  type Direction,
  destinationPrefixesOf,
  isAllow,
  isDirection,
  portsOf,
  type RuleExposure,
  sourcePrefixesOf,
} from "./exposure.ts";
import { provablyDisjoint, shapeOf } from "./narrow.ts";
import type { ParsedNsg, SecurityRule } from "./schema.ts";

/**
 * The platform's Allows (NetworkSecurityGroupPropertiesFormat.defaultSecurityRules, as every NSG holds them), for an
 * NSG read without its default rules.
 */
const DEFAULT_ALLOWS: SecurityRule[] = [
  ["AllowVnetInBound", 65000, "Inbound", "VirtualNetwork", "VirtualNetwork"],
  ["AllowAzureLoadBalancerInBound", 65001, "Inbound", "AzureLoadBalancer", "*"],
  ["AllowVnetOutBound", 65000, "Outbound", "VirtualNetwork", "VirtualNetwork"],
  ["AllowInternetOutBound", 65001, "Outbound", "*", "Internet"],
].map(([name, priority, direction, source, destination]) => ({
  name: String(name),
  properties: {
    protocol: "*",
    sourcePortRange: "*",
    destinationPortRange: "*",
    sourceAddressPrefix: String(source),
    destinationAddressPrefix: String(destination),
    access: "Allow",
    priority: Number(priority),
    direction: String(direction),
  },
}));

/** Service tags of Azure's own network, which the Internet tag (the address space outside the network) never holds. */
const INTERNAL_TAGS = new Set(["virtualnetwork", "azureloadbalancer"]);
const isTag = (token: string, tag: string) => token.trim().toLowerCase() === tag;

/** A peer the Internet tag never holds: Azure's own tags, or a prefix wholly in private or reserved space. */
function outsideInternet(token: string): boolean {
  if (INTERNAL_TAGS.has(token.trim().toLowerCase())) return true;
  const prefix = parsePrefix(token);
  return prefix !== undefined && !reachesPublicSpace(prefix);
}
const sameToken = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

function peersOf(rule: SecurityRule, direction: Direction): string[] {
  return direction === "Inbound" ? sourcePrefixesOf(rule.properties) : destinationPrefixesOf(rule.properties);
}

function peerAsgs(rule: SecurityRule, direction: Direction): number {
  const p = rule.properties;
  return (
    (direction === "Inbound" ? p.sourceApplicationSecurityGroups : p.destinationApplicationSecurityGroups)
      ?.length ?? 0
  );
}

/**
 * The first Allow of lower precedence than `rule` (a user rule or a platform default) from which a Deny in `rule`'s
 * place could take traffic the policy does not call offending, or undefined when there is none. Addresses are
 * compared as placement compares them (service tags and application security groups may hold any address), except
 * that the Internet tag is disjoint from VirtualNetwork, AzureLoadBalancer and private space (as the exposure rules
 * read it: the public address space). An Allow whose peers are all offending
 * peers of `exposure` loses only offending traffic (the flipped rule matches only protected ports).
 */
export function shadowedBelow(
  nsg: ParsedNsg,
  rule: SecurityRule,
  exposure: RuleExposure,
  direction: Direction,
): SecurityRule | undefined {
  const listed = nsg.defaultSecurityRules.filter((r) => isDirection(r, direction) && isAllow(r));
  const defaults = listed.length > 0 ? listed : DEFAULT_ALLOWS.filter((r) => isDirection(r, direction));
  const peers = peersOf(rule, direction);
  const internetOnly =
    peers.length > 0 && peers.every((t) => isTag(t, "internet")) && peerAsgs(rule, direction) === 0;
  return [...nsg.securityRules, ...defaults].find((x) => {
    if (x === rule || !isDirection(x, direction) || !isAllow(x)) return false;
    if (x.properties.priority <= rule.properties.priority) return false;
    const xPeers = peersOf(x, direction);
    const xAsgs = peerAsgs(x, direction);
    if (xAsgs === 0 && xPeers.length > 0) {
      if (xPeers.every((t) => exposure.sources.some((s) => sameToken(s, t)))) return false;
      if (internetOnly && xPeers.every(outsideInternet)) return false;
    }
    return !provablyDisjoint(rule, shapeOf(x, sourcePrefixesOf(x.properties), portsOf(x.properties, true)));
  });
}
