// Which AWS Security Hub (CSPM) and CIS AWS Foundations controls an exposed permission fails.
// Source: the Security Hub user guide, "Security Hub CSPM controls for Amazon EC2" (ec2-controls), and the
// AWS Config managed rules each control runs:
// - EC2.13 "Security groups should not allow ingress from 0.0.0.0/0 or ::/0 to port 22" (restricted-ssh;
//   SSH is TCP). CIS v1.2.0 4.1.
// - EC2.14 same for port 3389 (restricted-common-ports, which checks TCP only). CIS v1.2.0 4.2.
// - EC2.18 "Security groups should only allow unrestricted incoming traffic for authorized ports"
//   (vpc-sg-open-only-to-authorized-ports; Security Hub default authorizedTcpPorts 80,443, no UDP port).
// - EC2.19 "Security groups should not allow unrestricted access to ports with high risk"
//   (restricted-common-ports, TCP, fixed list below).
// - EC2.53 / EC2.54 "EC2 security groups should not allow ingress from 0.0.0.0/0 / ::/0 to remote server
//   administration ports" (22, 3389; TCP, UDP or all). CIS v3.0.0 5.2 / 5.3, CIS v5.0.0 5.3 / 5.4.
// - EC2.2 "VPC default security groups should not allow inbound or outbound traffic". CIS v1.2.0 4.3,
//   v1.4.0 5.3, v3.0.0 5.4, v5.0.0 5.5.
// Every Security Hub control above concerns the whole address space only (a /0 source): a specific public
// prefix is an exposure for this guardian but fails none of them, so it names no control.

import { type PortRange, permissionPorts, rangeContains } from "./ports.ts";
import type { IpPermission } from "./security-group.ts";
import { normaliseProtocol } from "./security-group.ts";

export const SH_EC2_2 = "Security Hub EC2.2";
export const SH_EC2_13 = "Security Hub EC2.13";
export const SH_EC2_14 = "Security Hub EC2.14";
export const SH_EC2_18 = "Security Hub EC2.18";
export const SH_EC2_19 = "Security Hub EC2.19";
export const SH_EC2_53 = "Security Hub EC2.53";
export const SH_EC2_54 = "Security Hub EC2.54";
export const CIS_V3_5_2 = "CIS AWS v3.0.0 5.2";
export const CIS_V3_5_3 = "CIS AWS v3.0.0 5.3";
export const CIS_V3_5_4 = "CIS AWS v3.0.0 5.4";
export const CIS_V5_5_3 = "CIS AWS v5.0.0 5.3";
export const CIS_V5_5_4 = "CIS AWS v5.0.0 5.4";
export const CIS_V5_5_5 = "CIS AWS v5.0.0 5.5";

/** Every control sg-ingress-exposure can name, in a stable order. */
export const EXPOSURE_CONTROLS = [
  SH_EC2_13,
  SH_EC2_14,
  SH_EC2_18,
  SH_EC2_19,
  SH_EC2_53,
  SH_EC2_54,
  CIS_V3_5_2,
  CIS_V3_5_3,
  CIS_V5_5_3,
  CIS_V5_5_4,
] as const;

export const DEFAULT_GROUP_CONTROLS = [SH_EC2_2, CIS_V3_5_4, CIS_V5_5_5] as const;

/** restricted-common-ports as EC2.19 configures it (not customisable). */
export const HIGH_RISK_TCP_PORTS = [
  20, 21, 22, 23, 25, 110, 135, 143, 445, 1433, 1434, 3000, 3306, 3389, 4333, 5000, 5432, 5500, 5601, 8080,
  8088, 8888, 9200, 9300,
] as const;

/** Security Hub's default authorizedTcpPorts for EC2.18; it sets no authorized UDP port. */
const AUTHORIZED_TCP_PORTS = [80, 443] as const;

function opensOtherThan(range: PortRange, allowed: readonly number[]): boolean {
  const inside = allowed.filter((port) => rangeContains(range, port)).length;
  return range[1] - range[0] + 1 > inside;
}

/** The controls one (permission, CIDR) of an ingress exposure fails, in EXPOSURE_CONTROLS order. */
export function exposureControls(
  permission: IpPermission,
  family: "ipv4" | "ipv6",
  wholeSpace: boolean,
): string[] {
  if (!wholeSpace) return [];
  const protocol = normaliseProtocol(permission.IpProtocol);
  const tcp = protocol === "tcp" || protocol === "all";
  const tcpOrUdp = tcp || protocol === "udp";
  if (!tcpOrUdp) return [];
  const range = permissionPorts(permission);
  const admin = rangeContains(range, 22) || rangeContains(range, 3389);
  const found = new Set<string>();
  if (tcp && rangeContains(range, 22)) found.add(SH_EC2_13);
  if (tcp && rangeContains(range, 3389)) found.add(SH_EC2_14);
  if (protocol === "udp" || protocol === "all" || opensOtherThan(range, AUTHORIZED_TCP_PORTS))
    found.add(SH_EC2_18);
  if (tcp && HIGH_RISK_TCP_PORTS.some((p) => rangeContains(range, p))) found.add(SH_EC2_19);
  if (admin && family === "ipv4") {
    found.add(SH_EC2_53).add(CIS_V3_5_2).add(CIS_V5_5_3);
  }
  if (admin && family === "ipv6") {
    found.add(SH_EC2_54).add(CIS_V3_5_3).add(CIS_V5_5_4);
  }
  return EXPOSURE_CONTROLS.filter((c) => found.has(c));
}
