// The reconcile's page queue on Azure: a Storage queue in the Function App's own storage account, read by the
// reconcilePage function's queue trigger (shared/usecases/reconcile.ts).

import type { TokenCredential } from "@azure/core-auth";
import { QueueClient } from "@azure/storage-queue";
import { TransientError } from "../../errors.ts";
import type { PageMessage, PageQueue } from "../../usecases/reconcile.ts";

export const RECONCILE_QUEUE = "guardian-reconcile";

/**
 * The queue as the Functions host sees it: `AzureWebJobsStorage` as a connection string (local, Azurite), else the
 * account named by `AzureWebJobsStorage__accountName` (or its `__queueServiceUri`) reached with the app's managed
 * identity, as the deployed app's settings say.
 */
export function storageQueueClient(
  env: Record<string, string | undefined>,
  credential: TokenCredential,
  queue = RECONCILE_QUEUE,
): QueueClient {
  const connection = env.AzureWebJobsStorage;
  if (connection) return new QueueClient(connection, queue);
  const uri =
    env.AzureWebJobsStorage__queueServiceUri ??
    (env.AzureWebJobsStorage__accountName
      ? `https://${env.AzureWebJobsStorage__accountName}.queue.core.windows.net`
      : undefined);
  if (!uri)
    throw new Error("no storage for the reconcile queue: set AzureWebJobsStorage or its __accountName");
  return new QueueClient(`${uri.replace(/\/$/, "")}/${queue}`, credential);
}

/**
 * The Functions queue trigger decodes base64 messages by default (host.json extensions.queues.messageEncoding), so
 * messages are sent base64-encoded.
 */
export function storagePageQueue(client: QueueClient): PageQueue {
  return {
    async send(message: PageMessage) {
      try {
        await client.sendMessage(Buffer.from(JSON.stringify(message)).toString("base64"));
      } catch (error) {
        throw new TransientError(
          `could not enqueue the reconcile page (${message.kind}): ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    },
  };
}
