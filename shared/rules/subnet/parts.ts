// The offending parts subnet rules report, each saying what the subnet should hold instead. The subnet-restore
// remediation writes every part it can in one subnet PUT; a part with `manual` is for a person (no id to attach, a
// route inside a route table).

import * as z from "zod";

const ids = z.array(z.string());

export const SubnetPartSchema = z.discriminatedUnion("part", [
  z.looseObject({
    part: z.literal("networkSecurityGroup"),
    current: z.string().nullable(),
    attach: z.string().optional(),
    manual: z.string().optional(),
  }),
  z.looseObject({
    part: z.literal("routeTable"),
    current: z.string().nullable(),
    attach: z.string().optional(),
    manual: z.string().optional(),
  }),
  z.looseObject({
    part: z.literal("serviceEndpointPolicies"),
    current: ids,
    /** The policies the subnet should carry: those of `current` it keeps, then any to attach. */
    want: ids.optional(),
    manual: z.string().optional(),
  }),
  z.looseObject({
    part: z.literal("serviceEndpoints"),
    current: ids,
    add: ids.optional(),
    remove: ids.optional(),
  }),
  z.looseObject({
    part: z.literal("defaultRoute"),
    routeTable: z.string().nullable(),
    manual: z.string(),
  }),
]);

export type SubnetPart = z.infer<typeof SubnetPartSchema>;

/** The parts of a finding's `matched` that are subnet parts (others are ignored). */
export function subnetParts(matched: readonly unknown[]): SubnetPart[] {
  return matched.flatMap((m) => {
    const parsed = SubnetPartSchema.safeParse(m);
    return parsed.success ? [parsed.data] : [];
  });
}

/** Whether the remediation can write this part (it names what to attach, add or remove). */
export function writable(part: SubnetPart): boolean {
  switch (part.part) {
    case "networkSecurityGroup":
    case "routeTable":
      return part.attach !== undefined;
    case "serviceEndpointPolicies":
      return part.want !== undefined;
    case "serviceEndpoints":
      return (part.add?.length ?? 0) + (part.remove?.length ?? 0) > 0;
    case "defaultRoute":
      return false;
  }
}
