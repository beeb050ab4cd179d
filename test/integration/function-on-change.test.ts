import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type EventGridEvent, InvocationContext } from "@azure/functions";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createOnChangeHandler } from "../../functions/on-change.ts";
import { azureGuardianDeps } from "../../shared/clouds/azure/runtime.ts";
import { parseConfig } from "../../shared/config.ts";
import { type Logger, memoryLogger } from "../../shared/log.ts";
import type { GuardianDeps } from "../../shared/pipeline.ts";
import type { AuditRecord } from "../../shared/types.ts";
import {
  type ArmEmulator,
  DEFAULT_SUBSCRIPTION_ID,
  mintToken,
  networkClientFor,
  startArmEmulator,
  staticTokenCredential,
} from "../harness/arm-emulator/index.ts";
import { startWebhookSink, type WebhookSink } from "../harness/webhook-sink.ts";

const RG = "rg-qubole";
const BASELINE = path.resolve(import.meta.dirname, "../../policies/baseline.yaml");
const NSG = "nsg-bastion";
const NSG_ID = `/subscriptions/${DEFAULT_SUBSCRIPTION_ID}/resourceGroups/${RG}/providers/Microsoft.Network/networkSecurityGroups/${NSG}`;

const aliceToken = mintToken({
  oid: "7f1c9a52-3e4b-4d8a-9b6c-1a2b3c4d5e6f",
  upn: "alice@contoso.com",
  name: "Alice Example",
  ipaddr: "198.51.100.23",
  tid: "72f988bf-86f1-41af-91ab-2d7cd011db47",
});
const GUARDIAN_OID = "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d";
const guardianToken = mintToken({
  oid: GUARDIAN_OID,
  appid: "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d",
  idtyp: "app",
});

const POLICY = `version: 1
trustedSources: [203.0.113.10/32]
rules:
  - name: no-ssh-from-internet
    rule: nsg-inbound-exposure
    mode: remediate
    severity: critical
    remediation: delete-rule
    options: { ports: [22] }
  - name: no-rdp-from-internet
    rule: nsg-inbound-exposure
    mode: remediate
    severity: critical
    remediation: delete-rule
    options: { ports: [3389], protocols: [Tcp, Udp] }
`;

let emu: ArmEmulator;
let sink: WebhookSink;
let dir: string;
const alice = () => networkClientFor(emu, aliceToken);
/** An inbound Allow of SSH from `source` at priority 110: what someone opening SSH would write. */
const sshFrom = (source: string) => ({
  protocol: "Tcp" as const,
  sourcePortRange: "*",
  destinationPortRange: "22",
  sourceAddressPrefix: source,
  destinationAddressPrefix: "*",
  access: "Allow" as const,
  priority: 110,
  direction: "Inbound" as const,
});
/** Test-side writes need not wait for the SDK's default poll interval. */
const fast = { updateIntervalInMs: 0 };

beforeAll(async () => {
  [emu, sink] = await Promise.all([startArmEmulator({ lroPolls: 1 }), startWebhookSink()]);
  dir = await mkdtemp(path.join(tmpdir(), "guardian-fn-"));
  await writeFile(path.join(dir, "ca.pem"), emu.ca);
  await writeFile(path.join(dir, "policy.yaml"), POLICY);
  await writeFile(path.join(dir, "alert.yaml"), POLICY.replaceAll("mode: remediate", "mode: alert"));
});

afterAll(async () => {
  await Promise.all([emu?.stop(), sink?.stop()]);
});

beforeEach(() => {
  emu.reset();
  sink.received.length = 0;
  sink.attempts.length = 0;
});

/** The deployed configuration path: environment → config → real SDK clients, with the guardian's own token. */
function env(extra: Record<string, string> = {}) {
  return parseConfig({
    GUARDIAN_POLICY_FILE: path.join(dir, "policy.yaml"),
    AZURE_ARM_ENDPOINT: emu.url,
    AZURE_ARM_CA_FILE: path.join(dir, "ca.pem"),
    AZURE_ARM_POLL_INTERVAL_MS: "0",
    SLACK_WEBHOOK_URL: sink.slackUrl,
    TEAMS_WEBHOOK_URL: sink.teamsUrl,
    ...extra,
  });
}

