// The local world every benchmark runs against: the ARM emulator, moto, the webhook sink and a managed-identity
// endpoint, plus the engineer's risky change that each benchmark event reports. Events are the ones the emulator
// itself raised for a real SDK write (Azure), and the CloudTrail fixtures of test/fixtures/events/aws/ adapted to
// the groups that exist in moto (AWS): no event is invented here.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateVpcCommand,
  type EC2Client,
  type IpPermission,
} from "@aws-sdk/client-ec2";
import type { NetworkManagementClient } from "@azure/arm-network";
import {
  type ArmEmulator,
  DEFAULT_SUBSCRIPTION_ID,
  mintToken,
  networkClientFor,
  startArmEmulator,
} from "../../test/harness/arm-emulator/index.ts";
import { ec2ClientFor, MOTO_ACCOUNT, type MotoServer, startMoto } from "../../test/harness/moto.ts";
import { startWebhookSink, type WebhookSink } from "../../test/harness/webhook-sink.ts";
import {
  adaptAwsEvent,
  assumedRoleIdentity,
  type CloudTrailEvent,
  loadAwsEvent,
} from "../../test/integration/helpers/aws-events.ts";

export const ROOT = path.resolve(import.meta.dirname, "..", "..");
export const BASELINE_POLICY = path.join(ROOT, "policies", "baseline.yaml");
export const RG = "rg-bench";
export const REGION = "us-east-1";
export const GUARDIAN_ROLE = `arn:aws:iam::${MOTO_ACCOUNT}:role/network-guardian`;
export const SUBSCRIPTION = DEFAULT_SUBSCRIPTION_ID;

export const ALICE_TOKEN = mintToken({
  oid: "7f1c9a52-3e4b-4d8a-9b6c-1a2b3c4d5e6f",
  upn: "alice@contoso.com",
  name: "Alice Example",
  ipaddr: "198.51.100.23",
  tid: "72f988bf-86f1-41af-91ab-2d7cd011db47",
});
export const GUARDIAN_TOKEN = mintToken({
  oid: "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d",
  appid: "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
  idtyp: "app",
});

// A human engineer signed in through IAM Identity Center, as in the Lambda integration test.
const ENGINEER = assumedRoleIdentity({
  account: MOTO_ACCOUNT,
  roleName: "AWSReservedSSO_NetworkAdmin_5f3c2a1b9d8e7f60",
  rolePath: "/aws-reserved/sso.amazonaws.com/",
  sessionName: "priya.raman@example.com",
  mfaAuthenticated: true,
});

export const nsgId = (name: string): string =>
  `/subscriptions/${SUBSCRIPTION}/resourceGroups/${RG}/providers/Microsoft.Network/networkSecurityGroups/${name}`;

/** App Service's managed identity endpoint (IDENTITY_ENDPOINT / IDENTITY_HEADER), handing out the guardian's token. */
export interface IdentityEndpoint {
  url: string;
  header: string;
  requests: number;
  stop(): Promise<void>;
}

