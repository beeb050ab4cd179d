// Writes to storage accounts. StorageAccounts_Update (PATCH) takes no If-Match and the account has no etag, so the
// write is guarded by comparison: the account is read again right before the PATCH, and if any part about to be
// written differs from what was evaluated, nothing is written and the pipeline re-evaluates (ConflictError). What
// remains is the time between that read and the PATCH reaching the storage RP (README, "Storage accounts").
//
// The PATCH body is sent as raw JSON through the SDK client's pipeline (its authentication, retries and trusted CA):
// the SDK's serializer rebuilds network rules from its own model and would drop what it does not know, and allowed
// entries must go back byte for byte.

import { isDeepStrictEqual } from "node:util";
import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineRequest,
  type HttpClient,
} from "@azure/core-rest-pipeline";
import * as z from "zod";
import { ConflictError, InputError } from "../../errors.ts";
import { partOf, STORAGE_NETWORK_PARTS, type StorageNetworkPart } from "../../rules/storage/account.ts";
import type { PlannedChange, Snapshot } from "../../types.ts";
import type { ResourceWriter } from "../ports.ts";
import { STORAGE_API_VERSION, storageAccount } from "./kinds/storage-account.ts";
import { type AzureNetwork, rawBody, statusOf, translate } from "./network.ts";
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

let httpClient: HttpClient | undefined;

export class AzureStorageNetworkWriter implements ResourceWriter {
  readonly #clients: AzureNetwork;
  constructor(clients: AzureNetwork) {
    this.#clients = clients;
  }

  async apply(change: PlannedChange, _snapshot: Snapshot): Promise<void> {
    const parsed = patchStorageNetworkSchema.safeParse(change.operation);
    if (!parsed.success) {
      throw new InputError(
        `planned change "${change.summary}" is not a storage network patch: ${z.prettifyError(parsed.error)}`,
        {
          path: "operation",
          cause: parsed.error,
        },
      );
    }
    const op = parsed.data;
    const parts = resourceParts(storageAccount, op.accountId);
    const written = Object.keys(op.body.properties) as StorageNetworkPart[];
    if (written.length === 0) throw new InputError(`planned change "${change.summary}" writes nothing`);
    for (const part of written) {
      if (!Object.hasOwn(op.expected, part)) {
        throw new InputError(`refusing an unguarded write to ${op.accountId}: no expected value for ${part}`);
      }
    }

    // The account has no etag: read it again and compare the parts about to be written.
    const body = rawBody();
    this.#clients.counter.reads++;
    try {
      await storageAccount.read.get(this.#clients, parts, body.options);
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

    const base = this.#clients.endpoint.replace(/\/$/, "");
    const url = `${base}${op.accountId}?api-version=${STORAGE_API_VERSION}`;
    const request = createPipelineRequest({
      url,
      method: "PATCH",
      body: JSON.stringify(op.body),
      headers: createHttpHeaders({ "content-type": "application/json", accept: "application/json" }),
    });
    httpClient ??= createDefaultHttpClient();
    this.#clients.counter.writes++;
    let status: number;
    let text: string | undefined;
    try {
      const response = await this.#clients
        .storage(parts.subscriptionId)
        .pipeline.sendRequest(httpClient, request);
      status = response.status;
      text = response.bodyAsText ?? undefined;
    } catch (error) {
      throw translate(error, op.accountId, change.summary);
    }
    if (status < 200 || status > 299) {
      throw translate(
        Object.assign(new Error(text ?? `HTTP ${status}`), { statusCode: status }),
        op.accountId,
        change.summary,
      );
    }
  }
}