function depsFactory(extra: Record<string, string> = {}, wrap?: (d: GuardianDeps) => GuardianDeps) {
  const audit: AuditRecord[] = [];
  const factory = async (log: Logger) => {
    const deps = await azureGuardianDeps(env(extra), log, {
      credential: staticTokenCredential(guardianToken),
    });
    const recorded = { ...deps, audit: { record: async (r: AuditRecord) => void audit.push(r) } };
    return wrap ? wrap(recorded) : recorded;
  };
  return { factory, audit };
}

function context() {
  const log = memoryLogger();
  const ctx = new InvocationContext({
    invocationId: crypto.randomUUID(),
    functionName: "onChange",
    logHandler: (level, ...args) => log.info(String(args[0]), { level }),
  });
  return { ctx, log };
}

async function seedNsg() {
  await alice().networkSecurityGroups.createOrUpdate(
    RG,
    NSG,
    {
      location: "westeurope",
      securityRules: [
        {
          name: "allow-tunnel-ssh",
          protocol: "Tcp",
          sourcePortRange: "*",
          destinationPortRange: "22",
          sourceAddressPrefix: "203.0.113.10/32",
          destinationAddressPrefix: "*",
          access: "Allow",
          priority: 100,
          direction: "Inbound",
        },
      ],
    },
    fast,
  );
}

/** Delivers every event emitted since `from` to the handler, as the Functions host would, one per invocation. */
async function deliver(handler: ReturnType<typeof createOnChangeHandler>, from: number) {
  const events = emu.events.slice(from) as EventGridEvent[];
  const results = [];
  for (const event of events) results.push(await handler(event, context().ctx));
  return results;
}

