// One use case for endpoint service connection requests, whoever reports them: a connection notification (SNS) names
// a service and an endpoint, the scheduled sweep names nothing. Either way the connections are re-read from EC2 (one
// DescribeVpcEndpointConnections, filtered as narrowly as the trigger allows) and each one that may need a decision
// runs the pipeline: accept, reject or hold per policy, audit, alert. Duplicates (the same notification twice, a
// notification and the sweep) decide once: a decided request is no longer pending, and a held one is claimed in the
// decision store.

import { AWS_VPC_ENDPOINT_CONNECTION_TYPE } from "../clouds/aws/kinds/vpc-endpoint-connection.ts";
import { InputError } from "../errors.ts";
import type { ConnectionTrigger } from "../events/connection-notification.ts";
import { type ChangeOutcome, type GuardianDeps, handleChanges } from "../pipeline.ts";
import { endpointConnectionOf } from "../rules/vpce/resources.ts";
import type { ResourceChange } from "../types.ts";

/** What to look at and who asked. */
export interface ConnectionScope {
  account: string;
  region?: string;
  /** Narrow to these services / endpoints; all of the account's when empty. */
  serviceIds?: readonly string[];
  vpcEndpointIds?: readonly string[];
  /** For the audit trail: the notification's message id, or the sweep's run id. */
  eventId: string;
  /** What triggered it, as the audit trail and the alert name it ("Connect notification", "scheduled sweep"). */
  operationName: string;
  time: string;
}

export interface ConnectionsResult {
  /** Connections listed (pending or available). */
  listed: number;
  outcomes: ChangeOutcome[];
  /** A dependency failed in a way that may pass: the trigger should retry. */
  retryable: boolean;
  /** What could not be handled and never will be: the trigger must fail so it reaches the dead-letter path. */
  unprocessable: string[];
}

/** The states a decision can be about: a pending request, or an accepted connection that may have to go. */
const DECIDABLE = ["pendingAcceptance", "available"];

export async function decideConnections(
  scope: ConnectionScope,
  deps: GuardianDeps,
): Promise<ConnectionsResult> {
  const reader = deps.clouds.aws?.reader;
  if (!reader?.list) throw new InputError("no AWS adapter that lists endpoint connections is configured");
  const filters: Record<string, readonly string[]> = { "vpc-endpoint-state": DECIDABLE };
  if (scope.serviceIds?.length) filters["service-id"] = scope.serviceIds;
  if (scope.vpcEndpointIds?.length) filters["vpc-endpoint-id"] = scope.vpcEndpointIds;
  const snapshots = await reader.list(
    {
      cloud: "aws",
      resourceType: AWS_VPC_ENDPOINT_CONNECTION_TYPE,
      account: scope.account,
      ...(scope.region !== undefined ? { region: scope.region } : {}),
      filters,
    },
    // Within the invocation's budget, like every other call.
    deps.deadline ? { signal: deps.deadline.signal() } : {},
  );
  const changes = snapshots.map((snapshot): ResourceChange => {
    const c = endpointConnectionOf(snapshot);
    const owner = c.VpcEndpointOwner;
    return {
      cloud: "aws",
      account: scope.account,
      ...(scope.region !== undefined ? { region: scope.region } : {}),
      resourceId: snapshot.resourceId,
      resourceType: AWS_VPC_ENDPOINT_CONNECTION_TYPE,
      operation: "write",
      operationName: scope.operationName,
      // The request's maker, as far as the provider can know it: the account that owns the endpoint.
      actor:
        owner === undefined
          ? {}
          : { name: `AWS account ${owner}`, principalId: owner, principalType: "Account" },
      eventId: `${scope.eventId}/${c.VpcEndpointId}`,
      correlationId: scope.eventId,
      time: scope.time,
      // Listed moments ago by this invocation: it saves a second read; decisions re-check what they write.
      resource: snapshot.resource,
    };
  });
  deps.log.info("guardian.connections", {
    eventId: scope.eventId,
    trigger: scope.operationName,
    serviceIds: scope.serviceIds ?? "all",
    vpcEndpointIds: scope.vpcEndpointIds ?? "all",
    listed: changes.length,
  });
  const outcomes = await handleChanges(changes, deps);
  return {
    listed: changes.length,
    outcomes,
    retryable: outcomes.some((o) => o.retryable !== undefined),
    unprocessable: outcomes
      .filter((o) => o.status === "failed" && o.retryable === undefined)
      .map((o) => o.error ?? "failed"),
  };
}

/** The scope a connection notification names: its service and endpoints, or the whole account when it names none. */
export function notificationScope(trigger: ConnectionTrigger): ConnectionScope {
  const events = trigger.events.length > 0 ? trigger.events.join("/") : "connection";
  return {
    account: trigger.account,
    region: trigger.region,
    ...(trigger.serviceIds.length > 0 ? { serviceIds: trigger.serviceIds } : {}),
    // Endpoint ids only narrow a notification that also names its service (a consumer-side id alone is not ours).
    ...(trigger.serviceIds.length > 0 && trigger.vpcEndpointIds.length > 0
      ? { vpcEndpointIds: trigger.vpcEndpointIds }
      : {}),
    eventId: trigger.messageId,
    operationName: `${events} notification`,
    time: trigger.time,
  };
}
