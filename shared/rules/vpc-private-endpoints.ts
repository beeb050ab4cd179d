import * as z from "zod";
import { AWS_VPC_TYPE } from "../clouds/aws/kinds/vpc.ts";
import type { Snapshot } from "../types.ts";
import type { RuleContext, RuleDefinition, Violation } from "./types.ts";
import { endpointPolicyProblems, type ResourceAllowList } from "./vpce/endpoint-policy.ts";
import { allowedPrincipalsOption, compileAllowList } from "./vpce/principals.ts";
import { type VpcEndpoint, vpcWithEndpointsOf } from "./vpce/resources.ts";

// Security Hub CSPM controls that ask for an endpoint of a given AWS service in every VPC ("Security Hub CSPM
// controls for Amazon EC2"): EC2.10 (EC2), EC2.55 (ECR API), EC2.56 (ECR Docker registry), EC2.57 (Systems
// Manager), EC2.58 (Incident Manager Contacts), EC2.60 (Incident Manager). S3 has none.
const SERVICE_CONTROLS: Readonly<Record<string, string>> = {
  ec2: "Security Hub EC2.10",
  "ecr.api": "Security Hub EC2.55",
  "ecr.dkr": "Security Hub EC2.56",
  ssm: "Security Hub EC2.57",
  "ssm-contacts": "Security Hub EC2.58",
  "ssm-incidents": "Security Hub EC2.60",
};

const ENDPOINT_TYPES = ["Gateway", "Interface", "GatewayLoadBalancer"] as const;

const requiredEndpoint = z.union([
  z.string().min(1),
  z.strictObject({
    service: z.string().min(1).describe("Short name (s3, dynamodb, ecr.api) or full service name"),
    type: z.enum(ENDPOINT_TYPES).optional().describe("The endpoint type that counts; any when omitted"),
  }),
]);

const resourceEntry = z
  .string()
  .min(1)
  .refine((s) => s.startsWith("arn:") || /^\d{12}$/.test(s) || /^o-[a-z0-9]{10,32}$/.test(s), {
    message: "expected an ARN pattern (arn:aws:s3:::qubole-*), an account id or an organization id (o-…)",
  });

export const vpcPrivateEndpointsOptions = z.strictObject({
  privateVpcIds: z
    .array(z.string().regex(/^vpc-[0-9a-z]+$/))
    .default([])
    .describe("VPCs that are private"),
  privateVpcTags: z
    .record(z.string(), z.string())
    .default({})
    .describe("A VPC carrying all these tags is private (value '*' = any value)"),
  requiredEndpoints: z
    .array(requiredEndpoint)
    .default([{ service: "s3", type: "Gateway" }])
    .describe("Endpoints every private VPC must have; the default is an S3 gateway endpoint"),
  allowedPrincipals: allowedPrincipalsOption.describe(
    "Principals endpoint policies may allow; when empty, only an unrestricted '*' principal is a finding",
  ),
  allowedResources: z
    .array(resourceEntry)
    .default([])
    .describe(
      "Resources endpoint policies may allow: ARN patterns, or account / organization ids a condition may pin resources to; when empty, resources are not checked",
    ),
});
export type VpcPrivateEndpointsOptions = z.infer<typeof vpcPrivateEndpointsOptions>;

/** The endpoints that still carry traffic: one being deleted, rejected or failed does not keep a VPC private. */
const DEAD_STATES = new Set(["deleting", "deleted", "rejected", "failed", "expired"]);

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Does the endpoint serve this required service? Short names match any region (com.amazonaws.<region>.<name>). */
function serves(endpoint: VpcEndpoint, service: string): boolean {
  if (service.includes(".") && /^(com\.amazonaws|aws)\./.test(service))
    return endpoint.ServiceName === service;
  return new RegExp(`^com\\.amazonaws\\.[a-z0-9-]+\\.${escapeRegExp(service)}$`).test(endpoint.ServiceName);
}

function isPrivate(snapshot: Snapshot, vpcId: string, options: VpcPrivateEndpointsOptions): boolean {
  const tagRules = Object.entries(options.privateVpcTags);
  // Neither list given: the entry's scope alone says which VPCs it covers, and they are all private.
  if (options.privateVpcIds.length === 0 && tagRules.length === 0) return true;
  if (options.privateVpcIds.includes(vpcId)) return true;
  return (
    tagRules.length > 0 &&
    tagRules.every(([key, value]) => {
      const actual = snapshot.tags[key];
      return actual !== undefined && (value === "*" || actual === value);
    })
  );
}

const resourceLists = new WeakMap<readonly string[], ResourceAllowList>();

