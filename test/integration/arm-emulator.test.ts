// The ARM emulator exercised through the real @azure/arm-network client over HTTPS. Expected shapes come from
// Azure/azure-rest-api-specs Microsoft.Network stable/2024-05-01 (networkSecurityGroup.json, virtualNetwork.json,
// examples NetworkSecurityGroupCreateWithRule.json / NetworkSecurityGroupGet.json / SubnetGet.json) and from
// MicrosoftDocs/azure-docs articles/event-grid/event-schema-subscriptions.md and event-schema-resources.md.

import { NetworkManagementClient } from "@azure/arm-network";
import { RestError } from "@azure/core-rest-pipeline";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type ArmEmulator,
  DEFAULT_SUBSCRIPTION_ID,
  mintToken,
  networkClientFor,
  rawArmRequest,
  startArmEmulator,
  staticTokenCredential,
} from "../harness/arm-emulator/index.ts";
import { randomFaults } from "../harness/faults.ts";

const SUB = DEFAULT_SUBSCRIPTION_ID;
const RG = "rg-guardian";
const NSG_ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/networkSecurityGroups/nsg-web`;
const API = "api-version=2024-05-01";

const USER_CLAIMS = {
  tid: "11111111-2222-4333-8444-555555555555",
  oid: "a1b2c3d4-0000-4000-8000-000000000001",
  upn: "alice@contoso.example",
  name: "Alice Admin",
  appid: "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
  ipaddr: "203.0.113.7",
  amr: ["pwd", "mfa"],
};

/** core-lro ignores Retry-After: 0 and would sleep its 2 s default between polls; the tests poll at once instead. */
const FAST = { updateIntervalInMs: 0 };

let emu: ArmEmulator;
let token: string;
let client: NetworkManagementClient;

interface EventShape {
  subject: string;
  eventType: string;
  topic: string;
  dataVersion: string;
  metadataVersion: string;
  data: Record<string, unknown> & {
    operationName?: string;
    claims?: Record<string, string>;
    authorization?: { scope: string; action: string; evidence: Record<string, string> };
    httpRequest?: Record<string, string>;
  };
}

function eventsOfType(type: string): EventShape[] {
  return (emu.events as EventShape[]).filter((e) => e.eventType === type);
}

async function createWebNsg(): Promise<void> {
  await client.networkSecurityGroups.createOrUpdate(
    RG,
    "nsg-web",
    {
      location: "eastus",
      tags: { env: "prod" },
      securityRules: [
        {
          name: "allow-https",
          protocol: "Tcp",
          sourceAddressPrefix: "*",
          sourcePortRange: "*",
          destinationAddressPrefix: "*",
          destinationPortRange: "443",
          access: "Allow",
          priority: 100,
          direction: "Inbound",
        },
        {
          name: "allow-ssh-office",
          protocol: "Tcp",
          sourceAddressPrefixes: ["198.51.100.0/24", "203.0.113.0/24"],
          sourcePortRange: "*",
          destinationAddressPrefix: "*",
          destinationPortRanges: ["22", "2222-2223"],
          access: "Allow",
          priority: 110,
          direction: "Inbound",
        },
      ],
    },
    FAST,
  );
}

async function expectRestError(
  promise: Promise<unknown>,
  statusCode: number,
  code: string,
): Promise<RestError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RestError);
  const restError = error as RestError;
  expect(restError.statusCode).toBe(statusCode);
  expect(restError.code).toBe(code);
  return restError;
}

beforeAll(async () => {
  emu = await startArmEmulator({ emitResourceNotifications: true });
  token = mintToken(USER_CLAIMS);
  client = networkClientFor(emu, token);
});

afterAll(async () => {
  await emu.stop();
});

beforeEach(() => {
  emu.reset();
});

describe("ARM emulator: network security groups through the real SDK", () => {
  it("creates an NSG with rules over HTTPS and serves the spec-shaped resource", async () => {
    await createWebNsg();
    const nsg = await client.networkSecurityGroups.get(RG, "nsg-web");
    expect(nsg.id).toBe(NSG_ID);
    expect(nsg.name).toBe("nsg-web");
    expect(nsg.type).toBe("Microsoft.Network/networkSecurityGroups");
    expect(nsg.location).toBe("eastus");
    expect(nsg.tags).toEqual({ env: "prod" });
    expect(nsg.provisioningState).toBe("Succeeded");
    expect(nsg.resourceGuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(nsg.etag).toMatch(/^W\/"[0-9a-f-]{36}"$/);
    expect(nsg.securityRules?.map((r) => [r.name, r.priority, r.etag])).toEqual([
      ["allow-https", 100, nsg.etag],
      ["allow-ssh-office", 110, nsg.etag],
    ]);
    expect(nsg.defaultSecurityRules?.map((r) => [r.name, r.priority, r.direction, r.access])).toEqual([
      ["AllowVnetInBound", 65000, "Inbound", "Allow"],
      ["AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow"],
      ["DenyAllInBound", 65500, "Inbound", "Deny"],
      ["AllowVnetOutBound", 65000, "Outbound", "Allow"],
      ["AllowInternetOutBound", 65001, "Outbound", "Allow"],
      ["DenyAllOutBound", 65500, "Outbound", "Deny"],
    ]);

    // The wire JSON, as the REST spec nests it (properties bag, child ids, types and shared etag).
    const raw = await rawArmRequest(emu, "GET", `${NSG_ID}?${API}`, { token });
    expect(raw.status).toBe(200);
    const body = raw.body as Record<string, unknown> & { properties: Record<string, unknown> };
    expect(Object.keys(body)).toEqual(["name", "id", "etag", "type", "location", "tags", "properties"]);
    const rules = body.properties.securityRules as Array<Record<string, unknown>>;
    expect(rules[1]).toEqual({
      name: "allow-ssh-office",
      id: `${NSG_ID}/securityRules/allow-ssh-office`,
      etag: body.etag,
      type: "Microsoft.Network/networkSecurityGroups/securityRules",
      properties: {
        provisioningState: "Succeeded",
        protocol: "Tcp",
        sourcePortRange: "*",
        destinationAddressPrefix: "*",
        access: "Allow",
        priority: 110,
        direction: "Inbound",
        sourcePortRanges: [],
        destinationPortRanges: ["22", "2222-2223"],
        sourceAddressPrefixes: ["198.51.100.0/24", "203.0.113.0/24"],
        destinationAddressPrefixes: [],
      },
    });
    expect((body.properties.defaultSecurityRules as Array<{ id: string }>)[2]?.id).toBe(
      `${NSG_ID}/defaultSecurityRules/DenyAllInBound`,
    );
  });

  it("needs the emulator's CA: the SDK honours tlsOptions.ca per client", async () => {
    const untrusting = new NetworkManagementClient(staticTokenCredential(token), SUB, {
      endpoint: emu.url,
      retryOptions: { maxRetries: 0 },
    });
    await expect(untrusting.networkSecurityGroups.get(RG, "nsg-web")).rejects.toThrow(/self[- ]signed/i);
    expect(emu.requests).toHaveLength(0);
  });

  it("treats ids case-insensitively and lists by resource group and subscription", async () => {
    await createWebNsg();
    expect((emu.get(NSG_ID.toUpperCase()) as { name: string }).name).toBe("nsg-web");
    const viaUpper = await client.networkSecurityGroups.get(RG.toUpperCase(), "NSG-WEB");
    expect(viaUpper.id).toBe(NSG_ID);
    const inGroup = [];
    for await (const nsg of client.networkSecurityGroups.list(RG)) inGroup.push(nsg.name);
    const inSub = [];
    for await (const nsg of client.networkSecurityGroups.listAll()) inSub.push(nsg.name);
    expect(inGroup).toEqual(["nsg-web"]);
    expect(inSub).toEqual(["nsg-web"]);
    const rules = [];
    for await (const rule of client.securityRules.list(RG, "nsg-web")) rules.push(rule.name);
    expect(rules).toEqual(["allow-https", "allow-ssh-office"]);
  });

  it("updates a rule with If-Match: the current etag succeeds, a stale one is a 412 RestError", async () => {
    await createWebNsg();
    const before = await client.networkSecurityGroups.get(RG, "nsg-web");
    const etag = before.etag as string;
    const rule = await client.securityRules.get(RG, "nsg-web", "allow-https");
    expect(rule.etag).toBe(etag);

    const updated = await client.securityRules.createOrUpdate(
      RG,
      "nsg-web",
      "allow-https",
      { ...rule, sourceAddressPrefix: "10.0.0.0/8" },
      { ...FAST, requestOptions: { headers: { "If-Match": etag } } },
    );
    expect(updated.sourceAddressPrefix).toBe("10.0.0.0/8");
    expect(updated.provisioningState).toBe("Succeeded");
    // Any change to a rule gives the NSG and every rule a new etag.
    const after = await client.networkSecurityGroups.get(RG, "nsg-web");
    expect(after.etag).not.toBe(etag);
    expect(updated.etag).toBe(after.etag);
    expect(after.securityRules?.every((r) => r.etag === after.etag)).toBe(true);

    const stale = await expectRestError(
      client.securityRules.createOrUpdate(
        RG,
        "nsg-web",
        "allow-https",
        { ...rule, sourceAddressPrefix: "*" },
        { ...FAST, requestOptions: { headers: { "If-Match": etag } } },
      ),
      412,
      "PreconditionFailed",
    );
    expect(stale.message).toContain(etag);
    const unchanged = await client.securityRules.get(RG, "nsg-web", "allow-https");
    expect(unchanged.sourceAddressPrefix).toBe("10.0.0.0/8");
  });

  it("honours If-Match: * (must exist) and If-None-Match: * (must not exist)", async () => {
    const rule = {
      protocol: "Tcp",
      sourceAddressPrefix: "*",
      sourcePortRange: "*",
      destinationAddressPrefix: "*",
      destinationPortRange: "80",
      access: "Deny",
      priority: 200,
      direction: "Inbound",
    } as const;
    await createWebNsg();
    await expectRestError(
      client.securityRules.createOrUpdate(RG, "nsg-web", "new-rule", rule, {
        ...FAST,
        requestOptions: { headers: { "If-Match": "*" } },
      }),
      412,
      "PreconditionFailed",
    );
    await client.securityRules.createOrUpdate(RG, "nsg-web", "new-rule", rule, {
      ...FAST,
      requestOptions: { headers: { "If-None-Match": "*" } },
    });
    await expectRestError(
      client.securityRules.createOrUpdate(RG, "nsg-web", "new-rule", rule, {
        ...FAST,
        requestOptions: { headers: { "If-None-Match": "*" } },
      }),
      412,
      "PreconditionFailed",
    );
  });

  it("runs writes as long-running operations: PUT 201 Updating then polled to Succeeded, DELETE 202", async () => {
    await createWebNsg();
    const put = await rawArmRequest(emu, "PUT", `${NSG_ID}/securityRules/deny-rdp?${API}`, {
      token,
      body: {
        properties: {
          protocol: "Tcp",
          sourceAddressPrefix: "Internet",
          sourcePortRange: "*",
          destinationAddressPrefix: "*",
          destinationPortRange: "3389",
          access: "Deny",
          priority: 120,
          direction: "Inbound",
        },
      },
    });
    expect(put.status).toBe(201);
    expect((put.body as { properties: { provisioningState: string } }).properties.provisioningState).toBe(
      "Updating",
    );
    expect(put.headers["retry-after"]).toBe("0");
    const statusUrl = String(put.headers["azure-asyncoperation"]);
    expect(statusUrl).toMatch(
      new RegExp(
        `^${emu.url}/subscriptions/${SUB}/providers/Microsoft.Network/locations/eastus/operations/[0-9a-f-]{36}\\?`,
      ),
    );
    // The write is already applied (new etag now); only provisioningState lags until the operation completes.
    const nsgDuring = emu.get(NSG_ID) as { etag: string; properties: { provisioningState: string } };
    expect(nsgDuring.properties.provisioningState).toBe("Updating");
    const poll1 = await rawArmRequest(emu, "GET", new URL(statusUrl).pathname + new URL(statusUrl).search, {
      token,
    });
    expect(poll1.body).toEqual({ status: "InProgress" });
    const poll2 = await rawArmRequest(emu, "GET", new URL(statusUrl).pathname + new URL(statusUrl).search, {
      token,
    });
    expect(poll2.body).toEqual({ status: "Succeeded" });
    expect(
      (emu.get(`${NSG_ID}/securityRules/deny-rdp`) as { properties: { provisioningState: string } })
        .properties.provisioningState,
    ).toBe("Succeeded");

    const del = await rawArmRequest(emu, "DELETE", `${NSG_ID}/securityRules/deny-rdp?${API}`, { token });
    expect(del.status).toBe(202);
    expect(del.headers["azure-asyncoperation"]).toBeDefined();
    expect(String(del.headers.location)).toContain("/operationResults/");
  });

  it("deletes a rule through the SDK poller, which completes against the operation status URL", async () => {
    await createWebNsg();
    const etagBefore = (await client.networkSecurityGroups.get(RG, "nsg-web")).etag;
    emu.requests.length = 0;
    await client.securityRules.delete(RG, "nsg-web", "allow-ssh-office", FAST);
    const nsg = await client.networkSecurityGroups.get(RG, "nsg-web");
    expect(nsg.securityRules?.map((r) => r.name)).toEqual(["allow-https"]);
    expect(nsg.etag).not.toBe(etagBefore);
    expect(nsg.provisioningState).toBe("Succeeded");
    expect(emu.requests.map((r) => `${r.method} ${r.status}`)).toEqual([
      "DELETE 202",
      "GET 200", // InProgress
      "GET 200", // Succeeded
      "GET 200", // the test's own read
    ]);
    // Deleting what is already gone is a no-op 204 in ARM.
    const again = await rawArmRequest(emu, "DELETE", `${NSG_ID}/securityRules/allow-ssh-office?${API}`, {
      token,
    });
    expect(again.status).toBe(204);
    await expectRestError(client.securityRules.get(RG, "nsg-web", "allow-ssh-office"), 404, "NotFound");
  });

  it("completes writes synchronously when started with lroPolls 0", async () => {
    const sync = await startArmEmulator({ lroPolls: 0 });
    try {
      const syncClient = networkClientFor(sync, token);
      // No updateIntervalInMs: without async headers the SDK's poller has nothing to wait for.
      await syncClient.networkSecurityGroups.createOrUpdate(RG, "nsg-web", { location: "eastus" });
      const put = await rawArmRequest(sync, "PUT", `${NSG_ID}?${API}`, {
        token,
        body: { location: "eastus" },
      });
      expect(put.status).toBe(200);
      expect(put.headers["azure-asyncoperation"]).toBeUndefined();
      expect((put.body as { properties: { provisioningState: string } }).properties.provisioningState).toBe(
        "Succeeded",
      );
      await syncClient.networkSecurityGroups.delete(RG, "nsg-web");
      expect(sync.requests.map((r) => `${r.method} ${r.status}`)).toEqual([
        "PUT 201",
        "PUT 200",
        "DELETE 200",
      ]);
    } finally {
      await sync.stop();
    }
  });

  it("updates tags with PATCH synchronously and deletes the NSG", async () => {
    await createWebNsg();
    const patched = await client.networkSecurityGroups.updateTags(RG, "nsg-web", { tags: { env: "dev" } });
    expect(patched.tags).toEqual({ env: "dev" });
    await client.networkSecurityGroups.delete(RG, "nsg-web", FAST);
    expect(emu.get(NSG_ID)).toBeUndefined();
    expect(
      eventsOfType("Microsoft.Resources.ResourceDeleteSuccess").map((e) => e.data.operationName),
    ).toEqual(["Microsoft.Network/networkSecurityGroups/delete"]);
  });
});

describe("ARM emulator: Event Grid events", () => {
  it("emits ResourceWriteSuccess with the caller's claims, operationName and the written resource as subject", async () => {
    const received: object[][] = [];
    const unsubscribe = emu.onEvent((batch) => received.push(batch));
    await createWebNsg();
    await client.securityRules.createOrUpdate(
      RG,
      "nsg-web",
      "allow-https",
      {
        protocol: "Tcp",
        sourceAddressPrefix: "Internet",
        sourcePortRange: "*",
        destinationAddressPrefix: "*",
        destinationPortRange: "443",
        access: "Allow",
        priority: 100,
        direction: "Inbound",
      },
      { ...FAST, requestOptions: { headers: { "x-ms-client-request-id": "guardian-test-1" } } },
    );
    unsubscribe();

    const writes = eventsOfType("Microsoft.Resources.ResourceWriteSuccess");
    expect(writes.map((e) => [e.subject, e.data.operationName])).toEqual([
      [NSG_ID, "Microsoft.Network/networkSecurityGroups/write"],
      [`${NSG_ID}/securityRules/allow-https`, "Microsoft.Network/networkSecurityGroups/securityRules/write"],
    ]);
    const ruleEvent = writes[1] as EventShape;
    expect(ruleEvent.topic).toBe(`/subscriptions/${SUB}`);
    expect(ruleEvent.dataVersion).toBe("2");
    expect(ruleEvent.metadataVersion).toBe("1");
    expect(ruleEvent.data).toMatchObject({
      resourceProvider: "Microsoft.Network",
      resourceUri: `${NSG_ID}/securityRules/allow-https`,
      status: "Succeeded",
      subscriptionId: SUB,
      tenantId: USER_CLAIMS.tid,
      authorization: {
        scope: `${NSG_ID}/securityRules/allow-https`,
        action: "Microsoft.Network/networkSecurityGroups/securityRules/write",
        evidence: { principalId: USER_CLAIMS.oid, principalType: "User", role: "Contributor" },
      },
      httpRequest: { clientRequestId: "guardian-test-1", clientIpAddress: "127.0.0.1", method: "PUT" },
    });
    // Claims as ARM forwards them: mapped claim URIs next to short names, every value a string.
    expect(ruleEvent.data.claims).toMatchObject({
      "http://schemas.microsoft.com/identity/claims/objectidentifier": USER_CLAIMS.oid,
      "http://schemas.microsoft.com/identity/claims/tenantid": USER_CLAIMS.tid,
      "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": USER_CLAIMS.upn,
      "http://schemas.microsoft.com/claims/authnmethodsreferences": "pwd,mfa",
      name: USER_CLAIMS.name,
      appid: USER_CLAIMS.appid,
      ipaddr: USER_CLAIMS.ipaddr,
    });
    // A create carries no httpRequest (documented: only updates and deletes do).
    expect((writes[0] as EventShape).data.httpRequest).toBeUndefined();
    // Listeners got the same batches, one per write, after each response.
    expect(received.flat()).toEqual(emu.events);
  });

  it("emits Resource Notifications for the parent NSG with its full payload when enabled", async () => {
    await createWebNsg();
    await client.securityRules.delete(RG, "nsg-web", "allow-https", FAST);
    await client.networkSecurityGroups.delete(RG, "nsg-web", FAST);
    const notes = (emu.events as Array<Record<string, unknown>>).filter((e) =>
      String(e.eventType).startsWith("Microsoft.ResourceNotifications."),
    );
    expect(notes.map((e) => [e.eventType, e.subject])).toEqual([
      ["Microsoft.ResourceNotifications.Resources.CreatedOrUpdated", NSG_ID],
      ["Microsoft.ResourceNotifications.Resources.CreatedOrUpdated", NSG_ID],
      ["Microsoft.ResourceNotifications.Resources.Deleted", NSG_ID],
    ]);
    const afterRuleDelete = notes[1] as {
      data: { resourceInfo: { properties: { securityRules: Array<{ name: string }> } }; apiVersion: string };
    };
    expect(afterRuleDelete.data.resourceInfo.properties.securityRules.map((r) => r.name)).toEqual([
      "allow-ssh-office",
    ]);
    expect(afterRuleDelete.data.apiVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect((notes[2] as { data: { resourceInfo: object } }).data.resourceInfo).toEqual({
      id: NSG_ID,
      name: "nsg-web",
      type: "Microsoft.Network/networkSecurityGroups",
    });
  });
});

describe("ARM emulator: validation, errors and faults", () => {
  it("rejects an invalid priority with 400 SecurityRuleInvalidPriority", async () => {
    await createWebNsg();
    const error = await expectRestError(
      client.securityRules.createOrUpdate(
        RG,
        "nsg-web",
        "too-high",
        {
          protocol: "Tcp",
          sourceAddressPrefix: "*",
          sourcePortRange: "*",
          destinationAddressPrefix: "*",
          destinationPortRange: "22",
          access: "Allow",
          priority: 5000,
          direction: "Inbound",
        },
        FAST,
      ),
      400,
      "SecurityRuleInvalidPriority",
    );
    expect(error.message).toContain("5000");
    // Only the NSG create's event: a rejected write emits nothing.
    expect(eventsOfType("Microsoft.Resources.ResourceWriteSuccess")).toHaveLength(1);
  });

  it("rejects duplicate priorities per direction, both singular and plural fields, and bad enums", async () => {
    await createWebNsg();
    const base = {
      protocol: "Tcp",
      sourcePortRange: "*",
      destinationAddressPrefix: "*",
      destinationPortRange: "22",
      access: "Allow",
      direction: "Inbound",
    };
    const put = (body: unknown) =>
      rawArmRequest(emu, "PUT", `${NSG_ID}/securityRules/r?${API}`, { token, body });
    const conflict = await put({ properties: { ...base, sourceAddressPrefix: "*", priority: 100 } });
    expect(conflict.status).toBe(400);
    expect(conflict.body).toMatchObject({ error: { code: "SecurityRuleConflict" } });
    // The same priority in the other direction is fine.
    const outbound = await put({
      properties: { ...base, sourceAddressPrefix: "*", priority: 100, direction: "Outbound" },
    });
    expect(outbound.status).toBe(201);
    const both = await put({
      properties: { ...base, sourceAddressPrefix: "*", sourceAddressPrefixes: ["10.0.0.0/8"], priority: 300 },
    });
    expect(both.status).toBe(400);
    expect(both.body).toMatchObject({ error: { code: "SecurityRuleParameterConflict" } });
    const badProtocol = await put({
      properties: { ...base, sourceAddressPrefix: "*", priority: 300, protocol: "Gre" },
    });
    expect(badProtocol.body).toMatchObject({
      error: { code: "InvalidRequestFormat", details: [{ code: "InvalidJson" }] },
    });
    const badPort = await put({
      properties: { ...base, sourceAddressPrefix: "*", priority: 300, destinationPortRange: "22,80" },
    });
    expect(badPort.body).toMatchObject({ error: { code: "SecurityRuleInvalidPortRange" } });
    const tagInPlural = await put({
      properties: { ...base, sourceAddressPrefixes: ["Internet"], priority: 300 },
    });
    expect(tagInPlural.body).toMatchObject({
      error: { code: "SecurityRuleParameterContainsUnsupportedValue" },
    });
    const malformed = await put("{ not json");
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ error: { code: "InvalidRequestFormat" } });
  });

  it("answers 404 ResourceNotFound for a missing NSG, also when writing a rule into it", async () => {
    const error = await expectRestError(
      client.networkSecurityGroups.get(RG, "nope"),
      404,
      "ResourceNotFound",
    );
    expect(error.message).toContain("Microsoft.Network/networkSecurityGroups/nope");
    await expectRestError(
      client.securityRules.createOrUpdate(
        RG,
        "nope",
        "r",
        {
          protocol: "*",
          sourceAddressPrefix: "*",
          sourcePortRange: "*",
          destinationAddressPrefix: "*",
          destinationPortRange: "*",
          access: "Deny",
          priority: 4096,
          direction: "Inbound",
        },
        FAST,
      ),
      404,
      "ResourceNotFound",
    );
  });

  it("requires api-version and a bearer token, with ARM error bodies", async () => {
    const noVersion = await rawArmRequest(emu, "GET", NSG_ID, { token });
    expect(noVersion.status).toBe(400);
    expect(noVersion.body).toMatchObject({ error: { code: "MissingApiVersionParameter" } });
    const noAuth = await rawArmRequest(emu, "GET", `${NSG_ID}?${API}`);
    expect(noAuth.status).toBe(401);
    expect(noAuth.body).toMatchObject({ error: { code: "AuthenticationFailed" } });
    const garbage = await rawArmRequest(emu, "GET", `${NSG_ID}?${API}`, { token: "not-a-jwt" });
    expect(garbage.status).toBe(401);
    expect(garbage.body).toMatchObject({ error: { code: "InvalidAuthenticationToken" } });
    expect(emu.requests.map((r) => r.status)).toEqual([400, 401, 401]);
  });

  it("throttles with 429 + Retry-After, which the SDK's retry policy absorbs", async () => {
    await createWebNsg();
    emu.requests.length = 0;
    emu.injectFault({
      method: "GET",
      pathIncludes: "/networkSecurityGroups/nsg-web",
      status: 429,
      retryAfterSeconds: 0,
      times: 2,
    });
    const nsg = await client.networkSecurityGroups.get(RG, "nsg-web");
    expect(nsg.name).toBe("nsg-web");
    expect(emu.requests.map((r) => r.status)).toEqual([429, 429, 200]);
    const raw = await (async () => {
      emu.injectFault({ status: 429, retryAfterSeconds: 7, times: 1 });
      return rawArmRequest(emu, "GET", `${NSG_ID}?${API}`, { token });
    })();
    expect(raw.headers["retry-after"]).toBe("7");
    expect(raw.body).toMatchObject({ error: { code: "TooManyRequests" } });
  });

  it("retries injected 503s on writes and still applies the write exactly once", async () => {
    emu.injectFault({ method: "PUT", status: 503, times: 1 });
    await createWebNsg();
    expect(emu.requests.filter((r) => r.method === "PUT").map((r) => r.status)).toEqual([503, 201]);
    expect(eventsOfType("Microsoft.Resources.ResourceWriteSuccess")).toHaveLength(1);
  });
});

describe("ARM emulator: injected faults (test/harness/faults.ts)", () => {
  const RULE = `${NSG_ID}/securityRules/allow-ssh-office`;
  const ruleBody = (source: string) => ({
    properties: {
      protocol: "Tcp",
      sourcePortRange: "*",
      destinationPortRange: "22",
      sourceAddressPrefix: source,
      destinationAddressPrefix: "*",
      access: "Allow",
      priority: 110,
      direction: "Inbound",
    },
  });
  const ORIGINAL = "198.51.100.0/24,203.0.113.0/24";
  const sourceOf = () => {
    const p = (
      emu.get(RULE) as { properties: { sourceAddressPrefix?: string; sourceAddressPrefixes: string[] } }
    ).properties;
    return p.sourceAddressPrefix ?? p.sourceAddressPrefixes.join(",");
  };
  const failure = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e as { code?: string },
    );

  it("answers 409 AnotherOperationInProgress, which the SDK's default policy does not retry", async () => {
    await createWebNsg();
    emu.injectFault({ method: "PUT", status: 409, times: 1 });
    const answer = await rawArmRequest(emu, "PUT", `${RULE}?${API}`, {
      token,
      body: ruleBody("10.1.0.0/16"),
    });
    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({ error: { code: "AnotherOperationInProgress" } });
    expect(sourceOf()).toBe(ORIGINAL);
  });

  it("drops the connection before the call reaches the service: nothing applied", async () => {
    await createWebNsg();
    const mark = emu.events.length;
    emu.injectFault({ method: "PUT", kind: "reset-before", times: 1 });
    const error = await failure(
      rawArmRequest(emu, "PUT", `${RULE}?${API}`, { token, body: ruleBody("10.1.0.0/16") }),
    );
    expect(error?.code).toBe("ECONNRESET");
    expect(sourceOf()).toBe(ORIGINAL);
    expect(emu.events.length).toBe(mark);
    expect(emu.requests.at(-1)).toMatchObject({ method: "PUT", status: 0, fault: "reset-before" });
  });

  it("applies the call and then drops the connection: the change and its event exist, the answer is lost", async () => {
    await createWebNsg();
    const mark = emu.events.length;
    emu.injectFault({ method: "PUT", kind: "reset-after", times: 1 });
    const error = await failure(
      rawArmRequest(emu, "PUT", `${RULE}?${API}`, { token, body: ruleBody("10.1.0.0/16") }),
    );
    expect(error?.code).toBe("ECONNRESET");
    expect(sourceOf()).toBe("10.1.0.0/16");
    expect(emu.events.length).toBe(mark + 2); // ResourceWriteSuccess and the notification
    expect(emu.requests.at(-1)).toMatchObject({
      status: 200,
      fault: "reset-after",
      body: ruleBody("10.1.0.0/16"),
    });
  });

  it("never answers a black-holed call (before or after applying it); the client's own timeout ends it", async () => {
    await createWebNsg();
    const timeout = { abortSignal: AbortSignal.timeout(200), ...FAST };
    emu.injectFault({ method: "GET", pathIncludes: "nsg-web", kind: "hang", times: 1 });
    await expect(client.networkSecurityGroups.get(RG, "nsg-web", timeout)).rejects.toThrow(/abort/i);
    emu.injectFault({ method: "DELETE", kind: "hang-after", times: 1 });
    await expect(
      client.securityRules.delete(RG, "nsg-web", "allow-ssh-office", {
        abortSignal: AbortSignal.timeout(200),
        ...FAST,
      }),
    ).rejects.toThrow(/abort/i);
    expect(emu.get(RULE)).toBeUndefined();
    expect(emu.requests.map((r) => r.fault).filter(Boolean)).toEqual(["hang", "hang-after"]);
  });

  it("fails a long-running write with the given code: rolled back by default, left Failed when applied", async () => {
    await createWebNsg();
    const etag = (emu.get(NSG_ID) as { etag: string }).etag;
    emu.injectFault({ method: "PUT", kind: "lro-failed", code: "InternalServerError", times: 1 });
    const error = await failure(
      client.securityRules.createOrUpdate(
        RG,
        "nsg-web",
        "allow-ssh-office",
        {
          protocol: "Tcp",
          sourcePortRange: "*",
          destinationPortRange: "22",
          sourceAddressPrefix: "10.1.0.0/16",
          destinationAddressPrefix: "*",
          access: "Allow",
          priority: 110,
          direction: "Inbound",
        },
        FAST,
      ),
    );
    expect(String(error)).toMatch(/long-running operation has failed.*InternalServerError/);
    // Rolled back to what it was, under a new etag (the intermediate state was visible while the operation ran).
    expect(sourceOf()).toBe(ORIGINAL);
    expect((emu.get(NSG_ID) as { etag: string }).etag).not.toBe(etag);

    emu.injectFault({
      method: "PUT",
      kind: "lro-failed",
      code: "SecurityRuleInvalid",
      applied: true,
      times: 1,
    });
    const put = await rawArmRequest(emu, "PUT", `${RULE}?${API}`, { token, body: ruleBody("10.2.0.0/16") });
    expect(put.status).toBe(200);
    const status = new URL(String(put.headers["azure-asyncoperation"]));
    let poll = await rawArmRequest(emu, "GET", status.pathname + status.search, { token });
    while ((poll.body as { status: string }).status === "InProgress") {
      poll = await rawArmRequest(emu, "GET", status.pathname + status.search, { token });
    }
    expect(poll.body).toEqual({
      status: "Failed",
      error: { code: "SecurityRuleInvalid", message: expect.any(String) },
    });
    expect(emu.get(RULE)).toMatchObject({
      properties: { sourceAddressPrefix: "10.2.0.0/16", provisioningState: "Failed" },
    });
  });

  it("keeps rule properties it does not model, as sent, and logs each write's body", async () => {
    await createWebNsg();
    const body = ruleBody("10.1.0.0/16");
    const withUnknown = { ...body, properties: { ...body.properties, futureSetting: { mode: "Strict" } } };
    await rawArmRequest(emu, "PUT", `${RULE}?${API}`, { token, body: withUnknown });
    expect(emu.get(RULE)).toMatchObject({ properties: { futureSetting: { mode: "Strict" } } });
    expect(emu.requests.at(-1)?.body).toEqual(withUnknown);
  });

  it("draws seeded random faults for matching callers only, and lets a test act between a read and its answer", async () => {
    await createWebNsg();
    const plan = randomFaults({
      seed: 7,
      rate: 1,
      mix: [
        { weight: 1, fault: { status: 503 } },
        { weight: 1, fault: { kind: "lro-failed", code: "Conflict" } },
      ],
      match: (call) => call.caller === "someone-else",
    });
    emu.setFaultPlan(plan);
    expect((await rawArmRequest(emu, "GET", `${NSG_ID}?${API}`, { token })).status).toBe(200);
    const other = mintToken({ oid: "someone-else" });
    expect((await rawArmRequest(emu, "GET", `${NSG_ID}?${API}`, { token: other })).status).toBe(503);
    // lro-failed is drawn only for long-running writes.
    expect(plan.injected.map((i) => i.fault)).toEqual([{ status: 503 }]);
    emu.setFaultPlan(undefined);

    const editor = networkClientFor(emu, other);
    const off = emu.beforeAnswer(async (entry) => {
      if (entry.method === "GET" && entry.caller === USER_CLAIMS.oid) {
        off();
        await editor.securityRules.createOrUpdate(
          RG,
          "nsg-web",
          "allow-ssh-office",
          { ...ruleBody("10.9.0.0/16").properties, protocol: "Tcp", access: "Allow", direction: "Inbound" },
          FAST,
        );
      }
    });
    const read = await rawArmRequest(emu, "GET", `${RULE}?${API}`, { token });
    // The read answers what was true when it was handled; the edit landed before the answer left.
    expect(
      (read.body as { properties: { sourceAddressPrefixes: string[] } }).properties.sourceAddressPrefixes,
    ).toEqual(ORIGINAL.split(","));
    expect(sourceOf()).toBe("10.9.0.0/16");
    const stale = await rawArmRequest(emu, "PUT", `${RULE}?${API}`, {
      token,
      body: ruleBody("10.1.0.0/16"),
      headers: { "If-Match": String((read.body as { etag: string }).etag) },
    });
    expect(stale.status).toBe(412);
  });
});

describe("ARM emulator: optional fidelity switches", () => {
  it("locks a resource while its operation runs (409 AnotherOperationInProgress) and renders notification booleans as 1/0", async () => {
    const strict = await startArmEmulator({
      enforceOperationLocks: true,
      emitResourceNotifications: true,
      notificationBooleansAsNumbers: true,
    });
    try {
      const body = { location: "eastus", properties: { flushConnection: true } };
      const first = await rawArmRequest(strict, "PUT", `${NSG_ID}?${API}`, { token, body });
      expect(first.status).toBe(201);
      const blocked = await rawArmRequest(strict, "PUT", `${NSG_ID}?${API}`, { token, body });
      expect(blocked.status).toBe(409);
      expect(blocked.body).toMatchObject({ error: { code: "AnotherOperationInProgress" } });
      const status = new URL(String(first.headers["azure-asyncoperation"]));
      await rawArmRequest(strict, "GET", status.pathname + status.search, { token });
      const done = await rawArmRequest(strict, "GET", status.pathname + status.search, { token });
      expect(done.body).toEqual({ status: "Succeeded" });
      const afterwards = await rawArmRequest(strict, "PUT", `${NSG_ID}?${API}`, { token, body });
      expect(afterwards.status).toBe(200);
      const note = (
        strict.events as Array<{ eventType: string; data: { resourceInfo: { properties: object } } }>
      ).find((e) => e.eventType === "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated");
      expect(note?.data.resourceInfo.properties).toMatchObject({
        flushConnection: 1,
        provisioningState: "Succeeded",
      });
    } finally {
      await strict.stop();
    }
  });
});

describe("ARM emulator: virtual networks and subnets", () => {
  it("creates a VNet with a subnet bound to an NSG and reflects the binding on the NSG", async () => {
    await createWebNsg();
    const vnet = await client.virtualNetworks.createOrUpdate(
      RG,
      "vnet-hub",
      {
        location: "eastus",
        addressSpace: { addressPrefixes: ["10.10.0.0/16"] },
        subnets: [{ name: "web", addressPrefix: "10.10.1.0/24", networkSecurityGroup: { id: NSG_ID } }],
      },
      FAST,
    );
    expect(vnet.subnets?.[0]?.etag).toBe(vnet.etag);
    const subnet = await client.subnets.get(RG, "vnet-hub", "web");
    expect(subnet.type).toBe("Microsoft.Network/virtualNetworks/subnets");
    expect(subnet.networkSecurityGroup?.id).toBe(NSG_ID);
    expect(subnet.privateEndpointNetworkPolicies).toBe("Disabled");
    const nsg = await client.networkSecurityGroups.get(RG, "nsg-web");
    expect(nsg.subnets?.map((s) => s.id)).toEqual([subnet.id]);
    await expectRestError(
      client.networkSecurityGroups.delete(RG, "nsg-web", FAST),
      400,
      "InUseNetworkSecurityGroupCannotBeDeleted",
    );

    await client.subnets.createOrUpdate(
      RG,
      "vnet-hub",
      "data",
      {
        addressPrefix: "10.10.2.0/24",
        serviceEndpoints: [{ service: "Microsoft.Storage" }],
      },
      FAST,
    );
    const data = await client.subnets.get(RG, "vnet-hub", "data");
    expect(data.serviceEndpoints?.[0]).toMatchObject({
      service: "Microsoft.Storage",
      provisioningState: "Succeeded",
    });
    expect(eventsOfType("Microsoft.Resources.ResourceWriteSuccess").at(-1)?.data.operationName).toBe(
      "Microsoft.Network/virtualNetworks/subnets/write",
    );
    await client.subnets.delete(RG, "vnet-hub", "data", FAST);
    const names = [];
    for await (const s of client.subnets.list(RG, "vnet-hub")) names.push(s.name);
    expect(names).toEqual(["web"]);
  });

  it("seeds resources directly without events and serves them with server fields filled in", async () => {
    emu.seed({
      id: NSG_ID,
      location: "westeurope",
      properties: {
        securityRules: [
          {
            name: "legacy-any",
            properties: {
              protocol: "*",
              sourceAddressPrefix: "*",
              sourcePortRange: "*",
              destinationAddressPrefix: "*",
              destinationPortRange: "*",
              access: "Allow",
              priority: 100,
              direction: "Inbound",
            },
          },
        ],
      },
    });
    expect(emu.events).toHaveLength(0);
    const nsg = await client.networkSecurityGroups.get(RG, "nsg-web");
    expect(nsg.securityRules?.[0]?.id).toBe(`${NSG_ID}/securityRules/legacy-any`);
    expect(nsg.securityRules?.[0]?.etag).toBe(nsg.etag);
    expect(nsg.defaultSecurityRules).toHaveLength(6);
  });
});
