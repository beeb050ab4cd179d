// networkSecurityGroups, their securityRules and defaultSecurityRules (networkSecurityGroup.json). Rules live inside the
// NSG's `properties.securityRules`; the child routes read and write that array.

import { ArmError, childNotFound, invalidRequestFormat, resourceNotFound } from "../errors.ts";
import { clone, isObject, type JsonObject, objectArray, propsOf, sameText } from "../json.ts";
import type { ItemRoute, RequestContext, Route, WriteOutcome } from "../router.ts";
import { type EmulatorState, embeddedChildren } from "../state.ts";
import {
  absentDelete,
  bodyObject,
  nameOf,
  param,
  RG_SCOPE,
  requireLocation,
  tagsFrom,
  trackedCollections,
  trackedResourceId,
  updateTagsOnly,
} from "./common.ts";
import { assertNoPriorityConflict, buildSecurityRule, defaultSecurityRules } from "./security-rule-model.ts";

export const NSG_TYPE = "Microsoft.Network/networkSecurityGroups";
const NSG_PATH = `${RG_SCOPE}/providers/${NSG_TYPE}/{networkSecurityGroupName}`;

function nsgId(ctx: RequestContext): string {
  return trackedResourceId(ctx, NSG_TYPE, "networkSecurityGroupName");
}

function storedNsg(ctx: RequestContext): JsonObject | undefined {
  const nsg = ctx.state.getTracked(nsgId(ctx));
  return nsg && sameText(nsg.type, NSG_TYPE) ? nsg : undefined;
}

function requireNsg(ctx: RequestContext): JsonObject {
  const nsg = storedNsg(ctx);
  if (!nsg) {
    throw resourceNotFound(NSG_TYPE, param(ctx, "networkSecurityGroupName"), param(ctx, "resourceGroupName"));
  }
  return nsg;
}

/** Subnets (in any VNet) whose `networkSecurityGroup.id` points at this NSG. */
function referencingSubnets(state: EmulatorState, id: string): JsonObject[] {
  const refs: JsonObject[] = [];
  // Subnets live in virtual networks only: reading that type alone keeps a list page of N parents linear in N.
  for (const resource of state.trackedOfType("Microsoft.Network/virtualNetworks").values()) {
    for (const child of embeddedChildren(resource)) {
      const nsgRef = isObject(child.properties) ? child.properties.networkSecurityGroup : undefined;
      if (isObject(nsgRef) && sameText(nsgRef.id, id)) refs.push(child);
    }
  }
  return refs;
}

/** What GET returns: the stored NSG plus the read-only back-references ARM computes (`properties.subnets`). */
function present(state: EmulatorState, nsg: JsonObject): JsonObject {
  const out = clone(nsg);
  const subnets = referencingSubnets(state, String(nsg.id));
  if (subnets.length > 0) propsOf(out).subnets = subnets.map((s) => ({ id: s.id }));
  return out;
}

function rulesOf(nsg: JsonObject): JsonObject[] {
  return objectArray(propsOf(nsg).securityRules);
}

