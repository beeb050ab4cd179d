import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AWS_HANDLED_EVENTS, AWS_SECURITY_GROUP, normaliseAwsEvent } from "../../../shared/events/aws.ts";
import type { NormaliseResult, ResourceChange } from "../../../shared/types.ts";

// Fixture sources are listed in test/fixtures/events/aws/README.md.
function fixture(name: string): Record<string, unknown> {
  const url = new URL(`../../fixtures/events/aws/${name}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")) as Record<string, unknown>;
}

function onlyChange(result: NormaliseResult | undefined): ResourceChange {
  expect(result?.skipped).toEqual([]);
  expect(result?.changes).toHaveLength(1);
  const change = result?.changes[0];
  if (change === undefined) throw new Error("no change");
  return change;
}

function detailOf(event: Record<string, unknown>): Record<string, unknown> {
  return event.detail as Record<string, unknown>;
}

describe("normaliseAwsEvent: security group changes", () => {
  it("AuthorizeSecurityGroupIngress, eventVersion 1.05, ipPermissions.items, no rule ids", () => {
    const event = fixture("authorize-ingress-v105-items");
    expect(onlyChange(normaliseAwsEvent(event))).toEqual({
      cloud: "aws",
      account: "112233445566",
      region: "us-east-1",
      resourceId: "sg-0d921df5d84f7270a",
      resourceType: AWS_SECURITY_GROUP,
      operation: "write",
      operationName: "AuthorizeSecurityGroupIngress",
      actor: {
        name: "arn:aws:sts::112233445566:assumed-role/Operator/ryan@example.com",
        principalId: "AROAIZCYMDBM4SJU65M54:ryan@example.com",
        principalType: "AssumedRole",
        appId: "arn:aws:iam::112233445566:role/Operator",
        sourceIp: "100.1.114.142",
      },
      eventId: "42155429-7e8e-43b5-9b5e-6953f80d51d5",
      correlationId: "2be70b99-4937-4a76-b7d9-390b6d0eda73",
      time: "2020-04-30T04:40:52Z",
      details: {
        eventBridgeId: "3b2f6d0e-5c7a-4e2b-9d0c-6f1a8e4b7c21",
        direction: "ingress",
        permissions: [{ IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "0.0.0.0/0" }] }],
        requestParameters: detailOf(event).requestParameters,
        eventVersion: "1.05",
        userAgent: "aws-sdk-go/1.24.1 (go1.14; darwin; amd64)",
      },
    });
  });

  it("AuthorizeSecurityGroupIngress, eventVersion 1.08, rule ids from securityGroupRuleSet, referenced group", () => {
    const event = fixture("authorize-ingress-v108-ruleset");
    expect(onlyChange(normaliseAwsEvent(event))).toEqual({
      cloud: "aws",
      account: "770203350335",
      region: "us-east-1",
      resourceId: "sg-01f414f5313452cd1",
      resourceType: AWS_SECURITY_GROUP,
      operation: "write",
      operationName: "AuthorizeSecurityGroupIngress",
      actor: {
        name: "arn:aws:sts::770203350335:assumed-role/Shibboleth-InfraMgt/engineer@example.edu",
        principalId: "AROA3GU5SOU7SMTVU2WWV:engineer@example.edu",
        principalType: "AssumedRole",
        appId: "arn:aws:iam::770203350335:role/Shibboleth-InfraMgt",
        sourceIp: "AWS Internal",
      },
      eventId: "1091b24b-5b58-4010-a065-4fd069c06872",
      correlationId: "7fcdb9af-59ef-4a6b-a3b2-3a7956005628",
      time: "2022-11-16T02:34:24Z",
      details: {
        eventBridgeId: "7400a4bd-d520-3e73-7dd9-beffc1e29501",
        direction: "ingress",
        ruleIds: ["sgr-052f232f61106d4c4"],
        // The rule the call created, as the response records it (a group reference: no CIDR).
        ruleSet: [
          {
            SecurityGroupRuleId: "sgr-052f232f61106d4c4",
            IsEgress: false,
            IpProtocol: "tcp",
            FromPort: 1521,
            ToPort: 1521,
          },
        ],
        permissions: [
          {
            IpProtocol: "tcp",
            FromPort: 1521,
            ToPort: 1521,
            UserIdGroupPairs: [
              {
                GroupId: "sg-0e4d6b8a99395a608",
                Description:
                  "Allows ingress to an rds instance created in another stack from the alb created in this stack.",
              },
            ],
          },
        ],
        requestParameters: detailOf(event).requestParameters,
        eventVersion: "1.08",
        userAgent: "AWS Internal",
        invokedBy: "cloudformation.amazonaws.com",
      },
    });
  });

  it("AuthorizeSecurityGroupIngress in the flat cidrIp/fromPort form, by an IAM user", () => {
    const change = onlyChange(normaliseAwsEvent(fixture("authorize-ingress-flat-cidr-iam-user")));
    expect(change.resourceId).toBe("sg-003dc7f1f1c686164");
    expect(change.account).toBe("032092706103");
    expect(change.actor).toEqual({
      name: "arn:aws:iam::032092706103:user/christophe",
      principalId: "AIDAQ5Y2TGCDATQV6SRP",
      principalType: "IAMUser",
      sourceIp: "203.0.113.25",
    });
    expect(change.details?.ruleIds).toEqual(["sgr-09b3e3d2ca1edf2a2"]);
    expect(change.details?.permissions).toEqual([
      { IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
    ]);
  });

  it("a call by groupName only takes the id from the response's rule set and keeps the name", () => {
    const change = onlyChange(normaliseAwsEvent(fixture("authorize-ingress-by-group-name")));
    expect(change.resourceId).toBe("sg-0632fa4ee8a8468a4");
    expect(change.details?.groupName).toBe("default");
    expect(change.details?.ruleIds).toEqual(["sgr-09be5c962afdc06ed"]);
    expect(change.details?.permissions).toEqual([
      { IpProtocol: "tcp", FromPort: 3389, ToPort: 3389, Ipv6Ranges: [{ CidrIpv6: "::/0" }] },
    ]);
  });

  it("a call by groupName with no id anywhere names the group for the reader to resolve", () => {
    const event = fixture("authorize-ingress-v105-items");
    const request = detailOf(event).requestParameters as Record<string, unknown>;
    delete request.groupId;
    request.groupName = "default";
    const change = onlyChange(normaliseAwsEvent(event));
    expect(change.resourceId).toBe("name:default");
    expect(change.details?.groupName).toBe("default");
  });

  it("ModifySecurityGroupRules: group id and rule update from the wrapped request", () => {
    const event = fixture("modify-security-group-rules");
    expect(onlyChange(normaliseAwsEvent(event))).toEqual({
      cloud: "aws",
      account: "123456789012",
      region: "us-east-1",
      resourceId: "sg-0123456789abcdef0",
      resourceType: AWS_SECURITY_GROUP,
      operation: "write",
      operationName: "ModifySecurityGroupRules",
      actor: {
        name: "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_AdministratorAccess_1a2b3c4d/amira@example.com",
        principalId: "AROAEXAMPLEID:amira@example.com",
        principalType: "AssumedRole",
        appId:
          "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AdministratorAccess_1a2b3c4d",
        sourceIp: "203.0.113.45",
      },
      eventId: "d5a9f2c7-3e81-4b6d-9f04-6a2e8c1b7d93",
      correlationId: "8e1b6c3a-5f27-4d90-a4e8-7b2c9d0f1e35",
      time: "2023-07-07T14:02:11Z",
      details: {
        eventBridgeId: "a2f7c9e4-13b8-4d5a-8c61-0e9b4d7f2a36",
        ruleIds: ["sgr-0d28445c956a5d8ac"],
        ruleUpdates: [
          {
            SecurityGroupRuleId: "sgr-0d28445c956a5d8ac",
            SecurityGroupRule: {
              IpProtocol: "tcp",
              FromPort: 443,
              ToPort: 443,
              CidrIpv4: "0.0.0.0/0",
              Description: "public https",
            },
          },
        ],
        requestParameters: detailOf(event).requestParameters,
        eventVersion: "1.08",
        userAgent: "console.ec2.amazonaws.com",
      },
    });
  });

  it("ModifySecurityGroupRules with several updates recorded as a list", () => {
    const event = fixture("modify-security-group-rules");
    const wrapped = (detailOf(event).requestParameters as Record<string, Record<string, unknown>>)
      .ModifySecurityGroupRulesRequest;
    if (wrapped === undefined) throw new Error("fixture changed");
    wrapped.SecurityGroupRule = [
      { SecurityGroupRuleId: "sgr-aaaa", SecurityGroupRule: { IpProtocol: "-1", CidrIpv6: "::/0" }, tag: 1 },
      {
        SecurityGroupRuleId: "sgr-bbbb",
        SecurityGroupRule: { IpProtocol: "udp", FromPort: 53, ToPort: 53 },
        tag: 2,
      },
    ];
    const change = onlyChange(normaliseAwsEvent(event));
    expect(change.details?.ruleIds).toEqual(["sgr-aaaa", "sgr-bbbb"]);
    expect(change.details?.ruleUpdates).toEqual([
      { SecurityGroupRuleId: "sgr-aaaa", SecurityGroupRule: { IpProtocol: "-1", CidrIpv6: "::/0" } },
      { SecurityGroupRuleId: "sgr-bbbb", SecurityGroupRule: { IpProtocol: "udp", FromPort: 53, ToPort: 53 } },
    ]);
  });

  it("CreateSecurityGroup takes the id from responseElements.groupId", () => {
    const event = fixture("create-security-group");
    expect(onlyChange(normaliseAwsEvent(event))).toEqual({
      cloud: "aws",
      account: "999999999999",
      region: "ap-northeast-1",
      resourceId: "sg-07111150655b49758",
      resourceType: AWS_SECURITY_GROUP,
      operation: "write",
      operationName: "CreateSecurityGroup",
      actor: {
        name: "arn:aws:sts::999999999999:assumed-role/EC2Role/i-05c3bdc7f6a978bf4",
        principalId: "AROAU33DBSJ5DV737T25D:i-05c3bdc7f6a978bf4",
        principalType: "AssumedRole",
        appId: "arn:aws:iam::999999999999:role/EC2Role",
        sourceIp: "35.75.17.11",
      },
      eventId: "85d9c3cb-37a4-492b-ba7c-39458f68e5db",
      correlationId: "fd95f82a-40b7-4f00-bf66-63fce8328aa4",
      time: "2023-01-17T04:05:16Z",
      details: {
        eventBridgeId: "f0b3e6a8-9c14-4d27-b5e0-8a3f1c6d2b79",
        groupName: "bluegreen_alb_sg-20230117040516059800000001",
        requestParameters: detailOf(event).requestParameters,
        eventVersion: "1.08",
        userAgent: expect.stringContaining("Terraform/1.3.5") as unknown,
      },
    });
  });

  it("RevokeSecurityGroupIngress by a Lambda remediator carries the role behind the session", () => {
    const change = onlyChange(normaliseAwsEvent(fixture("revoke-ingress")));
    expect(change.operation).toBe("write");
    expect(change.operationName).toBe("RevokeSecurityGroupIngress");
    expect(change.resourceId).toBe("sg-04c4d945debdf43b6");
    expect(change.actor.appId).toBe("arn:aws:iam::123456789012:role/SecurityGuard-RevokeOpenSSH-role");
    expect(change.actor.name).toBe(
      "arn:aws:sts::123456789012:assumed-role/SecurityGuard-RevokeOpenSSH-role/RevokeOpenSSH",
    );
    expect(change.details?.direction).toBe("ingress");
    expect(change.details?.ruleIds).toBeUndefined();
    expect(change.details?.permissions).toEqual([
      { IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
    ]);
  });

  it("AuthorizeSecurityGroupEgress with protocol -1 keeps the range description and has no ports", () => {
    const change = onlyChange(normaliseAwsEvent(fixture("authorize-egress-v105")));
    expect(change.resourceId).toBe("sg-03eee825d6bb78f54");
    expect(change.details?.direction).toBe("egress");
    expect(change.details?.permissions).toEqual([
      {
        IpProtocol: "-1",
        IpRanges: [
          {
            CidrIp: "0.0.0.0/0",
            Description:
              "Allow egress to the internet. Required for now until we land ECS/ECR endpoints in the VPC",
          },
        ],
      },
    ]);
  });

  it("DeleteSecurityGroup by name is a delete of name:<groupName>", () => {
    const change = onlyChange(normaliseAwsEvent(fixture("delete-security-group-by-name")));
    expect(change.operation).toBe("delete");
    expect(change.resourceId).toBe("name:bluegreen_alb_sg-20230117040516059800000001");
    expect(change.details?.groupName).toBe("bluegreen_alb_sg-20230117040516059800000001");
    expect(change.region).toBe("ap-northeast-1");
  });

  it("UpdateSecurityGroupRuleDescriptionsEgress maps like the other egress writes", () => {
    const event = fixture("authorize-egress-v105");
    detailOf(event).eventName = "UpdateSecurityGroupRuleDescriptionsEgress";
    const change = onlyChange(normaliseAwsEvent(event));
    expect(change.operationName).toBe("UpdateSecurityGroupRuleDescriptionsEgress");
    expect(change.details?.direction).toBe("egress");
  });

  it("every security group event maps to the security group type and every prefix list edit to the prefix list type; only DeleteSecurityGroup deletes", () => {
    const events = Object.entries(AWS_HANDLED_EVENTS).filter(
      ([name]) => name.includes("SecurityGroup") || name.includes("ManagedPrefixList"),
    );
    expect(events.length).toBe(11);
    for (const [name, handled] of events) {
      expect(handled.resourceType).toBe(
        name.includes("ManagedPrefixList") ? "aws:ec2:prefix-list" : AWS_SECURITY_GROUP,
      );
      expect(handled.operation).toBe(name === "DeleteSecurityGroup" ? "delete" : "write");
    }
  });

  it("a ModifyManagedPrefixList call is a change of the prefix list its wrapped request names", () => {
    const event = fixture("modify-managed-prefix-list");
    const change = onlyChange(normaliseAwsEvent(event));
    expect(change).toMatchObject({
      cloud: "aws",
      account: "598274344262",
      region: "us-west-2",
      resourceId: "pl-0c3516b0e5630bf3e",
      resourceType: "aws:ec2:prefix-list",
      operation: "write",
      operationName: "ModifyManagedPrefixList",
      actor: { name: "arn:aws:iam::598274344262:user/michael", principalType: "IAMUser" },
    });
    const detail = event.detail as Record<string, unknown>;
    const restore = {
      ...event,
      detail: {
        ...detail,
        eventName: "RestoreManagedPrefixListVersion",
        requestParameters: {
          RestoreManagedPrefixListVersionRequest: {
            PrefixListId: "pl-0c3516b0e5630bf3e",
            PreviousVersion: 1,
            CurrentVersion: 2,
          },
        },
      },
    };
    expect(onlyChange(normaliseAwsEvent(restore)).resourceId).toBe("pl-0c3516b0e5630bf3e");
    const nameless = {
      ...event,
      detail: { ...detail, requestParameters: { ModifyManagedPrefixListRequest: {} } },
    };
    expect(normaliseAwsEvent(nameless)?.skipped[0]).toMatchObject({ reason: "malformed" });
  });

  it("falls back to recipientAccountId and awsRegion when the envelope lacks them", () => {
    const event = fixture("authorize-ingress-v105-items");
    delete event.account;
    delete event.region;
    const change = onlyChange(normaliseAwsEvent(event));
    expect(change.account).toBe("112233445566");
    expect(change.region).toBe("us-east-1");
  });
});

describe("normaliseAwsEvent: tag changes on security groups (an exemption tag may have come or gone)", () => {
  it("CreateTags on a group and an instance evaluates the group only, with the tags it set", () => {
    const result = normaliseAwsEvent(fixture("ec2-create-tags-security-group"));
    expect(result?.skipped).toEqual([]);
    expect(result?.changes).toHaveLength(1);
    expect(result?.changes[0]).toMatchObject({
      cloud: "aws",
      account: "644160558196",
      region: "us-west-2",
      resourceId: "sg-0a1b2c3d4e5f60708",
      resourceType: AWS_SECURITY_GROUP,
      operation: "write",
      operationName: "CreateTags",
      eventId: "6b2f0d4e-8c57-4a31-9e24-f7d3b0a1c582",
      correlationId: "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
      actor: { principalType: "AssumedRole", sourceIp: "198.51.100.23" },
      details: { tags: [{ Key: "guardian:exempt", Value: "true" }] },
    });
  });

  it("DeleteTags is a write of the group (it stays), and each tagged group gets a change of its own", () => {
    const event = fixture("ec2-delete-tags-security-group");
    expect(onlyChange(normaliseAwsEvent(event))).toMatchObject({
      resourceId: "sg-0a1b2c3d4e5f60708",
      operation: "write",
      operationName: "DeleteTags",
      details: { tags: [{ Key: "guardian:exempt" }] },
    });
    const detail = event.detail as {
      requestParameters: { resourcesSet: { items: { resourceId: string }[] } };
    };
    detail.requestParameters.resourcesSet.items.push({ resourceId: "sg-0f9e8d7c6b5a40312" });
    expect(normaliseAwsEvent(event)?.changes.map((c) => c.resourceId)).toEqual([
      "sg-0a1b2c3d4e5f60708",
      "sg-0f9e8d7c6b5a40312",
    ]);
  });

  it("a failed CreateTags is skipped like any failed call", () => {
    const event = fixture("ec2-create-tags-security-group");
    Object.assign(event.detail as object, {
      errorCode: "Client.UnauthorizedOperation",
      errorMessage: "denied",
    });
    expect(normaliseAwsEvent(event)?.skipped[0]?.reason).toBe("failed-operation");
  });
});

describe("normaliseAwsEvent: skips", () => {
  function onlySkip(result: NormaliseResult | undefined) {
    expect(result?.changes).toEqual([]);
    expect(result?.skipped).toHaveLength(1);
    return result?.skipped[0];
  }

  it("a failed call is a failed-operation with the code and message", () => {
    expect(onlySkip(normaliseAwsEvent(fixture("authorize-ingress-duplicate-error")))).toEqual({
      reason: "failed-operation",
      eventId: "b7e3d1a9-6c24-4f8b-a05e-2d9c7f3b1e64",
      eventType: "AuthorizeSecurityGroupIngress",
      detail:
        'AuthorizeSecurityGroupIngress failed with Client.InvalidPermission.Duplicate: the specified rule "peer: 0.0.0.0/0, TCP, from port: 22, to port: 22, ALLOW" already exists',
    });
  });

  it("DescribeSecurityGroups is read-only", () => {
    expect(onlySkip(normaliseAwsEvent(fixture("describe-security-groups-read-only")))).toEqual({
      reason: "read-only",
      eventId: "1",
      eventType: "DescribeSecurityGroups",
      detail: "DescribeSecurityGroups is a read-only call",
    });
  });

  it("an unrelated service is irrelevant", () => {
    expect(onlySkip(normaliseAwsEvent(fixture("route53-change-record-sets")))).toEqual({
      reason: "irrelevant-event-type",
      eventId: "2e7a5c1b-9d46-4f3e-8b07-c4a1d6e9f285",
      eventType: "AWS API Call via CloudTrail",
      detail: 'aws.route53 "AWS API Call via CloudTrail" is not an EC2 API call',
    });
  });

  it("tags on resources that are no security group are irrelevant", () => {
    expect(onlySkip(normaliseAwsEvent(fixture("ec2-create-tags")))).toEqual({
      reason: "irrelevant-event-type",
      eventId: "5a1e9c3d-7b46-4f20-8d13-e6c2a9f0b471",
      eventType: "CreateTags",
      detail: "CreateTags tags no security group (vol-0f9e1b2c3d4e5f6a7, i-0dc224bad2cb08740)",
    });
  });

  it("another EC2 detail-type is irrelevant", () => {
    expect(onlySkip(normaliseAwsEvent(fixture("ec2-instance-state-change")))).toMatchObject({
      reason: "irrelevant-event-type",
      eventId: "7bf73129-1428-4cd3-a780-95db273d1602",
      eventType: "EC2 Instance State-change Notification",
    });
  });

  it("names the missing or wrong field of a malformed envelope", () => {
    const cases: Array<[(event: Record<string, unknown>) => void, string]> = [
      [(event) => delete event.detail, "detail is missing"],
      [(event) => (event.detail = "not an object"), "detail is not an object"],
      [(event) => (event.detail = [1, 2]), "detail is not an object"],
      [(event) => delete detailOf(event).eventName, "detail.eventName is missing"],
      [(event) => (detailOf(event).eventName = 42), "detail.eventName is not a non-empty string"],
      [(event) => delete event.source, "source is missing"],
      [(event) => (event.source = 7), "source is not a string"],
      [(event) => (event["detail-type"] = null), "detail-type is not a string"],
    ];
    for (const [mutate, expected] of cases) {
      const event = fixture("authorize-ingress-v105-items");
      mutate(event);
      const skipped = onlySkip(normaliseAwsEvent(event));
      expect(skipped?.reason).toBe("malformed");
      expect(skipped?.detail).toBe(expected);
    }
  });

  it("a handled call naming no group at all is malformed", () => {
    const event = fixture("revoke-ingress");
    detailOf(event).requestParameters = { ipPermissions: {} };
    const skipped = onlySkip(normaliseAwsEvent(event));
    expect(skipped?.reason).toBe("malformed");
    expect(skipped?.detail).toContain("neither groupId nor groupName");
  });

  it("a field of the wrong type is ignored, not fatal", () => {
    const event = fixture("authorize-ingress-v105-items");
    detailOf(event).userIdentity = "someone";
    detailOf(event).sourceIPAddress = 12;
    const change = onlyChange(normaliseAwsEvent(event));
    expect(change.actor).toEqual({});
    expect(change.resourceId).toBe("sg-0d921df5d84f7270a");
  });

  it("returns undefined for anything that is not an EventBridge event", () => {
    expect(normaliseAwsEvent(undefined)).toBeUndefined();
    expect(normaliseAwsEvent("AWS API Call via CloudTrail")).toBeUndefined();
    expect(normaliseAwsEvent([fixture("revoke-ingress")])).toBeUndefined();
    // An Event Grid event and a CloudEvent (which also has `source`) belong to the Azure normaliser.
    expect(
      normaliseAwsEvent({
        id: "1",
        eventType: "Microsoft.Resources.ResourceWriteSuccess",
        subject: "/subscriptions/x",
        data: {},
      }),
    ).toBeUndefined();
    expect(
      normaliseAwsEvent({
        specversion: "1.0",
        type: "Microsoft.Resources.ResourceWriteSuccess",
        source: "x",
      }),
    ).toBeUndefined();
  });
});

describe("normaliseAwsEvent: properties", () => {
  function checkShape(result: NormaliseResult | undefined): void {
    if (result === undefined) return;
    expect(result.changes.length + result.skipped.length).toBe(1);
    for (const change of result.changes) {
      expect(change.cloud).toBe("aws");
      expect(change.resourceType).toBe(AWS_SECURITY_GROUP);
      expect(change.resourceId).not.toBe("");
      expect(change.eventId).not.toBe("");
    }
  }

  it("arbitrary JSON never throws and yields undefined or one outcome", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        checkShape(normaliseAwsEvent(value));
      }),
      { numRuns: 500 },
    );
  });

  it("envelope-shaped values with arbitrary parts never throw", () => {
    const handledNames = Object.keys(AWS_HANDLED_EVENTS);
    const detail = fc.record(
      {
        eventName: fc.oneof(
          fc.constantFrom(...handledNames, "DescribeSecurityGroups", "CreateTags"),
          fc.jsonValue(),
        ),
        eventSource: fc.oneof(fc.constant("ec2.amazonaws.com"), fc.jsonValue()),
        eventID: fc.oneof(fc.uuid(), fc.jsonValue()),
        eventTime: fc.oneof(fc.constant("2024-01-01T00:00:00Z"), fc.jsonValue()),
        userIdentity: fc.jsonValue(),
        requestParameters: fc.oneof(
          fc.jsonValue(),
          fc.record(
            {
              groupId: fc.oneof(fc.constant("sg-1"), fc.jsonValue()),
              groupName: fc.jsonValue(),
              ipPermissions: fc.jsonValue(),
              ModifySecurityGroupRulesRequest: fc.jsonValue(),
              cidrIp: fc.jsonValue(),
              fromPort: fc.jsonValue(),
            },
            { requiredKeys: [] },
          ),
        ),
        responseElements: fc.jsonValue(),
        errorCode: fc.jsonValue(),
        readOnly: fc.jsonValue(),
      },
      { requiredKeys: [] },
    );
    const envelope = fc.record(
      {
        "detail-type": fc.oneof(fc.constant("AWS API Call via CloudTrail"), fc.jsonValue()),
        source: fc.oneof(fc.constant("aws.ec2"), fc.jsonValue()),
        id: fc.jsonValue(),
        account: fc.oneof(fc.constant("123456789012"), fc.jsonValue()),
        region: fc.jsonValue(),
        detail: fc.oneof(detail, fc.jsonValue()),
      },
      { requiredKeys: ["detail-type"] },
    );
    fc.assert(
      fc.property(envelope, (value) => {
        const result = normaliseAwsEvent(value);
        expect(result).toBeDefined();
        checkShape(result);
      }),
      { numRuns: 1000 },
    );
  });
});
