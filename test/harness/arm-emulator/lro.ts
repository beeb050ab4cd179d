// Long-running operations the Network RP way: the write answers 201/200 (PUT) or 202 (DELETE) with an
// Azure-AsyncOperation URL (`.../providers/Microsoft.Network/locations/{location}/operations/{id}`), which reports
// {"status":"InProgress"} for `lroPolls` polls and then {"status":"Succeeded"}. DELETE also gets a Location URL
// (`.../operationResults/{id}`): 202 while running, 204 when done. The write itself is applied at request time;
// only provisioningState lags until the operation completes. An operation that is to fail (an injected `lro-failed`
// fault) reports {"status":"Failed","error":{code,message}} instead, the Location URL answers the error, and the
// write is rolled back (the tracked resource restored, with a new etag) or left in place with provisioningState Failed.

import { ArmError } from "./errors.ts";
import type { JsonObject } from "./json.ts";
import {
  completeProvisioning,
  type EmulatorState,
  embeddedChildren,
  type OperationFailure,
  type PendingOperation,
  setProvisioningState,
} from "./state.ts";

// `{provider}`: Microsoft.Network by default; a route's LroStyle puts its own provider's operations under its namespace.
// The segment names (`operations`, `operationResults`) are the emulator's; clients follow the header URLs as given.
export const OPERATION_STATUS_PATTERN =
  "/subscriptions/{subscriptionId}/providers/{provider}/locations/{location}/operations/{operationId}";
export const OPERATION_RESULT_PATTERN =
  "/subscriptions/{subscriptionId}/providers/{provider}/locations/{location}/operationResults/{operationId}";

export function startOperation(
  state: EmulatorState,
  input: {
    trackedId: string;
    subscriptionId: string;
    location: string;
    touched: JsonObject[];
    failure?: OperationFailure;
    provider?: string;
    resultPath?: string;
    complete?: (tracked: JsonObject) => void;
  },
): PendingOperation {
  const op: PendingOperation = {
    id: state.newGuid(),
    trackedId: input.trackedId,
    subscriptionId: input.subscriptionId,
    location: input.location || "global",
    pollsLeft: state.lroPolls,
    done: false,
    ...(input.failure ? { failure: input.failure } : {}),
    ...(input.provider ? { provider: input.provider } : {}),
    ...(input.resultPath ? { resultPath: input.resultPath } : {}),
    ...(input.complete ? { complete: input.complete } : {}),
  };
  for (const target of input.touched) setProvisioningState(target, "Updating");
  state.operations.set(op.id, op);
  return op;
}

export function operationHeaders(
  baseUrl: string,
  op: PendingOperation,
  apiVersion: string,
  withLocation: boolean,
  withAsyncOperation = true,
): Record<string, string> {
  const provider = op.provider ?? "Microsoft.Network";
  const prefix = `${baseUrl}/subscriptions/${op.subscriptionId}/providers/${provider}/locations/${op.location}`;
  const query = `?api-version=${encodeURIComponent(apiVersion)}`;
  return {
    ...(withAsyncOperation ? { "Azure-AsyncOperation": `${prefix}/operations/${op.id}${query}` } : {}),
    ...(withLocation ? { Location: `${prefix}/operationResults/${op.id}${query}` } : {}),
    // Zero asks for an immediate poll. core-lro 3.x treats a non-positive Retry-After as absent and falls back to
    // the caller's `updateIntervalInMs` (2 s by default), so fast tests pass `updateIntervalInMs: 0` or use lroPolls 0.
    "Retry-After": "0",
  };
}

/** Provisioning states of a write still under way: the Network RP's, and SQL's connection decisions. */
const IN_PROGRESS = new Set(["Updating", "Approving", "Rejecting"]);

function advance(state: EmulatorState, op: PendingOperation): void {
  if (op.done) return;
  if (op.pollsLeft > 0) {
    op.pollsLeft -= 1;
    return;
  }
  op.done = true;
  const failure = op.failure;
  if (failure?.rollback) {
    const previous = failure.rollback.resource;
    if (previous) {
      state.putTracked(previous);
      // A new etag, where the provider has etags at all (a SQL server or Cosmos DB account has none).
      if (previous.etag !== undefined) state.restamp(previous);
    } else {
      state.deleteTracked(op.trackedId);
    }
    return;
  }
  const tracked = state.getTracked(op.trackedId);
  if (!tracked) return;
  if (failure) {
    // Only what shows a provisioningState says Failed (a SQL server has none; its connection was Approving).
    if ((tracked.properties as JsonObject | undefined)?.provisioningState !== undefined) {
      setProvisioningState(tracked, "Failed");
    }
    for (const child of embeddedChildren(tracked)) {
      const props = child.properties as JsonObject;
      if (IN_PROGRESS.has(String(props.provisioningState))) props.provisioningState = "Failed";
    }
  } else if (op.complete) {
    op.complete(tracked);
  } else {
    completeProvisioning(tracked);
  }
}

/** The HTTP status the Location URL answers for a failed operation: 409 for conflicts, else 400. */
function failureStatus(code: string): number {
  return /conflict|inprogress|preempted|precondition/i.test(code) ? 409 : 400;
}

function find(state: EmulatorState, operationId: string): PendingOperation {
  const op = state.operations.get(operationId);
  if (!op) throw new ArmError(404, "NotFound", `Operation ${operationId} not found.`);
  return op;
}

/** GET on the Azure-AsyncOperation URL. */
export function pollStatus(state: EmulatorState, operationId: string): { status: number; body: JsonObject } {
  const op = find(state, operationId);
  advance(state, op);
  if (!op.done) return { status: 200, body: { status: "InProgress" } };
  if (op.failure) {
    return {
      status: 200,
      body: { status: "Failed", error: { code: op.failure.code, message: op.failure.message } },
    };
  }
  return { status: 200, body: { status: "Succeeded" } };
}

/**
 * GET on the Location URL (operationResults): 202 while running; when done, a PUT's resource (200, read through
 * `read`) or 204 (a DELETE's, or a PUT whose resource is gone).
 */
export function pollResult(
  state: EmulatorState,
  operationId: string,
  baseUrl: string,
  apiVersion: string,
  read: (path: string) => JsonObject | undefined = () => undefined,
): { status: number; headers: Record<string, string>; body?: JsonObject } {
  const op = find(state, operationId);
  advance(state, op);
  if (op.done && op.failure) {
    return {
      status: failureStatus(op.failure.code),
      headers: {},
      body: { error: { code: op.failure.code, message: op.failure.message } },
    };
  }
  if (op.done) {
    const result = op.resultPath ? read(op.resultPath) : undefined;
    return result ? { status: 200, headers: {}, body: result } : { status: 204, headers: {} };
  }
  const { Location, "Retry-After": retryAfter } = operationHeaders(baseUrl, op, apiVersion, true);
  return { status: 202, headers: { Location: Location ?? "", "Retry-After": retryAfter ?? "0" } };
}
