import {
  DescribeManagedPrefixListsCommand,
  DescribeSecurityGroupsCommand,
  GetManagedPrefixListEntriesCommand,
  type ManagedPrefixList,
  type PrefixListEntry,
} from "@aws-sdk/client-ec2";
import type { ResolvedPrefixList } from "../../rules/sg/prefix-lists.ts";
import type { Snapshot } from "../../types.ts";
import type { CallCounter, CallOptions, ResourceReader, ResourceRef } from "../ports.ts";
import {
  asTransient,
  callOptions,
  clientFor,
  type Ec2ClientSource,
  ec2ErrorCode,
  withContext,
} from "./client.ts";

// A customer-managed list holds at most 1000 entries (a quota AWS can raise); 100 per page is the API's maximum.
const PAGE_SIZE = 100;
const MAX_PAGES = 50;

export interface PrefixListResolverOptions {
  clients: Ec2ClientSource;
  counter: CallCounter;
}

/**
 * Resolves the managed prefix lists security group rules reference: who owns each (AWS-managed lists hold service
 * ranges) and the entries of customer-managed ones. One instance per invocation: each list is described and read once
 * however many groups of the invocation reference it, and a later invocation reads it afresh. A list EC2 refuses to
 * show (not shared with the account any more, access denied) is resolved as unreadable with EC2's reason; throttling,
 * 5xx and network failures are TransientErrors, so the event is retried rather than judged on half the data.
 */
export class PrefixListResolver {
  readonly #options: PrefixListResolverOptions;
  readonly #cache = new Map<string, Promise<ResolvedPrefixList>>();

  constructor(options: PrefixListResolverOptions) {
    this.#options = options;
  }

