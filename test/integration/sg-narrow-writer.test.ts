// The security group writer's narrowing (revoke-cidr on a tcp/udp range wider than the protected ports) against moto's
// EC2: authorize the unprotected ranges for the same CIDRs, then revoke the original by content. Moto enforces the
// per-group rule quota (RulesPerSecurityGroupLimitExceeded, 60 by default like AWS) and answers a repeated
// authorize with InvalidPermission.Duplicate, as EC2 does.

import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateVpcCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
  type IpPermission,
  RevokeSecurityGroupIngressCommand,
} from "@aws-sdk/client-ec2";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createEc2Client } from "../../shared/clouds/aws/client.ts";
import { AWS_SECURITY_GROUP_TYPE } from "../../shared/clouds/aws/security-group-reader.ts";
import { AwsSecurityGroupWriter } from "../../shared/clouds/aws/security-group-writer.ts";
import type { CallCounter } from "../../shared/clouds/ports.ts";
import { ConflictError } from "../../shared/errors.ts";
import { revokeCidr } from "../../shared/remediation/revoke-cidr.ts";
import { sgIngressExposure } from "../../shared/rules/sg-ingress-exposure.ts";
import type { Finding, PlannedChange, Snapshot } from "../../shared/types.ts";
import { type Ec2Proxy, startEc2Proxy } from "../harness/ec2-proxy.ts";
import { ec2ClientFor, MOTO_ACCOUNT, type MotoServer, startMoto } from "../harness/moto.ts";

const WORLD_TCP: IpPermission = {
  IpProtocol: "tcp",
  FromPort: 0,
  ToPort: 65535,
  IpRanges: [
    { CidrIp: "0.0.0.0/0", Description: "all tcp" },
    { CidrIp: "10.0.0.0/16", Description: "office vpn" },
  ],
};

