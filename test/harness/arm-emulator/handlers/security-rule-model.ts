// Validation and normalisation of NSG security rules, per networkSecurityGroup.json (SecurityRulePropertiesFormat) and
// the Network RP's documented error codes. Used both for rules embedded in an NSG PUT and for securityRules PUTs.

import { ArmError, badRequest, invalidRequestFormat } from "../errors.ts";
import { isObject, type JsonObject } from "../json.ts";

export const SECURITY_RULE_TYPE = "Microsoft.Network/networkSecurityGroups/securityRules";
export const DEFAULT_SECURITY_RULE_TYPE = "Microsoft.Network/networkSecurityGroups/defaultSecurityRules";

const PROTOCOLS = ["Tcp", "Udp", "Icmp", "Esp", "*", "Ah"] as const;
const ACCESSES = ["Allow", "Deny"] as const;
const DIRECTIONS = ["Inbound", "Outbound"] as const;

/** SecurityRulePropertiesFormat as the emulator validates it; provisioningState is read-only and ignored on input. */
const MODELLED_PROPERTIES = new Set([
  "provisioningState",
  "description",
  "protocol",
  "sourcePortRange",
  "destinationPortRange",
  "sourceAddressPrefix",
  "destinationAddressPrefix",
  "sourcePortRanges",
  "destinationPortRanges",
  "sourceAddressPrefixes",
  "destinationAddressPrefixes",
  "sourceApplicationSecurityGroups",
  "destinationApplicationSecurityGroups",
  "access",
  "priority",
  "direction",
]);

/** Values the Network RP refuses inside the plural prefix lists (tags and `*` are singular-only). */
const SINGULAR_ONLY_PREFIXES = ["*", "internet", "virtualnetwork", "azureloadbalancer"];

function canonicalEnum(value: unknown, allowed: readonly string[], path: string, typeName: string): string {
  if (value === undefined || value === null) {
    throw invalidRequestFormat(
      `Required property '${path.split(".").pop()}' not found in JSON. Path '${path}'.`,
    );
  }
  const match =
    typeof value === "string" ? allowed.find((a) => a.toLowerCase() === value.toLowerCase()) : undefined;
  if (match === undefined) {
    throw invalidRequestFormat(
      `Error converting value ${JSON.stringify(value)} to type '${typeName}'. Path '${path}'.`,
    );
  }
  return match;
}

function stringList(value: unknown, path: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) {
    throw invalidRequestFormat(`Error converting value to type 'List<String>'. Path '${path}'.`);
  }
  return value as string[];
}

function optionalString(value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") {
    throw invalidRequestFormat(
      `Error converting value ${JSON.stringify(value)} to type 'String'. Path '${path}'.`,
    );
  }
  return value;
}

function isValidPortRange(value: string): boolean {
  if (value === "*") return true;
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(value.trim());
  if (!m) return false;
  const low = Number(m[1]);
  const high = m[2] === undefined ? low : Number(m[2]);
  return low <= high && high <= 65535;
}

function checkPortRange(value: string): void {
  if (!isValidPortRange(value)) {
    throw badRequest(
      "SecurityRuleInvalidPortRange",
      `Security rule has invalid Port range. Value provided: ${value}. ` +
        "Value should be an integer OR integer range with '-' delimiter. Valid range 0-65535.",
    );
  }
}

/**
 * Exactly one of the singular field, the plural list (non-empty) or, for addresses, application security groups.
 * Empty plural lists count as absent: ARM returns `[]` for them and clients send GET results back unchanged.
 */
function exactlyOne(ruleId: string, label: string, fields: Record<string, boolean>): void {
  const given = Object.entries(fields)
    .filter(([, present]) => present)
    .map(([name]) => name);
  const names = Object.keys(fields).join(", ");
  if (given.length === 0) {
    throw badRequest(
      "SecurityRuleParameterMissing",
      `Security rule ${ruleId} must specify one of ${names} for its ${label}.`,
    );
  }
  if (given.length > 1) {
    throw badRequest(
      "SecurityRuleParameterConflict",
      `Security rule ${ruleId} specifies ${given.join(" and ")}; only one of ${names} may be specified.`,
    );
  }
}

function checkPluralPrefixes(ruleId: string, field: string, prefixes: string[]): void {
  for (const prefix of prefixes) {
    if (prefix.trim() === "") {
      throw badRequest(
        "SecurityRuleInvalidAddressPrefix",
        `Security rule ${ruleId} has an empty address prefix.`,
      );
    }
    if (SINGULAR_ONLY_PREFIXES.includes(prefix.toLowerCase())) {
      throw badRequest(
        "SecurityRuleParameterContainsUnsupportedValue",
        `Security rule parameter ${field} for rule with Id ${ruleId} cannot specify existing VIRTUALNETWORK, ` +
          `INTERNET, AZURELOADBALANCER, '*' or system tags. Unsupported value used: ${prefix}.`,
      );
    }
  }
}

