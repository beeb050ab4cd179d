// Closes a storage account's network settings to what the policy allows, in one PATCH: the firewall's default action
// to Deny, unapproved IP and virtual network rules removed, required IP rules put back, the trusted-services
// exception set as required, and (when an entry asks) publicNetworkAccess Disabled and allowBlobPublicAccess false.
// Every other entry of networkAcls (allowed IP and VNet rules, resource access rules, IPv6 rules) is written back
// byte for byte, in its place; no other property of the account is touched.
//
// A PATCH that carries networkAcls replaces that whole object (StorageAccounts_Update), so the body carries all of
// it. The account has no etag: the plan records each part as evaluated, and the writer reads the account again
// right before the PATCH and writes nothing if a part differs (shared/clouds/azure/storage.ts).

import { STORAGE_ACCOUNT_TYPE, STORAGE_API_VERSION } from "../clouds/azure/kinds/storage-account.ts";
import { InputError } from "../errors.ts";
import { bypassTokens, partOf, type StorageNetworkPart, storageAccountOf } from "../rules/storage/account.ts";
import { shellQuote } from "../shell.ts";
import type { Finding, Matched, PlannedChange, Snapshot } from "../types.ts";
import type { Remediation, RemediationContext, UndoStep } from "./types.ts";

const ID = "storage-close-network";

type Json = Record<string, unknown>;
type RuleList = "ipRules" | "ipv6Rules" | "virtualNetworkRules";

