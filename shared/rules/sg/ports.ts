// Port ranges of security group permissions and of policy options, as closed intervals.

import type { IpPermission } from "./security-group.ts";
import { normaliseProtocol } from "./security-group.ts";

export type PortRange = readonly [from: number, to: number];

export const MAX_PORT = 65535;
const ALL: PortRange = [0, MAX_PORT];

/** A policy port spec: 22 or "22" or "20-25". Undefined when it is not one. */
export function parsePortSpec(spec: number | string): PortRange | undefined {
  if (typeof spec === "number") {
    return Number.isInteger(spec) && spec >= 0 && spec <= MAX_PORT ? [spec, spec] : undefined;
  }
  const match = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(spec);
  if (!match) return undefined;
  const from = Number(match[1]);
  const to = match[2] === undefined ? from : Number(match[2]);
  return from <= to && to <= MAX_PORT ? [from, to] : undefined;
}

/**
 * The ports a tcp/udp/all permission opens. `-1` (and any protocol number other than tcp, udp, icmp,
 * icmpv6) opens every port whatever FromPort/ToPort say, per the IpPermission reference. A tcp/udp
 * permission always carries a range; were one ever missing or -1 (EC2-Classic era data), read it as all
 * ports rather than none, so that an exposure is reported rather than missed.
 */
export function permissionPorts(permission: IpPermission): PortRange {
  const protocol = normaliseProtocol(permission.IpProtocol);
  if (protocol !== "tcp" && protocol !== "udp") return ALL;
  const from = permission.FromPort;
  const to = permission.ToPort;
  if (from === undefined || to === undefined || from < 0 || to < 0) return ALL;
  return [from, Math.min(to, MAX_PORT)];
}

export function intersectRange(a: PortRange, b: PortRange): PortRange | undefined {
  const from = Math.max(a[0], b[0]);
  const to = Math.min(a[1], b[1]);
  return from <= to ? [from, to] : undefined;
}

export function rangeContains(range: PortRange, port: number): boolean {
  return range[0] <= port && port <= range[1];
}

export function formatRange([from, to]: PortRange): string {
  return from === to ? String(from) : `${from}-${to}`;
}