describe("Azure Function onChange (Event Grid) → ARM emulator → webhooks", () => {
  it("deletes the SSH-from-Internet rule someone added, alerts Slack and Teams, and ignores its own write", async () => {
    await seedNsg();
    const { factory, audit } = depsFactory();
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await alice().securityRules.createOrUpdate(RG, NSG, "open-ssh", sshFrom("Internet"), fast);
    const writesBefore = emu.requests.filter((r) => r.method !== "GET").length;
    const [result] = await deliver(handler, mark);
    expect(result?.outcomes[0]?.actions.map((a) => a.outcome)).toEqual(["applied"]);

    const nsg = emu.get(NSG_ID) as { properties: { securityRules: { name: string }[] } };
    expect(nsg.properties.securityRules.map((r) => r.name)).toEqual(["allow-tunnel-ssh"]);
    // One read, one write (the DELETE) for the event.
    const guardianRequests = emu.requests.slice(0).filter((r) => r.method !== "GET").length - writesBefore;
    expect(guardianRequests).toBe(1);

    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      outcome: "applied",
      remediation: "delete-rule",
      actor: { name: "alice@contoso.com" },
    });
    expect(audit[0]?.before).toMatchObject({ name: "open-ssh" });

    await sink.waitFor(2);
    const slack = sink.received.find((r) => r.path.startsWith("/slack"));
    const teams = sink.received.find((r) => r.path.startsWith("/teams"));
    expect(JSON.stringify(slack?.body)).toContain("alice@contoso.com");
    expect(JSON.stringify(slack?.body)).toContain("open-ssh");
    expect(JSON.stringify(teams?.body)).toContain("application/vnd.microsoft.card.adaptive");

    // The guardian's own DELETE raised an event with its claims: handled as a self-change, no second write.
    const own = await deliver(handler, mark + 1);
    expect(own.flatMap((r) => r?.outcomes.map((o) => o.status))).toContain("skipped-self");
    expect(emu.requests.filter((r) => r.method === "DELETE")).toHaveLength(1);
    expect(sink.received).toHaveLength(2);
  });

  it("handles the same change delivered in the CloudEvents 1.0 schema", async () => {
    await seedNsg();
    const { factory } = depsFactory();
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await alice().securityRules.createOrUpdate(RG, NSG, "open-ssh", sshFrom("Internet"), fast);
    // Event Grid's CloudEvents mapping of the same event: type, source (the topic), subject, id, time, data.
    const events = emu.events.slice(mark) as {
      id: string;
      topic: string;
      subject: string;
      eventType: string;
      eventTime: string;
      data: unknown;
    }[];
    for (const e of events) {
      const cloudEvent = {
        specversion: "1.0",
        type: e.eventType,
        source: e.topic,
        subject: e.subject,
        id: e.id,
        time: e.eventTime,
        data: e.data,
      };
      await handler(cloudEvent as unknown as EventGridEvent, context().ctx);
    }
    expect(emu.get(`${NSG_ID}/securityRules/open-ssh`)).toBeUndefined();
    await sink.waitFor(2);
  });

  it("narrows a plural prefix list: removes only 0.0.0.0/0 from an RDP rule and keeps the private range", async () => {
    await seedNsg();
    const { factory } = depsFactory();
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await alice().securityRules.createOrUpdate(
      RG,
      NSG,
      "rdp-admins",
      {
        protocol: "Tcp",
        sourcePortRange: "*",
        destinationPortRange: "3389",
        sourceAddressPrefixes: ["10.10.0.0/16", "0.0.0.0/0"],
        destinationAddressPrefix: "*",
        access: "Allow",
        priority: 120,
        direction: "Inbound",
      },
      fast,
    );
    await deliver(handler, mark);
    const rule = emu.get(`${NSG_ID}/securityRules/rdp-admins`) as {
      properties: { sourceAddressPrefixes?: string[]; sourceAddressPrefix?: string };
    };
    const sources = rule.properties.sourceAddressPrefixes?.length
      ? rule.properties.sourceAddressPrefixes
      : [rule.properties.sourceAddressPrefix];
    expect(sources).toEqual(["10.10.0.0/16"]);
  });

  it("baseline: removes only the 0.0.0.0/0 added beside an office range, keeps the rule an Allow, alerts the range apart", async () => {
    await seedNsg();
    const { factory, audit } = depsFactory({ GUARDIAN_POLICY_FILE: BASELINE });
    const handler = createOnChangeHandler(factory);
    await alice().securityRules.createOrUpdate(
      RG,
      NSG,
      "office-ssh",
      {
        ...sshFrom("203.0.113.0/24"),
        sourceAddressPrefix: undefined,
        sourceAddressPrefixes: ["203.0.113.0/24"],
      },
      fast,
    );
    const mark = emu.events.length;
    // Someone adds the world to the office rule.
    await alice().securityRules.createOrUpdate(
      RG,
      NSG,
      "office-ssh",
      {
        ...sshFrom("*"),
        sourceAddressPrefix: undefined,
        sourceAddressPrefixes: ["203.0.113.0/24", "0.0.0.0/0"],
      },
      fast,
    );
    const [result] = await deliver(handler, mark);
    const actions = result?.outcomes[0]?.actions ?? [];
    expect(actions.map((a) => [a.finding.policyRule, a.finding.kind, a.mode, a.outcome])).toEqual([
      ["azure-no-ssh-from-internet", "world-open", "remediate", "applied"],
      ["azure-no-ssh-from-internet", "public-prefix", "alert", "skipped-mode"],
    ]);
    const rule = emu.get(`${NSG_ID}/securityRules/office-ssh`) as { properties: Record<string, unknown> };
    expect(rule.properties).toMatchObject({ access: "Allow", sourceAddressPrefix: "203.0.113.0/24" });
    expect(audit.map((r) => r.outcome)).toEqual(["applied", "skipped-mode"]);
    await sink.waitFor(2);
    expect(JSON.stringify(sink.received[0]?.body)).toContain("203.0.113.0/24");
  });

  it("splits a rule whose offending source also reaches other ports: 443 stays open to it, 22 does not", async () => {
    await seedNsg();
    const { factory, audit } = depsFactory();
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await alice().securityRules.createOrUpdate(
      RG,
      NSG,
      "web",
      {
        ...sshFrom("*"),
        sourceAddressPrefix: undefined,
        sourceAddressPrefixes: ["0.0.0.0/0", "10.10.0.0/16"],
        destinationPortRange: undefined,
        destinationPortRanges: ["22", "443"],
      },
      fast,
    );
    const [result] = await deliver(handler, mark);
    expect(result?.outcomes[0]?.actions.map((a) => [a.outcome, a.planned?.operation.ruleName])).toEqual([
      ["applied", "web-split"],
      ["applied", "web"],
    ]);
    const rules = Object.fromEntries(
      (
        emu.get(NSG_ID) as {
          properties: { securityRules: { name: string; properties: Record<string, unknown> }[] };
        }
      ).properties.securityRules.map((r) => [r.name, r.properties]),
    );
    expect(rules.web).toMatchObject({
      sourceAddressPrefix: "10.10.0.0/16",
      destinationPortRanges: ["22", "443"],
    });
    expect(rules["web-split"]).toMatchObject({
      access: "Allow",
      priority: 111,
      sourceAddressPrefix: "0.0.0.0/0",
      destinationPortRange: "443",
    });
    expect(audit.map((r) => [r.outcome, r.before === null])).toEqual([
      ["applied", true],
      ["applied", false],
    ]);
    // Both of the guardian's writes come back as events about its own changes: nothing more is done.
    const own = await deliver(handler, mark + 1);
    expect(own.flatMap((r) => r?.outcomes.map((o) => o.status))).toEqual(["skipped-self", "skipped-self"]);
  });

  it("re-evaluates on a tags-only PATCH: an empty exempt tag is no exemption and is reported; 'true' exempts, still alerted", async () => {
    await seedNsg();
    await alice().securityRules.createOrUpdate(RG, NSG, "open-ssh", sshFrom("Internet"), fast);
    const { factory, audit } = depsFactory({ GUARDIAN_POLICY_FILE: path.join(dir, "alert.yaml") });
    const handler = createOnChangeHandler(factory);

    let mark = emu.events.length;
    await alice().networkSecurityGroups.updateTags(RG, NSG, { tags: { "guardian:exempt": "" } });
    const [empty] = await deliver(handler, mark);
    expect(empty?.outcomes[0]?.change.operationName).toBe("Microsoft.Network/networkSecurityGroups/write");
    expect(empty?.outcomes[0]?.actions.map((a) => [a.finding.policyRule, a.outcome])).toEqual([
      ["no-ssh-from-internet", "skipped-mode"],
      ["exempt-tag", "warning"],
    ]);
    await sink.waitFor(2);
    const warned = JSON.stringify(sink.received.find((r) => r.path.startsWith("/slack"))?.body);
    expect(warned).toContain("Warning: tag guardian:exempt is empty: it exempts nothing");

    sink.received.length = 0;
    mark = emu.events.length;
    await alice().networkSecurityGroups.updateTags(RG, NSG, { tags: { "guardian:exempt": "true" } });
    const [exempt] = await deliver(handler, mark);
    expect(exempt?.outcomes[0]?.actions.map((a) => [a.finding.policyRule, a.outcome])).toEqual([
      ["no-ssh-from-internet", "skipped-exempt"],
    ]);
    // Still alerted, at a lower level: whoever opened the port may have set the tag too.
    await sink.waitFor(2);
    const teams = JSON.stringify(sink.received.find((r) => r.path.startsWith("/teams"))?.body);
    expect(teams).toContain("LOW");
    expect(teams).toContain("Not remediated: the resource is exempt");
    expect(teams).toContain("resource tag guardian:exempt=true");
    expect(audit.at(-1)).toMatchObject({ outcome: "skipped-exempt", severity: "critical" });
    // Nothing was written by the guardian.
    expect(emu.get(`${NSG_ID}/securityRules/open-ssh`)).toBeDefined();
  });

  it("in dry-run changes nothing and says what it would have done", async () => {
    await seedNsg();
    const { factory, audit } = depsFactory({ GUARDIAN_DRY_RUN: "true" });
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await alice().securityRules.createOrUpdate(
      RG,
      NSG,
      "open-ssh",
      {
        protocol: "*",
        sourcePortRange: "*",
        destinationPortRanges: ["20-25", "443"],
        sourceAddressPrefix: "*",
        destinationAddressPrefix: "*",
        access: "Allow",
        priority: 110,
        direction: "Inbound",
      },
      fast,
    );
    await deliver(handler, mark);
    expect(emu.get(`${NSG_ID}/securityRules/open-ssh`)).toBeDefined();
    expect(
      emu.requests.filter((r) => r.method === "DELETE" || (r.method === "PUT" && r.status < 300)).length,
    ).toBe(2);
    expect(audit[0]?.outcome).toBe("dry-run");
    await sink.waitFor(2);
    expect(JSON.stringify(sink.received[0]?.body)).toMatch(/dry.run/i);
  });

  it("on a concurrent human edit (412) re-reads and never overwrites it", async () => {
    await seedNsg();
    let edited = false;
    const bob = networkClientFor(emu, mintToken({ oid: "b0b", upn: "bob@contoso.com" }));
    const { factory, audit } = depsFactory({}, (d) => {
      const azure = d.clouds.azure;
      if (!azure) throw new Error("no azure port");
      return {
        ...d,
        clouds: {
          azure: {
            ...azure,
            reader: {
              // Bob edits the NSG between the guardian's first read and its write.
              async read(ref) {
                const snapshot = await azure.reader.read(ref);
                if (!edited) {
                  edited = true;
                  await bob.securityRules.createOrUpdate(
                    RG,
                    NSG,
                    "open-ssh",
                    {
                      protocol: "Tcp",
                      sourcePortRange: "*",
                      destinationPortRange: "22",
                      sourceAddressPrefix: "10.20.0.0/16",
                      destinationAddressPrefix: "*",
                      access: "Allow",
                      priority: 110,
                      direction: "Inbound",
                      description: "bob narrowed it",
                    },
                    fast,
                  );
                }
                return snapshot;
              },
            },
          },
        },
      };
    });
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await alice().securityRules.createOrUpdate(RG, NSG, "open-ssh", sshFrom("0.0.0.0/0"), fast);
    const [event] = emu.events.slice(mark) as EventGridEvent[];
    if (!event) throw new Error("no event");
    await handler(event, context().ctx);
    expect(emu.requests.some((r) => r.status === 412)).toBe(true);
    const rule = emu.get(`${NSG_ID}/securityRules/open-ssh`) as {
      properties: { sourceAddressPrefix: string; description: string };
    };
    expect(rule.properties.sourceAddressPrefix).toBe("10.20.0.0/16");
    expect(rule.properties.description).toBe("bob narrowed it");
    expect(audit[0]?.outcome).toBe("already-compliant");
  });

  it("retries a throttled read with the SDK's policy (429 + Retry-After) and still remediates", async () => {
    await seedNsg();
    const { factory } = depsFactory();
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await alice().securityRules.createOrUpdate(RG, NSG, "open-ssh", sshFrom("Internet"), fast);
    emu.injectFault({
      method: "GET",
      pathIncludes: "networkSecurityGroups/nsg-bastion",
      status: 429,
      retryAfterSeconds: 0,
      times: 1,
    });
    const [result] = await deliver(handler, mark);
    expect(emu.requests.some((r) => r.status === 429)).toBe(true);
    expect(result?.outcomes[0]?.actions[0]?.outcome).toBe("applied");
  });

  it("fails the invocation (so Event Grid retries) when ARM keeps throttling the write", async () => {
    await seedNsg();
    const { factory } = depsFactory();
    const handler = createOnChangeHandler(factory);
    const mark = emu.events.length;
    await alice().securityRules.createOrUpdate(RG, NSG, "open-ssh", sshFrom("Internet"), fast);
    emu.injectFault({ method: "DELETE", status: 429, retryAfterSeconds: 0, times: 20 });
    const [event] = emu.events.slice(mark) as EventGridEvent[];
    if (!event) throw new Error("no event");
    await expect(handler(event, context().ctx)).rejects.toThrow(/retry/);
    expect(emu.get(`${NSG_ID}/securityRules/open-ssh`)).toBeDefined();
  });
});

