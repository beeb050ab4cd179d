// What a subnet of a given role must hold (Qubole's private and public subnets, a Databricks or Cassandra subnet behind
// a firewall): the storage service endpoint where the role asks for it (private) or never (public, bastion), an NSG
// (a named one, or any), a service endpoint policy from an approved list and no other, the route table the role names,
// and for deny-by-default egress a default route to the firewall with no more specific route around it.
import * as z from "zod";
import { ROUTE_TABLE_TYPE } from "../clouds/azure/kinds/subnet.ts";
import type { Snapshot } from "../types.ts";
import type { SubnetPart } from "./subnet/parts.ts";
import { type EgressProblem, egressProblems } from "./subnet/route-table.ts";
import {
  hasRole,
  roleNamed,
  STORAGE_SERVICES,
  SUBNET_RESOURCE_TYPE,
  sameId,
  shortName,
  subnetOf,
} from "./subnet/schema.ts";
import type { RuleContext, RuleDefinition, Violation } from "./types.ts";

const idOf = (type: string, label: string) =>
  z
    .string()
    .regex(
      new RegExp(
        `^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\\.Network/${type}/[^/]+$`,
        "i",
      ),
      `expected a ${label} id`,
    );

export const subnetRoleOptions = z.strictObject({
  /** The subnet role (policy `subnetRoles`) this entry requires things of. */
  role: z.string().min(1),
  /** required: the subnet must have the storage service endpoint; forbidden: it must not (a public subnet). */
  storageEndpoint: z.enum(["required", "forbidden"]).optional(),
  /** The service endpoints that count as the storage endpoint (compared without case); the first is the one added. */
  storageServices: z
    .array(z.string().min(1))
    .min(1)
    .default([...STORAGE_SERVICES]),
  /** any: some NSG; a list: one of these NSGs (the first is re-attached). */
  nsg: z
    .union([z.literal("any"), z.array(idOf("networkSecurityGroups", "network security group")).min(1)])
    .optional(),
  /** The approved service endpoint policies: one of them attached (the first is re-attached), no other. */
  serviceEndpointPolicies: z
    .array(idOf("serviceEndpointPolicies", "service endpoint policy"))
    .min(1)
    .optional(),
  /** The route table the subnet must use (re-attached when missing or replaced). */
  routeTable: idOf("routeTables", "route table").optional(),
  /** Deny-by-default egress: the firewall (policy `firewalls`) 0.0.0.0/0 must go to, with nothing routed around it. */
  firewall: z.string().min(1).optional(),
  /** Address prefixes or service tags whose routes may send traffic elsewhere than the firewall. */
  bypassAllowed: z.array(z.string().min(1)).default([]),
});

export type SubnetRoleOptions = z.infer<typeof subnetRoleOptions>;

function appliesTo(snapshot: Snapshot, options: SubnetRoleOptions, context: RuleContext): boolean {
  const role = roleNamed(context, options.role);
  return role !== undefined && hasRole(snapshot, role);
}

