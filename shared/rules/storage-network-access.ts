// A storage account that accepts traffic from any network: its public endpoint is open (publicNetworkAccess neither
// Disabled nor SecuredByPerimeter) and its firewall's default action is Allow (an absent network rule set included).
// With `publicNetworkAccess: disabled` the entry also requires the public endpoint itself to be closed.
import * as z from "zod";
import {
  defaultActionAllows,
  openToAllNetworks,
  publicEndpointClosed,
  STORAGE_ACCOUNT_TYPE,
  storageAccountOf,
} from "./storage/account.ts";
import { CIS_DEFAULT_DENY, CIS_PUBLIC_NETWORK_ACCESS, MCSB_NS_2 } from "./storage/controls.ts";
import type { RuleDefinition, Violation } from "./types.ts";

export const storageNetworkAccessOptions = z.strictObject({
  /**
   * `selected-networks`: the public endpoint may stay open to the networks the firewall lists (default action Deny).
   * `disabled`: the public endpoint must be closed (publicNetworkAccess Disabled, or SecuredByPerimeter).
   */
  publicNetworkAccess: z.enum(["selected-networks", "disabled"]).default("selected-networks"),
});

type Options = z.infer<typeof storageNetworkAccessOptions>;

const notSet = (value: string | null | undefined, what: string) => value ?? `${what} (not set)`;

export const storageNetworkAccess = {
  id: "storage-network-access",
  description:
    "Storage accounts that accept traffic from all networks (public endpoint open and firewall default action Allow); " +
    "optionally, any open public endpoint.",
  cloud: "azure",
  resourceTypes: [STORAGE_ACCOUNT_TYPE],
  controls: [...CIS_DEFAULT_DENY, ...CIS_PUBLIC_NETWORK_ACCESS, MCSB_NS_2],
  options: storageNetworkAccessOptions,
  permissions: ["Microsoft.Storage/storageAccounts/read"],
  remediations: ["storage-close-network"],
  example: `- name: storage-selected-networks-only
  rule: storage-network-access
  mode: remediate
  severity: high
  options:
    publicNetworkAccess: selected-networks
`,
  evaluate(snapshot, options: Options): Violation[] {
    const account = storageAccountOf(snapshot);
    const properties = account.properties;
    const publicNetworkAccess = notSet(properties?.publicNetworkAccess, "Enabled");
    const messages: string[] = [];
    const matched: Violation["matched"] = [];
    const controls = new Set<string>();
    if (openToAllNetworks(account)) {
      const defaultAction = properties?.networkAcls
        ? notSet(properties.networkAcls.defaultAction, "Allow")
        : "Allow (no network rules)";
      messages.push(
        `accepts traffic from all networks: publicNetworkAccess is ${publicNetworkAccess} and networkAcls.defaultAction is ${defaultAction}`,
      );
      matched.push({ part: "networkAcls.defaultAction", value: defaultAction, publicNetworkAccess });
      for (const c of [...CIS_DEFAULT_DENY, ...CIS_PUBLIC_NETWORK_ACCESS, MCSB_NS_2]) controls.add(c);
    }
    if (options.publicNetworkAccess === "disabled" && !publicEndpointClosed(account)) {
      messages.push(
        `its public endpoint is open: publicNetworkAccess is ${publicNetworkAccess}${
          defaultActionAllows(account) ? "" : " (the firewall's default action is Deny)"
        }`,
      );
      matched.push({ part: "publicNetworkAccess", value: publicNetworkAccess });
      for (const c of [...CIS_PUBLIC_NETWORK_ACCESS, MCSB_NS_2]) controls.add(c);
    }
    if (matched.length === 0) return [];
    return [{ message: `Storage account ${messages.join("; ")}`, controls: [...controls], matched }];
  },
} satisfies RuleDefinition<typeof storageNetworkAccessOptions>;