describe("Azure Function onChange rejects what it cannot handle", () => {
  it("fails the invocation for a malformed event so Event Grid retries and then dead-letters it", async () => {
    const handler = createOnChangeHandler(depsFactory().factory);
    const malformed = {
      id: "b1e2c3d4-0000-4000-8000-000000000002",
      eventType: "Microsoft.Resources.ResourceWriteSuccess",
      subject: NSG_ID,
      eventTime: "2026-11-23T10:00:00Z",
      dataVersion: "2",
      metadataVersion: "1",
    } as unknown as EventGridEvent;
    await expect(handler(malformed, context().ctx)).rejects.toThrow(/cannot handle this event: .*data/);
  });
});

describe("Azure Function onChange on the Resource Notifications topic (the event carries the resource)", () => {
  let rn: ArmEmulator;
  beforeAll(async () => {
    rn = await startArmEmulator({
      lroPolls: 0,
      emitResourceNotifications: true,
      notificationBooleansAsNumbers: true,
    });
    await writeFile(path.join(dir, "rn-ca.pem"), rn.ca);
  });
  afterAll(async () => {
    await rn?.stop();
  });

  function rnDeps(policy: string) {
    return async (log: Logger) => {
      const file = path.join(dir, `rn-${policy.length}.yaml`);
      await writeFile(file, policy);
      const cfg = parseConfig({
        GUARDIAN_POLICY_FILE: file,
        AZURE_ARM_ENDPOINT: rn.url,
        AZURE_ARM_CA_FILE: path.join(dir, "rn-ca.pem"),
        SLACK_WEBHOOK_URL: sink.slackUrl,
      });
      return azureGuardianDeps(cfg, log, { credential: staticTokenCredential(guardianToken) });
    };
  }

  async function openSshViaRn() {
    const client = networkClientFor(rn, aliceToken);
    await client.networkSecurityGroups.createOrUpdate(RG, NSG, { location: "westeurope" }, fast);
    const mark = rn.events.length;
    await client.securityRules.createOrUpdate(RG, NSG, "open-ssh", sshFrom("Internet"), fast);
    const notification = (rn.events.slice(mark) as EventGridEvent[]).find((e) =>
      e.eventType.startsWith("Microsoft.ResourceNotifications."),
    );
    if (!notification) throw new Error("the emulator emitted no Resource Notifications event");
    return notification;
  }

  it("evaluates without reading the resource when it only alerts", async () => {
    rn.reset();
    const notification = await openSshViaRn();
    const reads = () => rn.requests.filter((r) => r.method === "GET").length;
    const before = reads();
    const handler = createOnChangeHandler(rnDeps(POLICY.replaceAll("mode: remediate", "mode: alert")));
    const result = await handler(notification, context().ctx);
    expect(result.outcomes[0]?.findings.map((f) => f.policyRule)).toEqual(["no-ssh-from-internet"]);
    expect(result.outcomes[0]?.actions[0]?.outcome).toBe("skipped-mode");
    expect(reads() - before).toBe(0);
  });

  it("remediates a notification only after reading the resource afresh (one GET, then the guarded write)", async () => {
    rn.reset();
    const notification = await openSshViaRn();
    const start = rn.requests.length;
    const handler = createOnChangeHandler(rnDeps(POLICY));
    const result = await handler(notification, context().ctx);
    expect(result.outcomes[0]?.actions[0]?.outcome).toBe("applied");
    const guardian = rn.requests.slice(start).filter((r) => !r.path.includes("operations"));
    expect(guardian.map((r) => r.method)).toEqual(["GET", "DELETE"]);
    expect(rn.get(`${NSG_ID}/securityRules/open-ssh`)).toBeUndefined();
  });

  it("never writes what a notification carried: a forged delivery with the current etag changes nothing", async () => {
    rn.reset();
    const client = networkClientFor(rn, aliceToken);
    await client.networkSecurityGroups.createOrUpdate(RG, NSG, { location: "westeurope" }, fast);
    const mark = rn.events.length;
    // A compliant rule: SSH from the tunnel server only.
    await client.securityRules.createOrUpdate(RG, NSG, "ssh-tunnel", sshFrom("203.0.113.10/32"), fast);
    const real = (rn.events.slice(mark) as EventGridEvent[]).find((e) =>
      e.eventType.startsWith("Microsoft.ResourceNotifications."),
    );
    if (!real) throw new Error("no notification");
    // Someone who can read the NSG (and so knows its etag) forges a delivery: the same rule, open to the world and
    // to their own address. Narrowing that carried rule would write their address into the real one.
    const forged = structuredClone(real) as EventGridEvent & {
      data: { resourceInfo: { properties: { securityRules: { properties: Record<string, unknown> }[] } } };
    };
    const [rule] = forged.data.resourceInfo.properties.securityRules;
    if (!rule) throw new Error("no rule in the notification");
    delete rule.properties.sourceAddressPrefix;
    rule.properties.sourceAddressPrefixes = ["0.0.0.0/0", "198.51.100.66/32"];
    const before = rn.get(`${NSG_ID}/securityRules/ssh-tunnel`);
    const start = rn.requests.length;
    const handler = createOnChangeHandler(rnDeps(POLICY));
    const result = await handler(forged, context().ctx);
    // The carried body showed an exposure; the fresh read shows none, so nothing is written. (Its specific public
    // prefix is a finding of its own, alert-only: it is never written either.)
    expect(result.outcomes[0]?.findings.map((f) => [f.policyRule, f.kind])).toEqual([
      ["no-ssh-from-internet", "world-open"],
      ["no-ssh-from-internet", "public-prefix"],
    ]);
    expect(result.outcomes[0]?.actions.map((a) => a.outcome)).toEqual(["already-compliant", "skipped-mode"]);
    expect(rn.requests.slice(start).map((r) => r.method)).toEqual(["GET"]);
    expect(rn.get(`${NSG_ID}/securityRules/ssh-tunnel`)).toEqual(before);
  });
});
