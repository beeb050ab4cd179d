// vpc-private-endpoints over the AWS CLI examples of DescribeVpcs and DescribeVpcEndpoints (a DynamoDB gateway
// endpoint and an interface endpoint, both with the default full-access policy) and AWS's data perimeter example of
// an endpoint policy.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parsePolicy } from "../../../shared/policy/load.ts";
import {
  vpcPrivateEndpoints,
  vpcPrivateEndpointsOptions,
} from "../../../shared/rules/vpc-private-endpoints.ts";
import { globCovers } from "../../../shared/rules/vpce/glob.ts";
import {
  dataPerimeterPolicy,
  vpc,
  vpcEndpoints,
  vpcWithEndpointsSnapshot,
} from "../../fixtures/aws/privatelink/load.ts";

const context = { trustedSources: [] };
const VPC = "vpc-a01106c2";

/** The CLI example's endpoints, moved into the example VPC. */
function endpoints(): Record<string, unknown>[] {
  return vpcEndpoints().map((e) => ({ ...e, VpcId: VPC }));
}

function s3Gateway(policy?: string): Record<string, unknown> {
  const [dynamo] = endpoints();
  return {
    ...dynamo,
    VpcEndpointId: "vpce-0s3a1b2c3d4e5f607",
    ServiceName: "com.amazonaws.us-east-1.s3",
    ...(policy !== undefined ? { PolicyDocument: policy } : {}),
  };
}

const evaluate = (list: Record<string, unknown>[], input: Record<string, unknown> = {}, v = vpc()) =>
  vpcPrivateEndpoints.evaluate(
    vpcWithEndpointsSnapshot(v, list),
    vpcPrivateEndpointsOptions.parse(input),
    context,
  );

const lockedDown = JSON.stringify({
  Version: "2012-10-17",
  Statement: [
    {
      Sid: "QuboleBucketsOnly",
      Effect: "Allow",
      Principal: { AWS: "arn:aws:iam::123456789012:role/qubole-cluster" },
      Action: ["s3:GetObject", "s3:PutObject"],
      Resource: ["arn:aws:s3:::qubole-data", "arn:aws:s3:::qubole-data/*"],
    },
  ],
});

describe("vpc-private-endpoints: required endpoints", () => {
  it("reports a private VPC without an S3 gateway endpoint", () => {
    const [missing] = evaluate(endpoints(), { allowedPrincipals: ["123456789012"] });
    expect(missing?.message).toBe(
      `Private VPC ${VPC} has no gateway endpoint for s3: its traffic to that service would leave through the Internet`,
    );
    expect(missing?.matched).toEqual([{ vpcId: VPC, missingEndpoint: "s3", type: "Gateway" }]);
    expect(missing?.controls).toEqual([]);
  });

  it("is satisfied by an available S3 gateway endpoint, not by an S3 interface endpoint or a deleted one", () => {
    const found = evaluate([s3Gateway(lockedDown)], { allowedPrincipals: ["123456789012"] });
    expect(found).toEqual([]);
    const iface = { ...s3Gateway(lockedDown), VpcEndpointType: "Interface" };
    expect(evaluate([iface], { allowedPrincipals: ["123456789012"] })[0]?.matched).toEqual([
      { vpcId: VPC, missingEndpoint: "s3", type: "Gateway" },
    ]);
    const deleted = { ...s3Gateway(lockedDown), State: "deleted" };
    expect(evaluate([deleted], { allowedPrincipals: ["123456789012"] })[0]?.matched[0]?.missingEndpoint).toBe(
      "s3",
    );
  });

  it("matches short names in any region and names the Security Hub control a missing endpoint fails", () => {
    const accessPoint = { ...s3Gateway(lockedDown), ServiceName: "com.amazonaws.s3-global.accesspoint" };
    expect(
      evaluate([accessPoint], { allowedPrincipals: ["123456789012"] })[0]?.matched[0]?.missingEndpoint,
    ).toBe("s3");
    const [missing] = evaluate([s3Gateway(lockedDown)], {
      requiredEndpoints: [{ service: "s3", type: "Gateway" }, "ecr.api", "com.amazonaws.us-east-1.sts"],
      allowedPrincipals: ["123456789012"],
    });
    expect(missing?.matched.map((m) => m.missingEndpoint)).toEqual([
      "ecr.api",
      "com.amazonaws.us-east-1.sts",
    ]);
    expect(missing?.controls).toEqual(["Security Hub EC2.55"]);
  });

  it("only looks at the VPCs the policy marks private", () => {
    expect(evaluate(endpoints(), { privateVpcTags: { network: "private" } })).toEqual([]);
    const tagged = { ...vpc(), Tags: [{ Key: "network", Value: "private" }] };
    expect(evaluate(endpoints(), { privateVpcTags: { network: "*" } }, tagged).length).toBeGreaterThan(0);
    expect(evaluate(endpoints(), { privateVpcIds: ["vpc-0000000000000000"] })).toEqual([]);
    expect(evaluate(endpoints(), { privateVpcIds: [VPC] }).length).toBeGreaterThan(0);
  });
});

