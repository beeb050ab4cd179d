// The endpoint service and VPC endpoint decoders behind the CloudTrail envelope, over the fixtures of
// test/fixtures/events/aws/ (README there: how each record is assembled).

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { AWS_HANDLED_EVENTS, normaliseAwsEvent } from "../../../shared/events/aws.ts";
import { stringList } from "../../../shared/events/cloudtrail/privatelink.ts";

type Json = Record<string, unknown>;
const fixture = (name: string): Json =>
  JSON.parse(readFileSync(new URL(`../../fixtures/events/aws/${name}`, import.meta.url), "utf8")) as Json;
const normalise = (event: Json) => {
  const result = normaliseAwsEvent(event);
  if (!result) throw new Error("not an EventBridge event");
  return result;
};
const SERVICE = "vpce-svc-0e7555fb6441987e1";
const ENGINEER =
  "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_AdministratorAccess_1a2b3c4d/amira@example.com";

describe("endpoint service calls", () => {
  it("routes the three calls that change a service to the endpoint service kind", () => {
    for (const name of [
      "CreateVpcEndpointServiceConfiguration",
      "ModifyVpcEndpointServiceConfiguration",
      "ModifyVpcEndpointServicePermissions",
    ]) {
      expect(AWS_HANDLED_EVENTS[name]).toEqual({
        resourceType: "aws:ec2:vpc-endpoint-service",
        operation: "write",
      });
    }
  });

  it("finds a new service's id in the response", () => {
    const { changes, skipped } = normalise(fixture("create-vpc-endpoint-service-configuration.json"));
    expect(skipped).toEqual([]);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      resourceId: SERVICE,
      resourceType: "aws:ec2:vpc-endpoint-service",
      operationName: "CreateVpcEndpointServiceConfiguration",
      actor: { name: ENGINEER },
      details: { acceptanceRequired: true },
    });
  });

  it("records that a call turned acceptance off, and who", () => {
    const [change] = normalise(
      fixture("modify-vpc-endpoint-service-configuration-acceptance-off.json"),
    ).changes;
    expect(change).toMatchObject({
      resourceId: SERVICE,
      actor: { name: ENGINEER },
      details: { acceptanceRequired: false },
    });
  });

  it("records the principals a call added and removed, one or a list", () => {
    const [star] = normalise(fixture("modify-vpc-endpoint-service-permissions-add-star.json")).changes;
    expect(star?.details).toMatchObject({ addedPrincipals: ["*"] });
    expect(star?.details?.removedPrincipals).toBeUndefined();
    const [list] = normalise(fixture("modify-vpc-endpoint-service-permissions-list.json")).changes;
    expect(list?.details).toMatchObject({
      addedPrincipals: ["arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:role/analytics"],
      removedPrincipals: ["arn:aws:iam::999988887777:root"],
    });
  });

  it("dead-letters a call that names no service, and skips a failed one", () => {
    const event = fixture("modify-vpc-endpoint-service-configuration-acceptance-off.json");
    const detail = event.detail as Json;
    detail.requestParameters = {
      ModifyVpcEndpointServiceConfigurationRequest: { AcceptanceRequired: false },
    };
    expect(normalise(event).skipped[0]).toMatchObject({ reason: "malformed" });
    const failed = fixture("modify-vpc-endpoint-service-configuration-acceptance-off.json");
    Object.assign(failed.detail as Json, {
      errorCode: "InvalidVpcEndpointServiceId.NotFound",
      responseElements: null,
    });
    expect(normalise(failed).skipped[0]).toMatchObject({ reason: "failed-operation" });
  });
});

describe("VPC endpoint calls", () => {
  it("evaluates the VPC a new endpoint belongs to", () => {
    const [change, ...rest] = normalise(fixture("create-vpc-endpoint-gateway-s3.json")).changes;
    expect(rest).toEqual([]);
    expect(change).toMatchObject({
      resourceId: "vpc-0c1d2e3f4a5b6c7d8",
      resourceType: "aws:ec2:vpc",
      operation: "write",
      details: {
        serviceName: "com.amazonaws.us-east-1.s3",
        vpcEndpointType: "Gateway",
        vpcEndpointIds: ["vpce-0a1b2c3d4e5f60789"],
      },
    });
  });

  it("names the endpoint when the call does not name its VPC", () => {
    const [change] = normalise(fixture("modify-vpc-endpoint-policy.json")).changes;
    expect(change).toMatchObject({
      resourceId: "endpoint:vpce-0a1b2c3d4e5f60789",
      details: { policyChanged: true, vpcEndpointIds: ["vpce-0a1b2c3d4e5f60789"] },
    });
  });

  it("makes one change per endpoint a delete names, and never treats it as the VPC's deletion", () => {
    const { changes } = normalise(fixture("delete-vpc-endpoints.json"));
    expect(changes.map((c) => [c.resourceId, c.operation])).toEqual([
      ["endpoint:vpce-0a1b2c3d4e5f60789", "write"],
      ["endpoint:vpce-0f89a33420c1931d7", "write"],
    ]);
  });

  it("reads recorded string lists in every shape CloudTrail writes them", () => {
    expect(stringList({ content: "a", tag: 1 })).toEqual(["a"]);
    expect(stringList([{ content: "a", tag: 1 }, "b", { tag: 3 }])).toEqual(["a", "b"]);
    expect(stringList(undefined)).toEqual([]);
    expect(stringList("")).toEqual([]);
  });
});
