// CIS Microsoft Azure Foundations: RDP, SSH, UDP and HTTP(S) access from the Internet evaluated and
// restricted (v2.0.0 6.1-6.4, v3.0.0 7.1-7.4). Effective exposure, not string matching: every
// spelling of "anywhere", plural fields, port ranges and `*`, and higher-precedence Denies.
import * as z from "zod";
import { parsePrefix, parsePrefixes } from "../net/ip.ts";
import type { Snapshot } from "../types.ts";
import {
  classNote,
  isWorldOpenSource,
  maxModeFor,
  publicPrefixesOption,
  SOURCE_CLASSES,
  type SourceClass,
  sourceClass,
} from "./common/sources.ts";
import { nsgExposures, PROTOCOLS, type Protocol, type RuleExposure } from "./nsg/exposure.ts";
import {
  ALL_PORTS,
  formatPorts,
  intersect,
  isEmpty,
  MAX_PORT,
  NO_PORTS,
  type PortSet,
  parsePortSpec,
  portSet,
  union,
} from "./nsg/ports.ts";
import { NSG_RESOURCE_TYPE, nsgOf } from "./nsg/schema.ts";
import type { RuleContext, RuleDefinition, Violation } from "./types.ts";

const portOption = z.union([
  z.number().int().min(0).max(MAX_PORT),
  z
    .string()
    .refine(
      (s) => /^\s*\d{1,5}\s*(-\s*\d{1,5}\s*)?$/.test(s) && parsePortSpec(s) !== undefined,
      'expected a port 0-65535 or a range "from-to" with from <= to',
    ),
]);

export const nsgInboundExposureOptions = z.strictObject({
  /** Protected destination ports; omitted means every port. */
  ports: z.array(portOption).min(1).optional(),
  protocols: z.array(z.enum(PROTOCOLS)).min(1).default(["Tcp"]),
  trustedSources: z
    .array(z.string().refine((s) => parsePrefix(s) !== undefined, "expected an IP address or CIDR prefix"))
    .default([]),
  publicPrefixes: publicPrefixesOption,
});

export type NsgInboundExposureOptions = z.infer<typeof nsgInboundExposureOptions>;

export function protectedPorts(options: Pick<NsgInboundExposureOptions, "ports">): PortSet {
  if (options.ports === undefined) return ALL_PORTS;
  return portSet(
    options.ports.map((p) => {
      if (typeof p === "number") return [p, p] as const;
      const interval = parsePortSpec(p);
      if (!interval) throw new Error(`unvalidated port option ${p}`);
      return interval;
    }),
  );
}

const CIS = {
  rdp: ["CIS Azure v2.0.0 6.1", "CIS Azure v3.0.0 7.1"],
  ssh: ["CIS Azure v2.0.0 6.2", "CIS Azure v3.0.0 7.2"],
  udp: ["CIS Azure v2.0.0 6.3", "CIS Azure v3.0.0 7.3"],
  http: ["CIS Azure v2.0.0 6.4", "CIS Azure v3.0.0 7.4"],
} as const;
const ALL_CIS = [...CIS.rdp, ...CIS.ssh, ...CIS.udp, ...CIS.http];

/**
 * The CIS recommendations the exposure fails. CIS audits sources of `*`, `Internet`, `Any`, `0.0.0.0`,
 * 0.0.0.0/0 and ::/0, so a specific public prefix (reported when `publicPrefixes` is on) fails none. RDP 3389,
 * SSH 22 and HTTP(S) 80/443 are TCP recommendations; the UDP one is any UDP port.
 */
export function cisControlsFailed(exposures: readonly RuleExposure[]): string[] {
  const failed = new Set<string>();
  for (const part of exposures.flatMap((e) => e.parts)) {
    if (!isWorldOpenSource(part.source)) continue;
    const has = (port: number) => !isEmpty(intersect(part.ports, [[port, port]]));
    if (part.protocol === "Udp") for (const c of CIS.udp) failed.add(c);
    if (part.protocol !== "Tcp") continue;
    if (has(3389)) for (const c of CIS.rdp) failed.add(c);
    if (has(22)) for (const c of CIS.ssh) failed.add(c);
    if (has(80) || has(443)) for (const c of CIS.http) failed.add(c);
  }
  const order: readonly string[] = ALL_CIS;
  return [...failed].sort((a, b) => order.indexOf(a) - order.indexOf(b));
}

