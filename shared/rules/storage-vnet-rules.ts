// Storage firewall virtual network rules (networkAcls.virtualNetworkRules): only subnets the policy approves, by
// subnet id pattern, by subscription, or by subnet role (policy `subnetRoles`). A rule for a subnet in another
// subscription (or another tenant's subscription: a subnet id names no tenant) is a finding unless the policy
// approves that subnet, subscription or role.
//
// A role approves subnets of the storage account's own subscription only: a subnet's name is whoever owns the subnet's
// choice, and so are its network's tags, so in another subscription a role would let anyone name a subnet
// `snet-private` (or tag a network) into the firewall. Subnets elsewhere are approved by id pattern or subscription.
//
// A role by ids or names is told from the rule's subnet id alone. A role by tags takes the tags of the subnet's
// virtual network (subnets carry none), which the pipeline reads once per evaluation for this rule (`reads`) and
// hands over through `context.related`. A network that could not be read approves nothing: a network that no longer
// exists leaves a rule for a subnet that exists nowhere (removed on remediate: whoever re-creates that network would
// get in); one the cloud refused to show (403, another tenant) is alerted, never removed, as the refusal may be the
// guardian's own missing permission. A throttled or failing read fails the evaluation (the event is retried), so a
// transient error never removes a rule. Offline (`guardian evaluate`) without the network's JSON, nothing that needs
// its tags is judged and the account is listed as not evaluated.
import * as z from "zod";
import { parseArmResourceId } from "../clouds/azure/ids.ts";
import { virtualNetworkOfSubnet } from "../clouds/azure/kinds/storage-account.ts";
import { VNET_TYPE } from "../clouds/azure/kinds/virtual-network.ts";
import { STORAGE_ACCOUNT_TYPE, storageAccountOf } from "./storage/account.ts";
import { MCSB_NS_2 } from "./storage/controls.ts";
import { roleMatch, roleNamed, roleNeedsTags } from "./subnet/schema.ts";
import type { RuleContext, RuleDefinition, SubnetRole, Violation } from "./types.ts";

const SUBNET_TYPE = "microsoft.network/virtualnetworks/subnets";

export const storageVnetRulesOptions = z.strictObject({
  /** Approved subnet ids; `*` matches any run of characters (e.g. `/subscriptions/<id>/resourceGroups/rg-data/*`). Case-insensitive. */
  subnets: z.array(z.string().min(1)).default([]),
  /** Subscriptions whose subnets are approved. */
  subscriptions: z.array(z.string().regex(/^[0-9a-fA-F-]{36}$/, "a subscription id (GUID)")).default([]),
  /** Approve every subnet in the storage account's own subscription. */
  ownSubscription: z.boolean().default(false),
  /** Subnet roles (policy `subnetRoles`) whose subnets are approved: by id, name, or their virtual network's tags. */
  roles: z.array(z.string().min(1)).default([]),
});

type Options = z.infer<typeof storageVnetRulesOptions>;

export type VnetRuleReason =
  | "not-approved"
  | "other-subscription"
  | "not-a-subnet"
  | "network-gone"
  | "network-unreadable";

