// `guardian scan` over PrivateLink, against moto behind the PrivateLink proxy: DescribeVpcEndpointServiceConfigurations
// lists no allowed principals and DescribeVpcs no endpoints, so the scan reads each endpoint service and each VPC in
// full before evaluating it (AwsKind.list.incomplete). Without that, a `*` principal would go unseen and every private
// VPC would look as if it had no S3 endpoint.

import {
  CreateRouteTableCommand,
  CreateTagsCommand,
  CreateVpcCommand,
  CreateVpcEndpointCommand,
  DescribeVpcEndpointServiceConfigurationsCommand,
  DescribeVpcEndpointServicePermissionsCommand,
  type EC2Client,
  ModifyVpcEndpointServicePermissionsCommand,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { memoryAuditSink } from "../../shared/audit/index.ts";
import { awsPort } from "../../shared/clouds/aws/runtime.ts";
import { pageLister } from "../../shared/clouds/listers.ts";
import { memoryLogger } from "../../shared/log.ts";
import type { GuardianDeps } from "../../shared/pipeline.ts";
import { parsePolicy } from "../../shared/policy/load.ts";
import { type ScanReport, scanEstate } from "../../shared/usecases/scan.ts";
import { assertMotoInstalled, MOTO_ACCOUNT, type MotoServer, startMoto } from "../harness/moto.ts";
import {
  createEndpointServiceEstate,
  ec2ClientAs,
  type ProviderEstate,
} from "../harness/privatelink/estate.ts";
import { type PrivateLinkProxy, startPrivateLinkProxy } from "../harness/privatelink/proxy.ts";

const REGION = "us-east-1";
const QUBOLE = "111122223333";
const STRANGER = "444455556666";

const policy = parsePolicy(
  `
version: 1
rules:
  - name: endpoint-services-require-acceptance
    rule: vpce-acceptance-required
    mode: remediate
  - name: endpoint-service-principals
    rule: vpce-allowed-principals
    mode: remediate
    options: { allowedPrincipals: ["${QUBOLE}"] }
  - name: endpoint-service-connections
    rule: vpce-connections
    mode: remediate
    options: { allowedPrincipals: ["${QUBOLE}"], otherRequests: hold }
  - name: private-vpcs-use-endpoints
    rule: vpc-private-endpoints
    mode: alert
    options:
      privateVpcTags: { network: private }
      allowedPrincipals: ["${MOTO_ACCOUNT}"]
`,
  "policy.yaml",
);

describe("guardian scan: endpoint services and VPCs are read in full", () => {
  let moto: MotoServer;
  let proxy: PrivateLinkProxy;
  let ec2: EC2Client;
  let estate: ProviderEstate;
  let bareVpc = "";
  let coveredVpc = "";

  beforeAll(async () => {
    assertMotoInstalled();
    moto = await startMoto();
    proxy = await startPrivateLinkProxy({ target: moto.endpoint });
    ec2 = ec2ClientAs(proxy.endpoint);
  }, 60_000);

  afterAll(async () => {
    ec2?.destroy();
    await proxy?.stop();
    await moto?.stop();
  });

  async function privateVpc(cidr: string): Promise<string> {
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: cidr }));
    const id = vpc.Vpc?.VpcId ?? "";
    await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: "network", Value: "private" }] }));
    return id;
  }

  beforeEach(async () => {
    await moto.reset();
    proxy.reset();
    // Someone turned acceptance off and allowed everyone besides Qubole.
    estate = await createEndpointServiceEstate(ec2, moto.endpoint, { acceptanceRequired: false });
    await ec2.send(
      new ModifyVpcEndpointServicePermissionsCommand({
        ServiceId: estate.serviceId,
        AddAllowedPrincipals: [`arn:aws:iam::${QUBOLE}:root`, "*"],
      }),
    );
    // Two private VPCs: one without any endpoint, one with its S3 gateway endpoint.
    bareVpc = await privateVpc("10.71.0.0/16");
    coveredVpc = await privateVpc("10.72.0.0/16");
    const table = await ec2.send(new CreateRouteTableCommand({ VpcId: coveredVpc }));
    await ec2.send(
      new CreateVpcEndpointCommand({
        VpcId: coveredVpc,
        ServiceName: `com.amazonaws.${REGION}.s3`,
        VpcEndpointType: "Gateway",
        RouteTableIds: [table.RouteTable?.RouteTableId ?? ""],
        PolicyDocument: JSON.stringify({
          Statement: [
            {
              Effect: "Allow",
              Principal: { AWS: `arn:aws:iam::${MOTO_ACCOUNT}:root` },
              Action: "s3:*",
              Resource: "*",
            },
          ],
        }),
      }),
    );
    // A request from an account nobody allow-listed (acceptance is off, but the request predates that).
    await proxy.requestConnection({ serviceId: estate.serviceId, owner: STRANGER });
    proxy.calls.length = 0;
  });

  function deps(): GuardianDeps & { audit: ReturnType<typeof memoryAuditSink> } {
    return {
      policy,
      clouds: { aws: awsPort(ec2, []) },
      outbox: { enqueue: async () => [] },
      audit: memoryAuditSink(),
      selfIdentities: [],
      dryRun: false,
      log: memoryLogger(),
    };
  }

  const scan = (remediate: boolean) =>
    scanEstate([{ cloud: "aws", region: REGION }], deps(), pageLister({ aws: ec2, awsPageSize: 5 }), {
      remediate,
      runId: remediate ? "fix" : "look",
    });

  const found = (report: ScanReport) =>
    report.findings
      .map((f) => [f.policyRule, f.resourceId.split("/")[0]] as const)
      .sort((a, b) => `${a[0]} ${a[1]}`.localeCompare(`${b[0]} ${b[1]}`));

  it("reports the `*` principal, acceptance off, the held request and the private VPC without S3, and only those", async () => {
    const report = await scan(false);
    expect(report.complete).toBe(true);
    expect(found(report)).toEqual([
      ["endpoint-service-connections", estate.serviceId],
      ["endpoint-service-principals", estate.serviceId],
      ["endpoint-services-require-acceptance", estate.serviceId],
      ["private-vpcs-use-endpoints", bareVpc],
    ]);
    const principals = report.findings.find((f) => f.policyRule === "endpoint-service-principals");
    expect(JSON.stringify(principals)).toContain('"*"');
    expect(JSON.stringify(principals)).not.toContain(QUBOLE);
    // Report-only: the request stays pending, nothing was written.
    expect(report.actions.find((a) => a.policyRule === "endpoint-service-connections")?.outcome).toBe("held");
    expect(proxy.calls.filter((c) => /^(Accept|Reject|Modify)/.test(c.action))).toEqual([]);
  });

  it("--remediate removes `*` and turns acceptance back on; a second scan finds only what stays for people", async () => {
    const first = await scan(true);
    expect(
      first.actions
        .filter((a) => a.outcome === "applied")
        .map((a) => a.policyRule)
        .sort(),
    ).toEqual(["endpoint-service-principals", "endpoint-services-require-acceptance"]);
    const config = await ec2.send(
      new DescribeVpcEndpointServiceConfigurationsCommand({ ServiceIds: [estate.serviceId] }),
    );
    expect(config.ServiceConfigurations?.[0]?.AcceptanceRequired).toBe(true);
    const permissions = await ec2.send(
      new DescribeVpcEndpointServicePermissionsCommand({ ServiceId: estate.serviceId }),
    );
    expect(permissions.AllowedPrincipals?.map((p) => p.Principal)).toEqual([`arn:aws:iam::${QUBOLE}:root`]);
    const second = await scan(false);
    expect(found(second)).toEqual([
      ["endpoint-service-connections", estate.serviceId],
      ["private-vpcs-use-endpoints", bareVpc],
    ]);
  });
});
