// Puts back what a subnet must hold (an NSG, a service endpoint policy, a route table) or takes away what it must not
// (a storage service endpoint on a public subnet), all in one subnet PUT: the whole subnet as read, every other
// property byte for byte, guarded by its etag. Enabling or disabling a service endpoint interrupts the subnet's
// traffic to that service briefly, which is why subnet entries default to alert and remediation is opted into.

import { SUBNET_API_VERSION } from "../clouds/azure/kinds/subnet.ts";
import { type SubnetPart, subnetParts, writable } from "../rules/subnet/parts.ts";
import { SUBNET_RESOURCE_TYPE, sameId, shortName } from "../rules/subnet/schema.ts";
import { subnetState } from "../rules/subnet/state.ts";
import { shellQuote } from "../shell.ts";
import type { Finding, PlannedChange, Snapshot } from "../types.ts";
import { matchedOf, type Remediation, type RemediationContext, type UndoStep } from "./types.ts";

const ID = "subnet-restore";

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The edit of one part: what the properties become, and a few words for the summary. */
function apply(props: Json, part: SubnetPart): string | undefined {
  switch (part.part) {
    case "networkSecurityGroup":
    case "routeTable": {
      if (!part.attach) return undefined;
      const current = isObject(props[part.part]) ? (props[part.part] as Json).id : undefined;
      if (typeof current === "string" && sameId(current, part.attach)) return undefined;
      props[part.part] = { id: part.attach };
      const what = part.part === "networkSecurityGroup" ? "NSG" : "route table";
      return `${typeof current === "string" ? `replace ${what} ${shortName(current)} with` : `attach ${what}`} ${shortName(part.attach)}`;
    }
    case "serviceEndpointPolicies": {
      if (!part.want) return undefined;
      const list = Array.isArray(props.serviceEndpointPolicies) ? props.serviceEndpointPolicies : [];
      const idOf = (e: unknown) => (isObject(e) && typeof e.id === "string" ? e.id : undefined);
      // Kept policies stay as read; the ones to attach are references.
      const kept = list.filter((e) => {
        const id = idOf(e);
        return id !== undefined && part.want?.some((w) => sameId(w, id));
      });
      const added = part.want.filter((w) => !kept.some((e) => sameId(idOf(e) as string, w)));
      const removed = list.flatMap((e) => {
        const id = idOf(e);
        return id !== undefined && !part.want?.some((w) => sameId(w, id)) ? [id] : [];
      });
      if (added.length === 0 && removed.length === 0) return undefined;
      props.serviceEndpointPolicies = [...kept, ...added.map((id) => ({ id }))];
      return [
        ...(added.length > 0 ? [`attach service endpoint policy ${added.map(shortName).join(", ")}`] : []),
        ...(removed.length > 0 ? [`detach ${removed.map(shortName).join(", ")}`] : []),
      ].join(", ");
    }
    case "serviceEndpoints": {
      const list = Array.isArray(props.serviceEndpoints) ? props.serviceEndpoints : [];
      const serviceOf = (e: unknown) => (isObject(e) && typeof e.service === "string" ? e.service : "");
      const remove = (part.remove ?? []).map((s) => s.toLowerCase());
      const kept = list.filter((e) => !remove.includes(serviceOf(e).toLowerCase()));
      const removed = list.length - kept.length;
      const add = (part.add ?? []).filter(
        (s) => !kept.some((e) => serviceOf(e).toLowerCase() === s.toLowerCase()),
      );
      if (removed === 0 && add.length === 0) return undefined;
      props.serviceEndpoints = [...kept, ...add.map((service) => ({ service }))];
      const words = [
        ...(add.length > 0 ? [`add service endpoint ${add.join(", ")}`] : []),
        ...(removed > 0 ? [`remove service endpoint ${part.remove?.join(", ")}`] : []),
      ];
      // A service endpoint policy filters an endpoint: with no storage endpoint left, none may stay attached.
      if (removed > 0 && kept.length === 0 && Array.isArray(props.serviceEndpointPolicies)) {
        if (props.serviceEndpointPolicies.length > 0) words.push("detach its service endpoint policies");
        props.serviceEndpointPolicies = [];
      }
      return words.join(", ");
    }
    case "defaultRoute":
      return undefined;
  }
}

