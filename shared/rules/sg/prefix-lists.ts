// Managed prefix lists as security group rules reference them (IpPermission.PrefixListIds). A rule that names a prefix
// list allows every CIDR the list holds, and a customer-managed list can hold 0.0.0.0/0: its entries are judged as
// CIDRs. AWS-managed lists (com.amazonaws.<region>.s3, ...; owner "AWS") hold the service's own ranges and are not an
// exposure. The reader resolves the lists a group references and attaches them to the snapshot
// (Snapshot.related.prefixLists), so rules stay pure; a list it could not read is kept with the reason, and a
// reference whose list was never resolved (an offline snapshot) counts as unreadable: never as harmless.

import * as z from "zod";
import type { Snapshot } from "../../types.ts";

const entrySchema = z.looseObject({ Cidr: z.string(), Description: z.string().optional() });

export const resolvedPrefixListSchema = z.discriminatedUnion("state", [
  z.object({
    state: z.literal("customer-managed"),
    id: z.string(),
    name: z.string().optional(),
    ownerId: z.string().optional(),
    entries: z.array(entrySchema),
  }),
  z.object({
    state: z.literal("aws-managed"),
    id: z.string(),
    name: z.string().optional(),
    ownerId: z.string().optional(),
  }),
  z.object({
    state: z.literal("unreadable"),
    id: z.string(),
    reason: z.string(),
    /** EC2 did not return the list at all (deleted, or no longer shared with the account). */
    gone: z.boolean().optional(),
  }),
]);
export type ResolvedPrefixList = z.infer<typeof resolvedPrefixListSchema>;

/** The key under Snapshot.related. */
export const PREFIX_LISTS = "prefixLists";

/** The prefix lists the reader resolved for this snapshot, by id; parsed once per snapshot. */
export function prefixListsOf(snapshot: Snapshot): ReadonlyMap<string, ResolvedPrefixList> {
  let lists = parsed.get(snapshot);
  if (lists === undefined) {
    lists = new Map();
    const raw = snapshot.related?.[PREFIX_LISTS];
    if (typeof raw === "object" && raw !== null) {
      for (const [id, value] of Object.entries(raw)) {
        const list = resolvedPrefixListSchema.safeParse(value);
        lists.set(
          id,
          list.success && list.data.id === id
            ? list.data
            : { state: "unreadable", id, reason: "the resolved prefix list data is malformed" },
        );
      }
    }
    parsed.set(snapshot, lists);
  }
  return lists;
}

const parsed = new WeakMap<Snapshot, Map<string, ResolvedPrefixList>>();

/** A list as an alert names it: `pl-0123 (corp-ranges)`. */
export function prefixListLabel(id: string, list: ResolvedPrefixList | undefined): string {
  const name = list !== undefined && list.state !== "unreadable" ? list.name : undefined;
  return name ? `${id} (${name})` : id;
}

/** Why a reference counts as unreadable: the reader's reason, or that it was never resolved. */
export function unreadableReason(list: ResolvedPrefixList | undefined): string {
  if (list?.state === "unreadable") return list.reason;
  return "its entries were not resolved (the snapshot carries no prefix list data)";
}