async function startIdentityEndpoint(token: string): Promise<IdentityEndpoint> {
  const header = "bench-identity-header";
  const endpoint = { url: "", header, requests: 0, stop: async () => {} };
  const server: Server = createServer((req, res) => {
    endpoint.requests++;
    if (req.headers["x-identity-header"] !== header) {
      res.writeHead(401).end();
      return;
    }
    const resource = new URL(req.url ?? "/", "http://127.0.0.1").searchParams.get("resource") ?? "";
    res.writeHead(200, { "content-type": "application/json" }).end(
      JSON.stringify({
        access_token: token,
        expires_on: String(Math.floor(Date.now() / 1000) + 3600),
        resource,
        token_type: "Bearer",
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/msi/token`;
  endpoint.stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return endpoint;
}

export interface World {
  emu: ArmEmulator;
  moto: MotoServer;
  sink: WebhookSink;
  identity: IdentityEndpoint;
  dir: string;
  caFile: string;
  alice: NetworkManagementClient;
  ec2: EC2Client;
  /** The environment of a deployed Function App pointed at the emulator (managed identity included). */
  functionEnv(): Record<string, string>;
  /** The environment of a deployed Lambda pointed at moto. */
  lambdaEnv(): Record<string, string>;
  stop(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const [emu, moto, sink, identity] = await Promise.all([
    startArmEmulator({ lroPolls: 1, emitResourceNotifications: true }),
    startMoto(),
    startWebhookSink(),
    startIdentityEndpoint(GUARDIAN_TOKEN),
  ]);
  const dir = await mkdtemp(path.join(tmpdir(), "guardian-bench-"));
  const caFile = path.join(dir, "arm-ca.pem");
  await writeFile(caFile, emu.ca);
  const alice = networkClientFor(emu, ALICE_TOKEN);
  const ec2 = ec2ClientFor(moto.endpoint);
  return {
    emu,
    moto,
    sink,
    identity,
    dir,
    caFile,
    alice,
    ec2,
    functionEnv: () => ({
      GUARDIAN_POLICY_FILE: BASELINE_POLICY,
      AZURE_ARM_ENDPOINT: emu.url,
      AZURE_ARM_CA_FILE: caFile,
      SLACK_WEBHOOK_URL: sink.slackUrl,
      TEAMS_WEBHOOK_URL: sink.teamsUrl,
      IDENTITY_ENDPOINT: identity.url,
      IDENTITY_HEADER: identity.header,
      // The emulator answers Retry-After: 0, which the SDK treats as absent (then it waits 2 s between polls);
      // real ARM sends its own Retry-After, which the SDK honours whatever this says.
      AZURE_ARM_POLL_INTERVAL_MS: "0",
    }),
    lambdaEnv: () => ({
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: "testing",
      AWS_SECRET_ACCESS_KEY: "testing",
      AWS_SESSION_TOKEN: "testing",
      GUARDIAN_EC2_ENDPOINT: moto.endpoint,
      GUARDIAN_POLICY_FILE: BASELINE_POLICY,
      GUARDIAN_SELF_IDENTITIES: GUARDIAN_ROLE,
      SLACK_WEBHOOK_URL: sink.slackUrl,
      TEAMS_WEBHOOK_URL: sink.teamsUrl,
    }),
    async stop() {
      ec2.destroy();
      await Promise.all([emu.stop(), moto.stop(), sink.stop(), identity.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Test-side writes need not wait for the SDK's default poll interval. */
const fast = { updateIntervalInMs: 0 };

const rule = (name: string, priority: number, port: string, source: string) => ({
  name,
  protocol: "Tcp",
  sourcePortRange: "*",
  destinationPortRange: port,
  sourceAddressPrefix: source,
  destinationAddressPrefix: "*",
  access: "Allow" as const,
  priority,
  direction: "Inbound" as const,
});

/** An NSG with `extraRules` harmless rules (HTTPS from a corporate range), as a team would have. */
export async function createNsg(world: World, name: string, extraRules = 2): Promise<void> {
  const securityRules = Array.from({ length: extraRules }, (_, i) =>
    rule(`allow-https-${i}`, 200 + i, "443", `10.1.${i % 250}.0/24`),
  );
  await world.alice.networkSecurityGroups.createOrUpdate(
    RG,
    name,
    { location: "westeurope", securityRules },
    fast,
  );
}

export type AzureEventKind = "subscription" | "resource-notification";

/**
 * Alice opens SSH to the Internet on `nsg` (or, `risky: false`, adds a harmless rule); returns the event the
 * emulator raised for that write: the subscription topic's ResourceWriteSuccess, or the Resource Notifications
 * CreatedOrUpdated event for the NSG, which carries the whole resource.
 */
export async function aliceWritesRule(
  world: World,
  nsg: string,
  options: { risky?: boolean; kind?: AzureEventKind; ruleName?: string; priority?: number } = {},
): Promise<object> {
  const ruleName = options.ruleName ?? (options.risky === false ? "allow-https-corp" : "open-ssh");
  const mark = world.emu.events.length;
  await world.alice.securityRules.createOrUpdate(
    RG,
    nsg,
    ruleName,
    options.risky === false
      ? rule(ruleName, options.priority ?? 150, "443", "10.2.0.0/16")
      : rule(ruleName, options.priority ?? 110, "22", "Internet"),
    fast,
  );
  const wanted =
    (options.kind ?? "subscription") === "subscription"
      ? "Microsoft.Resources.ResourceWriteSuccess"
      : "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated";
  // Other writes may run concurrently: keep only this write's own events.
  const id = nsgId(nsg).toLowerCase();
  const event = world.emu.events
    .slice(mark)
    .filter((e) => {
      const { eventType, subject } = e as { eventType?: string; subject?: string };
      const about = (subject ?? "").toLowerCase();
      return (
        eventType === wanted && (about === id || about === `${id}/securityrules/${ruleName.toLowerCase()}`)
      );
    })
    .at(-1);
  if (!event) throw new Error(`the emulator raised no ${wanted} for ${nsg}/${ruleName}`);
  return event;
}

export interface ArmCounts {
  reads: number;
  writes: number;
  polls: number;
}

/** Reads, writes and long-running-operation GETs the emulator answered since request index `from`. */
export function armCounts(world: World, from: number): ArmCounts {
  const counts = { reads: 0, writes: 0, polls: 0 };
  for (const r of world.emu.requests.slice(from)) {
    // The SDK's poller: operation status, then the final GET of the rule it wrote. The guardian reads NSGs whole.
    if (r.method === "GET" && /\/operations\/|\/securityRules\//i.test(r.path)) counts.polls++;
    else if (r.method === "GET") counts.reads++;
    else counts.writes++;
  }
  return counts;
}

export interface SecurityGroupSetup {
  groupId: string;
  vpcId: string;
}

/** A bastion group in its own VPC, reachable on 22 from the VPC only. */
export async function createBastion(world: World, name: string): Promise<SecurityGroupSetup> {
  const vpc = await world.ec2.send(new CreateVpcCommand({ CidrBlock: "10.0.0.0/16" }));
  const vpcId = vpc.Vpc?.VpcId ?? "";
  const group = await world.ec2.send(
    new CreateSecurityGroupCommand({ GroupName: name, Description: `${name} (bench)`, VpcId: vpcId }),
  );
  const groupId = group.GroupId ?? "";
  await world.ec2.send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: groupId,
      IpPermissions: [{ IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "10.0.0.0/16" }] }],
    }),
  );
  return { groupId, vpcId };
}

/**
 * The engineer opens `port` to the world on the group (or a harmless port to a corporate range); returns the event
 * CloudTrail would have recorded for that call (eventVersion 1.08, with the rule ids EC2 returned).
 */
export async function engineerAuthorizes(
  world: World,
  groupId: string,
  options: { risky?: boolean; port?: number } = {},
): Promise<CloudTrailEvent> {
  const port = options.port ?? (options.risky === false ? 443 : 22);
  const permission: IpPermission = {
    IpProtocol: "tcp",
    FromPort: port,
    ToPort: port,
    IpRanges: [{ CidrIp: options.risky === false ? "10.0.0.0/8" : "0.0.0.0/0" }],
  };
  const out = await world.ec2.send(
    new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: [permission] }),
  );
  return adaptAwsEvent(loadAwsEvent("authorize-ingress-v108-ruleset.json"), {
    account: MOTO_ACCOUNT,
    region: REGION,
    identity: ENGINEER,
    sourceIp: "198.51.100.77",
    group: { groupId },
    ipPermissions: [permission],
    ruleSet: out.SecurityGroupRules ?? [],
  });
}
