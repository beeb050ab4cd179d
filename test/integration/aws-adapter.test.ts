// The AWS adapter against moto 5's EC2 (real SDK, real HTTP), plus a few canned EC2 responses for what moto
// cannot produce. Shapes follow the EC2 API reference (DescribeSecurityGroups, RevokeSecurityGroupIngress:
// `return` and `unknownIpPermissionSet`; the common error response `<Response><Errors><Error>`), and moto's
// own output, which the tests compare against what the SDK returns directly.
//
// Where moto differs from AWS (checked with moto 5.2):
// - Unmatched revokes: AWS answers InvalidPermission.NotFound in a non-default VPC but, in the default VPC,
//   Return=true with unknownIpPermissionSet. moto raises InvalidPermission.NotFound everywhere, so the
//   default-VPC answer is served by a stub below. The writer turns both into a ConflictError.
// - A new VPC's default group: AWS gives it an inbound rule from the group itself; moto gives it none, so the
//   test adds that rule before revoking everything.
// - moto supports DescribeSecurityGroupRules and revoking by SecurityGroupRuleIds; an unknown rule id gives
//   InvalidPermission.NotFound there (AWS: InvalidSecurityGroupRuleId.NotFound); both map to ConflictError.

import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateManagedPrefixListCommand,
  CreateSecurityGroupCommand,
  CreateVpcCommand,
  DescribeManagedPrefixListsCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
  type IpPermission,
  type SecurityGroup,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createEc2Client } from "../../shared/clouds/aws/client.ts";
import { awsConsoleUrl } from "../../shared/clouds/aws/console.ts";
import { isOwnAwsIdentity } from "../../shared/clouds/aws/identity.ts";
import { groupsReferencing } from "../../shared/clouds/aws/prefix-lists.ts";
import {
  AWS_SECURITY_GROUP_TYPE,
  AwsSecurityGroupReader,
  parseSecurityGroupResourceId,
  securityGroupNameRef,
} from "../../shared/clouds/aws/security-group-reader.ts";
import { AwsSecurityGroupWriter } from "../../shared/clouds/aws/security-group-writer.ts";
import type { CallCounter, ResourceRef } from "../../shared/clouds/ports.ts";
import { ConflictError, InputError, TransientError } from "../../shared/errors.ts";
import type { PlannedChange, Snapshot } from "../../shared/types.ts";
import { startEc2Proxy } from "../harness/ec2-proxy.ts";
import { ec2ClientFor, MOTO_ACCOUNT, type MotoServer, startMoto } from "../harness/moto.ts";

const REGION = "us-east-1";

function ref(resourceId: string): ResourceRef {
  return {
    cloud: "aws",
    resourceId,
    resourceType: AWS_SECURITY_GROUP_TYPE,
    account: MOTO_ACCOUNT,
    region: REGION,
  };
}

function change(operation: Record<string, unknown>, resourceId: string): PlannedChange {
  return {
    remediation: "test",
    resourceId,
    summary: "test revoke",
    operation,
    before: undefined,
    after: undefined,
  };
}

function group(snapshot: Snapshot | undefined): SecurityGroup {
  if (snapshot === undefined) throw new Error("expected a snapshot");
  return snapshot.resource as SecurityGroup;
}

function sshPermissions(sg: SecurityGroup): IpPermission | undefined {
  return sg.IpPermissions?.find((p) => p.IpProtocol === "tcp" && p.FromPort === 22);
}

