// The scan's page lister over both clouds' SDK clients: a stream names a kind of the registry by id, and the
// cloud's generic lister pages it (ARM nextLink; EC2 NextToken).

import { InputError } from "../errors.ts";
import type { PageLister } from "../usecases/scan.ts";
import type { Ec2ClientSource } from "./aws/client.ts";
import { awsKindRegistry } from "./aws/kinds/index.ts";
import type { AwsKind } from "./aws/kinds/types.ts";
import { listAwsPage } from "./aws/list.ts";
import { azureKindRegistry } from "./azure/kinds/index.ts";
import type { AzureKind } from "./azure/kinds/types.ts";
import { listAzurePage } from "./azure/list.ts";
import type { AzureNetwork } from "./azure/network.ts";
import type { CallCounter } from "./ports.ts";

export interface ListerClients {
  azure?: AzureNetwork;
  aws?: Ec2ClientSource;
  awsCounter?: CallCounter;
  awsPageSize?: number;
}

function lookup<K>(registry: Record<string, K>, id: string): K {
  const kind = Object.hasOwn(registry, id) ? registry[id] : undefined;
  if (!kind) throw new InputError(`no kind ${id} in the registry`);
  return kind;
}

export function pageLister(clients: ListerClients): PageLister {
  return async (cursor, signal) => {
    const { target } = cursor;
    if (target.cloud === "azure") {
      if (!clients.azure) throw new InputError("no Azure client configured for the scan");
      const kind = lookup<AzureKind>(azureKindRegistry, cursor.kind);
      const scope = {
        subscriptionId: target.subscriptionId,
        ...(target.resourceGroup ? { resourceGroup: target.resourceGroup } : {}),
      };
      return listAzurePage(clients.azure, kind, scope, cursor.from, signal);
    }
    if (!clients.aws) throw new InputError("no AWS client configured for the scan");
    const kind = lookup<AwsKind>(awsKindRegistry, cursor.kind);
    return listAwsPage(clients.aws, kind, target.region, cursor.from, {
      ...(clients.awsCounter ? { counter: clients.awsCounter } : {}),
      ...(clients.awsPageSize ? { pageSize: clients.awsPageSize } : {}),
      ...(signal ? { signal } : {}),
    });
  };
}
