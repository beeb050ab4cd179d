// A subnet as ARM returns it (Azure/azure-rest-api-specs, Microsoft.Network stable, virtualNetwork.json: Subnet,
// SubnetPropertiesFormat, ServiceEndpointPropertiesFormat, Delegation), and what the subnet rules share: its name,
// its references, its roles. Loose objects: ARM adds fields over API versions and a PUT must carry them back.

import * as z from "zod";
import { SUBNET_TYPE } from "../../clouds/azure/kinds/subnet.ts";
import { InputError } from "../../errors.ts";
import { nameMatches, resourceName, tagsMatch } from "../../policy/match.ts";
import type { Snapshot } from "../../types.ts";
import type { RuleContext, SubnetRole } from "../types.ts";

export const SUBNET_RESOURCE_TYPE = SUBNET_TYPE;

// ARM omits unset references; `az` output shows them as null. Both mean "none".
const ref = z.looseObject({ id: z.string() }).nullish();

export const SubnetSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string().optional(),
  etag: z.string().optional(),
  properties: z.looseObject({
    networkSecurityGroup: ref,
    routeTable: ref,
    serviceEndpoints: z
      .array(z.looseObject({ service: z.string(), locations: z.array(z.string()).nullish() }))
      .nullish(),
    serviceEndpointPolicies: z.array(z.looseObject({ id: z.string() })).nullish(),
    delegations: z
      .array(
        z.looseObject({
          name: z.string().optional(),
          properties: z.looseObject({ serviceName: z.string().nullish() }).nullish(),
        }),
      )
      .nullish(),
  }),
});

export type Subnet = z.infer<typeof SubnetSchema>;

export interface ParsedSubnet {
  subnet: Subnet;
  /** The subnet's own name (its id's last segment, as ARM names it). */
  name: string;
  nsgId: string | undefined;
  routeTableId: string | undefined;
  /** Service endpoint services as written (`Microsoft.Storage`, `Microsoft.Storage.Global`). */
  services: string[];
  policyIds: string[];
  /** Delegated services (`Microsoft.Databricks/workspaces`). */
  delegations: string[];
}

const parsed = new WeakMap<Snapshot, ParsedSubnet>();

/** The snapshot's subnet, validated once per snapshot; InputError names the first fields that are wrong. */
export function subnetOf(snapshot: Snapshot): ParsedSubnet {
  let found = parsed.get(snapshot);
  if (!found) {
    found = parseSubnet(snapshot.resource);
    parsed.set(snapshot, found);
  }
  return found;
}

export function parseSubnet(resource: unknown): ParsedSubnet {
  const result = SubnetSchema.safeParse(resource);
  if (!result.success) {
    const detail = result.error.issues
      .slice(0, 3)
      .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`)
      .join("; ");
    throw new InputError(`resource is not a subnet as ARM returns it: ${detail}`, {
      path: result.error.issues[0]?.path.join(".") ?? "",
      cause: result.error,
    });
  }
  const subnet = result.data;
  const p = subnet.properties;
  return {
    subnet,
    name: resourceName(subnet.id),
    nsgId: p.networkSecurityGroup?.id,
    routeTableId: p.routeTable?.id,
    services: (p.serviceEndpoints ?? []).map((e) => e.service),
    policyIds: (p.serviceEndpointPolicies ?? []).map((e) => e.id),
    delegations: (p.delegations ?? []).flatMap((d) =>
      d.properties?.serviceName ? [d.properties.serviceName] : [],
    ),
  };
}

export const sameId = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** The storage service endpoints, as Azure names them: regional and cross-region. */
export const STORAGE_SERVICES = ["Microsoft.Storage", "Microsoft.Storage.Global"] as const;

/** Whether the subnet has the role: a listed id, or its name and its virtual network's tags as the role asks. */
export function hasRole(snapshot: Snapshot, role: SubnetRole): boolean {
  return roleMatch(role, snapshot.resourceId, snapshot.tags) === true;
}

/** Whether telling a subnet's role may take its virtual network's tags (the role selects by tags). */
export const roleNeedsTags = (role: SubnetRole): boolean => Object.keys(role.tags ?? {}).length > 0;

/**
 * Whether the subnet `subnetId` has the role, given its virtual network's tags; `networkTags` undefined when they are
 * not known (a storage account's VNet rule names only the subnet). Undefined when the answer hangs on those tags: the
 * id is not listed, the name matches (or the role names none) and the role selects by tags.
 */
export function roleMatch(
  role: SubnetRole,
  subnetId: string,
  networkTags: Readonly<Record<string, string>> | undefined,
): boolean | undefined {
  if (role.ids?.some((id) => sameId(id, subnetId))) return true;
  const names = role.names ?? [];
  const tags = role.tags ?? {};
  if (names.length === 0 && !roleNeedsTags(role)) return false;
  const name = resourceName(subnetId);
  if (names.length > 0 && !names.some((p) => nameMatches(name, p))) return false;
  if (!roleNeedsTags(role)) return true;
  // Subnets are Azure's: tag names compare without case, as ARM compares them.
  return networkTags === undefined ? undefined : tagsMatch(networkTags, tags, true);
}

/** The named role from the policy (the policy loader checked that it exists). */
export function roleNamed(context: RuleContext, name: string): SubnetRole | undefined {
  const roles = context.subnetRoles ?? {};
  return Object.hasOwn(roles, name) ? roles[name] : undefined;
}

/**
 * Subnets that cannot or must not carry an NSG, by the names Azure reserves for them: the VPN/ExpressRoute gateway
 * subnet, Azure Firewall's two (the firewall has its own intrinsic filtering), Route Server's. AzureBastionSubnet may
 * carry one (with every rule Bastion requires, or it breaks) but needs none: Bastion is hardened on its own.
 * Sources: Azure Architecture Center / PSRule Azure.VNET.UseNSGs, Azure Bastion "Configure NSG rules" (bastion-nsg.md).
 */
export const NO_NSG_SUBNETS = [
  "GatewaySubnet",
  "AzureFirewallSubnet",
  "AzureFirewallManagementSubnet",
  "RouteServerSubnet",
  "AzureBastionSubnet",
] as const;

/** Delegations whose subnets do not support NSGs (Dedicated HSM). */
export const NO_NSG_DELEGATIONS = ["Microsoft.HardwareSecurityModules/dedicatedHSMs"] as const;

/** Why a subnet needs no NSG, or undefined for an ordinary subnet. */
export function noNsgReason(subnet: ParsedSubnet): string | undefined {
  const reserved = NO_NSG_SUBNETS.find((n) => n.toLowerCase() === subnet.name.toLowerCase());
  if (reserved) return `${reserved} is reserved for an Azure service that does not take an NSG here`;
  const delegated = subnet.delegations.find((d) =>
    NO_NSG_DELEGATIONS.some((n) => n.toLowerCase() === d.toLowerCase()),
  );
  return delegated && `delegated to ${delegated}, which does not support NSGs`;
}

/** Short name of a resource id for messages: its last segment. */
export const shortName = resourceName;