function resourceAllowList(entries: readonly string[]): ResourceAllowList | undefined {
  if (entries.length === 0) return undefined;
  let list = resourceLists.get(entries);
  if (!list) {
    list = {
      patterns: entries.filter((e) => e.startsWith("arn:")),
      accounts: new Set(entries.filter((e) => /^\d{12}$/.test(e))),
      organizations: new Set(entries.filter((e) => e.startsWith("o-"))),
    };
    resourceLists.set(entries, list);
  }
  return list;
}

export const vpcPrivateEndpoints = {
  id: "vpc-private-endpoints",
  description:
    "A private VPC reaches S3 (and the services the policy names) only through VPC endpoints, and their endpoint policies allow only allow-listed principals and resources",
  cloud: "aws",
  resourceTypes: [AWS_VPC_TYPE],
  controls: Object.values(SERVICE_CONTROLS),
  options: vpcPrivateEndpointsOptions,
  permissions: ["ec2:DescribeVpcs", "ec2:DescribeVpcEndpoints"],
  remediations: [],
  example: [
    "- name: private-vpcs-use-endpoints",
    "  rule: vpc-private-endpoints",
    "  mode: alert",
    "  severity: high",
    "  options:",
    "    privateVpcTags: { network: private }",
    "    requiredEndpoints: [{ service: s3, type: Gateway }]",
    '    allowedPrincipals: ["123456789012"]',
    '    allowedResources: ["arn:aws:s3:::qubole-*"]',
    "",
  ].join("\n"),
  evaluate(snapshot: Snapshot, options: VpcPrivateEndpointsOptions, context: RuleContext): Violation[] {
    const { Vpc: vpc, VpcEndpoints: endpoints } = vpcWithEndpointsOf(snapshot);
    if (!isPrivate(snapshot, vpc.VpcId, options)) return [];
    const live = endpoints.filter((e) => !DEAD_STATES.has((e.State ?? "").toLowerCase()));
    const violations: Violation[] = [];
    // One call can name several endpoints of the VPC (DeleteVpcEndpoints): each is a change of its own, and all of
    // them lead here. Keyed by the call, the finding is announced once for it; a later call announces it again.
    const key = (what: string) =>
      context.change?.eventId === undefined ? {} : { key: `${vpc.VpcId}:${what}:${context.change.eventId}` };

    const missing = options.requiredEndpoints
      .map((r) => (typeof r === "string" ? { service: r } : r))
      .filter(
        (r) =>
          !live.some(
            (e) =>
              serves(e, r.service) &&
              (r.type === undefined || e.VpcEndpointType?.toLowerCase() === r.type.toLowerCase()),
          ),
      );
    if (missing.length > 0) {
      const names = missing.map(
        (m) => `${m.type ? `${m.type.toLowerCase()} ` : ""}endpoint for ${m.service}`,
      );
      violations.push({
        message: `Private VPC ${vpc.VpcId} has no ${names.join(", no ")}: its traffic to ${missing.length === 1 ? "that service" : "those services"} would leave through the Internet`,
        matched: missing.map((m) => ({
          vpcId: vpc.VpcId,
          missingEndpoint: m.service,
          ...(m.type ? { type: m.type } : {}),
        })),
        controls: missing.flatMap((m) => {
          const control = SERVICE_CONTROLS[m.service];
          return control ? [control] : [];
        }),
        ...key("missing"),
      });
    }

    const principals = compileAllowList(options.allowedPrincipals);
    const strict = options.allowedPrincipals.length > 0;
    const resources = resourceAllowList(options.allowedResources);
    const permissive: Violation["matched"] = [];
    for (const endpoint of live) {
      for (const problem of endpointPolicyProblems(endpoint.PolicyDocument, principals, strict, resources)) {
        permissive.push({
          vpcId: vpc.VpcId,
          vpcEndpointId: endpoint.VpcEndpointId,
          serviceName: endpoint.ServiceName,
          statement: problem.statement,
          problem: problem.problem,
        });
      }
    }
    if (permissive.length > 0) {
      const endpointsHit = [...new Set(permissive.map((p) => p.vpcEndpointId))].join(", ");
      violations.push({
        message: `Private VPC ${vpc.VpcId}: endpoint policies of ${endpointsHit} allow more than the allow-list (${permissive
          .map((p) => `${p.vpcEndpointId} ${p.statement} ${p.problem}`)
          .join("; ")})`,
        matched: permissive,
        controls: [],
        ...key("policies"),
      });
    }
    return violations;
  },
} satisfies RuleDefinition<typeof vpcPrivateEndpointsOptions>;
