// The NSG as ARM GET returns it (Azure/azure-rest-api-specs, Microsoft.Network stable/2024-07-01,
// networkSecurityGroup.json: NetworkSecurityGroup, SecurityRule, SecurityRulePropertiesFormat).
// Loose objects: ARM adds fields over API versions and a PUT must carry them back untouched.

import * as z from "zod";
import { NSG_TYPE } from "../../clouds/azure/kinds/network-security-group.ts";
import { InputError } from "../../errors.ts";
import type { Snapshot } from "../../types.ts";

export const NSG_RESOURCE_TYPE = NSG_TYPE;

// ARM omits unset fields; `az` output and some exports show them as null. Both mean "not set".
const optionalString = z.string().nullish();
const optionalStrings = z.array(z.string()).nullish();
const asgRefs = z.array(z.looseObject({ id: z.string().optional() })).nullish();

const SecurityRulePropertiesSchema = z.looseObject({
  description: optionalString,
  // SecurityRuleProtocol is modelAsString (Tcp, Udp, Icmp, Esp, Ah, *); exports also show "TCP".
  protocol: z.string(),
  sourcePortRange: optionalString,
  sourcePortRanges: optionalStrings,
  destinationPortRange: optionalString,
  destinationPortRanges: optionalStrings,
  sourceAddressPrefix: optionalString,
  sourceAddressPrefixes: optionalStrings,
  destinationAddressPrefix: optionalString,
  destinationAddressPrefixes: optionalStrings,
  sourceApplicationSecurityGroups: asgRefs,
  destinationApplicationSecurityGroups: asgRefs,
  access: z.string().regex(/^(allow|deny)$/i, "expected Allow or Deny"),
  priority: z.number().int(),
  direction: z.string().regex(/^(inbound|outbound)$/i, "expected Inbound or Outbound"),
  provisioningState: optionalString,
});

export const SecurityRuleSchema = z.looseObject({
  name: z.string().min(1),
  id: z.string().optional(),
  etag: z.string().optional(),
  type: z.string().optional(),
  properties: SecurityRulePropertiesSchema,
});

export const NetworkSecurityGroupSchema = z.looseObject({
  id: z.string().optional(),
  name: z.string().optional(),
  type: z
    .string()
    .refine((t) => t.toLowerCase() === NSG_RESOURCE_TYPE, "expected Microsoft.Network/networkSecurityGroups")
    .optional(),
  etag: z.string().optional(),
  properties: z.looseObject({
    securityRules: z.array(SecurityRuleSchema),
    defaultSecurityRules: z.array(SecurityRuleSchema).nullish(),
  }),
});

export type SecurityRule = z.infer<typeof SecurityRuleSchema>;
export type SecurityRuleProperties = SecurityRule["properties"];
export type NetworkSecurityGroup = z.infer<typeof NetworkSecurityGroupSchema>;

export interface ParsedNsg {
  nsg: NetworkSecurityGroup;
  /** User rules, in ARM's order. */
  securityRules: SecurityRule[];
  /** The platform rules at 65000+, which can only be overridden, never edited. */
  defaultSecurityRules: SecurityRule[];
  /**
   * The user rules exactly as the input held them (same index as `securityRules`). Edits start from
   * these so that a PUT body and the audit's before/after keep ARM's field order and every field.
   */
  rawSecurityRules: RawSecurityRule[];
}

/** A validated security rule as it came in: the shape of SecurityRule, keys in ARM's order. */
export type RawSecurityRule = Record<string, unknown> & {
  name: string;
  etag?: string;
  properties: Record<string, unknown>;
};

/** Validates a snapshot's resource as an NSG; InputError names the first fields that are wrong. */
/**
 * The snapshot's NSG, validated once per snapshot: every NSG entry of a policy evaluates the same snapshot object.
 * Keyed by the snapshot, not its resource, so a caller that edits a resource and wraps it anew is parsed anew.
 */
export function nsgOf(snapshot: Snapshot): ParsedNsg {
  let parsed = parsedNsgs.get(snapshot);
  if (!parsed) {
    parsed = parseNsg(snapshot.resource);
    parsedNsgs.set(snapshot, parsed);
  }
  return parsed;
}

const parsedNsgs = new WeakMap<Snapshot, ParsedNsg>();

export function parseNsg(resource: unknown): ParsedNsg {
  const result = NetworkSecurityGroupSchema.safeParse(resource);
  if (!result.success) {
    const detail = result.error.issues
      .slice(0, 3)
      .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`)
      .join("; ");
    const first = result.error.issues[0];
    throw new InputError(`resource is not a network security group as ARM returns it: ${detail}`, {
      path: first ? first.path.join(".") : "",
      cause: result.error,
    });
  }
  const nsg = result.data;
  // Validated above, so the input has this shape.
  const raw = resource as { properties: { securityRules: RawSecurityRule[] } };
  return {
    nsg,
    securityRules: nsg.properties.securityRules,
    defaultSecurityRules: nsg.properties.defaultSecurityRules ?? [],
    rawSecurityRules: raw.properties.securityRules,
  };
}
