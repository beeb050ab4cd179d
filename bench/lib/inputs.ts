// Resources and events of a chosen size for the no-I/O and scale benchmarks, grown from the real-shaped fixtures:
// the Resource Notifications NSG event (test/fixtures/events/azure, shape of event-schema-resources.md), the
// NetworkSecurityGroupGet example of the ARM spec (test/fixtures/azure/nsg) and a DescribeSecurityGroups item
// (test/fixtures/aws/sg). Only the number of rules or permissions changes; every field keeps the fixture's shape.
import { readFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./world.ts";

type Json = Record<string, unknown>;

const fixture = (relative: string): Json =>
  JSON.parse(readFileSync(path.join(ROOT, "test", "fixtures", relative), "utf8")) as Json;

/** `count` inbound rules in the ARM shape: the first opens SSH to the Internet, the rest allow HTTPS privately. */
export function armRules(nsgId: string, count: number): Json[] {
  return Array.from({ length: count }, (_, i) => {
    const name = i === 0 ? "allow-ssh" : `allow-https-${i}`;
    return {
      name,
      id: `${nsgId}/securityRules/${name}`,
      etag: `W/"00000000-0000-0000-0000-${String(i).padStart(12, "0")}"`,
      type: "Microsoft.Network/networkSecurityGroups/securityRules",
      properties: {
        provisioningState: "Succeeded",
        protocol: "Tcp",
        sourcePortRange: "*",
        destinationPortRange: i === 0 ? "22" : "443",
        sourceAddressPrefix: i === 0 ? "Internet" : `10.${Math.floor(i / 250) % 250}.${i % 250}.0/24`,
        destinationAddressPrefix: "*",
        access: "Allow",
        priority: 100 + i,
        direction: "Inbound",
        sourcePortRanges: [],
        destinationPortRanges: [],
        sourceAddressPrefixes: [],
        destinationAddressPrefixes: [],
      },
    };
  });
}

/** A Resource Notifications CreatedOrUpdated event carrying an NSG of `rules` rules. */
export function nsgNotification(rules: number): Json {
  const event = fixture("events/azure/resource-notifications-created-nsg.eventgrid.json");
  const data = event.data as { resourceInfo: { id: string; properties: Json } };
  data.resourceInfo.properties.securityRules = armRules(data.resourceInfo.id, rules);
  return event;
}

/**
 * The documented Resource Notifications storage sample (booleans as 1/0), closed to selected networks, with `ips` IP
 * rules and `subnets` VNet rules of its own subscription: under the baseline, one finding (IP rules it does not allow).
 */
export function storageNotification(ips: number, subnets: number): Json {
  const event = fixture("events/azure/resource-notifications-created-storage.eventgrid.json");
  const data = event.data as { resourceInfo: { id: string; properties: Json } };
  const sub = data.resourceInfo.id.split("/")[2];
  const properties = data.resourceInfo.properties;
  properties.allowBlobPublicAccess = 0;
  properties.networkAcls = {
    bypass: "AzureServices",
    defaultAction: "Deny",
    ipRules: Array.from({ length: ips }, (_, i) => ({
      value: `198.51.${100 + (i >> 8)}.${i & 255}`,
      action: "Allow",
    })),
    virtualNetworkRules: Array.from({ length: subnets }, (_, i) => ({
      id: `/subscriptions/${sub}/resourceGroups/rg-data/providers/Microsoft.Network/virtualNetworks/vnet-data/subnets/snet-${i}`,
      action: "Allow",
      state: "Succeeded",
    })),
  };
  return event;
}

/** An ARM GET body of an NSG (the spec's NetworkSecurityGroupGet example) named `name`, with `rules` rules. */
export function armNsg(name: string, rules: number): Json {
  const nsg = structuredClone(fixture("azure/nsg/NetworkSecurityGroupGet.json"));
  const id = `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-scale/providers/Microsoft.Network/networkSecurityGroups/${name}`;
  nsg.id = id;
  nsg.name = name;
  (nsg.properties as Json).securityRules = armRules(id, rules);
  return nsg;
}

/** A DescribeSecurityGroups item with `permissions` inbound permissions: one SSH from the world, the rest private. */
export function securityGroup(index: number, permissions: number): Json {
  const groups = fixture("aws/sg/describe-security-groups.json").SecurityGroups as Json[];
  const group = structuredClone(groups[0] as Json);
  const id = `sg-${index.toString(16).padStart(17, "0")}`;
  group.GroupId = id;
  group.GroupName = `scale-${index}`;
  group.SecurityGroupArn = `arn:aws:ec2:us-east-1:123456789012:security-group/${id}`;
  group.IpPermissions = Array.from({ length: permissions }, (_, i) => ({
    IpProtocol: "tcp",
    FromPort: i === 0 ? 22 : 10000 + i,
    ToPort: i === 0 ? 22 : 10000 + i,
    IpRanges: [{ CidrIp: i === 0 ? "0.0.0.0/0" : `10.${i % 250}.0.0/16` }],
    Ipv6Ranges: [],
    PrefixListIds: [],
    UserIdGroupPairs: [],
  }));
  return group;
}

/** The CloudTrail AuthorizeSecurityGroupIngress event (eventVersion 1.08 fixture) as EventBridge delivers it. */
export function authorizeEvent(): Json {
  return fixture("events/aws/authorize-ingress-v108-ruleset.json");
}
