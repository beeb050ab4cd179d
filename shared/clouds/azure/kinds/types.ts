// What the guardian knows about one kind of Azure resource, in one place: the event tables, the reader, the writer
// dispatch, `guardian evaluate`, the infra generator and the scan all read it from the registry (./index.ts).
//
// A kind module imports no SDK at run time (only its types): the event normaliser and the CLI read the registry,
// and neither should load an Azure SDK to do so. The calls a kind makes take the client as an argument.

import type { Snapshot } from "../../../types.ts";
import type { ResourceWriter } from "../../ports.ts";
import type { AzureNetwork } from "../network.ts";

/** The parts of an ARM id a read needs, checked against the kind before the call. */
export interface AzureResourceParts {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  /** The names of the resources above it, outermost first (a subnet's virtual network); empty for a top-level kind. */
  parents: readonly string[];
}

/** What a read passes to the SDK call: captures the raw ARM JSON (rules evaluate the REST shape, not the SDK's). */
export interface RawResponseOptions {
  onResponse: (raw: { parsedBody?: unknown; bodyAsText?: string | null }) => void;
  /** The invocation's budget: the call is abandoned when it aborts. */
  abortSignal?: AbortSignal;
}

/** The Azure clients a kind's calls use (built lazily per subscription). */
export type AzureClients = AzureNetwork;

export interface AzureReadSpec {
  /** The SDK client and operation, for people and docs: `@azure/arm-network networkSecurityGroups.get`. */
  client: string;
  call: string;
  /** The api-version that client sends (the SDK pins it per operation). */
  apiVersion: string;
  /** One GET of the resource; the raw body reaches the caller through `options.onResponse`. A 404 throws. */
  get(clients: AzureClients, id: AzureResourceParts, options: RawResponseOptions): Promise<unknown>;
  /**
   * For a kind read through its parent's GET (a subnet through its virtual network's, which also gives the subnet its
   * network's tags): the snapshot of the resource within the body `get` returned; undefined when the parent no longer
   * holds it (deleted since the event).
   */
  select?(parent: unknown, id: AzureResourceParts): Snapshot | undefined;
}

/** A resource whose evaluation a write to another one changes (a virtual network's subnets, a route table's users). */
export interface FanOutTarget {
  resourceId: string;
  /** Lower-cased type, a registered kind. */
  resourceType: string;
  /** The target as the parent's GET already shows it (a subnet in its network's body); absent: read it. */
  snapshot?: Snapshot;
}

/** Where a kind's resources are listed (a scan): ARM list endpoints, paged with `nextLink`. */
export interface AzureListSpec {
  apiVersion: string;
  /** `subscription`: GET /subscriptions/{id}/providers/{armType}; `resourceGroup`: the same under a group. */
  scopes: readonly ("subscription" | "resourceGroup")[];
}

export interface AzureKind {
  /** Equals the module's file name in shared/clouds/azure/kinds (checked by the registry meta-test). */
  id: string;
  cloud: "azure";
  /** Lower-cased ARM type: the `resourceType` of changes and snapshots. */
  type: string;
  /** The type as ARM spells it, for paths and messages. */
  armType: string;
  /** For people: "network security group". */
  label: string;
  /**
   * Lower-cased child types whose writes mean "re-evaluate the parent" (a security rule → its NSG). The Event Grid
   * operation filter lets `<type>/` through, which covers them.
   */
  childTypes: readonly string[];
  /**
   * Resource Notifications render booleans as 1/0. The paths under `properties` (`*` = any key or array element) that
   * the REST spec types as boolean; only these are turned back into true/false.
   */
  booleanPaths: readonly string[];
  read: AzureReadSpec;
  list: AzureListSpec;
  /**
   * The planned-operation kinds (`PlannedChange.operation.kind`) this kind accepts; the writer for each is picked
   * from the Azure writer table (shared/clouds/azure/index.ts).
   */
  writes: readonly string[];
  /** Permissions the reads (and lists) of this kind need. */
  readPermissions: readonly string[];
  /** The portal page of one resource, for alerts. */
  consoleUrl(resourceId: string, tenantId?: string): string;
  /**
   * Pure: the resources to evaluate in its stead after a write to one of this kind (a virtual network's subnets,
   * each as its GET body shows it; the subnets a route table's back-references name, to be read).
   */
  fanOut?(snapshot: Snapshot): readonly FanOutTarget[];
  /**
   * Lower-cased types a scan reaches by listing this kind and evaluating its fan-out (a virtual network's subnets,
   * which have no list of their own): listed whenever a rule evaluates one of them.
   */
  covers?: readonly string[];
  /**
   * Pure: the other resources (by id and lower-cased type) whose content rules of this kind may look at, such as a
   * subnet's route table. The pipeline reads them only for an entry whose rule says it reads that type.
   */
  related?(snapshot: Snapshot): readonly { resourceId: string; resourceType: string }[];
  /**
   * Whether a Resource Notifications payload may stand in for a read. False for a kind whose snapshot needs more than
   * the resource itself (a subnet takes its network's tags).
   */
  carriedByEvents?: boolean;
}

/** A writer for one planned-operation kind, built once per port from the clients. */
export type AzureWriterFactory = (clients: AzureClients) => ResourceWriter;
