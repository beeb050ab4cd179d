import {
  NetworkManagementClient,
  type NetworkManagementClientOptionalParams,
  type SecurityRule,
} from "@azure/arm-network";
import type { TokenCredential } from "@azure/core-auth";
import { ConflictError, InputError, TransientError } from "../../errors.ts";
import type { PlannedChange, Snapshot } from "../../types.ts";
import type { CallCounter, ResourceWriter } from "../ports.ts";
import { armName, parseArmResourceId } from "./ids.ts";
import { NSG_TYPE } from "./kinds/network-security-group.ts";

export { NSG_TYPE };

export interface AzureClientConfig {
  credential: TokenCredential;
  /** ARM endpoint; default the public cloud. The emulator's https://127.0.0.1:<port> in tests and the demo. */
  endpoint?: string;
  /** Extra trusted CA (PEM) for a non-public endpoint such as the emulator's self-signed certificate. */
  ca?: string;
  /** Retries of the SDK's own policy (it honours Retry-After on 429). */
  maxRetries?: number;
  retryDelayInMs?: number;
  /** How often a write's long-running operation is polled when ARM sends no Retry-After; the SDK's default when unset. */
  pollIntervalMs?: number;
  counter?: CallCounter;
}

/** One client per subscription, built lazily: the guardian is deployed per subscription but reads by resource id. */
export class AzureNetwork {
  readonly #config: AzureClientConfig;
  readonly #clients = new Map<string, NetworkManagementClient>();
  readonly counter: CallCounter;

  constructor(config: AzureClientConfig) {
    this.#config = config;
    this.counter = config.counter ?? { reads: 0, writes: 0 };
  }

  get pollIntervalMs(): number | undefined {
    return this.#config.pollIntervalMs;
  }

  /** The ARM endpoint the clients talk to. */
  get endpoint(): string {
    return this.#config.endpoint ?? "https://management.azure.com";
  }

  client(subscriptionId: string): NetworkManagementClient {
    let client = this.#clients.get(subscriptionId);
    if (!client) {
      const { endpoint, ca, maxRetries, retryDelayInMs } = this.#config;
      const options: NetworkManagementClientOptionalParams = {
        retryOptions: { maxRetries: maxRetries ?? 3, retryDelayInMs: retryDelayInMs ?? 800 },
      };
      if (endpoint) {
        options.endpoint = endpoint;
        options.credentials = { scopes: [`${endpoint.replace(/\/$/, "")}/.default`] };
      }
      if (ca) options.tlsOptions = { ca };
      client = new NetworkManagementClient(this.#config.credential, subscriptionId, options);
      this.#clients.set(subscriptionId, client);
    }
    return client;
  }
}

function nsgParts(resourceId: string) {
  const id = parseArmResourceId(resourceId);
  if (!id || id.type !== NSG_TYPE || !id.resourceGroup) {
    throw new InputError(`not a network security group id: ${resourceId}`);
  }
  return { subscriptionId: id.subscriptionId, resourceGroup: id.resourceGroup, name: armName(id) };
}

/** Captures the raw ARM JSON: rules evaluate the REST shape, not the SDK's flattened models. */
export function rawBody() {
  let body: unknown;
  return {
    options: {
      onResponse: (raw: { parsedBody?: unknown; bodyAsText?: string | null }) => {
        body = raw.parsedBody ?? (raw.bodyAsText ? (JSON.parse(raw.bodyAsText) as unknown) : undefined);
      },
    },
    json: () => body,
  };
}

export function statusOf(error: unknown): number | undefined {
  return typeof error === "object" &&
    error !== null &&
    "statusCode" in error &&
    typeof error.statusCode === "number"
    ? error.statusCode
    : undefined;
}

export function translate(error: unknown, resourceId: string, what: string): Error {
  const status = statusOf(error);
  const message = error instanceof Error ? error.message : String(error);
  if (status === 412)
    return new ConflictError(`${what}: ${resourceId} changed since it was read`, resourceId, {
      cause: error,
    });
  if (status === 429 || status === undefined || status >= 500) {
    return new TransientError(`${what} ${resourceId} failed (${status ?? "network"}): ${message}`, {
      cause: error,
    });
  }
  return new Error(`${what} ${resourceId} failed (${status}): ${message}`, { cause: error });
}

interface SecurityRuleOperation {
  kind: "delete-security-rule" | "put-security-rule";
  nsgId: string;
  ruleName: string;
  ifMatch?: string;
  rule?: { properties?: Record<string, unknown> };
}

function securityRuleOperation(change: PlannedChange): SecurityRuleOperation {
  const op = change.operation as Partial<SecurityRuleOperation>;
  if (
    (op.kind !== "delete-security-rule" && op.kind !== "put-security-rule") ||
    typeof op.nsgId !== "string" ||
    typeof op.ruleName !== "string"
  ) {
    throw new InputError(`the Azure NSG writer cannot apply ${JSON.stringify(change.operation)}`);
  }
  return op as SecurityRuleOperation;
}

export class AzureNsgWriter implements ResourceWriter {
  readonly #network: AzureNetwork;
  constructor(network: AzureNetwork) {
    this.#network = network;
  }

  async apply(change: PlannedChange, snapshot: Snapshot): Promise<void> {
    const op = securityRuleOperation(change);
    const ifMatch = op.ifMatch ?? snapshot.etag;
    if (!ifMatch) throw new InputError(`refusing an unguarded write to ${op.nsgId}: no etag`);
    const { subscriptionId, resourceGroup, name } = nsgParts(op.nsgId);
    const rules = this.#network.client(subscriptionId).securityRules;
    const poll = this.#network.pollIntervalMs;
    const options = {
      requestOptions: { headers: { "If-Match": ifMatch } },
      ...(poll === undefined ? {} : { updateIntervalInMs: poll }),
    };
    this.#network.counter.writes++;
    try {
      if (op.kind === "delete-security-rule") {
        await rules.delete(resourceGroup, name, op.ruleName, options);
      } else {
        // The SDK model is the ARM body with `properties` flattened into the top level.
        const parameters = { ...(op.rule?.properties ?? {}) } as SecurityRule;
        await rules.createOrUpdate(resourceGroup, name, op.ruleName, parameters, options);
      }
    } catch (error) {
      throw translate(error, op.nsgId, change.summary);
    }
  }
}
