// The storage account as ARM GET returns it (Azure/azure-rest-api-specs, Microsoft.Storage stable/2025-08-01,
// storage.json: StorageAccount, StorageAccountProperties, NetworkRuleSet, IPRule, VirtualNetworkRule), and what its
// network settings mean. Loose objects: ARM adds fields over API versions, and a PATCH must carry every allowed
// entry back exactly as read.
//
// Semantics (Azure Storage firewall docs, "Configure Azure Storage firewalls and virtual networks"):
// - `publicNetworkAccess` `Disabled` closes the public endpoint whatever the network rules say; `SecuredByPerimeter`
//   hands it to a network security perimeter. Absent or `Enabled`: the network rules decide.
// - `networkAcls.defaultAction` `Allow` accepts every network; an absent `networkAcls` is the same (the REST default).
// - `bypass` is a comma-separated combination of `Logging`, `Metrics`, `AzureServices`, or `None`; the REST default
//   when omitted is `AzureServices`.
// - `allowBlobPublicAccess` not false (absent included) permits anonymous blob access on accounts where it was
//   never set (Azure Policy 4fa4b6c0 treats only an explicit false as compliant).

import * as z from "zod";
import { STORAGE_ACCOUNT_TYPE } from "../../clouds/azure/kinds/storage-account.ts";
import { InputError } from "../../errors.ts";
import type { Snapshot } from "../../types.ts";

export { STORAGE_ACCOUNT_TYPE };

// ARM omits unset fields; `az` output and some exports show them as null. Both mean "not set".
const optionalString = z.string().nullish();

const ipRuleSchema = z.looseObject({ value: z.string(), action: optionalString });
const virtualNetworkRuleSchema = z.looseObject({
  id: z.string(),
  action: optionalString,
  state: optionalString,
});

export const networkRuleSetSchema = z.looseObject({
  bypass: optionalString,
  defaultAction: optionalString,
  ipRules: z.array(ipRuleSchema).nullish(),
  ipv6Rules: z.array(ipRuleSchema).nullish(),
  virtualNetworkRules: z.array(virtualNetworkRuleSchema).nullish(),
  resourceAccessRules: z.array(z.unknown()).nullish(),
});

export const storageAccountSchema = z.looseObject({
  id: z.string().optional(),
  name: z.string().optional(),
  type: z
    .string()
    .refine((t) => t.toLowerCase() === STORAGE_ACCOUNT_TYPE, "expected Microsoft.Storage/storageAccounts")
    .optional(),
  properties: z
    .looseObject({
      publicNetworkAccess: optionalString,
      networkAcls: networkRuleSetSchema.nullish(),
      // Resource Notifications render booleans as 1/0; the normaliser converts them, and so does this, for JSON
      // taken from such a payload by hand.
      allowBlobPublicAccess: z.preprocess(
        (v) => (v === 1 ? true : v === 0 ? false : v),
        z.boolean().nullish(),
      ),
    })
    .nullish(),
});

export type StorageAccount = z.infer<typeof storageAccountSchema>;
export type NetworkRuleSet = z.infer<typeof networkRuleSetSchema>;
export type IpRule = z.infer<typeof ipRuleSchema>;
export type VirtualNetworkRule = z.infer<typeof virtualNetworkRuleSchema>;

/** The snapshot's storage account, validated once per snapshot (every entry of a policy evaluates the same one). */
export function storageAccountOf(snapshot: Snapshot): StorageAccount {
  let account = parsed.get(snapshot);
  if (!account) {
    const result = storageAccountSchema.safeParse(snapshot.resource);
    if (!result.success) {
      const issue = result.error.issues[0];
      const path = ["resource", ...(issue?.path ?? []).map(String)].join(".");
      throw new InputError(`not an ARM storage account: ${path}: ${issue?.message}`, {
        path,
        cause: result.error,
      });
    }
    account = result.data;
    parsed.set(snapshot, account);
  }
  return account;
}

const parsed = new WeakMap<Snapshot, StorageAccount>();

const same = (a: string | null | undefined, b: string) => a?.trim().toLowerCase() === b.toLowerCase();

/** The public endpoint is closed (Disabled) or governed by a network security perimeter. */
export function publicEndpointClosed(account: StorageAccount): boolean {
  const value = account.properties?.publicNetworkAccess;
  return same(value, "Disabled") || same(value, "SecuredByPerimeter");
}

/** `Allow` unless the network rules say `Deny` (an absent rule set or default action is Allow). */
export function defaultActionAllows(account: StorageAccount): boolean {
  return !same(account.properties?.networkAcls?.defaultAction, "Deny");
}

/** The account accepts traffic from any network: the public endpoint is open and the default action is Allow. */
export function openToAllNetworks(account: StorageAccount): boolean {
  return !publicEndpointClosed(account) && defaultActionAllows(account);
}

/** The tokens of `bypass`, as written; the REST default (`AzureServices`) when absent. */
export function bypassTokens(account: StorageAccount): string[] {
  const bypass = account.properties?.networkAcls?.bypass;
  if (bypass === null || bypass === undefined) return ["AzureServices"];
  return bypass
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t.length > 0 && !same(t, "None"));
}

export function bypassesAzureServices(account: StorageAccount): boolean {
  return bypassTokens(account).some((t) => same(t, "AzureServices"));
}

/** Anonymous blob access is not explicitly disallowed. */
export function allowsBlobPublicAccess(account: StorageAccount): boolean {
  return account.properties?.allowBlobPublicAccess !== false;
}

/** The parts of a storage account the remediation may write, under `properties`. */
export const STORAGE_NETWORK_PARTS = ["networkAcls", "publicNetworkAccess", "allowBlobPublicAccess"] as const;
export type StorageNetworkPart = (typeof STORAGE_NETWORK_PARTS)[number];

/** One part of a raw account (ARM JSON) as a write guard records it: absent and null are the same (not set). */
export function partOf(account: unknown, part: StorageNetworkPart): unknown {
  const properties = (account as { properties?: Record<string, unknown> } | undefined)?.properties;
  return properties?.[part] ?? null;
}
