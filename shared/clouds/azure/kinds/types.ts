// What the guardian knows about one kind of Azure resource, in one place: the event tables, the reader, the writer
// dispatch, `guardian evaluate`, the infra generator and the scan all read it from the registry (./index.ts).
//
// A kind module imports no SDK at run time (only its types): the event normaliser and the CLI read the registry,
// and neither should load an Azure SDK to do so. The calls a kind makes take the client as an argument.

import type { ResourceWriter } from "../../ports.ts";
import type { AzureNetwork } from "../network.ts";

/** The parts of an ARM id a read needs, checked against the kind before the call. */
export interface AzureResourceParts {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
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
}

/** A writer for one planned-operation kind, built once per port from the clients. */
export type AzureWriterFactory = (clients: AzureClients) => ResourceWriter;