function describe(e: RuleExposure, cls: SourceClass): string {
  const p = e.rule.properties;
  return `Security rule ${e.rule.name} (priority ${p.priority}) allows ${e.protocols.join("/")} ${formatPorts(e.ports).join(", ")} from ${e.sources.join(", ")}${classNote(cls)}`;
}

/** The part of a rule's exposure that comes from sources of one class (undefined when none does). */
function ofClass(e: RuleExposure, classOf: (token: string) => SourceClass | undefined, cls: SourceClass) {
  const parts = e.parts.filter((part) => classOf(part.source) === cls);
  if (parts.length === 0) return undefined;
  let ports: PortSet = NO_PORTS;
  for (const part of parts) ports = union(ports, part.ports);
  return {
    ...e,
    sources: e.sources.filter((token) => classOf(token) === cls),
    protocols: PROTOCOLS.filter((proto) => parts.some((part) => part.protocol === proto)),
    ports,
    parts,
  };
}

function evaluate(snapshot: Snapshot, options: NsgInboundExposureOptions, context: RuleContext): Violation[] {
  const nsg = nsgOf(snapshot);
  const policy = {
    trusted: parsePrefixes([...context.trustedSources, ...options.trustedSources]),
    publicPrefixes: options.publicPrefixes,
  };
  const classOf = (token: string) => sourceClass(token, policy);
  const exposures = nsgExposures(nsg, {
    ports: protectedPorts(options),
    protocols: options.protocols as readonly Protocol[],
    isOffendingSource: (token) => classOf(token) !== undefined,
  });
  if (exposures.length === 0) return [];
  // One finding per kind of source: world-open sources follow the entry's mode; a specific public prefix (an
  // allow-listed office range) is alerted unless the entry opts in, so remediating the first never touches it.
  const violations: Violation[] = [];
  for (const cls of SOURCE_CLASSES) {
    const mine = exposures.flatMap((e) => ofClass(e, classOf, cls) ?? []);
    if (mine.length === 0) continue;
    const maxMode = maxModeFor(cls, options.publicPrefixes);
    violations.push({
      message: mine.map((e) => describe(e, cls)).join("; "),
      controls: cisControlsFailed(mine),
      kind: cls,
      ...(maxMode ? { maxMode } : {}),
      matched: mine.map((e) => ({
        securityRule: e.rule.name,
        id: e.rule.id,
        priority: e.rule.properties.priority,
        protocol: e.rule.properties.protocol,
        sources: e.sources,
        ports: formatPorts(e.ports),
        // Not in the finding's required shape, but the remediations re-check with it: which protected
        // protocols a `*` rule was found to open.
        protocols: e.protocols,
        direction: "Inbound",
      })),
    });
  }
  return violations;
}

export const nsgInboundExposure = {
  id: "nsg-inbound-exposure",
  description:
    "Inbound security rules that open protected ports (SSH, RDP, UDP, HTTP(S) or any you list) to the Internet, " +
    "after higher-precedence Deny rules, counting every spelling of anywhere; specific public prefixes outside the trusted " +
    "sources (alerted, not remediated, unless the entry opts in) and malformed prefixes are findings of their own.",
  cloud: "azure",
  resourceTypes: [NSG_RESOURCE_TYPE],
  controls: ALL_CIS,
  options: nsgInboundExposureOptions,
  permissions: ["Microsoft.Network/networkSecurityGroups/read"],
  remediations: ["delete-rule", "deny-rule", "restrict-source"],
  example: `- name: no-ssh-from-internet
  rule: nsg-inbound-exposure
  mode: remediate
  severity: high
  remediation: delete-rule
  options:
    ports: [22]
    protocols: [Tcp]
`,
  evaluate,
} satisfies RuleDefinition<typeof nsgInboundExposureOptions>;
