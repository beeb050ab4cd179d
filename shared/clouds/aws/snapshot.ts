import type { Snapshot } from "../../types.ts";

export const AWS_SECURITY_GROUP_TYPE = "aws:ec2:security-group";

interface GroupLike {
  GroupId?: unknown;
  OwnerId?: unknown;
  Tags?: unknown;
}

/** Tags of a Describe item as a flat map (the shape scope and exemption checks use). */
export function awsTagMap(tags: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(tags)) return out;
  for (const tag of tags as { Key?: unknown; Value?: unknown }[]) {
    if (typeof tag?.Key === "string") out[tag.Key] = typeof tag.Value === "string" ? tag.Value : "";
  }
  return out;
}

/** A snapshot of one DescribeSecurityGroups item, kept exactly as the API returned it. No SDK needed. */
export function awsSecurityGroupSnapshot(
  item: unknown,
  fallback: { resourceId?: string; account?: string; region?: string } = {},
): Snapshot {
  const group = item as GroupLike;
  const snapshot: Snapshot = {
    cloud: "aws",
    resourceId: typeof group.GroupId === "string" ? group.GroupId : (fallback.resourceId ?? ""),
    resourceType: AWS_SECURITY_GROUP_TYPE,
    resource: item,
    tags: awsTagMap(group.Tags),
    account: typeof group.OwnerId === "string" ? group.OwnerId : (fallback.account ?? ""),
  };
  if (fallback.region !== undefined) snapshot.region = fallback.region;
  return snapshot;
}
