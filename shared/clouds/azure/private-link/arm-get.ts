// A raw ARM GET through the subscription's SDK pipeline, for kinds the project has no typed SDK for (Key Vault, and
// any other provider with private endpoint connections): the same authentication, TLS, retries and timeouts as the
// typed calls, the body handed to the reader as ARM JSON.

import type { RawResponseOptions } from "../kinds/types.ts";
import type { AzureNetwork } from "../network.ts";

/** GETs `path` at `apiVersion`; the body reaches `options.onResponse`. Non-200 throws an error carrying `statusCode`. */
export async function armGet(
  clients: AzureNetwork,
  subscriptionId: string,
  path: string,
  apiVersion: string,
  options: RawResponseOptions,
): Promise<unknown> {
  const answer = await clients.send(subscriptionId, "GET", clients.url(path, apiVersion), {
    signal: options.abortSignal,
  });
  if (!answer.answered) throw answer.error;
  if (answer.status !== 200) {
    const error = (answer.body as { error?: { message?: unknown } } | undefined)?.error;
    const message = typeof error?.message === "string" ? error.message : `HTTP ${answer.status}`;
    throw Object.assign(new Error(message), { statusCode: answer.status });
  }
  options.onResponse({ parsedBody: answer.body });
  return answer.body;
}

/** `/subscriptions/{s}/resourceGroups/{g}/providers/{armType}/{name}`, each segment encoded. */
export function armPath(
  armType: string,
  id: { subscriptionId: string; resourceGroup: string; name: string },
) {
  return (
    `/subscriptions/${encodeURIComponent(id.subscriptionId)}/resourceGroups/${encodeURIComponent(id.resourceGroup)}` +
    `/providers/${armType}/${encodeURIComponent(id.name)}`
  );
}
