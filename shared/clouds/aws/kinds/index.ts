// The AWS kind registry: one line per kind of resource the guardian evaluates. The CloudTrail envelope, the reader
// and writer dispatch, `guardian evaluate` and the infra generator derive what they need from here; nothing else
// switches on an AWS type string. See docs/kinds.md.

import { prefixList } from "./prefix-list.ts";
import { securityGroup } from "./security-group.ts";
import type { AwsEventSpec, AwsKind } from "./types.ts";
import { vpc } from "./vpc.ts";
import { vpcEndpointConnection } from "./vpc-endpoint-connection.ts";
import { vpcEndpointService } from "./vpc-endpoint-service.ts";

export type { AwsKind } from "./types.ts";

/**
 * Every AWS kind, keyed by id (= file name). `guardian evaluate` asks each in this order whether a JSON is its own:
 * the endpoint service, which also takes a bundle with its connections, comes before the connection kind.
 */
export const awsKindRegistry = {
  "security-group": securityGroup,
  "prefix-list": prefixList,
  "vpc-endpoint-service": vpcEndpointService,
  "vpc-endpoint-connection": vpcEndpointConnection,
  vpc,
} as const satisfies Record<string, AwsKind>;

export const awsKinds: readonly AwsKind[] = Object.freeze(Object.values(awsKindRegistry));

const byType = new Map<string, AwsKind>(awsKinds.map((k) => [k.type, k]));

export function awsKindOf(type: string): AwsKind | undefined {
  return byType.get(type);
}

/** Which kind handles a CloudTrail event name (each name belongs to one kind; the meta-test checks it). */
const byEvent = new Map<string, { kind: AwsKind; spec: AwsEventSpec }>(
  awsKinds.flatMap((kind) =>
    Object.entries(kind.events).map(([name, spec]) => [name, { kind, spec }] as const),
  ),
);

export function awsKindForEvent(eventName: string): { kind: AwsKind; spec: AwsEventSpec } | undefined {
  return byEvent.get(eventName);
}