describe("revoke-cidr narrowing against moto", () => {
  let moto: MotoServer;
  let ec2: EC2Client;
  let counter: CallCounter;
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
    writer = new AwsSecurityGroupWriter({ clients: ec2, counter });
  });

  async function groupWith(...permissions: IpPermission[]): Promise<string> {
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/16" }));
    const created = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: "web", Description: "web", VpcId: vpc.Vpc?.VpcId }),
    );
    const groupId = created.GroupId ?? "";
    for (const p of permissions) {
      await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [p] }));
    }
    return groupId;
  }

  async function snapshotOf(groupId: string): Promise<Snapshot> {
    const out = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
    return {
      cloud: "aws",
      resourceId: groupId,
      resourceType: AWS_SECURITY_GROUP_TYPE,
      resource: out.SecurityGroups?.[0] as unknown as Record<string, unknown>,
      tags: {},
      account: MOTO_ACCOUNT,
      region: "us-east-1",
    };
  }

  function planFor(snapshot: Snapshot): PlannedChange {
    const options = sgIngressExposure.options.parse({ ports: [22, 3389], protocols: ["tcp", "udp"] });
    const violation = sgIngressExposure
      .evaluate(snapshot, options, { trustedSources: [] })
      .find((v) => v.kind === "world-open");
    if (!violation) throw new Error("expected a world-open violation");
    const finding: Finding = {
      policyRule: "no-admin-ports-from-world",
      ruleId: "sg-ingress-exposure",
      resourceId: snapshot.resourceId,
      resourceType: snapshot.resourceType,
      severity: "high",
      message: violation.message,
      controls: [],
      matched: violation.matched,
      kind: "world-open",
    };
    const plan = revokeCidr.plan(snapshot, finding, { trustedSources: [] });
    if (!plan) throw new Error("expected a plan");
    return plan;
  }

  /** (from-to, cidr, description) of every ingress source, sorted. */
  async function sources(groupId: string): Promise<string[]> {
    const out = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
    return (out.SecurityGroups?.[0]?.IpPermissions ?? [])
      .flatMap((p) =>
        (p.IpRanges ?? []).map((r) =>
          `${p.IpProtocol} ${p.FromPort}-${p.ToPort} ${r.CidrIp} ${r.Description ?? ""}`.trim(),
        ),
      )
      .sort();
  }

  it("authorizes the unprotected ranges with the rule's description, then revokes the original; other CIDRs stay", async () => {
    const groupId = await groupWith(WORLD_TCP);
    const snapshot = await snapshotOf(groupId);
    await writer.apply(planFor(snapshot), snapshot);
    expect(await sources(groupId)).toEqual(
      [
        "tcp 0-21 0.0.0.0/0 all tcp",
        "tcp 23-3388 0.0.0.0/0 all tcp",
        "tcp 3390-65535 0.0.0.0/0 all tcp",
        "tcp 0-65535 10.0.0.0/16 office vpn",
      ].sort(),
    );
    expect(counter.writes).toBe(2);
  });

  it("does not send a range the group already holds (a duplicate is fine), and sends what is missing", async () => {
    const groupId = await groupWith(WORLD_TCP, {
      IpProtocol: "tcp",
      FromPort: 23,
      ToPort: 3388,
      IpRanges: [{ CidrIp: "0.0.0.0/0", Description: "someone's own" }],
    });
    const snapshot = await snapshotOf(groupId);
    const plan = planFor(snapshot);
    await writer.apply(plan, snapshot);
    expect(await sources(groupId)).toEqual(
      [
        "tcp 0-21 0.0.0.0/0 all tcp",
        "tcp 23-3388 0.0.0.0/0 someone's own",
        "tcp 3390-65535 0.0.0.0/0 all tcp",
        "tcp 0-65535 10.0.0.0/16 office vpn",
      ].sort(),
    );
    // A second delivery after the first landed: everything to authorize is there, the original is gone: a conflict
    // (the pipeline re-reads and finds nothing offending), and nothing the first call added is taken away.
    await expect(writer.apply(plan, snapshot)).rejects.toThrow(ConflictError);
    expect(await sources(groupId)).toHaveLength(4);
  });

  it("takes back what it authorized when the original vanished meanwhile: never more open than the owner left it", async () => {
    const groupId = await groupWith(WORLD_TCP);
    const snapshot = await snapshotOf(groupId);
    const plan = planFor(snapshot);
    // The owner removes the world-open range between the guardian's read and its write.
    await ec2.send(
      new RevokeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: [
          { IpProtocol: "tcp", FromPort: 0, ToPort: 65535, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
        ],
      }),
    );
    await expect(writer.apply(plan, snapshot)).rejects.toThrow(ConflictError);
    expect(await sources(groupId)).toEqual(["tcp 0-65535 10.0.0.0/16 office vpn"]);
  });

  it("revokes the whole range when the rule quota refuses the authorize, and the summary says what else closed", async () => {
    // 58 more rules: the three ranges to authorize would take the group past 60.
    const filler: IpPermission = {
      IpProtocol: "tcp",
      FromPort: 8443,
      ToPort: 8443,
      IpRanges: Array.from({ length: 58 }, (_, i) => ({ CidrIp: `172.16.${i}.0/24` })),
    };
    const groupId = await groupWith(WORLD_TCP, filler);
    const snapshot = await snapshotOf(groupId);
    const plan = planFor(snapshot);
    await writer.apply(plan, snapshot);
    // Closing the world-open admin ports wins: nothing from 0.0.0.0/0 is left.
    expect((await sources(groupId)).filter((s) => s.includes("0.0.0.0/0"))).toEqual([]);
    expect(plan.summary).toContain("RulesPerSecurityGroupLimitExceeded");
    expect(plan.summary).toContain("so the whole range was revoked: also closes");
    // The audit's after-state and the undo match what happened: nothing was authorized.
    expect(plan.after).toHaveLength(1);
    expect(plan.operation).not.toHaveProperty("authorize");
    expect(revokeCidr.undo?.(plan, { account: MOTO_ACCOUNT })?.command).toMatch(
      /^aws ec2 authorize-security-group-ingress/,
    );
  });

  describe("through a proxy that edits the group or loses answers", () => {
    let proxy: Ec2Proxy;
    let proxied: EC2Client;
    beforeEach(async () => {
      proxy = await startEc2Proxy(moto.endpoint);
      proxied = createEc2Client({
        endpoint: proxy.endpoint,
        region: "us-east-1",
        credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
        retry: "throttling-only",
      });
      writer = new AwsSecurityGroupWriter({ clients: proxied, counter });
    });
    afterEach(async () => {
      proxied?.destroy();
      await proxy?.stop();
    });

    it("takes InvalidPermission.Duplicate (a range that arrived after its read) as done and sends the rest", async () => {
      const groupId = await groupWith(WORLD_TCP);
      const snapshot = await snapshotOf(groupId);
      let edited = false;
      proxy.beforeForward = async (call) => {
        if (call.action !== "AuthorizeSecurityGroupIngress" || edited) return;
        edited = true;
        // Someone authorizes one of the same ranges between the writer's read and its authorize.
        await ec2.send(
          new AuthorizeSecurityGroupIngressCommand({
            GroupId: groupId,
            IpPermissions: [
              { IpProtocol: "tcp", FromPort: 0, ToPort: 21, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
            ],
          }),
        );
      };
      await writer.apply(planFor(snapshot), snapshot);
      const authorizes = proxy.bodies.filter((b) => b.get("Action") === "AuthorizeSecurityGroupIngress");
      // The first met the duplicate (EC2 applies none of an authorize that holds one); the second sent the two left.
      expect(authorizes.map((b) => b.get("IpPermissions.1.FromPort"))).toEqual(["0", "23"]);
      expect(await sources(groupId)).toEqual(
        [
          "tcp 0-21 0.0.0.0/0",
          "tcp 23-3388 0.0.0.0/0 all tcp",
          "tcp 3390-65535 0.0.0.0/0 all tcp",
          "tcp 0-65535 10.0.0.0/16 office vpn",
        ].sort(),
      );
    });

    it("settles an authorize whose answer was lost by reading, then revokes", async () => {
      const groupId = await groupWith(WORLD_TCP);
      const snapshot = await snapshotOf(groupId);
      let lost = false;
      proxy.faults = {
        decide: (call) => {
          if (call.action !== "AuthorizeSecurityGroupIngress" || lost) return undefined;
          lost = true;
          return { kind: "reset-after" };
        },
      };
      await writer.apply(planFor(snapshot), snapshot);
      // One authorize (moto applied it, the answer was lost), a read that found all three ranges, the revoke.
      expect(proxy.actions.filter((a) => !a.startsWith("Describe"))).toEqual([
        "AuthorizeSecurityGroupIngress",
        "RevokeSecurityGroupIngress",
      ]);
      expect(await sources(groupId)).toEqual(
        [
          "tcp 0-21 0.0.0.0/0 all tcp",
          "tcp 23-3388 0.0.0.0/0 all tcp",
          "tcp 3390-65535 0.0.0.0/0 all tcp",
          "tcp 0-65535 10.0.0.0/16 office vpn",
        ].sort(),
      );
    });
  });
});
