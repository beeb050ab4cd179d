// Removes the unapproved entries from a service endpoint policy definition and keeps the rest: one PUT of the
// definition as read (every other property as it was), guarded by its etag. A definition whose every entry is
// unapproved is left for a person: emptied, it would either be refused or change what the policy filters.

import { SUBNET_API_VERSION } from "../clouds/azure/kinds/subnet.ts";
import { SEP_RESOURCE_TYPE, sepOf } from "../rules/sep/policy.ts";
import { shellQuote } from "../shell.ts";
import type { Finding, PlannedChange, Snapshot } from "../types.ts";
import { matchedOf, type Remediation, type RemediationContext, type UndoStep } from "./types.ts";

const ID = "sep-remove-resources";

interface Removal {
  index: number;
  name: string;
  remove: string[];
  keep: string[];
}

/** Per definition still listing a matched entry: what goes and what stays, in the finding's order. */
function removals(snapshot: Snapshot, finding: Finding): Removal[] {
  const matched = matchedOf(finding);
  const { definitions } = sepOf(snapshot);
  const out: Removal[] = [];
  definitions.forEach((d, index) => {
    const entries = d.properties.serviceResources ?? [];
    const flagged = matched.filter(
      (m): m is Record<string, unknown> =>
        typeof m === "object" &&
        m !== null &&
        typeof (m as { definition?: unknown }).definition === "string" &&
        String((m as { definition: string }).definition).toLowerCase() === d.name.toLowerCase(),
    );
    const remove = entries.filter((e) => flagged.some((m) => m.resource === e));
    if (remove.length === 0) return;
    out.push({ index, name: d.name, remove, keep: entries.filter((e) => !remove.includes(e)) });
  });
  return out;
}

function plan(snapshot: Snapshot, finding: Finding, _context: RemediationContext): PlannedChange | undefined {
  const all = removals(snapshot, finding);
  const writable = all.filter((r) => r.keep.length > 0);
  const first = writable[0];
  if (!first) return undefined;
  const raw = sepOf(snapshot).raw[first.index] as Record<string, unknown>;
  const props = { ...(raw.properties as Record<string, unknown>) };
  delete props.provisioningState;
  props.serviceResources = first.keep;
  const after = { ...structuredClone(raw), properties: structuredClone(props) };
  const etag = typeof raw.etag === "string" ? raw.etag : snapshot.etag;
  return {
    remediation: ID,
    resourceId: snapshot.resourceId,
    summary: `remove ${first.remove.join(", ")} from service endpoint policy definition ${first.name}; keeps ${first.keep.join(", ")}`,
    operation: {
      kind: "put-service-endpoint-policy-definition",
      policyId: snapshot.resourceId,
      definitionName: first.name,
      ...(etag ? { ifMatch: etag } : {}),
      definition: after,
    },
    before: structuredClone(raw),
    after,
    complete: writable.length === 1 && all.length === 1,
  };
}

function manual(snapshot: Snapshot, finding: Finding): string | undefined {
  const emptied = removals(snapshot, finding).filter((r) => r.keep.length === 0);
  if (emptied.length === 0) return undefined;
  return `definition ${emptied.map((r) => r.name).join(", ")} lists no approved entry: removing them all would leave it empty`;
}

/** `az rest` PUT of the definition as it was before, and the portal step. */
function undo(planned: PlannedChange): UndoStep | undefined {
  const before = planned.before as { name?: unknown; properties?: Record<string, unknown> } | null;
  if (!before || typeof before.name !== "string" || typeof before.properties !== "object") return undefined;
  const { provisioningState: _readOnly, ...properties } = before.properties;
  const url =
    `https://management.azure.com${planned.resourceId}/serviceEndpointPolicyDefinitions/` +
    `${encodeURIComponent(before.name)}?api-version=${SUBNET_API_VERSION}`;
  return {
    command: [
      "az rest --method put",
      `--url ${shellQuote(url)}`,
      `--body ${shellQuote(JSON.stringify({ ...before, properties }))}`,
    ].join(" \\\n  "),
    portal: `Azure portal: service endpoint policy ${planned.resourceId.split("/").at(-1) ?? ""} › Policy definitions › ${before.name} › add the removed resources back`,
  };
}

export const sepRemoveResources = {
  id: ID,
  description:
    "Removes the unapproved entries from each service endpoint policy definition and keeps the approved ones, one " +
    "etag-guarded PUT per definition; a definition with no approved entry is left for a person.",
  resourceTypes: [SEP_RESOURCE_TYPE],
  permissions: ["Microsoft.Network/serviceEndpointPolicies/serviceEndpointPolicyDefinitions/write"],
  plan,
  manual,
  undo,
} satisfies Remediation;