function checkPriority(value: unknown, path: string): number {
  if (value !== undefined && value !== null && typeof value !== "number") {
    throw invalidRequestFormat(
      `Error converting value ${JSON.stringify(value)} to type 'Int32'. Path '${path}'.`,
    );
  }
  const priority = value ?? 0;
  if (!Number.isInteger(priority) || priority < 100 || priority > 4096) {
    throw badRequest(
      "SecurityRuleInvalidPriority",
      `Security rule has invalid Priority. Value provided: ${priority} Allowed values: 100-4096.`,
    );
  }
  return priority;
}

/**
 * Builds the stored rule (server fields included) from a request body `{ name?, properties: {...} }`.
 * Read-only fields in the input (etag, provisioningState, id) are ignored.
 */
export function buildSecurityRule(
  input: unknown,
  id: string,
  name: string,
  etag: string,
  path: string,
): JsonObject {
  if (!isObject(input))
    throw invalidRequestFormat(`Error converting value to type 'SecurityRule'. Path '${path}'.`);
  const p = input.properties;
  if (!isObject(p)) {
    throw invalidRequestFormat(`Required property 'properties' not found in JSON. Path '${path}'.`);
  }
  const at = (field: string) => `${path}.properties.${field}`;
  const protocol = canonicalEnum(p.protocol, PROTOCOLS, at("protocol"), "SecurityRuleProtocol");
  const access = canonicalEnum(p.access, ACCESSES, at("access"), "SecurityRuleAccess");
  const direction = canonicalEnum(p.direction, DIRECTIONS, at("direction"), "SecurityRuleDirection");
  const priority = checkPriority(p.priority, at("priority"));

  const description = optionalString(p.description, at("description"));
  const sourcePortRange = optionalString(p.sourcePortRange, at("sourcePortRange"));
  const destinationPortRange = optionalString(p.destinationPortRange, at("destinationPortRange"));
  const sourceAddressPrefix = optionalString(p.sourceAddressPrefix, at("sourceAddressPrefix"));
  const destinationAddressPrefix = optionalString(p.destinationAddressPrefix, at("destinationAddressPrefix"));
  const sourcePortRanges = stringList(p.sourcePortRanges, at("sourcePortRanges"));
  const destinationPortRanges = stringList(p.destinationPortRanges, at("destinationPortRanges"));
  const sourceAddressPrefixes = stringList(p.sourceAddressPrefixes, at("sourceAddressPrefixes"));
  const destinationAddressPrefixes = stringList(
    p.destinationAddressPrefixes,
    at("destinationAddressPrefixes"),
  );
  const sourceAsgs = Array.isArray(p.sourceApplicationSecurityGroups)
    ? p.sourceApplicationSecurityGroups
    : [];
  const destinationAsgs = Array.isArray(p.destinationApplicationSecurityGroups)
    ? p.destinationApplicationSecurityGroups
    : [];

  const present = (s: string | undefined) => s !== undefined && s !== "";
  exactlyOne(id, "source ports", {
    sourcePortRange: present(sourcePortRange),
    sourcePortRanges: sourcePortRanges.length > 0,
  });
  exactlyOne(id, "destination ports", {
    destinationPortRange: present(destinationPortRange),
    destinationPortRanges: destinationPortRanges.length > 0,
  });
  exactlyOne(id, "source", {
    sourceAddressPrefix: present(sourceAddressPrefix),
    sourceAddressPrefixes: sourceAddressPrefixes.length > 0,
    sourceApplicationSecurityGroups: sourceAsgs.length > 0,
  });
  exactlyOne(id, "destination", {
    destinationAddressPrefix: present(destinationAddressPrefix),
    destinationAddressPrefixes: destinationAddressPrefixes.length > 0,
    destinationApplicationSecurityGroups: destinationAsgs.length > 0,
  });
  for (const range of [
    sourcePortRange,
    destinationPortRange,
    ...sourcePortRanges,
    ...destinationPortRanges,
  ]) {
    if (present(range)) checkPortRange(range as string);
  }
  checkPluralPrefixes(id, "SourceAddressPrefixes", sourceAddressPrefixes);
  checkPluralPrefixes(id, "DestinationAddressPrefixes", destinationAddressPrefixes);

  // Key order and the always-present plural arrays follow what ARM returns for a rule.
  const properties: JsonObject = { provisioningState: "Succeeded" };
  if (description !== undefined) properties.description = description;
  properties.protocol = protocol;
  if (present(sourcePortRange)) properties.sourcePortRange = sourcePortRange;
  if (present(destinationPortRange)) properties.destinationPortRange = destinationPortRange;
  if (present(sourceAddressPrefix)) properties.sourceAddressPrefix = sourceAddressPrefix;
  if (present(destinationAddressPrefix)) properties.destinationAddressPrefix = destinationAddressPrefix;
  properties.access = access;
  properties.priority = priority;
  properties.direction = direction;
  properties.sourcePortRanges = sourcePortRanges;
  properties.destinationPortRanges = destinationPortRanges;
  properties.sourceAddressPrefixes = sourceAddressPrefixes;
  properties.destinationAddressPrefixes = destinationAddressPrefixes;
  if (sourceAsgs.length > 0) properties.sourceApplicationSecurityGroups = sourceAsgs;
  if (destinationAsgs.length > 0) properties.destinationApplicationSecurityGroups = destinationAsgs;
  // Properties the emulator does not model (newer API versions', previews') are stored and returned as sent, as ARM
  // keeps every property of the API version it accepted: a client that drops them on a round trip loses them.
  for (const [key, value] of Object.entries(p)) {
    if (!MODELLED_PROPERTIES.has(key)) properties[key] = value;
  }

  return { name, id, etag, type: SECURITY_RULE_TYPE, properties };
}

