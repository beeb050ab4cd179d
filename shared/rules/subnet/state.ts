// The parts of a subnet a remediation changes, read from its properties and compared as ARM compares them (ids without
// case, lists as sets): what the subnet PUT is to leave in place, checked on a fresh read to settle a lost answer.

import * as z from "zod";

/** What a subnet PUT is to leave in place. */
export const subnetExpectation = z.strictObject({
  networkSecurityGroup: z.string().nullable().optional(),
  routeTable: z.string().nullable().optional(),
  serviceEndpointPolicies: z.array(z.string()).optional(),
  serviceEndpoints: z.array(z.string()).optional(),
});

export type SubnetExpectation = z.infer<typeof subnetExpectation>;

const lower = (s: string) => s.toLowerCase();
const sameSet = (a: readonly string[], b: readonly string[]) => {
  const x = new Set(a.map(lower));
  const y = new Set(b.map(lower));
  return x.size === y.size && [...x].every((v) => y.has(v));
};

function refId(value: unknown): string | null {
  const id = typeof value === "object" && value !== null ? (value as { id?: unknown }).id : undefined;
  return typeof id === "string" ? id : null;
}

function refIds(value: unknown): string[] {
  return Array.isArray(value) ? value.flatMap((v) => refId(v) ?? []) : [];
}

/** The parts of a subnet's properties a remediation changes, as `SubnetExpectation` names them. */
export function subnetState(properties: Readonly<Record<string, unknown>>): Required<SubnetExpectation> {
  const endpoints = Array.isArray(properties.serviceEndpoints) ? properties.serviceEndpoints : [];
  return {
    networkSecurityGroup: refId(properties.networkSecurityGroup),
    routeTable: refId(properties.routeTable),
    serviceEndpointPolicies: refIds(properties.serviceEndpointPolicies),
    serviceEndpoints: endpoints.flatMap((e: unknown) => {
      const service = typeof e === "object" && e !== null ? (e as { service?: unknown }).service : undefined;
      return typeof service === "string" ? [service] : [];
    }),
  };
}

/** Whether a subnet's properties show every expected part (ids compared as ARM compares them, without case). */
export function subnetShows(
  properties: Readonly<Record<string, unknown>>,
  expect: SubnetExpectation,
): boolean {
  const now = subnetState(properties);
  const same = (a: string | null, b: string | null) =>
    a === null ? b === null : b !== null && lower(a) === lower(b);
  if (
    expect.networkSecurityGroup !== undefined &&
    !same(expect.networkSecurityGroup, now.networkSecurityGroup)
  )
    return false;
  if (expect.routeTable !== undefined && !same(expect.routeTable, now.routeTable)) return false;
  if (expect.serviceEndpointPolicies && !sameSet(expect.serviceEndpointPolicies, now.serviceEndpointPolicies))
    return false;
  if (expect.serviceEndpoints && !sameSet(expect.serviceEndpoints, now.serviceEndpoints)) return false;
  return true;
}
