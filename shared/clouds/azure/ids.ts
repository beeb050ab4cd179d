export interface ArmResourceId {
  subscriptionId: string;
  resourceGroup?: string;
  /** Lower-cased full type, e.g. `microsoft.network/networksecuritygroups/securityrules`. */
  type: string;
  /** The id's segments, without empty ones, as written. */
  segments: readonly string[];
  /** Index in `segments` of the provider namespace of the last `providers` section (-1 for subscriptions/groups). */
  namespaceIndex: number;
}

/**
 * Parses an ARM id. Extension resources (`.../providers/A/x/n/providers/B/y/m`) take the type of the last provider
 * section. Undefined when the text is not a resource id (a collection path, a missing name, no subscription).
 */
export function parseArmResourceId(id: string): ArmResourceId | undefined {
  const segments = id.split("/").filter((s) => s.length > 0);
  if (segments.length < 2 || segments[0]?.toLowerCase() !== "subscriptions") return undefined;
  const subscriptionId = segments[1] as string;
  if (segments.length === 2) {
    return { subscriptionId, type: "microsoft.resources/subscriptions", segments, namespaceIndex: -1 };
  }
  let resourceGroup: string | undefined;
  let at = 2;
  if (segments[2]?.toLowerCase() === "resourcegroups") {
    resourceGroup = segments[3];
    if (resourceGroup === undefined) return undefined;
    if (segments.length === 4) {
      return {
        subscriptionId,
        resourceGroup,
        type: "microsoft.resources/resourcegroups",
        segments,
        namespaceIndex: -1,
      };
    }
    at = 4;
  }
  // Walk type/name pairs so a resource *named* "providers" is not taken for a providers section.
  let namespaceIndex = -1;
  while (at < segments.length) {
    if (segments[at]?.toLowerCase() !== "providers") {
      if (namespaceIndex < 0) return undefined;
      at += 2;
      continue;
    }
    namespaceIndex = at + 1;
    at += 2;
  }
  const afterNamespace = segments.length - namespaceIndex - 1;
  if (namespaceIndex < 0 || afterNamespace < 2 || afterNamespace % 2 !== 0) return undefined;
  const parts = [segments[namespaceIndex] as string];
  for (let i = namespaceIndex + 1; i < segments.length; i += 2) parts.push(segments[i] as string);
  const parsed: ArmResourceId = {
    subscriptionId,
    type: parts.join("/").toLowerCase(),
    segments,
    namespaceIndex,
  };
  if (resourceGroup !== undefined) parsed.resourceGroup = resourceGroup;
  return parsed;
}

/** The resource's own name: the id's last segment. */
export function armName(id: ArmResourceId): string {
  return id.segments.at(-1) ?? "";
}

export function azurePortalUrl(resourceId: string, tenantId?: string): string {
  return `https://portal.azure.com/#${tenantId ? `@${tenantId}` : ""}/resource${resourceId}`;
}