describe("AWS security group adapter against moto", () => {
  let moto: MotoServer;
  let ec2: EC2Client;
  let counter: CallCounter;
  let reader: AwsSecurityGroupReader;
  let writer: AwsSecurityGroupWriter;

  beforeAll(async () => {
    moto = await startMoto();
    ec2 = ec2ClientFor(moto.endpoint);
  });
  afterAll(async () => {
    ec2?.destroy();
    await moto?.stop();
  });
  beforeEach(async () => {
    await moto.reset();
    counter = { reads: 0, writes: 0 };
    reader = new AwsSecurityGroupReader({ clients: ec2, counter });
    writer = new AwsSecurityGroupWriter({ clients: ec2, counter });
  });

  /** A VPC with "web": tcp 22 from 10.0.0.0/16 and 0.0.0.0/0, from the "bastion" group and from a prefix list. */
  async function seed() {
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/16" }));
    const vpcId = vpc.Vpc?.VpcId ?? "";
    const web = await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: "web",
        Description: "web tier",
        VpcId: vpcId,
        TagSpecifications: [{ ResourceType: "security-group", Tags: [{ Key: "env", Value: "prod" }] }],
      }),
    );
    const bastion = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: "bastion", Description: "bastion hosts", VpcId: vpcId }),
    );
    const prefixList = await ec2.send(
      new CreateManagedPrefixListCommand({
        PrefixListName: "corp",
        AddressFamily: "IPv4",
        MaxEntries: 5,
        Entries: [{ Cidr: "192.168.0.0/24", Description: "office" }],
      }),
    );
    const webId = web.GroupId ?? "";
    const bastionId = bastion.GroupId ?? "";
    const prefixListId = prefixList.PrefixList?.PrefixListId ?? "";
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: webId,
        IpPermissions: [
          {
            IpProtocol: "tcp",
            FromPort: 22,
            ToPort: 22,
            IpRanges: [{ CidrIp: "10.0.0.0/16" }, { CidrIp: "0.0.0.0/0", Description: "temporary" }],
            UserIdGroupPairs: [{ GroupId: bastionId }],
            PrefixListIds: [{ PrefixListId: prefixListId }],
          },
        ],
      }),
    );
    return { vpcId, webId, bastionId, prefixListId };
  }

  it("reads a group by id as the SDK's item, with tags and owner, and resolves the prefix list it references", async () => {
    const { webId, prefixListId } = await seed();
    const snapshot = await reader.read(ref(webId));
    const direct = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [webId] }));

    expect(snapshot).toBeDefined();
    expect(snapshot?.resource).toEqual(direct.SecurityGroups?.[0]);
    expect(snapshot).toMatchObject({
      cloud: "aws",
      resourceId: webId,
      resourceType: AWS_SECURITY_GROUP_TYPE,
      tags: { env: "prod" },
      account: MOTO_ACCOUNT,
      region: REGION,
    });
    expect(snapshot?.etag).toBeUndefined();
    // The customer-managed list's entries come along, so rules can judge what it allows.
    expect(snapshot?.related).toEqual({
      prefixLists: {
        [prefixListId]: {
          state: "customer-managed",
          id: prefixListId,
          name: "corp",
          ownerId: MOTO_ACCOUNT,
          entries: [{ Cidr: "192.168.0.0/24", Description: "office" }],
        },
      },
    });
    // DescribeSecurityGroups, DescribeManagedPrefixLists, GetManagedPrefixListEntries.
    expect(counter).toEqual({ reads: 3, writes: 0 });
  });

  it("resolves an AWS-managed list by its owner without reading its entries, and each list once per reader", async () => {
    const { webId } = await seed();
    const managed = await ec2.send(
      new DescribeManagedPrefixListsCommand({ Filters: [{ Name: "owner-id", Values: ["AWS"] }] }),
    );
    const s3 = managed.PrefixLists?.find((l) => l.PrefixListName?.endsWith(".s3"));
    expect(s3?.OwnerId).toBe("AWS");
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: webId,
        IpPermissions: [
          {
            IpProtocol: "tcp",
            FromPort: 443,
            ToPort: 443,
            PrefixListIds: [{ PrefixListId: s3?.PrefixListId }],
          },
        ],
      }),
    );
    const first = await reader.read(ref(webId));
    const lists = first?.related?.prefixLists as Record<string, { state: string }>;
    expect(lists[s3?.PrefixListId ?? ""]).toEqual({
      state: "aws-managed",
      id: s3?.PrefixListId,
      name: s3?.PrefixListName,
      ownerId: "AWS",
    });
    expect(counter.reads).toBe(3);
    // Read again by the same reader (the same invocation): no prefix list call.
    await reader.read(ref(webId));
    expect(counter.reads).toBe(4);
    // A new reader (a new invocation) reads the lists afresh.
    await new AwsSecurityGroupReader({ clients: ec2, counter }).read(ref(webId));
    expect(counter.reads).toBe(7);
  });

  it("finds every group that references a prefix list, inbound or outbound", async () => {
    const { webId, bastionId, prefixListId } = await seed();
    await ec2.send(
      new AuthorizeSecurityGroupEgressCommand({
        GroupId: bastionId,
        IpPermissions: [{ IpProtocol: "-1", PrefixListIds: [{ PrefixListId: prefixListId }] }],
      }),
    );
    // moto 5.2 does not implement these two filters; the EC2 proxy of the test harness answers them from moto's state.
    const proxy = await startEc2Proxy(moto.endpoint);
    const client = ec2ClientFor(proxy.endpoint);
    try {
      const found = await groupsReferencing(prefixListId, { clients: client, counter, region: REGION });
      expect(found.sort()).toEqual([webId, bastionId].sort());
      expect(
        await groupsReferencing("pl-00000000000000000", { clients: client, counter, region: REGION }),
      ).toEqual([]);
    } finally {
      client.destroy();
      await proxy.stop();
    }
  });

  it("revokes exactly the 0.0.0.0/0 CIDR and keeps 10.0.0.0/16, the group reference and the prefix list", async () => {
    const { webId, bastionId, prefixListId } = await seed();
    const snapshot = await reader.read(ref(webId));
    const ssh = sshPermissions(group(snapshot));
    // Planned as a remediation would: the matched permission narrowed to the offending range only
    // (Description included, as copied from the snapshot; the writer drops it).
    const offending = ssh?.IpRanges?.filter((r) => r.CidrIp === "0.0.0.0/0");
    expect(offending).toEqual([{ CidrIp: "0.0.0.0/0", Description: "temporary" }]);
    const operation = {
      kind: "revoke-security-group-ingress",
      groupId: webId,
      ipPermissions: [{ IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: offending }],
    };
    await writer.apply(change(operation, webId), snapshot as Snapshot);

    const after = sshPermissions(group(await reader.read(ref(webId))));
    expect(after?.IpRanges).toEqual([{ CidrIp: "10.0.0.0/16" }]);
    expect(after?.UserIdGroupPairs?.map((p) => p.GroupId)).toEqual([bastionId]);
    expect(after?.PrefixListIds).toEqual([{ PrefixListId: prefixListId }]);
    // Two DescribeSecurityGroups, the prefix list resolved once (two calls) for both, and the writer's
    // DescribeSecurityGroupRules (the ids of the rules its revoke removes).
    expect(counter).toEqual({ reads: 5, writes: 1 });
  });

  it("resolves a name-only ref (CloudTrail groupName) to the group and revokes through it", async () => {
    const { vpcId, webId } = await seed();
    const byName = await reader.read(ref(securityGroupNameRef("web")));
    expect(byName?.resourceId).toBe(webId);
    const scoped = await reader.read(ref(securityGroupNameRef("web", vpcId)));
    expect(scoped?.resource).toEqual(byName?.resource);

    const operation = {
      kind: "revoke-security-group-ingress",
      groupId: byName?.resourceId,
      ipPermissions: [{ IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "0.0.0.0/0" }] }],
    };
    await writer.apply(change(operation, webId), byName as Snapshot);
    const cidrs = sshPermissions(group(await reader.read(ref(webId))))?.IpRanges?.map((r) => r.CidrIp);
    expect(cidrs).toEqual(["10.0.0.0/16"]);
  });

  it("refuses to guess when a name matches groups in several VPCs", async () => {
    // Every VPC has a group named "default": moto's default VPC and the seeded one.
    const { vpcId } = await seed();
    await expect(reader.read(ref(securityGroupNameRef("default")))).rejects.toThrow(InputError);
    const scoped = await reader.read(ref(securityGroupNameRef("default", vpcId)));
    expect(group(scoped).VpcId).toBe(vpcId);
  });

  it("returns undefined for a group that does not exist, by id and by name", async () => {
    await seed();
    expect(await reader.read(ref("sg-0123456789abcdef0"))).toBeUndefined();
    expect(await reader.read(ref(securityGroupNameRef("no-such-group")))).toBeUndefined();
    expect(counter.reads).toBe(2);
  });

  it("throws ConflictError when the permission to revoke is already gone", async () => {
    const { webId } = await seed();
    const snapshot = await reader.read(ref(webId));
    const operation = {
      kind: "revoke-security-group-ingress",
      groupId: webId,
      ipPermissions: [{ IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "0.0.0.0/0" }] }],
    };
    await writer.apply(change(operation, webId), snapshot as Snapshot);
    // Someone else (or an earlier delivery of the same event) already removed it: re-read, never retry.
    const second = writer.apply(change(operation, webId), snapshot as Snapshot);
    await expect(second).rejects.toThrow(ConflictError);
    await expect(second).rejects.toMatchObject({ resourceId: webId });
    // Nothing else was touched by the failed call.
    const cidrs = sshPermissions(group(await reader.read(ref(webId))))?.IpRanges?.map((r) => r.CidrIp);
    expect(cidrs).toEqual(["10.0.0.0/16"]);
  });

  it("compares with the group's rules right before revoking, and sends nothing when the source is gone", async () => {
    const { webId } = await seed();
    const snapshot = await reader.read(ref(webId));
    const operation = {
      kind: "revoke-security-group-ingress",
      groupId: webId,
      ipPermissions: [{ IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "0.0.0.0/0" }] }],
    };
    // Someone revokes it between the guardian's read and its write.
    await new AwsSecurityGroupWriter({ clients: ec2 }).apply(change(operation, webId), snapshot as Snapshot);
    counter.writes = 0;
    const late = writer.apply(change(operation, webId), snapshot as Snapshot);
    await expect(late).rejects.toThrow(ConflictError);
    await expect(late).rejects.toThrow(/not sent/);
    expect(counter.writes).toBe(0);
  });

  it("throws ConflictError when the group itself is gone", async () => {
    const { webId } = await seed();
    const snapshot = await reader.read(ref(webId));
    const gone = { ...(snapshot as Snapshot), resourceId: "sg-0123456789abcdef0" };
    const operation = {
      kind: "revoke-security-group-ingress",
      groupId: "sg-0123456789abcdef0",
      ipPermissions: [{ IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "0.0.0.0/0" }] }],
    };
    await expect(writer.apply(change(operation, gone.resourceId), gone)).rejects.toThrow(ConflictError);
  });

  it("refuses to revoke by security group rule id: an id survives ModifySecurityGroupRules", async () => {
    const { webId } = await seed();
    const rules = await ec2.send(
      new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: "group-id", Values: [webId] }] }),
    );
    const world = rules.SecurityGroupRules?.find((r) => r.IsEgress === false && r.CidrIpv4 === "0.0.0.0/0");
    expect(world?.SecurityGroupRuleId).toMatch(/^sgr-/);
    const snapshot = await reader.read(ref(webId));
    const operation = {
      kind: "revoke-security-group-ingress",
      groupId: webId,
      securityGroupRuleIds: [world?.SecurityGroupRuleId],
    };
    await expect(writer.apply(change(operation, webId), snapshot as Snapshot)).rejects.toThrow(InputError);
    expect(counter.writes).toBe(0);
    const cidrs = sshPermissions(group(await reader.read(ref(webId))))?.IpRanges?.map((r) => r.CidrIp);
    expect(cidrs).toEqual(["10.0.0.0/16", "0.0.0.0/0"]);
  });

  it("revokes every rule of a VPC's default group (EC2.2), inbound and outbound", async () => {
    const { vpcId } = await seed();
    const initial = await reader.read(ref(securityGroupNameRef("default", vpcId)));
    const defaultId = initial?.resourceId ?? "";
    // AWS creates this self-reference in every default group; moto does not, so add it.
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: defaultId,
        IpPermissions: [{ IpProtocol: "-1", UserIdGroupPairs: [{ GroupId: defaultId }] }],
      }),
    );
    const snapshot = await reader.read(ref(defaultId));
    const sg = group(snapshot);
    expect(sg.IpPermissions?.length).toBe(1);
    expect(sg.IpPermissionsEgress?.[0]?.IpRanges).toEqual([{ CidrIp: "0.0.0.0/0" }]);

    counter.writes = 0;
    const operation = {
      kind: "revoke-security-group-rules",
      groupId: defaultId,
      ingress: sg.IpPermissions,
      egress: sg.IpPermissionsEgress,
    };
    await writer.apply(change(operation, defaultId), snapshot as Snapshot);
    const after = group(await reader.read(ref(defaultId)));
    expect(after.IpPermissions).toEqual([]);
    expect(after.IpPermissionsEgress).toEqual([]);
    expect(counter.writes).toBe(2);

    // Nothing left to revoke: no call at all.
    const empty = { ...operation, ingress: after.IpPermissions, egress: after.IpPermissionsEgress };
    await writer.apply(change(empty, defaultId), snapshot as Snapshot);
    expect(counter.writes).toBe(2);
  });

  it("rejects a malformed operation before calling EC2", async () => {
    const { webId } = await seed();
    const snapshot = await reader.read(ref(webId));
    // CloudTrail's camelCase request shape is not the SDK's.
    const camel = {
      kind: "revoke-security-group-ingress",
      groupId: webId,
      ipPermissions: [
        { ipProtocol: "tcp", fromPort: 22, toPort: 22, ipRanges: { items: [{ cidrIp: "0.0.0.0/0" }] } },
      ],
    };
    await expect(writer.apply(change(camel, webId), snapshot as Snapshot)).rejects.toThrow(InputError);
    const both = { kind: "revoke-security-group-ingress", groupId: webId };
    await expect(writer.apply(change(both, webId), snapshot as Snapshot)).rejects.toThrow(InputError);
    const unknownKind = { kind: "delete-security-group", groupId: webId };
    await expect(writer.apply(change(unknownKind, webId), snapshot as Snapshot)).rejects.toThrow(InputError);
    const otherGroup = { ...camel, groupId: "sg-0123456789abcdef0", ipPermissions: [{ IpProtocol: "-1" }] };
    await expect(writer.apply(change(otherGroup, webId), snapshot as Snapshot)).rejects.toThrow(/targets/);
    expect(counter.writes).toBe(0);
  });
});