/** Two rules in one direction may not share a priority (SecurityRuleConflict, as the Network RP answers). */
export function assertNoPriorityConflict(rules: JsonObject[]): void {
  const seen = new Map<string, string>();
  for (const rule of rules) {
    const p = isObject(rule.properties) ? rule.properties : {};
    const key = `${String(p.direction)}/${String(p.priority)}`;
    const other = seen.get(key);
    if (other !== undefined) {
      throw new ArmError(
        400,
        "SecurityRuleConflict",
        `Security rule ${other} conflicts with rule ${String(rule.name)}. ` +
          "Rules cannot have the same Priority and Direction. To learn more, see aka.ms/nsgrules.",
      );
    }
    seen.set(key, String(rule.name));
  }
}

const DEFAULT_RULES: ReadonlyArray<{
  name: string;
  description: string;
  source: string;
  destination: string;
  access: "Allow" | "Deny";
  priority: number;
  direction: "Inbound" | "Outbound";
}> = [
  {
    name: "AllowVnetInBound",
    description: "Allow inbound traffic from all VMs in VNET",
    source: "VirtualNetwork",
    destination: "VirtualNetwork",
    access: "Allow",
    priority: 65000,
    direction: "Inbound",
  },
  {
    name: "AllowAzureLoadBalancerInBound",
    description: "Allow inbound traffic from azure load balancer",
    source: "AzureLoadBalancer",
    destination: "*",
    access: "Allow",
    priority: 65001,
    direction: "Inbound",
  },
  {
    name: "DenyAllInBound",
    description: "Deny all inbound traffic",
    source: "*",
    destination: "*",
    access: "Deny",
    priority: 65500,
    direction: "Inbound",
  },
  {
    name: "AllowVnetOutBound",
    description: "Allow outbound traffic from all VMs to all VMs in VNET",
    source: "VirtualNetwork",
    destination: "VirtualNetwork",
    access: "Allow",
    priority: 65000,
    direction: "Outbound",
  },
  {
    name: "AllowInternetOutBound",
    description: "Allow outbound traffic from all VMs to Internet",
    source: "*",
    destination: "Internet",
    access: "Allow",
    priority: 65001,
    direction: "Outbound",
  },
  {
    name: "DenyAllOutBound",
    description: "Deny all outbound traffic",
    source: "*",
    destination: "*",
    access: "Deny",
    priority: 65500,
    direction: "Outbound",
  },
];

/** The six rules Azure adds to every NSG (NetworkSecurityGroupCreateWithRule.json example response). */
export function defaultSecurityRules(nsgId: string, etag: string): JsonObject[] {
  return DEFAULT_RULES.map((d) => ({
    name: d.name,
    id: `${nsgId}/defaultSecurityRules/${d.name}`,
    etag,
    type: DEFAULT_SECURITY_RULE_TYPE,
    properties: {
      provisioningState: "Succeeded",
      description: d.description,
      protocol: "*",
      sourcePortRange: "*",
      destinationPortRange: "*",
      sourceAddressPrefix: d.source,
      destinationAddressPrefix: d.destination,
      access: d.access,
      priority: d.priority,
      direction: d.direction,
      sourcePortRanges: [],
      destinationPortRanges: [],
      sourceAddressPrefixes: [],
      destinationAddressPrefixes: [],
    },
  }));
}
