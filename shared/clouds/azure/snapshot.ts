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
  const tags: Record<string, string> = {};
  if (typeof raw.tags === "object" && raw.tags !== null) {
    for (const [k, v] of Object.entries(raw.tags)) if (typeof v === "string") tags[k] = v;
  }
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