  async resolve(
    ids: readonly string[],
    region: string | undefined,
    signal?: AbortSignal,
  ): Promise<Record<string, ResolvedPrefixList>> {
    const key = (id: string) => `${region ?? ""}|${id}`;
    const missing = [...new Set(ids)].filter((id) => !this.#cache.has(key(id)));
    if (missing.length > 0) {
      const described = this.#describe(missing, region, signal);
      for (const id of missing) {
        const one = described.then((lists) => this.#entries(id, lists.get(id), region, signal));
        // A transient failure is not remembered: the next read of this invocation tries again.
        one.catch(() => this.#cache.delete(key(id)));
        this.#cache.set(key(id), one);
      }
    }
    const out: Record<string, ResolvedPrefixList> = {};
    for (const id of new Set(ids)) {
      const list = await this.#cache.get(key(id));
      if (list !== undefined) out[id] = list;
    }
    return out;
  }

  /** DescribeManagedPrefixLists for all ids at once; one by one when EC2 refuses the batch, to find which it refuses. */
  async #describe(
    ids: readonly string[],
    region: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Map<string, ManagedPrefixList | string>> {
    const found = new Map<string, ManagedPrefixList | string>();
    try {
      for (const list of await this.#describeCall(ids, region, signal)) {
        if (list.PrefixListId !== undefined) found.set(list.PrefixListId, list);
      }
      return found;
    } catch (error) {
      if (!(error instanceof RefusedError)) throw error;
      if (ids.length === 1) {
        found.set(ids[0] as string, error.message);
        return found;
      }
    }
    for (const id of ids) {
      try {
        const [list] = await this.#describeCall([id], region, signal);
        if (list !== undefined) found.set(id, list);
      } catch (error) {
        if (!(error instanceof RefusedError)) throw error;
        found.set(id, error.message);
      }
    }
    return found;
  }

  async #describeCall(
    ids: readonly string[],
    region: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<ManagedPrefixList[]> {
    const { clients, counter } = this.#options;
    const client = clientFor(clients, region);
    const what = `DescribeManagedPrefixLists for ${ids.join(", ")}`;
    const lists: ManagedPrefixList[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const options = callOptions(signal, what);
      try {
        counter.reads += 1;
        const output = await client.send(
          new DescribeManagedPrefixListsCommand({
            PrefixListIds: [...ids],
            ...(token === undefined ? {} : { NextToken: token }),
          }),
          options,
        );
        lists.push(...(output.PrefixLists ?? []));
        token = output.NextToken;
      } catch (error) {
        throw refusedOrRethrow(error, what);
      }
      if (!token) break;
    }
    return lists;
  }

  async #entries(
    id: string,
    described: ManagedPrefixList | string | undefined,
    region: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<ResolvedPrefixList> {
    if (described === undefined) {
      return {
        state: "unreadable",
        id,
        reason: "EC2 did not return it (deleted, or not owned by or shared with this account)",
        gone: true,
      };
    }
    if (typeof described === "string") return { state: "unreadable", id, reason: described };
    const name = described.PrefixListName;
    const ownerId = described.OwnerId;
    const about = {
      id,
      ...(name === undefined ? {} : { name }),
      ...(ownerId === undefined ? {} : { ownerId }),
    };
    // AWS-managed lists are owned by "AWS" (their names start with com.amazonaws., which no customer list may use).
    if (ownerId === "AWS") return { state: "aws-managed", ...about };

    const { clients, counter } = this.#options;
    const client = clientFor(clients, region);
    const what = `GetManagedPrefixListEntries for ${id}`;
    const entries: PrefixListEntry[] = [];
    let token: string | undefined;
    for (let page = 0; ; page++) {
      if (page >= MAX_PAGES) {
        return { state: "unreadable", id, reason: `more than ${MAX_PAGES * PAGE_SIZE} entries` };
      }
      const options = callOptions(signal, what);
      try {
        counter.reads += 1;
        const output = await client.send(
          new GetManagedPrefixListEntriesCommand({
            PrefixListId: id,
            MaxResults: PAGE_SIZE,
            ...(token === undefined ? {} : { NextToken: token }),
          }),
          options,
        );
        entries.push(...(output.Entries ?? []));
        token = output.NextToken;
      } catch (error) {
        const refused = refusedOrRethrow(error, what);
        return { state: "unreadable", id, reason: refused.message };
      }
      if (!token) break;
    }
    return {
      state: "customer-managed",
      ...about,
      entries: entries.flatMap((e) =>
        e.Cidr === undefined
          ? []
          : [{ Cidr: e.Cidr, ...(e.Description === undefined ? {} : { Description: e.Description }) }],
      ),
    };
  }
}

/**
 * Reads one managed prefix list (owner, and entries when customer-managed) as a snapshot of the resolved list. The
 * guardian evaluates the groups that reference a list, not the list: this is for whoever asks for the list itself.
 */
export class AwsPrefixListReader implements ResourceReader {
  readonly #lists: PrefixListResolver;

  constructor(lists: PrefixListResolver) {
    this.#lists = lists;
  }

  async read(ref: ResourceRef, options: CallOptions = {}): Promise<Snapshot | undefined> {
    const list = (await this.#lists.resolve([ref.resourceId], ref.region, options.signal))[ref.resourceId];
    if (list === undefined || (list.state === "unreadable" && list.gone === true)) return undefined;
    const owner = list.state === "unreadable" ? undefined : list.ownerId;
    return {
      cloud: "aws",
      resourceId: ref.resourceId,
      resourceType: ref.resourceType,
      resource: list,
      tags: {},
      account: owner !== undefined && owner !== "AWS" ? owner : ref.account,
      ...(ref.region === undefined ? {} : { region: ref.region }),
    };
  }
}

/** EC2 answered with an error that retrying will not change (not found, not authorized): the list is unreadable. */
class RefusedError extends Error {}

function refusedOrRethrow(error: unknown, what: string): RefusedError {
  const transient = asTransient(error, what);
  if (transient !== undefined) throw transient;
  const code = ec2ErrorCode(error);
  if (code === undefined) throw withContext(error, what);
  return new RefusedError(`${code}: ${error instanceof Error ? error.message.slice(0, 200) : String(error)}`);
}

// DescribeSecurityGroups filters (EC2 API reference): groups whose inbound / outbound rules reference a prefix list.
const REFERENCE_FILTERS = ["ip-permission.prefix-list-id", "egress.ip-permission.prefix-list-id"] as const;

/**
 * The ids of every security group (in the client's region) whose rules reference the prefix list, inbound or
 * outbound: what must be evaluated again when the list's entries change.
 */
export async function groupsReferencing(
  prefixListId: string,
  options: PrefixListResolverOptions & { region: string | undefined; signal?: AbortSignal | undefined },
): Promise<string[]> {
  const { clients, counter, signal, region } = options;
  const client = clientFor(clients, region);
  const ids = new Set<string>();
  for (const filter of REFERENCE_FILTERS) {
    const what = `DescribeSecurityGroups with ${filter}=${prefixListId}`;
    let token: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const call = callOptions(signal, what);
      try {
        counter.reads += 1;
        const output = await client.send(
          new DescribeSecurityGroupsCommand({
            Filters: [{ Name: filter, Values: [prefixListId] }],
            MaxResults: 1000,
            ...(token === undefined ? {} : { NextToken: token }),
          }),
          call,
        );
        for (const group of output.SecurityGroups ?? []) if (group.GroupId) ids.add(group.GroupId);
        token = output.NextToken;
      } catch (error) {
        throw asTransient(error, what) ?? withContext(error, what);
      }
      if (!token) break;
    }
  }
  return [...ids];
}