export type VnetRuleMatch = {
  part: "networkAcls.virtualNetworkRules";
  index: number;
  id: string;
  reason: VnetRuleReason;
  /** Why the subnet's virtual network could not be read (network-unreadable), in the cloud's words. */
  detail?: string;
};

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`, "i");
}

const compiled = new WeakMap<Options, RegExp[]>();
function patterns(options: Options): RegExp[] {
  let list = compiled.get(options);
  if (!list) {
    list = options.subnets.map(globToRegExp);
    compiled.set(options, list);
  }
  return list;
}

const WHY: Record<VnetRuleReason, string> = {
  "not-approved": "is not an approved subnet",
  "other-subscription": "is a subnet of another subscription that the policy does not approve",
  "not-a-subnet": "is not a subnet id",
  "network-gone": "is not approved: its virtual network could not be read (it no longer exists)",
  "network-unreadable": "is not approved: its virtual network could not be read",
};

const sentence = (m: VnetRuleMatch) =>
  `virtual network rule ${m.id} ${WHY[m.reason]}${m.detail ? ` (${m.detail})` : ""}`;

/** The entry's roles as the policy defines them (the loader checked that each exists). */
function rolesOf(options: Options, context: RuleContext): SubnetRole[] {
  return options.roles.flatMap((name) => roleNamed(context, name) ?? []);
}

/**
 * Whether one of the roles approves the subnet: true, false, or the state of its virtual network when the answer
 * hangs on that network's tags and they are not at hand.
 */
function approvedByRole(
  subnetId: string,
  roles: readonly SubnetRole[],
  context: RuleContext,
): true | false | "gone" | { unreadable: string } | "not-read" {
  let pending = false;
  for (const role of roles) {
    const match = roleMatch(role, subnetId, undefined);
    if (match === true) return true;
    if (match === undefined) pending = true;
  }
  if (!pending) return false;
  const vnetId = virtualNetworkOfSubnet(subnetId);
  const network = vnetId === undefined ? undefined : context.related?.(vnetId);
  if (network === undefined) return "not-read";
  if (network === null) return "gone";
  if ("unreadable" in network) return network;
  return roles.some((role) => roleMatch(role, subnetId, network.tags) === true);
}

function approvedWithoutRoles(id: string, subscription: string, own: string, options: Options): boolean {
  return (
    patterns(options).some((p) => p.test(id)) ||
    options.subscriptions.some((s) => s.toLowerCase() === subscription) ||
    (options.ownSubscription && subscription === own)
  );
}

export const storageVnetRules = {
  id: "storage-vnet-rules",
  description:
    "Storage firewall virtual network rules for subnets the policy does not approve (by subnet id pattern, " +
    "subscription or subnet role); rules from another subscription or tenant are findings unless approved.",
  cloud: "azure",
  resourceTypes: [STORAGE_ACCOUNT_TYPE],
  controls: [MCSB_NS_2],
  options: storageVnetRulesOptions,
  // Virtual networks are read only for roles that select subnets by their network's tags.
  permissions: ["Microsoft.Storage/storageAccounts/read", "Microsoft.Network/virtualNetworks/read"],
  remediations: ["storage-close-network"],
  example: `- name: storage-approved-subnets
  rule: storage-vnet-rules
  mode: remediate
  severity: high
  options:
    subnets: ["/subscriptions/*/resourceGroups/rg-qubole/providers/Microsoft.Network/virtualNetworks/vnet-qubole/subnets/private"]
    roles: [private]
`,
  // Pure: the networks are needed only when a role selects by tags and some rule is not approved otherwise.
  reads(snapshot, options, context) {
    if (!rolesOf(options, context).some(roleNeedsTags)) return [];
    const own = snapshot.account.toLowerCase();
    const rules = storageAccountOf(snapshot).properties?.networkAcls?.virtualNetworkRules ?? [];
    const needed = rules.some((rule) => {
      const id = parseArmResourceId(rule.id);
      return (
        id?.type === SUBNET_TYPE &&
        id.subscriptionId.toLowerCase() === own &&
        !approvedWithoutRoles(rule.id, own, own, options)
      );
    });
    return needed ? [VNET_TYPE] : [];
  },
  evaluate(snapshot, options: Options, context): Violation[] {
    const rules = storageAccountOf(snapshot).properties?.networkAcls?.virtualNetworkRules ?? [];
    const own = snapshot.account.toLowerCase();
    const roles = rolesOf(options, context);
    const removable: VnetRuleMatch[] = [];
    const unreadable: VnetRuleMatch[] = [];
    rules.forEach((rule, index) => {
      const id = parseArmResourceId(rule.id);
      const at = { part: "networkAcls.virtualNetworkRules" as const, index, id: rule.id };
      if (!id || id.type !== SUBNET_TYPE) {
        removable.push({ ...at, reason: "not-a-subnet" });
        return;
      }
      const subscription = id.subscriptionId.toLowerCase();
      if (approvedWithoutRoles(rule.id, subscription, own, options)) return;
      const byRole =
        roles.length === 0 || subscription !== own ? false : approvedByRole(rule.id, roles, context);
      // Offline without the network's JSON: not judged (`guardian evaluate` lists the account as not evaluated).
      if (byRole === true || byRole === "not-read") return;
      if (byRole === "gone") removable.push({ ...at, reason: "network-gone" });
      else if (byRole !== false)
        unreadable.push({ ...at, reason: "network-unreadable", detail: byRole.unreadable });
      else removable.push({ ...at, reason: subscription === own ? "not-approved" : "other-subscription" });
    });
    const out: Violation[] = [];
    if (removable.length > 0) {
      out.push({ message: `Storage firewall: ${removable.map(sentence).join("; ")}`, matched: removable });
    }
    if (unreadable.length > 0) {
      out.push({
        message: `Storage firewall: ${unreadable.map(sentence).join("; ")}`,
        matched: unreadable,
        kind: "network-unreadable",
        alertOnly:
          "the subnet's virtual network could not be read, so its role cannot be told; the rule is left in place " +
          "(the refusal may be the guardian's own missing Microsoft.Network/virtualNetworks/read): grant the read or approve the subnet",
      });
    }
    return out;
  },
} satisfies RuleDefinition<typeof storageVnetRulesOptions>;
