// Writes to storage accounts. StorageAccounts_Update (PATCH) takes no If-Match and the account has no etag, so the
// write is guarded by comparison: the account is read again right before the PATCH, and if any part about to be
// written differs from what was evaluated, nothing is written and the pipeline re-evaluates (ConflictError). What
// remains is the time between that read and the PATCH reaching the storage RP (README, "Storage accounts").
//
// The PATCH body is sent as raw JSON through the SDK pipeline (AzureNetwork.send): the SDK's serializer rebuilds
// network rules from its own model and would drop what it does not know, and allowed entries must go back byte for
// byte.

import { isDeepStrictEqual } from "node:util";
import * as z from "zod";
import { ConflictError, InputError, OutcomeUnknownError, TransientError } from "../../errors.ts";
import { partOf, STORAGE_NETWORK_PARTS, type StorageNetworkPart } from "../../rules/storage/account.ts";
import type { PlannedChange, Snapshot } from "../../types.ts";
import type { CallOptions, ResourceWriter } from "../ports.ts";
import { STORAGE_API_VERSION, storageAccount } from "./kinds/storage-account.ts";
import {
  type AzureNetwork,
  describeFailure,
  mayHaveLanded,
  rawBody,
  retryAfterMs,
  statusOf,
  translate,
} from "./network.ts";
import { resourceParts } from "./reader.ts";

const partsSchema = z.strictObject({
  networkAcls: z.record(z.string(), z.unknown()).optional(),
  publicNetworkAccess: z.string().optional(),
  allowBlobPublicAccess: z.boolean().optional(),
});

export const patchStorageNetworkSchema = z.strictObject({
  kind: z.literal("patch-storage-network"),
  accountId: z.string().min(1),
  /** Each part the PATCH writes, as it was when evaluated (null: absent). Compared with a read right before the PATCH. */
  expected: z.record(z.enum(STORAGE_NETWORK_PARTS), z.unknown()),
  /** The PATCH body: `{ properties: { <part>: <value> } }`, only the parts being changed. */
  body: z.strictObject({ properties: partsSchema }),
});

export type PatchStorageNetworkOperation = z.infer<typeof patchStorageNetworkSchema>;

function operationOf(change: PlannedChange): PatchStorageNetworkOperation {
  const parsed = patchStorageNetworkSchema.safeParse(change.operation);
  if (!parsed.success) {
    throw new InputError(
      `planned change "${change.summary}" is not a storage network patch: ${z.prettifyError(parsed.error)}`,
      { path: "operation", cause: parsed.error },
    );
  }
  return parsed.data;
}

type Json = Record<string, unknown>;
const lower = (v: unknown) => (typeof v === "string" ? v.trim().toLowerCase() : v);
const keysOf = (list: unknown, key: string) =>
  (Array.isArray(list) ? list : [])
    .map((e) => lower((e as Json | undefined)?.[key]))
    .filter((k) => k !== undefined)
    .sort();

/**
 * Whether the account's rule set is the one written. The storage RP fills what a PATCH omits (bypass, empty lists, a
 * VNet rule's state), so what is compared is what the guardian decides: the default action, bypass when it was
 * written, and which IP and VNet rules are there.
 */
function sameNetworkAcls(written: Json, now: unknown): boolean {
  if (typeof now !== "object" || now === null) return false;
  const current = now as Json;
  if (lower(written.defaultAction) !== lower(current.defaultAction)) return false;
  if (written.bypass !== undefined && lower(written.bypass) !== lower(current.bypass)) return false;
  return (
    isDeepStrictEqual(keysOf(written.ipRules, "value"), keysOf(current.ipRules, "value")) &&
    isDeepStrictEqual(keysOf(written.ipv6Rules, "value"), keysOf(current.ipv6Rules, "value")) &&
    isDeepStrictEqual(keysOf(written.virtualNetworkRules, "id"), keysOf(current.virtualNetworkRules, "id"))
  );
}

