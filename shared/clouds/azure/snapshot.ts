import type { Snapshot } from "../../types.ts";
import { parseArmResourceId } from "./ids.ts";

/** A snapshot from ARM JSON (a GET body, or the resource a Resource Notifications event carried). */
export function azureSnapshot(resource: unknown, resourceType: string): Snapshot | undefined {
  if (
    typeof resource !== "object" ||
    resource === null ||
    !("id" in resource) ||
    typeof resource.id !== "string"
  ) {
    return undefined;
  }
  const id = parseArmResourceId(resource.id);
  const raw = resource as { id: string; etag?: unknown; tags?: unknown; location?: unknown };
  // fromEntries defines own properties: a tag named `__proto__` stays a tag instead of vanishing into the prototype.
  const tags: Record<string, string> =
    typeof raw.tags === "object" && raw.tags !== null
      ? Object.fromEntries(
          Object.entries(raw.tags).filter((e): e is [string, string] => typeof e[1] === "string"),
        )
      : {};
  return {
    cloud: "azure",
    resourceId: raw.id,
    resourceType,
    etag: typeof raw.etag === "string" ? raw.etag : undefined,
    resource,
    tags,
    resourceGroup: id?.resourceGroup,
    account: id?.subscriptionId ?? "",
    region: typeof raw.location === "string" ? raw.location : undefined,
  };
}
