// The endpoint service rules (acceptance required, allowed principals) and their remediations, over the AWS CLI
// examples of DescribeVpcEndpointServiceConfigurations and DescribeVpcEndpointServicePermissions.

import { describe, expect, it } from "vitest";
import { InputError } from "../../../shared/errors.ts";
import { parsePolicy } from "../../../shared/policy/load.ts";
import { removePrincipals } from "../../../shared/remediation/remove-principals.ts";
import { requireAcceptance } from "../../../shared/remediation/require-acceptance.ts";
import type { RuleContext } from "../../../shared/rules/types.ts";
import { vpceAcceptanceRequired } from "../../../shared/rules/vpce-acceptance-required.ts";
import {
  vpceAllowedPrincipals,
  vpceAllowedPrincipalsOptions,
} from "../../../shared/rules/vpce-allowed-principals.ts";
import type { Finding } from "../../../shared/types.ts";
import { serviceConfiguration, serviceSnapshot } from "../../fixtures/aws/privatelink/load.ts";

const SERVICE = "vpce-svc-0e7555fb6441987e1";
const ENGINEER =
  "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_NetworkAdmin_5f3c2a1b9d8e7f60/priya.raman@example.com";
const none: RuleContext = { trustedSources: [] };

function finding(ruleId: string, matched: Finding["matched"]): Finding {
  return {
    policyRule: "entry",
    ruleId,
    resourceId: SERVICE,
    resourceType: "aws:ec2:vpc-endpoint-service",
    severity: "high",
    message: "",
    controls: [],
    matched,
  };
}

describe("vpce-acceptance-required", () => {
  it("accepts the CLI example, which requires acceptance", () => {
    expect(vpceAcceptanceRequired.evaluate(serviceSnapshot(), {}, none)).toEqual([]);
  });

  it("reports acceptance turned off, naming who turned it off when the event says so", () => {
    const snapshot = serviceSnapshot({ ...serviceConfiguration(), AcceptanceRequired: false });
    const context: RuleContext = {
      trustedSources: [],
      change: {
        actor: { name: ENGINEER },
        operationName: "ModifyVpcEndpointServiceConfiguration",
        details: { acceptanceRequired: false },
      },
    };
    const [violation, ...rest] = vpceAcceptanceRequired.evaluate(snapshot, {}, context);
    expect(rest).toEqual([]);
    expect(violation?.matched).toEqual([
      {
        serviceId: SERVICE,
        property: "AcceptanceRequired",
        value: false,
        setBy: ENGINEER,
        setIn: "ModifyVpcEndpointServiceConfiguration",
      },
    ]);
    expect(violation?.message).toBe(
      `Endpoint service ${SERVICE} (com.amazonaws.vpce.us-east-1.${SERVICE}) accepts connection requests automatically; turned off by ${ENGINEER}`,
    );
    // Without an event (guardian evaluate, the sweep) the finding stands on the snapshot alone.
    expect(vpceAcceptanceRequired.evaluate(snapshot, {}, none)[0]?.matched).toEqual([
      { serviceId: SERVICE, property: "AcceptanceRequired", value: false },
    ]);
  });

  it("does not guess when the configuration does not say, and says why", () => {
    const { AcceptanceRequired: _gone, ...config } = serviceConfiguration();
    const snapshot = serviceSnapshot(config);
    expect(vpceAcceptanceRequired.evaluate(snapshot, {}, none)).toEqual([]);
    expect(vpceAcceptanceRequired.cannotEvaluate(snapshot)).toContain("AcceptanceRequired missing");
  });

  it("rejects something that is not an endpoint service with the field that is wrong", () => {
    expect(() =>
      vpceAcceptanceRequired.evaluate(
        serviceSnapshot({ ...serviceConfiguration(), ServiceId: "sg-123" }),
        {},
        none,
      ),
    ).toThrow(InputError);
  });

  it("require-acceptance turns it back on and nothing else; nothing to do once it is on", () => {
    const off = serviceSnapshot({ ...serviceConfiguration(), AcceptanceRequired: false });
    const planned = requireAcceptance.plan(off, finding("vpce-acceptance-required", []), {
      trustedSources: [],
    });
    expect(planned).toMatchObject({
      remediation: "require-acceptance",
      complete: true,
      operation: {
        kind: "modify-vpc-endpoint-service-configuration",
        serviceId: SERVICE,
        acceptanceRequired: true,
      },
      before: { AcceptanceRequired: false },
      after: { AcceptanceRequired: true },
    });
    // The undo an alert carries: acceptance off again, on this service only.
    expect(
      planned && requireAcceptance.undo?.(planned, { account: "123456789012", region: "eu-west-1" }),
    ).toEqual({
      command: [
        "aws ec2 modify-vpc-endpoint-service-configuration",
        "--region 'eu-west-1'",
        `--service-id '${SERVICE}'`,
        "--no-acceptance-required",
      ].join(" \\\n  "),
      portal: `VPC console → Endpoint services → ${SERVICE} → Actions → Modify endpoint acceptance setting → clear "Acceptance required"`,
    });
    expect(
      requireAcceptance.plan(serviceSnapshot(), finding("vpce-acceptance-required", []), {
        trustedSources: [],
      }),
    ).toBeUndefined();
  });
});