// DescribeSecurityGroupRules as EC2 answers it (API reference, SecurityGroupRule), with the one rule the canned
// revokes below remove: the writer compares with it right before the revoke and keeps its id to settle a lost answer.
const WORLD_SSH_RULE = `<?xml version="1.0" encoding="UTF-8"?>
<DescribeSecurityGroupRulesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</requestId>
  <securityGroupRuleSet>
    <item>
      <securityGroupRuleId>sgr-0b15b1a8c4a1e2f30</securityGroupRuleId>
      <groupId>sg-0a1b2c3d4e5f60718</groupId>
      <groupOwnerId>123456789012</groupOwnerId>
      <isEgress>false</isEgress>
      <ipProtocol>tcp</ipProtocol>
      <fromPort>22</fromPort>
      <toPort>22</toPort>
      <cidrIpv4>0.0.0.0/0</cidrIpv4>
      <tagSet/>
    </item>
  </securityGroupRuleSet>
</DescribeSecurityGroupRulesResponse>`;

/**
 * Serves canned EC2 Query API answers for what moto cannot do (throttling, the default-VPC revoke answer);
 * DescribeSecurityGroupRules is answered with the rule the canned revokes remove.
 */
async function startStub(answer: (action: string) => { status: number; body: string }) {
  const actions: string[] = [];
  const server: Server = createServer((request: IncomingMessage, response) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => {
      body += chunk;
    });
    request.on("end", () => {
      const action = new URLSearchParams(body).get("Action") ?? "";
      actions.push(action);
      const { status, body: xml } =
        action === "DescribeSecurityGroupRules" ? { status: 200, body: WORLD_SSH_RULE } : answer(action);
      response.writeHead(status, { "content-type": "text/xml;charset=UTF-8" });
      response.end(xml);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    actions,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const EC2_ERROR = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>a1b2c3d4-5678-90ab-cdef-EXAMPLE11111</RequestID></Response>`;

const SNAPSHOT: Snapshot = {
  cloud: "aws",
  resourceId: "sg-0a1b2c3d4e5f60718",
  resourceType: AWS_SECURITY_GROUP_TYPE,
  resource: {},
  tags: {},
  account: MOTO_ACCOUNT,
  region: REGION,
};
const REVOKE_WORLD_SSH = change(
  {
    kind: "revoke-security-group-ingress",
    groupId: SNAPSHOT.resourceId,
    ipPermissions: [{ IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "0.0.0.0/0" }] }],
  },
  SNAPSHOT.resourceId,
);

function stubClient(endpoint: string): EC2Client {
  return createEc2Client({
    region: REGION,
    endpoint,
    maxAttempts: 2,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
}

describe("AWS security group adapter against canned EC2 answers", () => {
  it("treats Return=true with unknownIpPermissionSet (default VPC) as a conflict", async () => {
    const stub = await startStub(() => ({
      status: 200,
      body: `<?xml version="1.0" encoding="UTF-8"?>
<RevokeSecurityGroupIngressResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
  <return>true</return>
  <unknownIpPermissionSet>
    <item><ipProtocol>tcp</ipProtocol><fromPort>22</fromPort><toPort>22</toPort><groups/><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges><ipv6Ranges/><prefixListIds/></item>
  </unknownIpPermissionSet>
</RevokeSecurityGroupIngressResponse>`,
    }));
    const client = stubClient(stub.endpoint);
    try {
      const writer = new AwsSecurityGroupWriter({ clients: client });
      await expect(writer.apply(REVOKE_WORLD_SSH, SNAPSHOT)).rejects.toThrow(ConflictError);
      expect(stub.actions).toEqual(["DescribeSecurityGroupRules", "RevokeSecurityGroupIngress"]);
    } finally {
      client.destroy();
      await stub.close();
    }
  });

  it("turns throttling past the SDK's retries into TransientError, for writes and reads", async () => {
    const stub = await startStub(() => ({
      status: 503,
      body: EC2_ERROR("RequestLimitExceeded", "Request limit exceeded."),
    }));
    const client = stubClient(stub.endpoint);
    try {
      const counter = { reads: 0, writes: 0 };
      const writer = new AwsSecurityGroupWriter({ clients: client, counter });
      const reader = new AwsSecurityGroupReader({ clients: () => client, counter });
      await expect(writer.apply(REVOKE_WORLD_SSH, SNAPSHOT)).rejects.toThrow(TransientError);
      await expect(reader.read(ref(SNAPSHOT.resourceId))).rejects.toThrow(TransientError);
      // maxAttempts 2: the SDK retried each call once before giving up.
      expect(stub.actions).toEqual([
        "DescribeSecurityGroupRules",
        "RevokeSecurityGroupIngress",
        "RevokeSecurityGroupIngress",
        "DescribeSecurityGroups",
        "DescribeSecurityGroups",
      ]);
      expect(counter).toEqual({ reads: 2, writes: 1 });
    } finally {
      client.destroy();
      await stub.close();
    }
  });

  it("rethrows other EC2 errors with the call and group in the message", async () => {
    const stub = await startStub(() => ({
      status: 403,
      body: EC2_ERROR("UnauthorizedOperation", "You are not authorized to perform this operation."),
    }));
    const client = stubClient(stub.endpoint);
    try {
      const writer = new AwsSecurityGroupWriter({ clients: client });
      const failure = writer.apply(REVOKE_WORLD_SSH, SNAPSHOT);
      await expect(failure).rejects.toThrow(
        /RevokeSecurityGroupIngress on sg-0a1b2c3d4e5f60718 failed \(UnauthorizedOperation\)/,
      );
      await expect(failure).rejects.not.toBeInstanceOf(ConflictError);
      await expect(failure).rejects.not.toBeInstanceOf(TransientError);
    } finally {
      client.destroy();
      await stub.close();
    }
  });

  it("turns an unreachable endpoint into TransientError", async () => {
    const stub = await startStub(() => ({ status: 500, body: "" }));
    await stub.close(); // the port is now closed: connections are refused
    const client = stubClient(stub.endpoint);
    try {
      const reader = new AwsSecurityGroupReader({ clients: client });
      await expect(reader.read(ref(SNAPSHOT.resourceId))).rejects.toThrow(TransientError);
    } finally {
      client.destroy();
    }
  });
});

describe("AWS helpers", () => {
  it("builds the EC2 console link of a group", () => {
    expect(awsConsoleUrl("eu-west-1", "sg-0a1b2c3d4e5f60718")).toBe(
      "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#SecurityGroup:groupId=sg-0a1b2c3d4e5f60718",
    );
  });

  it("parses security group refs", () => {
    expect(parseSecurityGroupResourceId("sg-0a1b2c3d4e5f60718")).toEqual({
      by: "id",
      groupId: "sg-0a1b2c3d4e5f60718",
    });
    expect(
      parseSecurityGroupResourceId("arn:aws:ec2:us-east-1:123456789012:security-group/sg-0a1b2c3d4e5f60718"),
    ).toEqual({
      by: "id",
      groupId: "sg-0a1b2c3d4e5f60718",
    });
    expect(parseSecurityGroupResourceId("name:web tier")).toEqual({ by: "name", groupName: "web tier" });
    expect(parseSecurityGroupResourceId("name:vpc-0a1b2c3d/web")).toEqual({
      by: "name",
      groupName: "web",
      vpcId: "vpc-0a1b2c3d",
    });
    expect(() => parseSecurityGroupResourceId("i-0a1b2c3d")).toThrow(InputError);
    expect(() => parseSecurityGroupResourceId("name:")).toThrow(InputError);
  });

  describe("isOwnAwsIdentity", () => {
    // userIdentity of an AssumedRole caller, as CloudTrail records it: arn is the session, sessionIssuer.arn the role.
    const own = ["arn:aws:iam::111122223333:role/service-role/network-guardian"];

    it("matches the guardian's own assumed-role session and its issuer role", () => {
      expect(
        isOwnAwsIdentity(
          { name: "arn:aws:sts::111122223333:assumed-role/network-guardian/network-guardian-fn" },
          own,
        ),
      ).toBe(true);
      expect(
        isOwnAwsIdentity(
          {
            name: "AROAEXAMPLEID:session",
            appId: "arn:aws:iam::111122223333:role/service-role/network-guardian",
          },
          own,
        ),
      ).toBe(true);
      expect(
        isOwnAwsIdentity({ name: "arn:aws:sts::111122223333:assumed-role/Network-Guardian/x" }, own),
      ).toBe(true);
    });

    it("does not match other roles, accounts, partitions or users", () => {
      expect(
        isOwnAwsIdentity({ name: "arn:aws:sts::111122223333:assumed-role/network-guardian-dev/x" }, own),
      ).toBe(false);
      expect(
        isOwnAwsIdentity({ name: "arn:aws:sts::444455556666:assumed-role/network-guardian/x" }, own),
      ).toBe(false);
      expect(
        isOwnAwsIdentity({ name: "arn:aws-cn:sts::111122223333:assumed-role/network-guardian/x" }, own),
      ).toBe(false);
      expect(isOwnAwsIdentity({ name: "arn:aws:iam::111122223333:user/network-guardian" }, own)).toBe(false);
      expect(isOwnAwsIdentity({}, own)).toBe(false);
      expect(
        isOwnAwsIdentity({ name: "arn:aws:sts::111122223333:assumed-role/network-guardian/x" }, []),
      ).toBe(false);
    });
  });
});