function plan(snapshot: Snapshot, finding: Finding, context: RemediationContext): PlannedChange | undefined {
  const resource = snapshot.resource;
  if (!isObject(resource) || !isObject(resource.properties)) return undefined;
  // This entry's parts, then those of the other subnet entries in remediate mode: one PUT for them all.
  const findings = [finding, ...(context.siblings ?? [])];
  const parts = findings.flatMap((f) => subnetParts(matchedOf(f))).filter(writable);
  if (parts.length === 0) return undefined;
  const before = structuredClone(resource);
  // The whole subnet as read; provisioningState describes the last operation, not the subnet, and is not sent.
  const { provisioningState: _readOnly, ...props } = structuredClone(resource.properties);
  const words = parts.flatMap((part) => apply(props, part) ?? []);
  if (words.length === 0) return undefined;
  const after = { ...structuredClone(resource), properties: props };
  const expect = subnetState(props);
  const changed = new Set(parts.map((p) => p.part));
  const name = typeof resource.name === "string" ? resource.name : shortName(snapshot.resourceId);
  return {
    remediation: ID,
    resourceId: snapshot.resourceId,
    summary: `subnet ${name}: ${words.join("; ")}`,
    operation: {
      kind: "put-subnet",
      subnetId: snapshot.resourceId,
      ...(typeof resource.etag === "string" ? { ifMatch: resource.etag } : {}),
      subnet: after,
      expect: {
        ...(changed.has("networkSecurityGroup") ? { networkSecurityGroup: expect.networkSecurityGroup } : {}),
        ...(changed.has("routeTable") ? { routeTable: expect.routeTable } : {}),
        ...(changed.has("serviceEndpointPolicies") || changed.has("serviceEndpoints")
          ? { serviceEndpointPolicies: expect.serviceEndpointPolicies }
          : {}),
        ...(changed.has("serviceEndpoints") ? { serviceEndpoints: expect.serviceEndpoints } : {}),
      },
    },
    before,
    after,
    // Every writable part is in this one PUT; what remains (a route inside a route table) is a person's.
    complete: true,
  };
}

function manual(_snapshot: Snapshot, finding: Finding): string | undefined {
  const left = subnetParts(matchedOf(finding)).filter((p) => !writable(p));
  if (left.length === 0) return undefined;
  return [
    ...new Set(left.map((p) => ("manual" in p && p.manual ? p.manual : "nothing to attach is named"))),
  ].join("; ");
}

/** `az rest` PUT of the subnet as it was before (the audited before-state, provisioningState aside), and the portal step. */
function undo(planned: PlannedChange): UndoStep | undefined {
  if (!isObject(planned.before) || !isObject(planned.before.properties)) return undefined;
  const { provisioningState: _readOnly, ...properties } = planned.before.properties;
  const url = `https://management.azure.com${planned.resourceId}?api-version=${SUBNET_API_VERSION}`;
  return {
    command: [
      "az rest --method put",
      `--url ${shellQuote(url)}`,
      `--body ${shellQuote(JSON.stringify({ ...planned.before, properties }))}`,
    ].join(" \\\n  "),
    portal: `Azure portal: virtual network › Subnets › ${planned.resourceId.split("/").at(-1) ?? ""} › set the NSG, route table, service endpoints and service endpoint policies back as before`,
  };
}

export const subnetRestore = {
  id: ID,
  description:
    "Re-attaches the NSG, service endpoint policy or route table a subnet must hold, or removes a storage service " +
    "endpoint it must not have, in one subnet PUT carrying the whole subnet as read, guarded by its etag.",
  resourceTypes: [SUBNET_RESOURCE_TYPE],
  permissions: [
    "Microsoft.Network/virtualNetworks/subnets/write",
    // ARM checks the linked access to what a subnet PUT references.
    "Microsoft.Network/networkSecurityGroups/join/action",
    "Microsoft.Network/routeTables/join/action",
    "Microsoft.Network/serviceEndpointPolicies/join/action",
  ],
  // Several subnet entries (the baseline's and a role's) may each want something back: one PUT carries it all.
  planTogether: true,
  plan,
  manual,
  undo,
} satisfies Remediation;
