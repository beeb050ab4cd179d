// Writing PrivateLink decisions through EC2. These APIs take no etag: every write is minimal by construction (one
// field set back, the named principals removed, the named connections accepted or rejected), and a reject, which
// could override a newer human decision, first re-reads the connection and compares it with what the decision was
// made on. Accept and Reject report per-item failures in `Unsuccessful` with an HTTP 200: each item is checked, and
// a write is successful only when every item it named is.

import {
  AcceptVpcEndpointConnectionsCommand,
  ModifyVpcEndpointServiceConfigurationCommand,
  ModifyVpcEndpointServicePermissionsCommand,
  RejectVpcEndpointConnectionsCommand,
  type UnsuccessfulItem,
} from "@aws-sdk/client-ec2";
import * as z from "zod";
import { ConflictError, InputError, TransientError } from "../../errors.ts";
import { canonicalState, endpointConnectionOf, endpointServiceOf } from "../../rules/vpce/resources.ts";
import type { PlannedChange, Snapshot } from "../../types.ts";
import type { CallCounter, CallOptions, ResourceWriter } from "../ports.ts";
import {
  asTransient,
  callOptions,
  clientFor,
  type Ec2ClientSource,
  ec2ErrorCode,
  outcomeUnknown,
  withContext,
  writeFailureKind,
} from "./client.ts";
import { listEndpointConnections } from "./privatelink-reader.ts";

const serviceId = z.string().regex(/^vpce-svc-[0-9a-z]+$/);
const endpointId = z.string().regex(/^vpce-[0-9a-z]+$/);

const configurationSchema = z.strictObject({
  kind: z.literal("modify-vpc-endpoint-service-configuration"),
  serviceId,
  acceptanceRequired: z.literal(true),
});
const permissionsSchema = z.strictObject({
  kind: z.literal("modify-vpc-endpoint-service-permissions"),
  serviceId,
  removeAllowedPrincipals: z.array(z.string().min(1)).min(1),
});
const connectionsSchema = z.strictObject({
  kind: z.enum(["accept-vpc-endpoint-connections", "reject-vpc-endpoint-connections"]),
  serviceId,
  vpcEndpointIds: z.array(endpointId).min(1),
  expected: z.record(z.string(), z.strictObject({ owner: z.string(), state: z.string() })),
});

export type EndpointServiceOperation =
  | z.infer<typeof configurationSchema>
  | z.infer<typeof permissionsSchema>;
export type EndpointConnectionOperation = z.infer<typeof connectionsSchema>;

function parseOperation<S extends z.ZodType>(schema: S, change: PlannedChange): z.infer<S> {
  const parsed = schema.safeParse(change.operation);
  if (!parsed.success) {
    throw new InputError(
      `planned change "${change.summary}" has an invalid operation: ${z.prettifyError(parsed.error)}`,
      { path: "operation", cause: parsed.error },
    );
  }
  return parsed.data;
}

// The service or the endpoint is gone, or the connection moved on: re-read and re-evaluate, never repeat the write.
const SERVICE_GONE = new Set(["InvalidVpcEndpointServiceId.NotFound", "InvalidVpcEndpointService.NotFound"]);
const ITEM_MOVED_ON = new Set([
  "InvalidVpcEndpoint.NotFound",
  "InvalidVpcEndpointId.NotFound",
  "IncorrectState",
  "InvalidState",
  "InvalidVpcEndpointState",
]);

/**
 * A write's failure as the pipeline acts on it: gone (re-read), not applied and may pass (throttled, never sent: retry),
 * or sent with its answer lost (the budget ran out, the connection broke, a 5xx): then it may have landed, and the
 * pipeline settles it by reading. The write clients retry throttling only, so a lost answer is never retried blindly.
 */
function failure(what: string, service: string, error: unknown): Error {
  const code = ec2ErrorCode(error);
  if (code !== undefined && SERVICE_GONE.has(code)) {
    return new ConflictError(`${what}: ${code}; the endpoint service is gone`, service, { cause: error });
  }
  const kind = writeFailureKind(error);
  if (kind === "unknown") return outcomeUnknown(error, what);
  if (kind === "not-applied") {
    return asTransient(error, what) ?? new TransientError(`${what}: not sent`, { cause: error });
  }
  return withContext(error, what);
}