function evaluate(snapshot: Snapshot, options: SubnetRoleOptions, context: RuleContext): Violation[] {
  if (!appliesTo(snapshot, options, context)) return [];
  const subnet = subnetOf(snapshot);
  const parts: (SubnetPart & { why: string })[] = [];
  const role = options.role;

  const storage = new Set(options.storageServices.map((s) => s.toLowerCase()));
  const present = subnet.services.filter((s) => storage.has(s.toLowerCase()));
  if (options.storageEndpoint === "required" && present.length === 0) {
    const add = options.storageServices[0] as string;
    parts.push({
      part: "serviceEndpoints",
      current: subnet.services,
      add: [add],
      why: `a ${role} subnet needs the ${add} service endpoint and has none`,
    });
  }
  if (options.storageEndpoint === "forbidden" && present.length > 0) {
    parts.push({
      part: "serviceEndpoints",
      current: subnet.services,
      remove: present,
      why: `a ${role} subnet must not have the ${present.join(", ")} service endpoint`,
    });
  }

  if (options.nsg === "any" && subnet.nsgId === undefined) {
    parts.push({
      part: "networkSecurityGroup",
      current: null,
      manual: "the role asks for any NSG and names none to attach",
      why: `a ${role} subnet needs a network security group and has none`,
    });
  } else if (Array.isArray(options.nsg)) {
    const approved = options.nsg;
    const current = subnet.nsgId;
    if (current === undefined || !approved.some((id) => sameId(id, current))) {
      parts.push({
        part: "networkSecurityGroup",
        current: current ?? null,
        attach: approved[0] as string,
        why:
          current === undefined
            ? `a ${role} subnet needs NSG ${shortName(approved[0] as string)} and has none`
            : `a ${role} subnet carries NSG ${shortName(current)}, not ${approved.map(shortName).join(" or ")}`,
      });
    }
  }

  if (options.serviceEndpointPolicies) {
    const approved = options.serviceEndpointPolicies;
    const isApproved = (id: string) => approved.some((a) => sameId(a, id));
    const kept = subnet.policyIds.filter(isApproved);
    const unapproved = subnet.policyIds.filter((id) => !isApproved(id));
    if (kept.length === 0 || unapproved.length > 0) {
      const want = kept.length > 0 ? kept : [approved[0] as string];
      const whys = [
        ...(kept.length === 0
          ? [`none of the approved service endpoint policies (${approved.map(shortName).join(", ")})`]
          : []),
        ...(unapproved.length > 0
          ? [`unapproved service endpoint policy ${unapproved.map(shortName).join(", ")}`]
          : []),
      ];
      parts.push({
        part: "serviceEndpointPolicies",
        current: subnet.policyIds,
        want,
        why: `a ${role} subnet carries ${whys.join(" and ")}`,
      });
    }
  }

  if (options.routeTable) {
    const want = options.routeTable;
    const current = subnet.routeTableId;
    if (current === undefined || !sameId(current, want)) {
      parts.push({
        part: "routeTable",
        current: current ?? null,
        attach: want,
        why:
          current === undefined
            ? `a ${role} subnet needs route table ${shortName(want)} and has none`
            : `a ${role} subnet uses route table ${shortName(current)}, not ${shortName(want)}`,
      });
    }
  }

  const firewall = options.firewall === undefined ? undefined : context.firewalls?.[options.firewall];
  if (firewall) {
    const tableId = subnet.routeTableId;
    // Not read (an offline evaluation without the table): nothing is judged that needs it.
    const table = tableId === undefined ? null : context.related?.(tableId);
    if (table !== undefined) {
      // A table the guardian may not read (403) cannot show egress through the firewall: said, never passed.
      const problems: EgressProblem[] =
        table !== null && "unreadable" in table
          ? [{ why: `route table ${shortName(tableId ?? "")} could not be read (${table.unreadable})` }]
          : egressProblems(table === null ? null : table.resource, firewall.privateIp, options.bypassAllowed);
      for (const problem of problems) {
        parts.push({
          part: "defaultRoute",
          routeTable: tableId ?? null,
          manual: "routes inside a route table are not the subnet's to change",
          ...(problem.route ? { route: problem.route } : {}),
          why: `egress of a ${role} subnet must go through firewall ${options.firewall}: ${problem.why}`,
        });
      }
    }
  }

  if (parts.length === 0) return [];
  return [{ message: `Subnet ${subnet.name}: ${parts.map((p) => p.why).join("; ")}`, matched: parts }];
}

export const subnetRole = {
  id: "subnet-role",
  description:
    "Subnets of a role (policy subnetRoles) hold what the role requires: the storage service endpoint (or never), an " +
    "NSG, an approved service endpoint policy and no other, a named route table, and egress to a named firewall " +
    "with no route around it.",
  cloud: "azure",
  resourceTypes: [SUBNET_RESOURCE_TYPE],
  controls: [],
  options: subnetRoleOptions,
  permissions: ["Microsoft.Network/virtualNetworks/read", "Microsoft.Network/routeTables/read"],
  remediations: ["subnet-restore"],
  reads: (snapshot, options, context) =>
    options.firewall !== undefined && appliesTo(snapshot, options, context) ? [ROUTE_TABLE_TYPE] : [],
  remediateNeeds: (options) =>
    (options as Partial<SubnetRoleOptions>).nsg === "any"
      ? {
          path: ["options", "nsg"],
          message: "remediate re-attaches an NSG: list the approved NSG ids instead of any",
        }
      : undefined,
  example: `- name: private-subnets-locked-down
  rule: subnet-role
  mode: alert
  severity: high
  options:
    role: private
    storageEndpoint: required
    nsg: any
`,
  evaluate,
} satisfies RuleDefinition<typeof subnetRoleOptions>;
