// How to put an NSG remediation back: `az network nsg rule create` (a PUT, so it overwrites the rule as it is now)
// with every field of the audited before-state, each value shell-quoted, and the portal step.
import type { UndoStep } from "../../remediation/types.ts";
import { shellQuote } from "../../shell.ts";
import type { PlannedChange } from "../../types.ts";

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];

function pair(p: Record<string, unknown>, single: string, plural: string): string[] {
  const many = strings(p[plural]);
  if (many.length > 0) return many;
  return typeof p[single] === "string" ? [p[single] as string] : [];
}

/** `az network nsg rule create` (a PUT: it overwrites the rule as it is now) with every field of the old rule. */
export function undoSecurityRule(planned: PlannedChange): UndoStep | undefined {
  // A rule the guardian added (a split keeping other ports for the offending sources): undone by deleting it.
  if (planned.before === null && isRecord(planned.after) && typeof planned.after.name === "string") {
    return undoCreatedRule(planned, planned.after.name);
  }
  if (!isRecord(planned.before) || !isRecord(planned.before.properties)) return undefined;
  const name = planned.before.name;
  if (typeof name !== "string") return undefined;
  const ids =
    /\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/networkSecurityGroups\/([^/]+)/i.exec(
      planned.resourceId,
    );
  if (!ids) return undefined;
  const [, subscription = "", group = "", nsg = ""] = ids;
  const p = planned.before.properties;
  const args: string[] = [
    "az network nsg rule create",
    `--subscription ${shellQuote(subscription)}`,
    `--resource-group ${shellQuote(group)}`,
    `--nsg-name ${shellQuote(nsg)}`,
    `--name ${shellQuote(name)}`,
  ];
  const add = (flag: string, values: string[]) => {
    if (values.length > 0) args.push(`${flag} ${values.map(shellQuote).join(" ")}`);
  };
  add("--priority", typeof p.priority === "number" ? [String(p.priority)] : []);
  add("--direction", typeof p.direction === "string" ? [p.direction] : []);
  add("--access", typeof p.access === "string" ? [p.access] : []);
  add("--protocol", typeof p.protocol === "string" ? [p.protocol] : []);
  add("--source-address-prefixes", pair(p, "sourceAddressPrefix", "sourceAddressPrefixes"));
  add("--source-port-ranges", pair(p, "sourcePortRange", "sourcePortRanges"));
  add("--destination-address-prefixes", pair(p, "destinationAddressPrefix", "destinationAddressPrefixes"));
  add("--destination-port-ranges", pair(p, "destinationPortRange", "destinationPortRanges"));
  const asgs = (key: string) =>
    (Array.isArray(p[key]) ? (p[key] as unknown[]) : []).flatMap((a) =>
      isRecord(a) && typeof a.id === "string" ? [a.id] : [],
    );
  add("--source-asgs", asgs("sourceApplicationSecurityGroups"));
  add("--destination-asgs", asgs("destinationApplicationSecurityGroups"));
  if (typeof p.description === "string" && p.description !== "") add("--description", [p.description]);
  return {
    command: args.join(" \\\n  "),
    portal: `Azure portal: network security group ${nsg} › ${p.direction === "Outbound" ? "Outbound" : "Inbound"} security rules › add (or edit) rule ${name} with the values above`,
  };
}

function undoCreatedRule(planned: PlannedChange, name: string): UndoStep | undefined {
  const ids =
    /\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/networkSecurityGroups\/([^/]+)/i.exec(
      planned.resourceId,
    );
  if (!ids) return undefined;
  const [, subscription = "", group = "", nsg = ""] = ids;
  return {
    command: [
      "az network nsg rule delete",
      `--subscription ${shellQuote(subscription)}`,
      `--resource-group ${shellQuote(group)}`,
      `--nsg-name ${shellQuote(nsg)}`,
      `--name ${shellQuote(name)}`,
    ].join(" \\\n  "),
    portal: `Azure portal: network security group ${nsg} › Inbound security rules › delete rule ${name} (the guardian added it)`,
  };
}
