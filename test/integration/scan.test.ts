// The scan use case over both emulators (ARM emulator pages of 2, moto's EC2): it finds exactly the seeded drift
// and nothing else, remediates it through the event path's pipeline (a second scan is clean), and a list that
// fails mid-scan yields a report saying what was covered and what was not.

import { readFileSync } from "node:fs";
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateVpcCommand,
  type EC2Client,
} from "@aws-sdk/client-ec2";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { memoryAuditSink } from "../../shared/audit/index.ts";
import { awsPort } from "../../shared/clouds/aws/runtime.ts";
import { azurePort } from "../../shared/clouds/azure/index.ts";
import { AzureNetwork } from "../../shared/clouds/azure/network.ts";
import { pageLister } from "../../shared/clouds/listers.ts";
import { memoryLogger } from "../../shared/log.ts";
import type { GuardianDeps } from "../../shared/pipeline.ts";
import { loadPolicyFile } from "../../shared/policy/file.ts";
import type { Policy } from "../../shared/policy/schema.ts";
import { evaluateSnapshots } from "../../shared/usecases/offline.ts";
import { type ScanReport, type ScanTarget, scanEstate } from "../../shared/usecases/scan.ts";
import { snapshotsFromJson } from "../../shared/usecases/snapshots.ts";
import { NSG_ID, nsgWith } from "../fixtures/azure/nsg/nsg.ts";
import {
  type ArmEmulator,
  mintToken,
  DEFAULT_SUBSCRIPTION_ID as SUB,
  startArmEmulator,
  staticTokenCredential,
} from "../harness/arm-emulator/index.ts";
import { assertMotoInstalled, ec2ClientFor, type MotoServer, startMoto } from "../harness/moto.ts";

const REGION = "us-east-1";
const nsgId = (rg: string, name: string) =>
  `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.Network/networkSecurityGroups/${name}`;

/** nsg-empty.json with these rules, re-homed at `id` (every child id follows). */
function nsgAt(id: string, rules: Parameters<typeof nsgWith>[0]): Record<string, unknown> {
  const json = JSON.stringify(nsgWith(rules)).replaceAll(NSG_ID, id);
  const nsg = JSON.parse(json) as Record<string, unknown>;
  nsg.name = id.split("/").at(-1);
  return nsg;
}

let emu: ArmEmulator;
let moto: MotoServer;
let ec2: EC2Client;
let network: AzureNetwork;
let policy: Policy;

beforeAll(async () => {
  assertMotoInstalled();
  [emu, moto, policy] = await Promise.all([
    startArmEmulator({ lroPolls: 0, pageSize: 2 }),
    startMoto(),
    loadPolicyFile("policies/baseline.yaml"),
  ]);
  ec2 = ec2ClientFor(moto.endpoint);
  network = new AzureNetwork({
    credential: staticTokenCredential(mintToken({ oid: "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d" })),
    endpoint: emu.url,
    ca: emu.ca,
    retryDelayInMs: 5,
    maxRetries: 2,
  });
}, 60_000);
afterAll(async () => {
  await Promise.all([emu?.stop(), moto?.stop()]);
});

const ssh = { name: "allow-ssh", priority: 100, source: "Internet", ports: "22" };
const https = { name: "allow-https", priority: 110, source: "VirtualNetwork", ports: "443" };
const rdpFromOffice = { name: "rdp-office", priority: 120, source: "10.1.0.0/16", ports: "3389" };

let openGroup = "";
let cleanGroup = "";
let vpcId = "";

beforeEach(async () => {
  emu.reset();
  await moto.reset();
  emu.seed(nsgAt(nsgId("rg-a", "nsg-ssh-open"), [ssh, https]));
  emu.seed(nsgAt(nsgId("rg-a", "nsg-clean-1"), [https]));
  emu.seed(nsgAt(nsgId("rg-a", "nsg-clean-2"), [rdpFromOffice]));
  emu.seed(nsgAt(nsgId("rg-b", "nsg-clean-3"), []));
  emu.seed(nsgAt(nsgId("rg-b", "nsg-rdp-open"), [{ ...ssh, name: "rdp-any", ports: "3389", source: "*" }]));
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.20.0.0/16" }));
  vpcId = vpc.Vpc?.VpcId ?? "";
  const open = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: "web-open", Description: "web", VpcId: vpcId }),
  );
  const clean = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: "web-clean", Description: "web", VpcId: vpcId }),
  );
  openGroup = open.GroupId ?? "";
  cleanGroup = clean.GroupId ?? "";
  await ec2.send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: openGroup,
      IpPermissions: [{ IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "0.0.0.0/0" }] }],
    }),
  );
  await ec2.send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: cleanGroup,
      IpPermissions: [
        { IpProtocol: "tcp", FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: "10.0.0.0/8" }] },
      ],
    }),
  );
});