function buildNsg(
  ctx: RequestContext,
  body: JsonObject,
  current: JsonObject | undefined,
  validate: boolean,
): JsonObject {
  const id = current ? String(current.id) : typeof body.id === "string" && !validate ? body.id : nsgId(ctx);
  const location = requireLocation(body, current, id);
  const tags = tagsFrom(body.tags);
  if (body.properties !== undefined && !isObject(body.properties)) {
    throw invalidRequestFormat(
      "Error converting value to type 'NetworkSecurityGroupPropertiesFormat'. Path 'properties'.",
    );
  }
  const props = isObject(body.properties) ? body.properties : {};
  if (props.securityRules !== undefined && !Array.isArray(props.securityRules)) {
    throw invalidRequestFormat(
      "Error converting value to type 'List<SecurityRule>'. Path 'properties.securityRules'.",
    );
  }
  const etag = ctx.state.newEtag();
  const rulesIn: unknown[] = Array.isArray(props.securityRules) ? props.securityRules : [];
  const rules = rulesIn.map((raw, i) => {
    const name = isObject(raw) && typeof raw.name === "string" ? raw.name : undefined;
    if (!name) {
      throw invalidRequestFormat(
        `Required property 'name' not found in JSON. Path 'properties.securityRules[${i}]'.`,
      );
    }
    if (!validate && isObject(raw)) return { ...clone(raw), name, id: `${id}/securityRules/${name}`, etag };
    return buildSecurityRule(
      raw,
      `${id}/securityRules/${name}`,
      name,
      etag,
      `properties.securityRules[${i}]`,
    );
  });
  if (validate) assertNoPriorityConflict(rules);
  const currentProps = current && isObject(current.properties) ? current.properties : {};
  const properties: JsonObject = {
    provisioningState: "Succeeded",
    resourceGuid:
      typeof currentProps.resourceGuid === "string"
        ? currentProps.resourceGuid
        : typeof props.resourceGuid === "string" && !validate
          ? props.resourceGuid
          : ctx.state.newGuid(),
  };
  if (typeof props.flushConnection === "boolean") properties.flushConnection = props.flushConnection;
  properties.securityRules = rules;
  properties.defaultSecurityRules = current
    ? objectArray(currentProps.defaultSecurityRules)
    : defaultSecurityRules(id, etag);
  return {
    name: current ? current.name : id.split("/").pop(),
    id,
    etag,
    type: NSG_TYPE,
    location,
    ...(tags === undefined ? {} : { tags }),
    properties,
  };
}

const nsgItem: ItemRoute = {
  kind: "item",
  pattern: NSG_PATH,
  resourceType: NSG_TYPE,
  longRunning: true,
  trackedId: (ctx) => nsgId(ctx).toLowerCase(),
  notFound: (ctx) =>
    resourceNotFound(NSG_TYPE, param(ctx, "networkSecurityGroupName"), param(ctx, "resourceGroupName")),
  read(ctx) {
    const nsg = storedNsg(ctx);
    return nsg ? present(ctx.state, nsg) : undefined;
  },
  put(ctx) {
    const current = storedNsg(ctx);
    const nsg = buildNsg(ctx, bodyObject(ctx), current, true);
    ctx.state.putTracked(nsg);
    ctx.state.restamp(nsg);
    return outcome(current ? 200 : 201, nsg, [nsg]);
  },
  patch(ctx, _current) {
    // NetworkSecurityGroups_UpdateTags: only tags change, synchronously.
    const nsg = requireNsg(ctx);
    updateTagsOnly(ctx, nsg);
    return outcome(200, nsg, []);
  },
  delete(ctx) {
    const nsg = storedNsg(ctx);
    if (!nsg) return absentDelete(nsgId(ctx));
    const inUse = referencingSubnets(ctx.state, String(nsg.id));
    if (inUse.length > 0) {
      throw new ArmError(
        400,
        "InUseNetworkSecurityGroupCannotBeDeleted",
        `Network security group ${String(nsg.id)} cannot be deleted because it is in use by the following resources: ` +
          `${inUse.map((s) => String(s.id)).join(", ")}. In order to delete the Network security group, remove the ` +
          "association with the resource(s). To learn how to do this, see aka.ms/deletensg.",
      );
    }
    ctx.state.deleteTracked(String(nsg.id));
    return { ...outcome(202, nsg, []), trackedDeleted: true };
  },
  seed(ctx, resource) {
    const current = storedNsg(ctx);
    const nsg = buildNsg(ctx, resource, current, false);
    if (typeof resource.etag === "string") nsg.etag = resource.etag;
    for (const rule of rulesOf(nsg)) {
      rule.etag = nsg.etag;
      rule.type = "Microsoft.Network/networkSecurityGroups/securityRules";
    }
    ctx.state.putTracked(nsg);
  },
};

function outcome(status: number, nsg: JsonObject, touched: JsonObject[]): WriteOutcome {
  return {
    status,
    tracked: nsg,
    trackedId: String(nsg.id).toLowerCase(),
    location: String(nsg.location ?? ""),
    touched,
  };
}

