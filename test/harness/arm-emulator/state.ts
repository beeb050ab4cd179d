// In-memory ARM state. Only tracked (top-level) resources are stored; child resources live inside their parent's
// JSON (`properties.securityRules`, `properties.subnets`) exactly as ARM returns them, so a parent GET and a child GET
// can never disagree.

import { randomUUID } from "node:crypto";
import { isObject, type JsonObject, objectArray } from "./json.ts";

export interface PendingOperation {
  id: string;
  /** Lower-cased id of the tracked resource the operation works on. */
  trackedId: string;
  subscriptionId: string;
  location: string;
  /** Polls still answered with InProgress. */
  pollsLeft: number;
  done: boolean;
  /** Set when the operation is to end Failed (an injected `lro-failed` fault). */
  failure?: OperationFailure;
  /** The provider namespace of the operation URLs (default Microsoft.Network). */
  provider?: string;
  /** The resource a PUT's Location URL answers with once done (200); absent: 204 (a DELETE's). */
  resultPath?: string;
  /** Brings the tracked resource to its completed state; absent: completeProvisioning. */
  complete?: (tracked: JsonObject) => void;
}

export interface OperationFailure {
  code: string;
  message: string;
  /** Present when the service rolls the write back: the tracked resource as it was (undefined: it did not exist). */
  rollback?: { resource: JsonObject | undefined };
}

export class EmulatorState {
  readonly resources = new Map<string, JsonObject>();
  /**
   * The same resources by lower-cased type, in the order `resources` holds them: a list page or a back-reference
   * lookup reads one type, and walking every resource for each page (or for each NSG of a page) made a scan of a
   * large estate quadratic in the emulator.
   */
  readonly #byType = new Map<string, Map<string, JsonObject>>();
  #membership = 0;
  readonly operations = new Map<string, PendingOperation>();
  readonly lroPolls: number;

  constructor(lroPolls: number) {
    this.lroPolls = lroPolls;
  }

  newEtag(): string {
    return `W/"${randomUUID()}"`;
  }

  newGuid(): string {
    return randomUUID();
  }

  getTracked(id: string): JsonObject | undefined {
    return this.resources.get(id.toLowerCase());
  }

  putTracked(resource: JsonObject): void {
    const id = resource.id;
    if (typeof id !== "string") throw new Error("tracked resource without id");
    const key = id.toLowerCase();
    const previous = this.resources.get(key);
    // A type never changes under the same id (the id names it), but keep the index exact if a caller did.
    if (previous && typeKey(previous) !== typeKey(resource)) this.#byType.get(typeKey(previous))?.delete(key);
    this.#membership++;
    this.resources.set(key, resource);
    let ofType = this.#byType.get(typeKey(resource));
    if (!ofType) {
      ofType = new Map();
      this.#byType.set(typeKey(resource), ofType);
    }
    ofType.set(key, resource);
  }

  deleteTracked(id: string): boolean {
    const key = id.toLowerCase();
    const previous = this.resources.get(key);
    if (previous) this.#byType.get(typeKey(previous))?.delete(key);
    this.#membership++;
    return this.resources.delete(key);
  }

  /** Changes whenever a tracked resource is added, replaced or removed (not when one is edited in place). */
  get membership(): number {
    return this.#membership;
  }

  /** Tracked resources of `type` (any case), keyed by lower-cased id, in insertion order. */
  trackedOfType(type: string): ReadonlyMap<string, JsonObject> {
    return this.#byType.get(type.toLowerCase()) ?? new Map();
  }

  /**
   * Gives the resource a new etag and copies it to every embedded child: in the Network RP a child's etag is its
   * parent's, so any rule change changes the NSG's etag and every rule's etag.
   */
  restamp(resource: JsonObject): string {
    const etag = this.newEtag();
    resource.etag = etag;
    for (const child of embeddedChildren(resource)) child.etag = etag;
    return etag;
  }

  /** Pending operation on a tracked resource, if any (for the optional AnotherOperationInProgress lock). */
  pendingOperationFor(trackedId: string): PendingOperation | undefined {
    for (const op of this.operations.values()) {
      if (!op.done && op.trackedId === trackedId) return op;
    }
    return undefined;
  }

  reset(): void {
    this.resources.clear();
    this.#byType.clear();
    this.#membership++;
    this.operations.clear();
  }
}

function typeKey(resource: JsonObject): string {
  return typeof resource.type === "string" ? resource.type.toLowerCase() : "";
}

/** Every child object embedded in a tracked resource's properties (rules, default rules, subnets, ...). */
export function embeddedChildren(resource: JsonObject): JsonObject[] {
  const props = resource.properties;
  if (!isObject(props)) return [];
  const children: JsonObject[] = [];
  for (const value of Object.values(props)) {
    for (const item of objectArray(value)) {
      if (typeof item.id === "string" && isObject(item.properties)) children.push(item);
    }
  }
  return children;
}

export function setProvisioningState(
  target: JsonObject,
  state: "Succeeded" | "Updating" | "Deleting" | "Failed",
): void {
  const props = target.properties;
  if (isObject(props)) props.provisioningState = state;
}

/** Marks the tracked resource and all its embedded children Succeeded, as when the async operation finishes. */
export function completeProvisioning(resource: JsonObject): void {
  setProvisioningState(resource, "Succeeded");
  for (const child of embeddedChildren(resource)) setProvisioningState(child, "Succeeded");
}
