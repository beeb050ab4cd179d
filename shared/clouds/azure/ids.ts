export interface ArmId {
  subscriptionId: string;
  resourceGroup: string | undefined;
  /** `Microsoft.Network` */
  provider: string | undefined;
  /** Lower-cased full type: `microsoft.network/networksecuritygroups/securityrules`. */
  type: string;
  /** Names along the type path: [nsg, rule]. */
  names: string[];
  name: string;
}

/** Parses an ARM resource id; undefined when it is not one. Case is kept except in `type`. */
export function parseArmId(id: string): ArmId | undefined {
  const parts = id.split("/").filter((p) => p !== "");
  if (parts.length < 2 || parts[0]?.toLowerCase() !== "subscriptions") return undefined;
  const subscriptionId = parts[1] ?? "";
  let i = 2;
  let resourceGroup: string | undefined;
  if (parts[i]?.toLowerCase() === "resourcegroups") {
    resourceGroup = parts[i + 1];
    i += 2;
  }
  if (parts[i]?.toLowerCase() !== "providers") {
    return {
      subscriptionId,
      resourceGroup,
      provider: undefined,
      type: "",
      names: [],
      name: resourceGroup ?? "",
    };
  }
  const provider = parts[i + 1];
  const rest = parts.slice(i + 2);
  if (!provider || rest.length < 2 || rest.length % 2 !== 0) return undefined;
  const types: string[] = [];
  const names: string[] = [];
  for (let k = 0; k < rest.length; k += 2) {
    types.push(rest[k] ?? "");
    names.push(rest[k + 1] ?? "");
  }
  return {
    subscriptionId,
    resourceGroup,
    provider,
    type: [provider, ...types].join("/").toLowerCase(),
    names,
    name: names.at(-1) ?? "",
  };
}

export function azurePortalUrl(resourceId: string, tenantId?: string): string {
  return `https://portal.azure.com/#${tenantId ? `@${tenantId}` : ""}/resource${resourceId}`;
}