export class AzureStorageNetworkWriter implements ResourceWriter {
  readonly #clients: AzureNetwork;
  constructor(clients: AzureNetwork) {
    this.#clients = clients;
  }

  /**
   * One PATCH of the parts the plan changes, after a read shows them still as evaluated. Throws ConflictError when
   * they differ (or the account is gone) and nothing was written, OutcomeUnknownError when the PATCH may have landed
   * without an answer, TransientError when it was not applied but may pass, a plain Error when the RP rejected it.
   */
  async apply(change: PlannedChange, snapshot: Snapshot, options: CallOptions = {}): Promise<void> {
    const op = operationOf(change);
    if (snapshot.origin === "event") {
      throw new InputError(
        `refusing to write ${op.accountId} from the resource an event carried: read it first`,
      );
    }
    const parts = resourceParts(storageAccount, op.accountId);
    const written = Object.keys(op.body.properties) as StorageNetworkPart[];
    if (written.length === 0) throw new InputError(`planned change "${change.summary}" writes nothing`);
    for (const part of written) {
      if (!Object.hasOwn(op.expected, part)) {
        throw new InputError(`refusing an unguarded write to ${op.accountId}: no expected value for ${part}`);
      }
    }

    // No etag: read the account again and compare the parts about to be written.
    const body = rawBody();
    this.#clients.counter.reads++;
    try {
      await storageAccount.read.get(this.#clients, parts, {
        ...body.options,
        ...(options.signal ? { abortSignal: options.signal } : {}),
      });
    } catch (error) {
      if (statusOf(error) === 404) {
        throw new ConflictError(
          `storage account ${op.accountId} was deleted since it was read`,
          op.accountId,
          {
            cause: error,
          },
        );
      }
      throw translate(error, op.accountId, "read before write");
    }
    const fresh = body.json();
    const changed = written.filter(
      (part) => !isDeepStrictEqual(partOf(fresh, part), op.expected[part] ?? null),
    );
    if (changed.length > 0) {
      throw new ConflictError(
        `storage account ${op.accountId}: ${changed.join(", ")} changed since it was evaluated; not written`,
        op.accountId,
      );
    }

    const what = `${change.summary}`;
    this.#clients.counter.writes++;
    const answer = await this.#clients.send(
      parts.subscriptionId,
      "PATCH",
      this.#clients.url(op.accountId, STORAGE_API_VERSION),
      { body: op.body, signal: options.signal },
    );
    if (!answer.answered) {
      const message = `${what}: ${describeFailure(answer)}`;
      if (answer.attempts.some(mayHaveLanded))
        throw new OutcomeUnknownError(message, { cause: answer.error });
      throw new TransientError(message, { cause: answer.error });
    }
    const status = answer.status;
    if (status >= 200 && status < 300) return;
    const message = `${what}: ${describeFailure(answer)}`;
    if (answer.attempts.slice(0, -1).some(mayHaveLanded)) {
      throw new OutcomeUnknownError(`${message} (after an earlier attempt that may have been applied)`);
    }
    if (status === 404) throw new ConflictError(message, op.accountId);
    if (status === 409 || status === 429 || status === 408 || status >= 500) {
      const after = retryAfterMs(answer.headers["retry-after"]);
      throw new TransientError(message, after === undefined ? {} : { retryAfterMs: after });
    }
    throw new Error(message);
  }

  /** Whether a fresh read shows every part the PATCH wrote. */
  isApplied(change: PlannedChange, snapshot: Snapshot): boolean {
    const op = operationOf(change);
    return Object.entries(op.body.properties).every(([part, value]) => {
      const now = partOf(snapshot.resource, part as StorageNetworkPart);
      if (part === "networkAcls") return sameNetworkAcls(value as Json, now);
      return isDeepStrictEqual(lower(value), lower(now));
    });
  }
}
