// Storage firewall virtual network rules (networkAcls.virtualNetworkRules): only subnets the policy approves, by
// subnet id pattern or by subscription. A rule for a subnet in another subscription (or another tenant's
// subscription: a subnet id names no tenant) is a finding unless the policy approves that subnet or subscription.
import * as z from "zod";
import { parseArmResourceId } from "../clouds/azure/ids.ts";
import { STORAGE_ACCOUNT_TYPE, storageAccountOf } from "./storage/account.ts";
import { MCSB_NS_2 } from "./storage/controls.ts";
import type { RuleDefinition, Violation } from "./types.ts";

const SUBNET_TYPE = "microsoft.network/virtualnetworks/subnets";

export const storageVnetRulesOptions = z.strictObject({
  /** Approved subnet ids; `*` matches any run of characters (e.g. `/subscriptions/<id>/resourceGroups/rg-data/*`). Case-insensitive. */
  subnets: z.array(z.string().min(1)).default([]),
  /** Subscriptions whose subnets are approved. */
  subscriptions: z.array(z.string().regex(/^[0-9a-fA-F-]{36}$/, "a subscription id (GUID)")).default([]),
  /** Approve every subnet in the storage account's own subscription. */
  ownSubscription: z.boolean().default(false),
});

type Options = z.infer<typeof storageVnetRulesOptions>;

export type VnetRuleReason = "not-approved" | "other-subscription" | "not-a-subnet";

export type VnetRuleMatch = {
  part: "networkAcls.virtualNetworkRules";
  index: number;
  id: string;
  reason: VnetRuleReason;
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
};

export const storageVnetRules = {
  id: "storage-vnet-rules",
  description:
    "Storage firewall virtual network rules for subnets the policy does not approve (by subnet id pattern or " +
    "subscription); rules from another subscription or tenant are findings unless approved.",
  cloud: "azure",
  resourceTypes: [STORAGE_ACCOUNT_TYPE],
  controls: [MCSB_NS_2],
  options: storageVnetRulesOptions,
  permissions: ["Microsoft.Storage/storageAccounts/read"],
  remediations: ["storage-close-network"],
  example: `- name: storage-approved-subnets
  rule: storage-vnet-rules
  mode: remediate
  severity: high
  options:
    subnets: ["/subscriptions/*/resourceGroups/rg-qubole/providers/Microsoft.Network/virtualNetworks/vnet-qubole/subnets/private"]
`,
  evaluate(snapshot, options: Options): Violation[] {
    const rules = storageAccountOf(snapshot).properties?.networkAcls?.virtualNetworkRules ?? [];
    const own = snapshot.account.toLowerCase();
    const subscriptions = new Set(options.subscriptions.map((s) => s.toLowerCase()));
    const matched: VnetRuleMatch[] = [];
    rules.forEach((rule, index) => {
      const id = parseArmResourceId(rule.id);
      let reason: VnetRuleReason | undefined;
      if (!id || id.type !== SUBNET_TYPE) reason = "not-a-subnet";
      else {
        const subscription = id.subscriptionId.toLowerCase();
        const approved =
          patterns(options).some((p) => p.test(rule.id)) ||
          subscriptions.has(subscription) ||
          (options.ownSubscription && subscription === own);
        if (!approved) reason = subscription === own ? "not-approved" : "other-subscription";
      }
      if (reason) matched.push({ part: "networkAcls.virtualNetworkRules", index, id: rule.id, reason });
    });
    if (matched.length === 0) return [];
    return [
      {
        message: `Storage firewall: ${matched.map((m) => `virtual network rule ${m.id} ${WHY[m.reason]}`).join("; ")}`,
        matched,
      },
    ];
  },
} satisfies RuleDefinition<typeof storageVnetRulesOptions>;