function findRule(nsg: JsonObject, name: string): { rule: JsonObject; index: number } | undefined {
  const rules = rulesOf(nsg);
  const index = rules.findIndex((r) => sameText(r.name, name));
  const rule = rules[index];
  return rule ? { rule, index } : undefined;
}

const securityRuleItem: ItemRoute = {
  kind: "item",
  pattern: `${NSG_PATH}/securityRules/{securityRuleName}`,
  resourceType: `${NSG_TYPE}/securityRules`,
  longRunning: true,
  trackedId: (ctx) => nsgId(ctx).toLowerCase(),
  notFound: (ctx) => childNotFound(`${nsgId(ctx)}/securityRules/${param(ctx, "securityRuleName")}`),
  read(ctx) {
    const found = findRule(requireNsg(ctx), param(ctx, "securityRuleName"));
    return found ? clone(found.rule) : undefined;
  },
  put(ctx) {
    const nsg = requireNsg(ctx);
    const name = param(ctx, "securityRuleName");
    const existing = findRule(nsg, name);
    const id = existing ? String(existing.rule.id) : `${String(nsg.id)}/securityRules/${name}`;
    const rule = buildSecurityRule(
      bodyObject(ctx),
      id,
      existing ? nameOf(existing.rule) : name,
      String(nsg.etag),
      "",
    );
    const rules = rulesOf(nsg);
    if (existing) rules[existing.index] = rule;
    else rules.push(rule);
    assertNoPriorityConflict(rules);
    propsOf(nsg).securityRules = rules;
    ctx.state.restamp(nsg);
    return outcome(existing ? 200 : 201, nsg, [nsg, rule]);
  },
  delete(ctx) {
    const nsg = requireNsg(ctx);
    const existing = findRule(nsg, param(ctx, "securityRuleName"));
    if (!existing) return outcome(204, nsg, []);
    const rules = rulesOf(nsg);
    rules.splice(existing.index, 1);
    propsOf(nsg).securityRules = rules;
    ctx.state.restamp(nsg);
    return outcome(202, nsg, [nsg]);
  },
  seed(ctx, resource) {
    const nsg = requireNsg(ctx);
    const name = param(ctx, "securityRuleName");
    const existing = findRule(nsg, name);
    const rule = {
      ...clone(resource),
      name: existing ? nameOf(existing.rule) : name,
      type: `${NSG_TYPE}/securityRules`,
    };
    const rules = rulesOf(nsg);
    if (existing) rules[existing.index] = rule;
    else rules.push(rule);
    propsOf(nsg).securityRules = rules;
    ctx.state.restamp(nsg);
  },
};

const defaultSecurityRuleItem: ItemRoute = {
  kind: "item",
  pattern: `${NSG_PATH}/defaultSecurityRules/{defaultSecurityRuleName}`,
  resourceType: `${NSG_TYPE}/defaultSecurityRules`,
  longRunning: false,
  trackedId: (ctx) => nsgId(ctx).toLowerCase(),
  notFound: (ctx) =>
    childNotFound(`${nsgId(ctx)}/defaultSecurityRules/${param(ctx, "defaultSecurityRuleName")}`),
  read(ctx) {
    const name = param(ctx, "defaultSecurityRuleName");
    const rule = objectArray(propsOf(requireNsg(ctx)).defaultSecurityRules).find((r) =>
      sameText(r.name, name),
    );
    return rule ? clone(rule) : undefined;
  },
};

export const networkSecurityGroupRoutes: Route[] = [
  ...trackedCollections(NSG_TYPE, present),
  nsgItem,
  {
    kind: "collection",
    pattern: `${NSG_PATH}/securityRules`,
    list: (ctx) => clone(rulesOf(requireNsg(ctx))),
  },
  securityRuleItem,
  {
    kind: "collection",
    pattern: `${NSG_PATH}/defaultSecurityRules`,
    list: (ctx) => clone(objectArray(propsOf(requireNsg(ctx)).defaultSecurityRules)),
  },
  defaultSecurityRuleItem,
];
