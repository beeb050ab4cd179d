// The three PrivateLink resources the rules read (their kinds: shared/clouds/aws/kinds/vpc-endpoint-service.ts,
// vpc-endpoint-connection.ts, vpc.ts), each as the EC2 API returns it (PascalCase, as @aws-sdk/client-ec2
// and the AWS CLI give it). Loose objects: AWS adds fields, and an audit record must show the part exactly as read.
//
// - Endpoint service: `{ ServiceConfiguration, AllowedPrincipals? }`, one DescribeVpcEndpointServiceConfigurations
//   item and, when read, the service's DescribeVpcEndpointServicePermissions `AllowedPrincipals`.
// - Endpoint connection: one DescribeVpcEndpointConnections item (`VpcEndpointConnections[]`).
// - VPC: `{ Vpc, VpcEndpoints }`, one DescribeVpcs item and the VPC's DescribeVpcEndpoints items.

import * as z from "zod";
import { InputError } from "../../errors.ts";
import type { Snapshot } from "../../types.ts";

// Some serialisers write null for an empty list.
const list = <T extends z.ZodType>(item: T) =>
  z
    .array(item)
    .nullish()
    .transform((v) => v ?? []);

const tags = list(z.looseObject({ Key: z.string(), Value: z.string().optional() }));

export const serviceConfigurationSchema = z.looseObject({
  ServiceId: z
    .string()
    .regex(/^vpce-svc-[0-9a-z]+$/, "an endpoint service id such as vpce-svc-0123456789abcdef0"),
  ServiceName: z.string().optional(),
  ServiceState: z.string().optional(),
  AcceptanceRequired: z.boolean().optional(),
  ManagesVpcEndpoints: z.boolean().optional(),
  NetworkLoadBalancerArns: list(z.string()),
  GatewayLoadBalancerArns: list(z.string()),
  Tags: tags,
});

export const allowedPrincipalSchema = z.looseObject({
  Principal: z.string(),
  PrincipalType: z.string().optional(),
  ServicePermissionId: z.string().optional(),
  ServiceId: z.string().optional(),
  Tags: tags,
});

export const endpointServiceSchema = z.looseObject({
  ServiceConfiguration: serviceConfigurationSchema,
  // Absent: the permissions were not read (an offline evaluation given only the configuration).
  AllowedPrincipals: z.array(allowedPrincipalSchema).optional(),
});

// The SDK gives a Date; JSON (the CLI, a file) gives an ISO string.
const timestamp = z.union([z.string(), z.date().transform((d) => d.toISOString())]).optional();

export const connectionSchema = z.looseObject({
  ServiceId: z
    .string()
    .regex(/^vpce-svc-[0-9a-z]+$/, "an endpoint service id such as vpce-svc-0123456789abcdef0"),
  VpcEndpointId: z.string().regex(/^vpce-[0-9a-z]+$/, "a VPC endpoint id such as vpce-0123456789abcdef0"),
  VpcEndpointOwner: z.string().optional(),
  VpcEndpointState: z.string().optional(),
  CreationTimestamp: timestamp,
  VpcEndpointConnectionId: z.string().optional(),
  Tags: tags,
});

export const vpcEndpointSchema = z.looseObject({
  VpcEndpointId: z.string(),
  VpcEndpointType: z.string().optional(),
  VpcId: z.string().optional(),
  ServiceName: z.string(),
  State: z.string().optional(),
  PolicyDocument: z.string().optional(),
  RouteTableIds: list(z.string()),
  SubnetIds: list(z.string()),
  OwnerId: z.string().optional(),
  Tags: tags,
});

export const vpcSchema = z.looseObject({
  Vpc: z.looseObject({
    VpcId: z.string().regex(/^vpc-[0-9a-z]+$/, "a VPC id such as vpc-0123456789abcdef0"),
    OwnerId: z.string().optional(),
    CidrBlock: z.string().optional(),
    Tags: tags,
  }),
  VpcEndpoints: list(vpcEndpointSchema),
});

export type ServiceConfiguration = z.infer<typeof serviceConfigurationSchema>;
export type AllowedPrincipal = z.infer<typeof allowedPrincipalSchema>;
export type EndpointService = z.infer<typeof endpointServiceSchema>;
export type EndpointConnection = z.infer<typeof connectionSchema>;
export type VpcEndpoint = z.infer<typeof vpcEndpointSchema>;
export type VpcWithEndpoints = z.infer<typeof vpcSchema>;

function parser<S extends z.ZodType>(schema: S, what: string) {
  const cache = new WeakMap<Snapshot, z.infer<S>>();
  const parse = (resource: unknown, where = "resource"): z.infer<S> => {
    const parsed = schema.safeParse(resource);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const path = [where, ...(issue?.path ?? []).map(String)].join(".");
    throw new InputError(`not ${what}: ${path}: ${issue?.message}`, { path, cause: parsed.error });
  };
  // Every entry of a policy evaluates the same snapshot: validate it once.
  const of = (snapshot: Snapshot): z.infer<S> => {
    let value = cache.get(snapshot);
    if (value === undefined) {
      value = parse(snapshot.resource);
      cache.set(snapshot, value);
    }
    return value;
  };
  return { parse, of };
}

const serviceParser = parser(
  endpointServiceSchema,
  "an endpoint service ({ ServiceConfiguration, AllowedPrincipals? })",
);
const connectionParser = parser(
  connectionSchema,
  "an endpoint connection (DescribeVpcEndpointConnections item)",
);
const vpcParser = parser(vpcSchema, "a VPC with its endpoints ({ Vpc, VpcEndpoints })");

export const parseEndpointService = serviceParser.parse;
export const endpointServiceOf = serviceParser.of;
export const parseEndpointConnection = connectionParser.parse;
export const endpointConnectionOf = connectionParser.of;
export const parseVpcWithEndpoints = vpcParser.parse;
export const vpcWithEndpointsOf = vpcParser.of;

/** The connection snapshot's id: the service and the consumer's endpoint, which together name one connection. */
export function connectionResourceId(serviceId: string, vpcEndpointId: string): string {
  return `${serviceId}/${vpcEndpointId}`;
}

export function splitConnectionResourceId(
  id: string,
): { serviceId: string; vpcEndpointId: string } | undefined {
  const match = /^(vpce-svc-[0-9a-z]+)\/(vpce-[0-9a-z]+)$/.exec(id);
  return match?.[1] && match[2] ? { serviceId: match[1], vpcEndpointId: match[2] } : undefined;
}

/**
 * A connection or endpoint state in one spelling. The EC2 API reference lists the values capitalised
 * (`PendingAcceptance`, `Available`, as @aws-sdk/client-ec2's `State` enum has them), while the service's responses,
 * the CLI examples and the `vpc-endpoint-state` filter use `pendingAcceptance`, `available`: compare on this.
 */
export function canonicalState(state: string | undefined): string | undefined {
  if (state === undefined || state === "") return undefined;
  return state.charAt(0).toLowerCase() + state.slice(1);
}
