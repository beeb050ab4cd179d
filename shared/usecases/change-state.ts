// What an event itself shows of the resource after the change, for evaluating a captured event offline without the
// resource: the whole resource when the event carries it (Resource Notifications), else the part the change wrote
// when the event records it (the permissions of an AuthorizeSecurityGroupIngress/Egress request; the security rule a
// Resource Notifications event carried for a rule write). A part is evaluated alone: what else the resource holds
// (a Deny rule that shadows it, a permission that was already there) is not known, and the caller says so.

import { awsSecurityGroupSnapshot } from "../clouds/aws/kinds/security-group.ts";
import { parseArmResourceId } from "../clouds/azure/ids.ts";
import { networkSecurityGroup } from "../clouds/azure/kinds/network-security-group.ts";
import { azureSnapshot } from "../clouds/azure/snapshot.ts";
import type { ResourceChange, Snapshot } from "../types.ts";

export interface EventState {
  snapshot: Snapshot;
  /** `event`: the whole resource as the event carried it; `change`: only the part the change wrote. */
  from: "event" | "change";
  /** Said to the person, in words. */
  note: string;
}

const AUTHORIZE = new Set(["AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress"]);

export function stateFromEvent(change: ResourceChange): EventState | undefined {
  if (change.operation === "delete") return undefined;
  if (change.resource !== undefined && change.cloud === "azure") {
    const snapshot = azureSnapshot(change.resource, change.resourceType);
    if (snapshot) return { snapshot, from: "event", note: "evaluated the resource as the event carried it" };
  }
  if (change.cloud === "aws") return awsAddedState(change);
  if (change.cloud === "azure") return azureWrittenChild(change);
  return undefined;
}

/**
 * The group as far as the Authorize call shows it: its id and the permissions the request added, in the
 * DescribeSecurityGroups item shape (CloudTrail's request items become IpPermission in the normaliser).
 */
function awsAddedState(change: ResourceChange): EventState | undefined {
  const permissions = change.details?.permissions;
  if (!AUTHORIZE.has(change.operationName) || !Array.isArray(permissions) || permissions.length === 0) {
    return undefined;
  }
  if (!/^sg-[0-9a-zA-Z]+$/.test(change.resourceId)) return undefined;
  const egress = change.details?.direction === "egress";
  const group: Record<string, unknown> = {
    GroupId: change.resourceId,
    OwnerId: change.account,
    IpPermissions: egress ? [] : permissions,
    IpPermissionsEgress: egress ? permissions : [],
  };
  if (typeof change.details?.groupName === "string") group.GroupName = change.details.groupName;
  const snapshot = awsSecurityGroupSnapshot(group, {
    account: change.account,
    ...(change.region ? { region: change.region } : {}),
  });
  return {
    snapshot,
    from: "change",
    note: `evaluated what ${change.operationName} added (its requestParameters), not the whole group: pass the group with --resource for the rest`,
  };
}

/**
 * A security rule written in a Resource Notifications event, evaluated as the only rule of its NSG. Where a child
 * sits in its parent is the parent kind's business; NSGs are the only Azure kind with children today.
 */
function azureWrittenChild(change: ResourceChange): EventState | undefined {
  if (change.resourceType !== networkSecurityGroup.type) return undefined;
  const written = change.details?.subjectResource;
  if (typeof written !== "object" || written === null || !("properties" in written)) return undefined;
  const id = parseArmResourceId(change.resourceId);
  const name = id?.segments.at(-1);
  const nsg = {
    id: change.resourceId,
    ...(name ? { name } : {}),
    type: networkSecurityGroup.armType,
    properties: { securityRules: [written] },
  };
  const snapshot = azureSnapshot(nsg, change.resourceType);
  if (!snapshot) return undefined;
  const rule = "name" in written && typeof written.name === "string" ? written.name : "the rule";
  return {
    snapshot,
    from: "change",
    note: `evaluated ${rule} as the event carried it, alone: the NSG's other rules (a Deny before it) are not in the event; pass the NSG with --resource for them`,
  };
}