function deps(): GuardianDeps & { audit: ReturnType<typeof memoryAuditSink> } {
  return {
    policy,
    clouds: { azure: azurePort(network), aws: awsPort(ec2, []) },
    outbox: { enqueue: async () => [] },
    audit: memoryAuditSink(),
    selfIdentities: [],
    dryRun: false,
    log: memoryLogger(),
  };
}

const targets: ScanTarget[] = [
  { cloud: "azure", subscriptionId: SUB },
  { cloud: "aws", region: REGION },
];
const lister = () => pageLister({ azure: network, aws: ec2, awsPageSize: 5 });

/** Drift the baseline counts (exempt findings aside), as `resource → policy rules`. */
function drift(report: ScanReport): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of report.findings) {
    if (f.exempt) continue;
    const key = f.resourceId.split("/").at(-1) ?? f.resourceId;
    out[key] = [...(out[key] ?? []), f.policyRule];
  }
  for (const list of Object.values(out)) list.sort();
  return out;
}

/** moto's default VPCs come with default groups that allow all egress: CIS AWS 5.4 drift moto seeds itself. */
function withoutDefaultGroups(found: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(
    Object.entries(found).filter(([, rules]) => !rules.every((r) => r === "aws-default-group-has-no-rules")),
  );
}

describe("scanEstate", () => {
  it("finds exactly the seeded drift, report-only: nothing is written, each finding says what it would get", async () => {
    const d = deps();
    const report = await scanEstate(targets, d, lister(), { remediate: false, runId: "t1" });
    expect(report.complete).toBe(true);
    expect(withoutDefaultGroups(drift(report))).toEqual({
      "nsg-ssh-open": ["azure-no-ssh-from-internet"],
      "nsg-rdp-open": ["azure-no-rdp-from-internet"],
      [openGroup]: ["aws-no-admin-ports-from-world"],
    });
    // The remaining findings are moto's own default groups (one per VPC), nothing else.
    const defaults = Object.entries(drift(report)).filter(([, r]) =>
      r.includes("aws-default-group-has-no-rules"),
    );
    expect(defaults.length).toBe(2);
    // Every NSG was listed through pages of 2, and the SGs through pages of 5.
    const nsgCov = report.coverage.find((c) => c.kind === "network-security-group");
    expect(nsgCov).toMatchObject({ listed: 5, pages: 3, complete: true });
    expect(report.totals.evaluated).toBe(report.totals.listed);
    // Report-only: the planned fix is shown, nothing was written.
    const sshAction = report.actions.find((a) => a.resourceId.endsWith("nsg-ssh-open"));
    expect(sshAction).toMatchObject({ outcome: "dry-run", mode: "remediate" });
    expect(sshAction?.wouldDo).toContain("allow-ssh");
    expect(emu.requests.filter((r) => r.method !== "GET")).toEqual([]);
    // Audited as the event path audits, under the run's event ids.
    expect(d.audit.records.some((r) => r.eventId.startsWith("scan:t1:") && r.outcome === "dry-run")).toBe(
      true,
    );
  }, 60_000);

  it("gives the same findings as guardian evaluate on the same resources", async () => {
    const report = await scanEstate(targets, deps(), lister(), { remediate: false });
    // The NSGs as the emulator holds them, evaluated offline.
    const nsgs = [
      "rg-a/nsg-ssh-open",
      "rg-a/nsg-clean-1",
      "rg-a/nsg-clean-2",
      "rg-b/nsg-clean-3",
      "rg-b/nsg-rdp-open",
    ]
      .map((p) => p.split("/") as [string, string])
      .map(([rg, name]) => emu.get(nsgId(rg, name)));
    const offline = evaluateSnapshots(policy, snapshotsFromJson(nsgs, "nsgs"));
    const azureFindings = report.findings.filter((f) => f.resourceId.startsWith("/subscriptions/"));
    const key = (f: { resourceId: string; policyRule: string }) => `${f.resourceId} ${f.policyRule}`;
    expect(azureFindings.map(key).sort()).toEqual(offline.findings.map(key).sort());
    expect(azureFindings.sort((a, b) => key(a).localeCompare(key(b)))).toEqual(
      offline.findings.sort((a, b) => key(a).localeCompare(key(b))),
    );
  }, 60_000);

  it("--remediate fixes the drift through the pipeline (fresh read, etag) and a second scan is clean", async () => {
    const d = deps();
    const first = await scanEstate(targets, d, lister(), { remediate: true, maxWrites: 10 });
    expect(first.complete).toBe(true);
    const applied = first.actions.filter((a) => a.outcome === "applied").map((a) => a.policyRule);
    expect(applied.sort()).toEqual([
      "aws-no-admin-ports-from-world",
      "azure-no-rdp-from-internet",
      "azure-no-ssh-from-internet",
    ]);
    // Every write carried an etag read just before it (the listed copy never feeds a write).
    const writes = emu.requests.filter((r) => r.method !== "GET");
    expect(writes.length).toBe(2);
    const second = await scanEstate(targets, deps(), lister(), { remediate: false });
    // Only alert-mode drift remains: moto's default groups (alert mode), nothing the remediation could fix.
    expect(withoutDefaultGroups(drift(second))).toEqual({});
    expect(second.actions.filter((a) => a.mode === "remediate")).toEqual([]);
  }, 60_000);

  it("the blast-radius cap bounds the writes of the whole scan", async () => {
    const report = await scanEstate(targets, deps(), lister(), { remediate: true, maxWrites: 1 });
    expect(report.actions.filter((a) => a.outcome === "applied").length).toBe(1);
    expect(report.actions.filter((a) => a.outcome === "skipped-cap").length).toBe(2);
  }, 60_000);

  it("a list that fails mid-scan: the report says what it covered and what it did not", async () => {
    let lists = 0;
    const off = emu.beforeAnswer((entry) => {
      if (entry.method === "GET" && /networkSecurityGroups$/i.test(entry.path) && ++lists === 1) {
        // After the first page, every further NSG page fails past the SDK's retries.
        emu.injectFault({ method: "GET", pathIncludes: "networkSecurityGroups", times: 50, status: 503 });
      }
    });
    try {
      const report = await scanEstate(targets, deps(), lister(), { remediate: false });
      expect(report.complete).toBe(false);
      const nsg = report.coverage.find((c) => c.kind === "network-security-group");
      expect(nsg).toMatchObject({ complete: false, pages: 1, listed: 2 });
      expect(nsg?.error).toMatch(/503|list/);
      // The other streams were covered in full.
      expect(
        report.coverage.filter((c) => c.kind !== "network-security-group").every((c) => c.complete),
      ).toBe(true);
      expect(drift(report)[openGroup]).toEqual(["aws-no-admin-ports-from-world"]);
    } finally {
      off();
    }
  }, 60_000);

  it("reaches subnets through their networks: each subnet of a listed network is judged", async () => {
    const vnet = JSON.parse(readFileSync("test/fixtures/azure/subnet/vnet-qubole.json", "utf8")) as {
      properties: { subnets: { name: string; properties: Record<string, unknown> }[] };
    };
    // The seeded network references nothing the emulator holds: keep its subnets plain.
    for (const s of vnet.properties.subnets) {
      for (const key of [
        "networkSecurityGroup",
        "routeTable",
        "serviceEndpointPolicies",
        "ipConfigurations",
      ]) {
        delete s.properties[key];
      }
    }
    emu.seed(vnet);
    const onlyAzure: ScanTarget[] = [{ cloud: "azure", subscriptionId: SUB }];
    const report = await scanEstate(onlyAzure, deps(), lister(), { remediate: false, runId: "t-subnets" });
    expect(report.coverage.find((c) => c.kind === "virtual-network")).toMatchObject({
      listed: 1,
      complete: true,
    });
    const found = drift(report);
    // snet-private and snet-scratch keep their storage endpoints without a policy; no subnet has an NSG now, the
    // reserved ones (GatewaySubnet, AzureBastionSubnet) excepted.
    expect(found["snet-private"]).toEqual([
      "azure-storage-endpoint-needs-policy",
      "azure-subnets-need-an-nsg",
    ]);
    expect(found["snet-scratch"]).toEqual([
      "azure-storage-endpoint-needs-policy",
      "azure-subnets-need-an-nsg",
    ]);
    expect(found["snet-public"]).toEqual(["azure-subnets-need-an-nsg"]);
    expect(found.GatewaySubnet).toBeUndefined();
    expect(found.AzureBastionSubnet).toBeUndefined();
    expect(emu.requests.filter((r) => r.method !== "GET")).toEqual([]);
  }, 60_000);
});