/** The snapshot a write may start from: one the guardian read itself, never an event's content. */
function fromRead(snapshot: Snapshot, what: string): void {
  if (snapshot.origin === "event") {
    throw new InputError(
      `${what}: refusing to write from a snapshot an event carried; read the resource first`,
    );
  }
}

export interface PrivateLinkWriterOptions {
  /** Clients for the writes: `retry: "throttling-only"` ones in the Lambda (see createEc2Client). */
  clients: Ec2ClientSource;
  /** Clients for the re-read before a reject; `clients` when undefined. */
  readClients?: Ec2ClientSource;
  counter?: CallCounter;
}

/** Endpoint service configuration and permissions: AcceptanceRequired set back; offending principals removed. */
export class AwsEndpointServiceWriter implements ResourceWriter {
  readonly counter: CallCounter;
  readonly #clients: Ec2ClientSource;

  constructor(options: PrivateLinkWriterOptions) {
    this.#clients = options.clients;
    this.counter = options.counter ?? { reads: 0, writes: 0 };
  }

  async apply(change: PlannedChange, snapshot: Snapshot, options: CallOptions = {}): Promise<void> {
    const op = parseOperation(z.discriminatedUnion("kind", [configurationSchema, permissionsSchema]), change);
    if (op.serviceId !== snapshot.resourceId) {
      throw new InputError(
        `planned change targets ${op.serviceId} but the snapshot is ${snapshot.resourceId}`,
      );
    }
    fromRead(snapshot, change.summary);
    const client = clientFor(this.#clients, snapshot.region);
    if (op.kind === "modify-vpc-endpoint-service-configuration") {
      const what = `ModifyVpcEndpointServiceConfiguration on ${op.serviceId}`;
      const send = callOptions(options.signal, what);
      let result: { Return?: boolean | undefined };
      try {
        this.counter.writes += 1;
        // Only AcceptanceRequired: the load balancers, DNS name and regions are not part of the request.
        result = await client.send(
          new ModifyVpcEndpointServiceConfigurationCommand({
            ServiceId: op.serviceId,
            AcceptanceRequired: true,
          }),
          send,
        );
      } catch (error) {
        throw failure(what, op.serviceId, error);
      }
      if (result.Return === false) throw new TransientError(`${what}: EC2 answered Return=false`);
      return;
    }
    const what = `ModifyVpcEndpointServicePermissions on ${op.serviceId}`;
    const send = callOptions(options.signal, what);
    let result: { ReturnValue?: boolean | undefined };
    try {
      this.counter.writes += 1;
      result = await client.send(
        new ModifyVpcEndpointServicePermissionsCommand({
          ServiceId: op.serviceId,
          RemoveAllowedPrincipals: op.removeAllowedPrincipals,
        }),
        send,
      );
    } catch (error) {
      throw failure(what, op.serviceId, error);
    }
    if (result.ReturnValue === false) throw new TransientError(`${what}: EC2 answered ReturnValue=false`);
  }

  /** Whether a fresh read shows the change: acceptance required again, or none of the removed principals listed. */
  isApplied(change: PlannedChange, snapshot: Snapshot): boolean | undefined {
    const parsed = z
      .discriminatedUnion("kind", [configurationSchema, permissionsSchema])
      .safeParse(change.operation);
    if (!parsed.success) return undefined;
    const service = endpointServiceOf(snapshot);
    if (parsed.data.kind === "modify-vpc-endpoint-service-configuration") {
      return service.ServiceConfiguration.AcceptanceRequired === true;
    }
    if (service.AllowedPrincipals === undefined) return undefined;
    const removed = new Set(parsed.data.removeAllowedPrincipals);
    return !service.AllowedPrincipals.some((p) => removed.has(p.Principal));
  }
}

function describeItems(items: readonly UnsuccessfulItem[]): string {
  return items
    .map(
      (u) =>
        `${u.ResourceId ?? "?"}: ${u.Error?.Code ?? "unknown error"}${u.Error?.Message ? ` (${u.Error.Message})` : ""}`,
    )
    .join("; ");
}

/** Accepts or rejects connections, item by item. */
export class AwsEndpointConnectionWriter implements ResourceWriter {
  readonly counter: CallCounter;
  readonly #clients: Ec2ClientSource;
  readonly #readClients: Ec2ClientSource;

