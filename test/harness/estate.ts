// Large estates for the emulators (bench and scale tests): thousands of NSGs with realistic rule counts, storage
// accounts, and security groups across several VPCs, a known share of them open. Resources follow the fixtures'
// shapes (nsg-empty.json re-homed, storage account fixture); a seeded PRNG makes each estate reproducible.

import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateVpcCommand,
  type EC2Client,
  type IpPermission,
} from "@aws-sdk/client-ec2";
import { NSG_ID, nsgWith } from "../fixtures/azure/nsg/nsg.ts";
import { ACCOUNT_ID, account } from "../fixtures/azure/storage/storage.ts";
import type { ArmEmulator } from "./arm-emulator/index.ts";

/** mulberry32: a small seeded PRNG, so an estate is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface AzureEstateOptions {
  subscriptionId: string;
  nsgs: number;
  storageAccounts?: number;
  /** Every k-th NSG also allows SSH from the Internet (0: none). */
  openEvery?: number;
  resourceGroups?: number;
  seed?: number;
}

export interface SeededAzureEstate {
  nsgIds: string[];
  openNsgIds: string[];
  storageIds: string[];
}

const PORTS = ["443", "80", "8080", "5432", "1433", "6379", "9092", "8443", "3000-3010", "10250"];
const SOURCES = ["VirtualNetwork", "AzureLoadBalancer", "10.0.0.0/8", "172.16.0.0/12", "192.168.10.0/24"];

/** NSGs with 4–40 rules each (most real NSGs hold a handful to a few dozen), over several resource groups. */
export function seedAzureEstate(emu: ArmEmulator, options: AzureEstateOptions): SeededAzureEstate {
  const random = prng(options.seed ?? 1);
  const groups = options.resourceGroups ?? Math.max(1, Math.ceil(options.nsgs / 500));
  const out: SeededAzureEstate = { nsgIds: [], openNsgIds: [], storageIds: [] };
  for (let i = 0; i < options.nsgs; i++) {
    const rg = `rg-estate-${i % groups}`;
    const id = `/subscriptions/${options.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Network/networkSecurityGroups/nsg-${i}`;
    const count = 4 + Math.floor(random() * random() * 37);
    const rules: Parameters<typeof nsgWith>[0][number][] = [];
    for (let r = 0; r < count; r++) {
      rules.push({
        name: `rule-${r}`,
        priority: 200 + r * 10,
        source: SOURCES[Math.floor(random() * SOURCES.length)] ?? "VirtualNetwork",
        ports: PORTS[Math.floor(random() * PORTS.length)] ?? "443",
      });
    }
    const open = options.openEvery !== undefined && options.openEvery > 0 && i % options.openEvery === 0;
    if (open) rules.push({ name: "ssh-from-internet", priority: 100, source: "Internet", ports: "22" });
    const nsg = JSON.parse(JSON.stringify(nsgWith(rules)).replaceAll(NSG_ID, id)) as Record<string, unknown>;
    nsg.name = `nsg-${i}`;
    emu.seed(nsg);
    out.nsgIds.push(id);
    if (open) out.openNsgIds.push(id);
  }
  for (let i = 0; i < (options.storageAccounts ?? 0); i++) {
    const rg = `rg-estate-${i % groups}`;
    const id = `/subscriptions/${options.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Storage/storageAccounts/stestate${i}`;
    const resource = JSON.parse(JSON.stringify(account()).replaceAll(ACCOUNT_ID, id)) as Record<
      string,
      unknown
    >;
    resource.name = `stestate${i}`;
    emu.seed(resource);
    out.storageIds.push(id);
  }
  return out;
}

export interface AwsEstateOptions {
  groups: number;
  /** Security groups per VPC (several VPCs, as a real account has). */
  perVpc?: number;
  /** Every k-th group also allows SSH from 0.0.0.0/0 (0: none). */
  openEvery?: number;
  /** Calls in flight while seeding. */
  concurrency?: number;
}

export interface SeededAwsEstate {
  groupIds: string[];
  openGroupIds: string[];
}

/** Security groups with one to three ingress permissions each across VPCs of `perVpc` groups. */
export async function seedAwsEstate(ec2: EC2Client, options: AwsEstateOptions): Promise<SeededAwsEstate> {
  const perVpc = options.perVpc ?? 250;
  const vpcs: string[] = [];
  for (let v = 0; v * perVpc < options.groups; v++) {
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: `10.${v % 256}.0.0/16` }));
    vpcs.push(vpc.Vpc?.VpcId ?? "");
  }
  const out: SeededAwsEstate = { groupIds: new Array(options.groups), openGroupIds: [] };
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < options.groups; i = next++) {
      const group = await ec2.send(
        new CreateSecurityGroupCommand({
          GroupName: `estate-${i}`,
          Description: `estate group ${i}`,
          VpcId: vpcs[Math.floor(i / perVpc)],
        }),
      );
      const groupId = group.GroupId ?? "";
      const permissions: IpPermission[] = [
        { IpProtocol: "tcp", FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: "10.0.0.0/8" }] },
      ];
      const open = options.openEvery !== undefined && options.openEvery > 0 && i % options.openEvery === 0;
      if (open)
        permissions.push({
          IpProtocol: "tcp",
          FromPort: 22,
          ToPort: 22,
          IpRanges: [{ CidrIp: "0.0.0.0/0" }],
        });
      // One authorize per group: the permissions go in together, as a template would create them.
      await ec2.send(
        new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: permissions }),
      );
      out.groupIds[i] = groupId;
      if (open) out.openGroupIds.push(groupId);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  return out;
}
