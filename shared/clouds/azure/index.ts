import { InputError } from "../../errors.ts";
import type { CloudPort } from "../../pipeline.ts";
import type { ResourceChange } from "../../types.ts";
import { azurePortalUrl } from "./ids.ts";
import { type AzureNetwork, AzureNsgReader, AzureNsgWriter, NSG_TYPE } from "./network.ts";
import { azureSnapshot } from "./snapshot.ts";

export { type AzureClientConfig, AzureNetwork, NSG_TYPE } from "./network.ts";

/** The Azure side of the pipeline: readers by resource type, writers by planned operation. */
export function azurePort(network: AzureNetwork, options: { tenantId?: string } = {}): CloudPort {
  const readers = { [NSG_TYPE]: new AzureNsgReader(network) } as const;
  const nsgWriter = new AzureNsgWriter(network);
  return {
    reader: {
      read(ref) {
        const reader = readers[ref.resourceType as keyof typeof readers];
        if (!reader) throw new InputError(`no Azure reader for resource type ${ref.resourceType}`);
        return reader.read(ref);
      },
    },
    writer: nsgWriter,
    snapshotFromEvent: (change: ResourceChange) =>
      change.resource === undefined ? undefined : azureSnapshot(change.resource, change.resourceType),
    consoleUrl: (ref) => azurePortalUrl(ref.resourceId, options.tenantId),
  };
}
