// Where a subnet's Internet-bound traffic goes, from its route table as ARM returns it (Azure/azure-rest-api-specs,
// Microsoft.Network stable, routeTable.json: RouteTable, Route, RoutePropertiesFormat). Azure picks the route with the
// longest matching prefix, user routes over system ones; without a user route for 0.0.0.0/0 the system route sends it
// to the Internet. So deny-by-default egress through a firewall needs 0.0.0.0/0 → VirtualAppliance at the firewall's
// private IP, and no more specific route for public addresses sending them anywhere else.

import * as z from "zod";
import { parsePrefix, reachesPublicSpace } from "../../net/ip.ts";

const RouteSchema = z.looseObject({
  name: z.string().optional(),
  properties: z.looseObject({
    addressPrefix: z.string().nullish(),
    nextHopType: z.string(),
    nextHopIpAddress: z.string().nullish(),
  }),
});

const RouteTableSchema = z.looseObject({
  id: z.string().optional(),
  properties: z.looseObject({ routes: z.array(RouteSchema).nullish() }).optional(),
});

export interface EgressProblem {
  /** The route at fault, when one is (absent: no default route at all). */
  route?: string;
  addressPrefix?: string;
  nextHopType?: string;
  nextHopIpAddress?: string;
  why: string;
}

const DEFAULT_V4 = "0.0.0.0/0";

function describeHop(type: string, ip: string | null | undefined): string {
  return ip ? `${type} ${ip}` : type;
}

/**
 * What lets traffic to the Internet leave other than through the firewall at `firewallIp`: a missing or misdirected
 * 0.0.0.0/0 route, or a more specific route for public addresses (an IP prefix reaching public space, or a service
 * tag) whose next hop is the Internet or another appliance. Routes to None (dropped), to the virtual network or to
 * the gateway do not reach the Internet directly. `allowed` lists address prefixes or service tags whose routes may
 * go elsewhere (compared as written, without case). `table` null: the subnet has no route table.
 */
export function egressProblems(
  table: unknown,
  firewallIp: string,
  allowed: readonly string[] = [],
): EgressProblem[] {
  if (table === null) {
    return [
      { why: `no route table: ${DEFAULT_V4} takes the system route to the Internet, not the firewall` },
    ];
  }
  const parsed = RouteTableSchema.safeParse(table);
  if (!parsed.success) return [{ why: "the route table could not be read as ARM returns one" }];
  const routes = parsed.data.properties?.routes ?? [];
  const ok = new Set(allowed.map((a) => a.trim().toLowerCase()));
  const problems: EgressProblem[] = [];
  let defaults = 0;
  for (const route of routes) {
    const p = route.properties;
    const prefixText = p.addressPrefix?.trim() ?? "";
    const prefix = parsePrefix(prefixText);
    const hop = p.nextHopType.trim().toLowerCase();
    const toFirewall = hop === "virtualappliance" && p.nextHopIpAddress?.trim() === firewallIp;
    const base = {
      ...(route.name ? { route: route.name } : {}),
      addressPrefix: prefixText,
      nextHopType: p.nextHopType,
      ...(p.nextHopIpAddress ? { nextHopIpAddress: p.nextHopIpAddress } : {}),
    };
    if (prefix && prefix.family === "ipv4" && prefix.bits === 0) {
      defaults++;
      if (!toFirewall) {
        problems.push({
          ...base,
          why: `${DEFAULT_V4} goes to ${describeHop(p.nextHopType, p.nextHopIpAddress)}, not the firewall (VirtualAppliance ${firewallIp})`,
        });
      }
      continue;
    }
    if (toFirewall || ok.has(prefixText.toLowerCase())) continue;
    // Only routes that send public destinations straight out, or to some other appliance, bypass the firewall.
    if (hop !== "internet" && hop !== "virtualappliance") continue;
    const publicDestination = prefix ? reachesPublicSpace(prefix) : prefixText !== "";
    if (!publicDestination) continue;
    problems.push({
      ...base,
      why: `${prefixText} goes to ${describeHop(p.nextHopType, p.nextHopIpAddress)}: traffic to it bypasses the firewall`,
    });
  }
  if (defaults === 0) {
    problems.unshift({
      why: `no ${DEFAULT_V4} route: Internet-bound traffic takes the system route to the Internet, not the firewall`,
    });
  }
  return problems;
}