describe("vpce-allowed-principals", () => {
  const options = (allowedPrincipals: string[]) => vpceAllowedPrincipalsOptions.parse({ allowedPrincipals });
  const principals = (...names: string[]) => names.map((Principal) => ({ Principal }));
  const evaluate = (allowed: string[], listed: string[], context = none) =>
    vpceAllowedPrincipals.evaluate(
      serviceSnapshot(serviceConfiguration(), principals(...listed)),
      options(allowed),
      context,
    );

  it("accepts the CLI example when its account is allow-listed, by id or by root ARN", () => {
    expect(vpceAllowedPrincipals.evaluate(serviceSnapshot(), options(["123456789012"]), none)).toEqual([]);
    expect(
      vpceAllowedPrincipals.evaluate(serviceSnapshot(), options(["arn:aws:iam::123456789012:root"]), none),
    ).toEqual([]);
    const [violation] = vpceAllowedPrincipals.evaluate(serviceSnapshot(), options([]), none);
    expect(violation?.matched).toEqual([
      {
        serviceId: SERVICE,
        principal: "arn:aws:iam::123456789012:root",
        principalType: "Account",
        reason: "account 123456789012 is not allow-listed",
      },
    ]);
  });

  it("always reports '*', whatever the allow-list, and names who added it", () => {
    const context: RuleContext = {
      trustedSources: [],
      change: {
        actor: { name: ENGINEER },
        operationName: "ModifyVpcEndpointServicePermissions",
        details: { addedPrincipals: ["*"] },
      },
    };
    const [violation] = evaluate(["111122223333"], ["arn:aws:iam::111122223333:root", "*"], context);
    expect(violation?.matched).toEqual([
      {
        serviceId: SERVICE,
        principal: "*",
        reason: "everyone (*) may connect: the service is public",
        addedBy: ENGINEER,
        addedIn: "ModifyVpcEndpointServicePermissions",
      },
    ]);
    expect(violation?.message).toContain(`everyone (*) (added by ${ENGINEER})`);
    expect(() => options(["*"])).toThrow();
  });

  it("lets an account cover its roles and users, and a role pattern cover only what it names", () => {
    const allowed = ["222233334444", "arn:aws:iam::111122223333:role/qubole-*"];
    expect(
      evaluate(allowed, [
        "arn:aws:iam::222233334444:role/anything",
        "arn:aws:iam::222233334444:user/ops",
        "arn:aws:iam::111122223333:role/qubole-cluster-manager",
      ]),
    ).toEqual([]);
    const [violation] = evaluate(allowed, [
      "arn:aws:iam::111122223333:role/admin",
      "arn:aws:iam::111122223333:root",
      "arn:aws:iam::999988887777:role/qubole-cluster-manager",
    ]);
    expect(violation?.matched.map((m) => m.principal)).toEqual([
      "arn:aws:iam::111122223333:role/admin",
      "arn:aws:iam::111122223333:root",
      "arn:aws:iam::999988887777:role/qubole-cluster-manager",
    ]);
  });

  it("lets an organization cover its OUs, and an OU only itself", () => {
    const ouArn = "arn:aws:organizations::111122223333:ou/o-a1b2c3d4e5/ou-ab12-cd34ef56";
    const orgArn = "arn:aws:organizations::111122223333:organization/o-a1b2c3d4e5";
    expect(evaluate(["o-a1b2c3d4e5"], [orgArn, ouArn])).toEqual([]);
    expect(evaluate(["ou-ab12-cd34ef56"], [ouArn])).toEqual([]);
    const [violation] = evaluate(["ou-ab12-cd34ef56"], [orgArn, ouArn]);
    expect(violation?.matched.map((m) => [m.principal, m.reason])).toEqual([
      [orgArn, "organization o-a1b2c3d4e5 is not allow-listed"],
    ]);
    expect(evaluate(["elasticloadbalancing.amazonaws.com"], ["elasticloadbalancing.amazonaws.com"])).toEqual(
      [],
    );
  });

  it("says so when the permissions were not given, rather than calling the service compliant", () => {
    const snapshot = serviceSnapshot(serviceConfiguration(), null);
    expect(vpceAllowedPrincipals.cannotEvaluate(snapshot)).toContain("DescribeVpcEndpointServicePermissions");
    expect(vpceAllowedPrincipals.evaluate(snapshot, options([]), none)).toEqual([]);
  });

  it("refuses allow-list entries it cannot read, and unknown options", () => {
    expect(vpceAllowedPrincipalsOptions.safeParse({ allowedPrincipals: ["qubole"] }).success).toBe(false);
    expect(
      vpceAllowedPrincipalsOptions.safeParse({ allowedPrincipals: [], allowedPrincipal: [] }).success,
    ).toBe(false);
  });

  it("remove-principals removes exactly the offending principals still listed", () => {
    const snapshot = serviceSnapshot(
      serviceConfiguration(),
      principals("arn:aws:iam::111122223333:root", "*", "arn:aws:iam::999988887777:root"),
    );
    const planned = removePrincipals.plan(
      snapshot,
      finding("vpce-allowed-principals", [
        { principal: "*" },
        { principal: "arn:aws:iam::999988887777:root" },
        // Named by an older read but already gone: not part of the write.
        { principal: "arn:aws:iam::555566667777:root" },
      ]),
      { trustedSources: [] },
    );
    expect(planned).toMatchObject({
      remediation: "remove-principals",
      complete: true,
      operation: {
        kind: "modify-vpc-endpoint-service-permissions",
        serviceId: SERVICE,
        removeAllowedPrincipals: ["*", "arn:aws:iam::999988887777:root"],
      },
      after: { AllowedPrincipals: ["arn:aws:iam::111122223333:root"] },
    });
    // The undo puts back exactly what was removed, quoted for the shell.
    expect(planned && removePrincipals.undo?.(planned, { account: "123456789012" })?.command).toBe(
      [
        "aws ec2 modify-vpc-endpoint-service-permissions",
        `--service-id '${SERVICE}'`,
        `--add-allowed-principals '["*","arn:aws:iam::999988887777:root"]'`,
      ].join(" \\\n  "),
    );
    expect(
      removePrincipals.plan(serviceSnapshot(), finding("vpce-allowed-principals", [{ principal: "*" }]), {
        trustedSources: [],
      }),
    ).toBeUndefined();
  });
});

describe("examples", () => {
  it("each rule's YAML example is a valid policy entry", () => {
    for (const rule of [vpceAcceptanceRequired, vpceAllowedPrincipals]) {
      const policy = parsePolicy(`version: 1\nrules:\n${rule.example}`, "example.yaml");
      expect(policy.rules[0]?.rule).toBe(rule.id);
    }
  });
});