  constructor(options: PrivateLinkWriterOptions) {
    this.#clients = options.clients;
    this.#readClients = options.readClients ?? options.clients;
    this.counter = options.counter ?? { reads: 0, writes: 0 };
  }

  async apply(change: PlannedChange, snapshot: Snapshot, options: CallOptions = {}): Promise<void> {
    const op = parseOperation(connectionsSchema, change);
    fromRead(snapshot, change.summary);
    const client = clientFor(this.#clients, snapshot.region);
    const accept = op.kind === "accept-vpc-endpoint-connections";
    const action = accept ? "AcceptVpcEndpointConnections" : "RejectVpcEndpointConnections";
    const what = `${action} on ${op.serviceId} for ${op.vpcEndpointIds.join(", ")}`;
    if (!accept) await this.#confirmUnchanged(op, snapshot, options.signal);
    const send = callOptions(options.signal, what);
    let unsuccessful: UnsuccessfulItem[];
    try {
      this.counter.writes += 1;
      const input = { ServiceId: op.serviceId, VpcEndpointIds: op.vpcEndpointIds };
      const out = accept
        ? await client.send(new AcceptVpcEndpointConnectionsCommand(input), send)
        : await client.send(new RejectVpcEndpointConnectionsCommand(input), send);
      unsuccessful = out.Unsuccessful ?? [];
    } catch (error) {
      throw failure(what, snapshot.resourceId, error);
    }
    // Only the items we named count; the rest of the list would be EC2's own business.
    const failed = unsuccessful.filter(
      (u) => u.ResourceId !== undefined && op.vpcEndpointIds.includes(u.ResourceId),
    );
    if (failed.length === 0) return;
    const done = op.vpcEndpointIds.filter((id) => !failed.some((u) => u.ResourceId === id));
    const summary = `${what}: ${failed.length} of ${op.vpcEndpointIds.length} not ${accept ? "accepted" : "rejected"} (${describeItems(failed)})${done.length > 0 ? `; done: ${done.join(", ")}` : ""}`;
    if (failed.every((u) => u.Error?.Code !== undefined && ITEM_MOVED_ON.has(u.Error.Code))) {
      // The connection moved on (deleted, decided by someone else): the pipeline re-reads and re-evaluates.
      throw new ConflictError(summary, snapshot.resourceId);
    }
    throw new TransientError(summary);
  }

  /** Whether a fresh read of the connection shows the planned state (accepted: available; rejected: rejected). */
  isApplied(change: PlannedChange, snapshot: Snapshot): boolean | undefined {
    const after = (change.after as { VpcEndpointState?: unknown } | undefined)?.VpcEndpointState;
    if (typeof after !== "string") return undefined;
    return canonicalState(endpointConnectionOf(snapshot).VpcEndpointState) === after;
  }

  /** A reject must not override a decision made since the read: the connection must be as the decision saw it. */
  async #confirmUnchanged(
    op: EndpointConnectionOperation,
    snapshot: Snapshot,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const client = clientFor(this.#readClients, snapshot.region);
    const fresh = await listEndpointConnections(
      client,
      [
        { Name: "service-id", Values: [op.serviceId] },
        { Name: "vpc-endpoint-id", Values: op.vpcEndpointIds },
      ],
      this.counter,
      signal,
    );
    for (const id of op.vpcEndpointIds) {
      const expected = op.expected[id];
      const now = fresh.find((c) => c.VpcEndpointId === id);
      if (
        !expected ||
        !now ||
        now.VpcEndpointOwner !== expected.owner ||
        canonicalState(now.VpcEndpointState) !== expected.state
      ) {
        throw new ConflictError(
          `RejectVpcEndpointConnections on ${op.serviceId}: ${id} is ${now?.VpcEndpointState ?? "gone"} now, not ${expected?.state ?? "as planned"}; not rejected`,
          snapshot.resourceId,
        );
      }
    }
  }
}