describe("vpc-private-endpoints: endpoint policies", () => {
  it("reports the default full-access policy: any principal", () => {
    const [, permissive] = evaluate(endpoints());
    expect(permissive?.matched).toEqual([
      {
        vpcId: VPC,
        vpcEndpointId: "vpce-032a826a",
        serviceName: "com.amazonaws.us-east-1.dynamodb",
        statement: "Statement[0]",
        problem: "allows any principal (*)",
      },
      {
        vpcId: VPC,
        vpcEndpointId: "vpce-0f89a33420c1931d7",
        serviceName: "com.amazonaws.us-east-1.elasticloadbalancing",
        statement: "Statement[0]",
        problem: "allows any principal (*)",
      },
    ]);
  });

  it("accepts AWS's data perimeter policy for its own organization, and flags the statement open to any resource", () => {
    const perimeter = dataPerimeterPolicy();
    expect(evaluate([s3Gateway(perimeter)], { allowedPrincipals: ["o-a1b2c3d4e5"] })).toEqual([]);
    const [violation] = evaluate([s3Gateway(perimeter)], {
      allowedPrincipals: ["o-a1b2c3d4e5"],
      allowedResources: ["o-a1b2c3d4e5"],
    });
    expect(violation?.matched.map((m) => [m.statement, m.problem])).toEqual([
      ["AllowRequestsByOrgsIdentitiesToAnyResources", "allows resource *, outside the allowed resources"],
    ]);
    // Pinned to another organization than the allow-listed one.
    const other = evaluate([s3Gateway(perimeter)], { allowedPrincipals: ["o-zzzzzzzzzz"] })[0];
    expect(other?.matched.map((m) => m.statement)).toEqual([
      "AllowRequestsByOrgsIdentitiesToOrgsResources",
      "AllowRequestsByOrgsIdentitiesToAnyResources",
    ]);
  });

  it("credits a blanket Deny that refuses everyone outside the organization, but not an IfExists condition", () => {
    const deny = (operator: string) =>
      JSON.stringify({
        Statement: [
          { Effect: "Allow", Principal: "*", Action: "s3:*", Resource: "arn:aws:s3:::qubole-data/*" },
          {
            Effect: "Deny",
            Principal: "*",
            Action: "*",
            Resource: "*",
            Condition: { [operator]: { "aws:PrincipalOrgID": "o-a1b2c3d4e5" } },
          },
        ],
      });
    const input = { allowedPrincipals: ["o-a1b2c3d4e5"], allowedResources: ["arn:aws:s3:::qubole-*"] };
    expect(evaluate([s3Gateway(deny("StringNotEquals"))], input)).toEqual([]);
    expect(evaluate([s3Gateway(deny("StringNotEqualsIfExists"))], input)[0]?.matched[0]?.problem).toBe(
      "allows any principal (*)",
    );
  });

  it("checks named principals and resources against the allow-lists", () => {
    expect(
      evaluate([s3Gateway(lockedDown)], {
        allowedPrincipals: ["123456789012"],
        allowedResources: ["arn:aws:s3:::qubole-*"],
      }),
    ).toEqual([]);
    const [violation] = evaluate([s3Gateway(lockedDown)], {
      allowedPrincipals: ["999988887777"],
      allowedResources: ["arn:aws:s3:::qubole-data"],
    });
    expect(violation?.matched.map((m) => m.problem)).toEqual([
      "allows arn:aws:iam::123456789012:role/qubole-cluster: arn:aws:iam::123456789012:role/qubole-cluster is not allow-listed (nor is its account 123456789012)",
      "allows resource arn:aws:s3:::qubole-data/*, outside the allowed resources",
    ]);
    const broken = evaluate([s3Gateway("{not json")], { allowedPrincipals: ["123456789012"] })[0];
    expect(broken?.matched[0]?.problem).toBe("the policy document is not valid JSON");
  });

  it("validates its options strictly and has a valid example (alert only: it has no remediation)", () => {
    expect(vpcPrivateEndpointsOptions.safeParse({ allowedResources: ["qubole-*"] }).success).toBe(false);
    expect(
      vpcPrivateEndpointsOptions.safeParse({ requiredEndpoints: [{ service: "s3", type: "gateway" }] })
        .success,
    ).toBe(false);
    expect(
      parsePolicy(`version: 1\nrules:\n${vpcPrivateEndpoints.example}`, "example.yaml").rules[0]?.rule,
    ).toBe("vpc-private-endpoints");
    expect(() =>
      parsePolicy(
        "version: 1\nrules:\n  - name: x\n    rule: vpc-private-endpoints\n    mode: remediate\n",
        "p.yaml",
      ),
    ).toThrow(/has no remediation/);
  });
});