interface Edits {
  defaultActionDeny: boolean;
  publicNetworkAccessDisabled: boolean;
  blobPublicAccessOff: boolean;
  /** Positions to remove per list, with the value found there when evaluated (re-checked before removal). */
  remove: Map<RuleList, Map<number, string>>;
  /** Values to add per IP list (required entries). */
  add: Map<"ipRules" | "ipv6Rules", string[]>;
  azureServices?: "add" | "remove";
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isInteger(v) ? v : undefined;

/** What the matched parts ask for; an unknown part is a planner error, never a silent no-op. */
function editsFrom(findings: readonly Finding[]): Edits {
  const edits: Edits = {
    defaultActionDeny: false,
    publicNetworkAccessDisabled: false,
    blobPublicAccessOff: false,
    remove: new Map(),
    add: new Map(),
  };
  for (const finding of findings) {
    if (!Array.isArray(finding.matched)) {
      throw new InputError(`finding of ${finding.policyRule} has no list of matched parts`);
    }
    for (const m of finding.matched as Matched[]) {
      const part = str(m.part);
      if (part === "networkAcls.defaultAction") edits.defaultActionDeny = true;
      else if (part === "publicNetworkAccess") edits.publicNetworkAccessDisabled = true;
      else if (part === "allowBlobPublicAccess") edits.blobPublicAccessOff = true;
      else if (part === "networkAcls.bypass") {
        const want = str(m.azureServices);
        if (want !== "add" && want !== "remove")
          throw new InputError(`bypass part without azureServices: ${JSON.stringify(m)}`);
        edits.azureServices = want;
      } else if (part === "networkAcls.ipRules" || part === "networkAcls.ipv6Rules") {
        const list = part.slice("networkAcls.".length) as "ipRules" | "ipv6Rules";
        const missing = str(m.missing);
        if (missing !== undefined) {
          const values = edits.add.get(list) ?? [];
          if (!values.includes(missing)) values.push(missing);
          edits.add.set(list, values);
        } else {
          removeAt(edits, list, num(m.index), str(m.value), m);
        }
      } else if (part === "networkAcls.virtualNetworkRules") {
        removeAt(edits, "virtualNetworkRules", num(m.index), str(m.id), m);
      } else {
        throw new InputError(`${ID} cannot fix the part ${JSON.stringify(part)}`);
      }
    }
  }
  return edits;
}

function removeAt(
  edits: Edits,
  list: RuleList,
  index: number | undefined,
  key: string | undefined,
  m: Matched,
) {
  if (index === undefined || key === undefined)
    throw new InputError(`matched entry without index and value: ${JSON.stringify(m)}`);
  const positions = edits.remove.get(list) ?? new Map<number, string>();
  positions.set(index, key);
  edits.remove.set(list, positions);
}

const entryKey = (list: RuleList, entry: unknown): string | undefined =>
  str((entry as Json | undefined)?.[list === "virtualNetworkRules" ? "id" : "value"]);

function bypassWith(tokens: string[], want: "add" | "remove"): string {
  const others = tokens.filter((t) => t.toLowerCase() !== "azureservices");
  const next = want === "add" ? [...others, "AzureServices"] : others;
  return next.length === 0 ? "None" : next.join(", ");
}

/** The account's new network settings, or undefined when nothing needs to change. */
function planFor(snapshot: Snapshot, findings: readonly Finding[]): PlannedChange | undefined {
  const account = storageAccountOf(snapshot);
  const raw = snapshot.resource as { properties?: Json };
  const edits = editsFrom(findings);
  const summary: string[] = [];
  const properties: Json = {};

  const readAcls = raw.properties?.networkAcls;
  const acls: Json = readAcls && typeof readAcls === "object" ? structuredClone(readAcls as Json) : {};
  let aclsChanged = false;
  if (edits.defaultActionDeny && str(acls.defaultAction)?.toLowerCase() !== "deny") {
    acls.defaultAction = "Deny";
    aclsChanged = true;
    summary.push("firewall default action set to Deny (was Allow: all networks)");
  }
  for (const [list, positions] of edits.remove) {
    const entries = Array.isArray(acls[list]) ? (acls[list] as unknown[]) : [];
    const kept: unknown[] = [];
    entries.forEach((entry, index) => {
      const expected = positions.get(index);
      // Removed only when the entry at that place is still the one evaluated: never an entry the policy allows.
      if (expected !== undefined && entryKey(list, entry) === expected) {
        summary.push(
          `removed ${list === "virtualNetworkRules" ? "virtual network rule" : "IP rule"} ${expected}`,
        );
        aclsChanged = true;
      } else kept.push(entry);
    });
    if (kept.length !== entries.length) acls[list] = kept;
  }
  for (const [list, values] of edits.add) {
    const entries = Array.isArray(acls[list]) ? [...(acls[list] as unknown[])] : [];
    for (const value of values) {
      if (entries.some((e) => entryKey(list, e) === value)) continue;
      entries.push({ value, action: "Allow" });
      summary.push(`put back required IP rule ${value}`);
      aclsChanged = true;
    }
    acls[list] = entries;
  }
  if (edits.azureServices) {
    const present = bypassTokens(account).some((t) => t.toLowerCase() === "azureservices");
    if ((edits.azureServices === "add") !== present) {
      acls.bypass = bypassWith(bypassTokens(account), edits.azureServices);
      aclsChanged = true;
      summary.push(
        `trusted Azure services ${edits.azureServices === "add" ? "let through" : "no longer let through"} (bypass ${String(acls.bypass)})`,
      );
    }
  }
  if (aclsChanged) {
    // A PATCH replaces the whole rule set, and defaultAction is required in it: an account read without one has
    // the REST default, Allow, which stays unless a finding asked for Deny.
    if (str(acls.defaultAction) === undefined) acls.defaultAction = "Allow";
    properties.networkAcls = acls;
  }
  const pna = str(raw.properties?.publicNetworkAccess);
  if (
    edits.publicNetworkAccessDisabled &&
    pna?.toLowerCase() !== "disabled" &&
    pna?.toLowerCase() !== "securedbyperimeter"
  ) {
    properties.publicNetworkAccess = "Disabled";
    summary.push(`publicNetworkAccess set to Disabled (was ${pna ?? "not set"})`);
  }
  if (edits.blobPublicAccessOff && account.properties?.allowBlobPublicAccess !== false) {
    properties.allowBlobPublicAccess = false;
    summary.push(
      `allowBlobPublicAccess set to false (was ${String(account.properties?.allowBlobPublicAccess ?? "not set")})`,
    );
  }

  const parts = Object.keys(properties) as StorageNetworkPart[];
  if (parts.length === 0) return undefined;
  const expected: Json = {};
  const before: Json = {};
  for (const part of parts) {
    expected[part] = structuredClone(partOf(raw, part));
    before[part] = structuredClone(partOf(raw, part));
  }
  return {
    remediation: ID,
    resourceId: snapshot.resourceId,
    summary: `close storage account ${snapshot.resourceId.split("/").at(-1) ?? ""}: ${summary.join("; ")}`,
    operation: {
      kind: "patch-storage-network",
      accountId: snapshot.resourceId,
      expected,
      body: { properties },
    },
    before,
    after: structuredClone(properties),
    complete: true,
  };
}

/**
 * Puts the network settings back as they were read: one PATCH of the same parts with their audited before-state
 * (a PATCH carrying networkAcls replaces it whole, so the old object comes back exactly).
 */
function undo(planned: PlannedChange): UndoStep | undefined {
  if (typeof planned.before !== "object" || planned.before === null) return undefined;
  const url = `https://management.azure.com${planned.resourceId}?api-version=${STORAGE_API_VERSION}`;
  return {
    command: [
      "az rest --method patch",
      `--url ${shellQuote(url)}`,
      `--body ${shellQuote(JSON.stringify({ properties: planned.before }))}`,
    ].join(" \\\n  "),
    portal: `Azure portal: storage account ${planned.resourceId.split("/").at(-1) ?? ""} › Networking › set public network access, the firewall's IP and virtual network rules and exceptions back as before`,
  };
}

export const storageCloseNetwork = {
  id: ID,
  description:
    "One PATCH of the storage account's network settings: default action Deny, unapproved IP and VNet rules removed, " +
    "required IP rules put back, trusted services as required, public network and anonymous blob access off when " +
    "asked; allowed entries kept byte for byte.",
  resourceTypes: [STORAGE_ACCOUNT_TYPE],
  permissions: ["Microsoft.Storage/storageAccounts/write"],
  planTogether: true,
  plan(snapshot: Snapshot, finding: Finding, context: RemediationContext) {
    return planFor(snapshot, [finding, ...(context.siblings ?? [])]);
  },
  undo,
} satisfies Remediation;