describe("globCovers", () => {
  it("compares wildcard patterns as sets", () => {
    expect(globCovers("arn:aws:s3:::qubole-*", "arn:aws:s3:::qubole-data/*")).toBe(true);
    expect(globCovers("arn:aws:s3:::qubole-data/x*", "arn:aws:s3:::qubole-data/*")).toBe(false);
    expect(globCovers("arn:aws:s3:::a?c", "arn:aws:s3:::a*c")).toBe(false);
    expect(globCovers("arn:aws:s3:::a?c", "arn:aws:s3:::a?c")).toBe(true);
    expect(globCovers("*", "*")).toBe(true);
    expect(globCovers("arn:*", "*")).toBe(false);
  });

  it("never says a pattern covers a string it does not match", () => {
    const chars = fc.constantFrom("a", "b", "*", "?");
    const regexOf = (p: string) =>
      new RegExp(
        `^${p
          .replace(/[.+^${}()|[\]\\]/g, "\\$&")
          .replace(/\*/g, ".*")
          .replace(/\?/g, ".")}$`,
      );
    fc.assert(
      fc.property(
        fc.string({ unit: chars, maxLength: 6 }),
        fc.string({ unit: fc.constantFrom("a", "b"), maxLength: 6 }),
        (p, t) => {
          // A literal target: covering is matching.
          expect(globCovers(p, t)).toBe(regexOf(p).test(t));
        },
      ),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(
        fc.string({ unit: chars, maxLength: 5 }),
        fc.string({ unit: chars, maxLength: 5 }),
        fc.string({ unit: fc.constantFrom("a", "b"), maxLength: 3 }),
        (p, t, fill) => {
          // A wildcard target: when covered, every expansion of it is matched.
          if (!globCovers(p, t)) return;
          const expansion = t.replace(/\*/g, fill).replace(/\?/g, "a");
          expect(regexOf(p).test(expansion)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
