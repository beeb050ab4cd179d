import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InputError } from "../../../shared/errors.ts";
import { normaliseEventGrid } from "../../../shared/events/azure.ts";
import { normalise } from "../../../shared/events/index.ts";
import type { NormaliseResult, ResourceChange } from "../../../shared/types.ts";

// Fixture sources are listed in test/fixtures/events/azure/README.md.
type Json = Record<string, unknown>;

function fixture(name: string): unknown {
  const url = new URL(`../../fixtures/events/azure/${name}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")) as unknown;
}

/** The first event of a fixture (the docs deliver single events as one-element arrays). */
function event(name: string): Json {
  const parsed = fixture(name);
  const first = Array.isArray(parsed) ? parsed[0] : parsed;
  return structuredClone(first) as Json;
}

function dataOf(e: Json): Json {
  return e.data as Json;
}

function onlyChange(result: NormaliseResult): ResourceChange {
  expect(result.skipped).toEqual([]);
  expect(result.changes).toHaveLength(1);
  const change = result.changes[0];
  if (change === undefined) throw new Error("no change");
  return change;
}

const SUB = "8f2c1e4a-6b3d-4f9a-a7c5-2d1e0b9f3c64";
const TENANT = "3b7d9e21-4c5a-4e8f-9a16-7f0c2b5d8e43";
const NSG = `/subscriptions/${SUB}/resourceGroups/rg-network-prod/providers/Microsoft.Network/networkSecurityGroups/nsg-web`;
const NSG_TYPE = "microsoft.network/networksecuritygroups";
const USER = {
  name: "alex.morgan@contoso.com",
  principalId: "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
  principalType: "User",
  appId: "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
  sourceIp: "203.0.113.24",
};

describe("normaliseEventGrid: Microsoft.Resources events", () => {
  it("ResourceWriteSuccess of a security rule (Event Grid schema) evaluates the parent NSG", () => {
    expect(onlyChange(normaliseEventGrid(fixture("resource-write-success.eventgrid")))).toEqual({
      cloud: "azure",
      account: SUB,
      resourceId: NSG,
      resourceType: NSG_TYPE,
      operation: "write",
      operationName: "Microsoft.Network/networkSecurityGroups/securityRules/write",
      subjectId: `${NSG}/securityRules/allow-ssh`,
      actor: USER,
      eventId: "4db48cba-50a2-455a-93b4-de41a3b5b7f6",
      correlationId: "9c2e51d7-6f0a-4b8e-a3d4-1f7c8e2b6a90",
      time: "2024-05-31T09:12:04.6117357Z",
      details: {
        schema: "eventgrid",
        topic: `/subscriptions/${SUB}`,
        tenantId: TENANT,
        resourceGroup: "rg-network-prod",
        status: "Succeeded",
        httpMethod: "PUT",
        clientRequestId: "e7b1c2d3-4a5b-4c6d-8e9f-0a1b2c3d4e5f",
        role: "Network Contributor",
      },
    } satisfies ResourceChange);
  });

  it("the same event in the CloudEvents 1.0 schema gives the same change", () => {
    const fromEventGrid = onlyChange(normaliseEventGrid(fixture("resource-write-success.eventgrid")));
    const fromCloudEvents = onlyChange(normaliseEventGrid(fixture("resource-write-success.cloudevents")));
    expect(fromCloudEvents).toEqual({
      ...fromEventGrid,
      details: { ...fromEventGrid.details, schema: "cloudevents" },
    });
  });

  it("ResourceDeleteSuccess of a rule is a delete on the NSG naming the deleted rule", () => {
    const change = onlyChange(normaliseEventGrid(fixture("resource-delete-success.eventgrid")));
    expect(change).toMatchObject({
      resourceId: NSG,
      resourceType: NSG_TYPE,
      operation: "delete",
      operationName: "Microsoft.Network/networkSecurityGroups/securityRules/delete",
      subjectId: `${NSG}/securityRules/allow-rdp`,
      actor: USER,
      eventId: "19a69642-1aad-4a96-a5ab-8d05494513ce",
      correlationId: "2b7f0c94-3e1d-4a6b-9c85-7d2e4f1a0b36",
      time: "2024-05-31T09:24:12.763881Z",
      account: SUB,
    });
    expect(change.details?.httpMethod).toBe("DELETE");
  });

  it("ResourceActionSuccess that only lists keys is skipped as read-only", () => {
    expect(normaliseEventGrid(fixture("resource-action-success.eventgrid"))).toEqual({
      changes: [],
      skipped: [
        {
          eventId: "a3c5e7f9-1b2d-4f6a-8c0e-2d4f6a8c0e1b",
          eventType: "Microsoft.Resources.ResourceActionSuccess",
          reason: "read-only",
          detail: "Microsoft.Storage/storageAccounts/listKeys/action reads and changes nothing",
        },
      ],
    });
  });

  it("an action that is not a list goes on to the type check", () => {
    const e = event("resource-action-success.eventgrid");
    const vm =
      "/subscriptions/8f2c1e4a-6b3d-4f9a-a7c5-2d1e0b9f3c64/resourceGroups/rg-network-prod/providers/Microsoft.Compute/virtualMachines/vm-1";
    dataOf(e).operationName = "Microsoft.Compute/virtualMachines/restart/action";
    dataOf(e).resourceUri = vm;
    e.subject = vm;
    expect(normaliseEventGrid(e).skipped).toEqual([
      {
        eventId: "a3c5e7f9-1b2d-4f6a-8c0e-2d4f6a8c0e1b",
        eventType: "Microsoft.Resources.ResourceActionSuccess",
        reason: "unsupported-resource-type",
        detail:
          "microsoft.compute/virtualmachines is not a supported resource type (Microsoft.Compute/virtualMachines/restart/action)",
      },
    ]);
  });

  it("a service principal's token (no upn/name claims) names the caller by app id", () => {
    const write = event("resource-write-success.eventgrid");
    const action = event("resource-action-success.eventgrid");
    dataOf(write).claims = dataOf(action).claims;
    dataOf(write).authorization = dataOf(action).authorization;
    delete dataOf(write).httpRequest;
    expect(onlyChange(normaliseEventGrid(write)).actor).toEqual({
      name: "7d1c5b2e-8f4a-4e3b-9a6d-2c0f1e8b7a45",
      appId: "7d1c5b2e-8f4a-4e3b-9a6d-2c0f1e8b7a45",
      principalId: "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
      principalType: "ServicePrincipal",
    });
  });

  it("actor falls back to the token's claims when evidence and httpRequest are absent", () => {
    const write = event("resource-write-success.eventgrid");
    delete (dataOf(write).authorization as Json).evidence;
    delete dataOf(write).httpRequest;
    expect(onlyChange(normaliseEventGrid(write)).actor).toEqual({
      name: "alex.morgan@contoso.com",
      principalId: "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b",
      appId: "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
      sourceIp: "203.0.113.24",
    });
  });

  it("claims and authorization delivered as JSON strings (older deliveries) are read the same", () => {
    const write = event("resource-write-success.eventgrid");
    dataOf(write).claims = JSON.stringify(dataOf(write).claims);
    dataOf(write).authorization = JSON.stringify(dataOf(write).authorization);
    expect(onlyChange(normaliseEventGrid(write)).actor).toEqual(USER);
  });

  it("falls back to subject when data.resourceUri is absent", () => {
    const write = event("resource-write-success.eventgrid");
    delete dataOf(write).resourceUri;
    expect(onlyChange(normaliseEventGrid(write))).toMatchObject({
      resourceId: NSG,
      subjectId: `${NSG}/securityRules/allow-ssh`,
    });
  });

  it("ResourceWriteFailure is skipped as a failed operation", () => {
    expect(normaliseEventGrid(fixture("resource-write-failure.eventgrid"))).toEqual({
      changes: [],
      skipped: [
        {
          eventId: "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918",
          eventType: "Microsoft.Resources.ResourceWriteFailure",
          reason: "failed-operation",
          detail: `Microsoft.Network/networkSecurityGroups/securityRules/write on ${NSG}/securityRules/allow-ssh failed (status Failed)`,
        },
      ],
    });
  });

  it.each([
    "Microsoft.Resources.ResourceWriteCancel",
    "Microsoft.Resources.ResourceDeleteFailure",
    "Microsoft.Resources.ResourceDeleteCancel",
    "Microsoft.Resources.ResourceActionFailure",
    "Microsoft.Resources.ResourceActionCancel",
  ])("%s is skipped as a failed operation", (eventType) => {
    const e = event("resource-write-failure.eventgrid");
    e.eventType = eventType;
    const result = normaliseEventGrid(e);
    expect(result.changes).toEqual([]);
    expect(result.skipped).toHaveLength(1);
    expect(result.skipped[0]?.reason).toBe("failed-operation");
    expect(result.skipped[0]?.detail).toMatch(eventType.endsWith("Cancel") ? /was canceled/ : /failed/);
  });

  it("a subnet is a kind of its own: its write evaluates the subnet", () => {
    const vnet = `/subscriptions/${SUB}/resourceGroups/rg-network-prod/providers/Microsoft.Network/virtualNetworks/vnet-hub`;
    const uri = `${vnet}/subnets/snet-web`;
    const e = event("resource-write-success.eventgrid");
    e.subject = uri;
    Object.assign(dataOf(e), {
      resourceUri: uri,
      operationName: "Microsoft.Network/virtualNetworks/subnets/write",
    });
    const change = onlyChange(normaliseEventGrid(e));
    expect(change).toMatchObject({
      resourceId: uri,
      resourceType: "microsoft.network/virtualnetworks/subnets",
    });
    expect(change.subjectId).toBeUndefined();
  });

  it("a route write re-evaluates its route table, a definition write its service endpoint policy", () => {
    const rg = `/subscriptions/${SUB}/resourceGroups/rg-network-prod/providers/Microsoft.Network`;
    const cases = [
      [
        `${rg}/routeTables/rt-egress/routes/default`,
        "Microsoft.Network/routeTables/routes/write",
        `${rg}/routeTables/rt-egress`,
      ],
      [
        `${rg}/serviceEndpointPolicies/sep-data/serviceEndpointPolicyDefinitions/storage`,
        "Microsoft.Network/serviceEndpointPolicies/serviceEndpointPolicyDefinitions/write",
        `${rg}/serviceEndpointPolicies/sep-data`,
      ],
    ] as const;
    for (const [uri, op, parent] of cases) {
      const e = event("resource-write-success.eventgrid");
      e.subject = uri;
      Object.assign(dataOf(e), { resourceUri: uri, operationName: op });
      expect(onlyChange(normaliseEventGrid(e))).toMatchObject({
        resourceId: parent,
        subjectId: uri,
        operationName: op,
      });
    }
  });

  it("a private endpoint connection's write re-evaluates its storage account (the connection is the subject)", () => {
    const storage = `/subscriptions/${SUB}/resourceGroups/rg-network-prod/providers/Microsoft.Storage/storageAccounts/stguardianlogs`;
    const uri = `${storage}/privateEndpointConnections/stguardianlogs.pe-1`;
    const e = event("resource-write-success.eventgrid");
    e.subject = uri;
    Object.assign(dataOf(e), {
      resourceUri: uri,
      operationName: "Microsoft.Storage/storageAccounts/privateEndpointConnections/write",
    });
    const change = onlyChange(normaliseEventGrid(e));
    expect(change.resourceId).toBe(storage);
    expect(change.resourceType).toBe("microsoft.storage/storageaccounts");
    expect(change.subjectId).toBe(uri);
  });

  it("a write of the NSG itself evaluates the NSG with no subjectId", () => {
    const e = event("resource-write-success.eventgrid");
    e.subject = NSG;
    Object.assign(dataOf(e), {
      resourceUri: NSG,
      operationName: "Microsoft.Network/networkSecurityGroups/write",
    });
    const change = onlyChange(normaliseEventGrid(e));
    expect(change.resourceId).toBe(NSG);
    expect(change.resourceType).toBe(NSG_TYPE);
    expect(change).not.toHaveProperty("subjectId");
  });
});

describe("normaliseEventGrid: tag changes (an exemption tag may have come or gone)", () => {
  it("a Tags API write at the NSG's scope (Microsoft.Resources/tags/write) evaluates the NSG", () => {
    expect(onlyChange(normaliseEventGrid(fixture("resource-tags-write-success.eventgrid")))).toMatchObject({
      cloud: "azure",
      resourceId: NSG,
      resourceType: "microsoft.network/networksecuritygroups",
      operation: "write",
      operationName: "Microsoft.Resources/tags/write",
      subjectId: `${NSG}/providers/Microsoft.Resources/tags/default`,
      actor: { name: "alex.morgan@contoso.com" },
      eventId: "7c1d2e3f-4a5b-4c6d-9e8f-0a1b2c3d4e5f",
    });
  });

  it("deleting the NSG's tags is a write of the NSG (it is still there), never a deletion", () => {
    expect(onlyChange(normaliseEventGrid(fixture("resource-tags-delete-success.eventgrid")))).toMatchObject({
      resourceId: NSG,
      operation: "write",
      operationName: "Microsoft.Resources/tags/delete",
      subjectId: `${NSG}/providers/Microsoft.Resources/tags/default`,
    });
    // Also when the event names the tagged resource itself rather than its tags resource.
    const e = event("resource-tags-delete-success.eventgrid");
    const data = e.data as Record<string, unknown>;
    data.resourceUri = NSG;
    e.subject = NSG;
    expect(onlyChange(normaliseEventGrid(e))).toMatchObject({ resourceId: NSG, operation: "write" });
  });

  it("a tags-only PATCH of the NSG (NetworkSecurityGroups_UpdateTags) evaluates the NSG", () => {
    expect(onlyChange(normaliseEventGrid(fixture("nsg-update-tags-patch.eventgrid")))).toMatchObject({
      resourceId: NSG,
      operation: "write",
      operationName: "Microsoft.Network/networkSecurityGroups/write",
      details: { httpMethod: "PATCH" },
    });
  });

  it("tags of another supported kind evaluate it; of an unsupported resource or a subscription, are skipped", () => {
    const tagged = event("resource-tags-write-success.eventgrid");
    const data = tagged.data as Record<string, unknown>;
    const account = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1`;
    data.resourceUri = `${account}/providers/Microsoft.Resources/tags/default`;
    expect(onlyChange(normaliseEventGrid(tagged))).toMatchObject({
      resourceId: account,
      resourceType: "microsoft.storage/storageaccounts",
      operation: "write",
    });
    data.resourceUri = `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/providers/Microsoft.Resources/tags/default`;
    expect(normaliseEventGrid(tagged).skipped).toMatchObject([{ reason: "unsupported-resource-type" }]);
    data.resourceUri = `/subscriptions/${SUB}/providers/Microsoft.Resources/tags/default`;
    expect(normaliseEventGrid(tagged).skipped).toMatchObject([{ reason: "unsupported-resource-type" }]);
  });
});

describe("normaliseEventGrid: batches", () => {
  it("collapses the two writes of one create and keeps the other changes and skips in order", () => {
    const result = normaliseEventGrid(fixture("batch.eventgrid"));
    expect(result.changes.map((c) => [c.eventId, c.resourceId, c.operation, c.subjectId])).toEqual([
      ["11111111-aaaa-4bbb-8ccc-000000000001", NSG, "write", `${NSG}/securityRules/allow-https`],
      [
        "11111111-aaaa-4bbb-8ccc-000000000003",
        `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Network/networkSecurityGroups/nsg-app`,
        "delete",
        `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Network/networkSecurityGroups/nsg-app/securityRules/deny-all-inbound`,
      ],
    ]);
    expect(result.changes[0]?.details?.duplicateEventIds).toEqual(["11111111-aaaa-4bbb-8ccc-000000000002"]);
    expect(result.changes[0]?.details).not.toHaveProperty("otherSubjectIds");
    expect(result.changes[0]?.details).not.toHaveProperty("httpMethod");
    expect(result.changes[1]?.details).not.toHaveProperty("duplicateEventIds");
    expect(result.skipped).toEqual([
      {
        eventId: "11111111-aaaa-4bbb-8ccc-000000000004",
        eventType: "Microsoft.Resources.ResourceWriteSuccess",
        reason: "unsupported-resource-type",
        detail:
          "microsoft.resources/deployments is not a supported resource type (Microsoft.Resources/deployments/write)",
      },
    ]);
  });

  it("does not collapse across correlation ids, and collapses id spellings that differ only in case", () => {
    const first = event("resource-write-success.eventgrid");
    const otherCorrelation = event("resource-write-success.eventgrid");
    otherCorrelation.id = "second";
    dataOf(otherCorrelation).correlationId = "another-correlation";
    const lowerCased = event("resource-write-success.eventgrid");
    lowerCased.id = "third";
    dataOf(lowerCased).resourceUri = (dataOf(lowerCased).resourceUri as string).replace(
      "resourceGroups",
      "resourcegroups",
    );
    const result = normaliseEventGrid([first, otherCorrelation, lowerCased]);
    expect(result.changes.map((c) => c.eventId)).toEqual(["4db48cba-50a2-455a-93b4-de41a3b5b7f6", "second"]);
    expect(result.changes[0]?.details?.duplicateEventIds).toEqual(["third"]);
  });

  it("a deployment writing two rules of one NSG collapses to one evaluation that names both rules", () => {
    const ssh = event("resource-write-success.eventgrid");
    const https = event("resource-write-success.eventgrid");
    https.id = "rule-2";
    https.subject = `${NSG}/securityRules/allow-https`;
    dataOf(https).resourceUri = `${NSG}/securityRules/allow-https`;
    const [change] = normaliseEventGrid([ssh, https]).changes;
    expect(change?.subjectId).toBe(`${NSG}/securityRules/allow-ssh`);
    expect(change?.details).toMatchObject({
      duplicateEventIds: ["rule-2"],
      otherSubjectIds: [`${NSG}/securityRules/allow-https`],
    });
  });

  it("a mixed batch (both schemas, junk items) reports each bad item by index and keeps the rest", () => {
    const batch = [
      event("resource-write-success.eventgrid"),
      "not an event",
      event("resource-notifications-deleted-nsg.cloudevents"),
      { id: "x-1", subject: "/subscriptions/x", data: {} },
      event("blob-created.eventgrid"),
      event("malformed.eventgrid"),
      event("validation.eventgrid"),
    ];
    const result = normaliseEventGrid(batch);
    expect(result.changes.map((c) => [c.eventId, c.operation, c.details?.schema])).toEqual([
      ["4db48cba-50a2-455a-93b4-de41a3b5b7f6", "write", "eventgrid"],
      ["d4611260-d179-4f86-b196-3a9d4128be2d", "delete", "cloudevents"],
    ]);
    expect(result.skipped.map((s) => [s.reason, s.detail.split(":")[0]])).toEqual([
      ["malformed", "event[1]"],
      ["malformed", "event[3]"],
      ["irrelevant-event-type", "Microsoft.Storage.BlobCreated is not a resource change event"],
      ["malformed", "event[5]"],
      [
        "validation-handshake",
        "Event Grid subscription validation; the Functions host answers it for the Event Grid trigger",
      ],
    ]);
    expect(result.skipped[0]?.detail).toBe("event[1]: expected an event object, got string");
    expect(result.skipped[1]).toEqual({
      eventId: "x-1",
      reason: "malformed",
      detail: "event[3]: missing eventType (Event Grid schema) or type (CloudEvents schema)",
    });
  });

  it("an empty batch gives nothing", () => {
    expect(normaliseEventGrid([])).toEqual({ changes: [], skipped: [] });
  });
});

describe("normaliseEventGrid: malformed events", () => {
  it("names the missing field and the index", () => {
    expect(normaliseEventGrid(fixture("malformed.eventgrid"))).toEqual({
      changes: [],
      skipped: [
        {
          eventId: "5c0ffee0-0bad-4e11-8a7e-000000000bad",
          eventType: "Microsoft.Resources.ResourceWriteSuccess",
          reason: "malformed",
          detail: "event[0]: data.operationName is missing",
        },
      ],
    });
  });

  it("no resource id anywhere is named as such", () => {
    const e = event("malformed.eventgrid");
    dataOf(e).operationName = "Microsoft.Network/networkSecurityGroups/securityRules/write";
    expect(normaliseEventGrid([event("resource-write-success.eventgrid"), e]).skipped).toEqual([
      {
        eventId: "5c0ffee0-0bad-4e11-8a7e-000000000bad",
        eventType: "Microsoft.Resources.ResourceWriteSuccess",
        reason: "malformed",
        detail: "event[1]: data.resourceUri is missing and subject is empty",
      },
    ]);
  });

  it("envelope problems name the envelope field", () => {
    const noTime = event("resource-write-success.eventgrid");
    delete noTime.eventTime;
    const noData = event("resource-write-success.eventgrid");
    delete noData.data;
    const badSpec = event("resource-write-success.cloudevents");
    badSpec.specversion = "0.3";
    const notAnId = event("resource-write-success.eventgrid");
    dataOf(notAnId).resourceUri = "/providers/Microsoft.Network/networkSecurityGroups";
    const details = normaliseEventGrid([noTime, noData, badSpec, notAnId]).skipped.map((s) => s.detail);
    expect(details).toEqual([
      "event[0]: eventTime is missing",
      "event[1]: data is missing",
      'event[2]: specversion: Invalid input: expected "1.0"',
      'event[3]: data.resourceUri is not an ARM resource id: "/providers/Microsoft.Network/networkSecurityGroups"',
    ]);
  });

  it("a top-level input that is neither an object nor an array is an InputError", () => {
    for (const input of ["[]", 42, null, undefined, true]) {
      expect(() => normaliseEventGrid(input)).toThrow(InputError);
    }
    expect(() => normaliseEventGrid("{}")).toThrow(/event object or an array of events, got string/);
  });

  it("property: items without eventType/type are skipped as malformed, never thrown, and never hide the rest", () => {
    const noType = fc
      .dictionary(
        fc.string().filter((k) => k !== "eventType" && k !== "type" && k !== "__proto__"),
        fc.jsonValue(),
      )
      .map((o) => o as Json);
    const valid = event("resource-write-success.eventgrid");
    fc.assert(
      fc.property(fc.array(noType, { maxLength: 8 }), fc.nat(8), (junk, at) => {
        const position = Math.min(at, junk.length);
        const batch: unknown[] = [...junk];
        batch.splice(position, 0, valid);
        const result = normaliseEventGrid(batch);
        expect(result.changes.map((c) => c.eventId)).toEqual([valid.id]);
        expect(result.skipped).toHaveLength(junk.length);
        for (const s of result.skipped) {
          expect(s.reason).toBe("malformed");
          expect(s.detail).toMatch(/^event\[\d+\]: missing eventType/);
        }
        expect(result.skipped.map((s) => s.detail.match(/^event\[(\d+)\]/)?.[1])).not.toContain(
          String(position),
        );
      }),
    );
  });

  it("property: arbitrary JSON items never throw inside a batch and each gives exactly one outcome", () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 10 }), (items) => {
        const result = normaliseEventGrid(items);
        expect(result.changes.length + result.skipped.length).toBe(items.length);
      }),
    );
  });
});

describe("validation handshake", () => {
  it("is skipped by the normaliser (the Functions host answers it)", () => {
    const delivery = fixture("validation.eventgrid");
    expect(normaliseEventGrid(delivery)).toEqual({
      changes: [],
      skipped: [
        {
          eventId: "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66",
          eventType: "Microsoft.EventGrid.SubscriptionValidationEvent",
          reason: "validation-handshake",
          detail:
            "Event Grid subscription validation; the Functions host answers it for the Event Grid trigger",
        },
      ],
    });
  });

  it("recognises a CloudEvents-shaped validation event too", () => {
    const e = event("validation.eventgrid");
    const cloudEvent = {
      id: e.id,
      source: e.topic,
      subject: e.subject,
      type: e.eventType,
      time: e.eventTime,
      data: e.data,
      specversion: "1.0",
    };
    expect(normaliseEventGrid([cloudEvent]).skipped[0]?.reason).toBe("validation-handshake");
  });

  it("reports a validation event without a code as malformed", () => {
    const noCode = event("validation.eventgrid");
    dataOf(noCode).validationCode = "";
    expect(normaliseEventGrid([noCode]).skipped[0]).toMatchObject({
      reason: "malformed",
      detail: "event[0]: data.validationCode: Too small: expected string to have >=1 characters",
    });
  });
});

describe("normaliseEventGrid: Resource Notifications", () => {
  it("CreatedOrUpdated of an NSG carries the resource in ARM GET shape, booleans normalised", () => {
    const source = event("resource-notifications-created-nsg.eventgrid");
    const info = dataOf(source).resourceInfo as Json;
    const change = onlyChange(normaliseEventGrid(source));
    const { resource, ...rest } = change;
    expect(rest).toEqual({
      cloud: "azure",
      account: SUB,
      region: "westeurope",
      resourceId: NSG,
      resourceType: NSG_TYPE,
      operation: "write",
      operationName: "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated",
      actor: {},
      eventId: "6b2d7e1f-0c4a-4b9e-8d3f-5a1c9e7b2d40",
      time: "2024-05-31T09:12:05.2418063Z",
      details: {
        schema: "eventgrid",
        topic: `/subscriptions/${SUB}`,
        resourceGroup: "rg-network-prod",
        apiVersion: "2023-09-01",
      },
    } satisfies Omit<ResourceChange, "resource">);
    const properties = info.properties as Json;
    expect(resource).toEqual({
      id: NSG,
      name: "nsg-web",
      type: "Microsoft.Network/networkSecurityGroups",
      location: "westeurope",
      tags: { env: "prod", owner: "netsec" },
      properties: { ...properties, flushConnection: false },
    });
    // The event itself is left as received.
    expect(properties.flushConnection).toBe(0);
    const rules = (resource as { properties: { securityRules: { properties: { priority: number } }[] } })
      .properties.securityRules;
    expect(rules[0]?.properties.priority).toBe(100);
  });

  it("Deleted (CloudEvents schema) is a delete with no resource and no actor", () => {
    expect(onlyChange(normaliseEventGrid(fixture("resource-notifications-deleted-nsg.cloudevents")))).toEqual(
      {
        cloud: "azure",
        account: SUB,
        resourceId: NSG,
        resourceType: NSG_TYPE,
        operation: "delete",
        operationName: "Microsoft.ResourceNotifications.Resources.Deleted",
        actor: {},
        eventId: "d4611260-d179-4f86-b196-3a9d4128be2d",
        time: "2024-05-31T12:11:36.6347858Z",
        details: { schema: "cloudevents", topic: `/subscriptions/${SUB}`, resourceGroup: "rg-network-prod" },
      } satisfies ResourceChange,
    );
  });

  it("falls back to the envelope time when operationalInfo is absent", () => {
    const e = event("resource-notifications-created-nsg.eventgrid");
    delete dataOf(e).operationalInfo;
    expect(onlyChange(normaliseEventGrid(e)).time).toBe("2024-05-31T09:12:06.1418063Z");
  });

  it("tags given as a JSON string (the property table's type) are read as an object", () => {
    const e = event("resource-notifications-created-nsg.eventgrid");
    const info = dataOf(e).resourceInfo as Json;
    info.tags = JSON.stringify(info.tags);
    expect((onlyChange(normaliseEventGrid(e)).resource as Json).tags).toEqual({
      env: "prod",
      owner: "netsec",
    });
  });

  it("a storage account (documented sample) carries the account, its 1/0 booleans turned back", () => {
    const change = onlyChange(
      normaliseEventGrid(fixture("resource-notifications-created-storage.eventgrid")),
    );
    expect(change).toMatchObject({
      resourceType: "microsoft.storage/storageaccounts",
      operation: "write",
      operationName: "Microsoft.ResourceNotifications.Resources.CreatedOrUpdated",
      region: "westeurope",
    });
    expect((change.resource as { properties: Json }).properties).toMatchObject({
      allowBlobPublicAccess: true,
      allowSharedKeyAccess: true,
      supportsHttpsTrafficOnly: true,
      encryption: { requireInfrastructureEncryption: false, services: { blob: { enabled: true } } },
      networkAcls: { defaultAction: "Allow", bypass: "AzureServices" },
    });
  });

  it.each([
    "Microsoft.ResourceNotifications.HealthResources.AvailabilityStatusChanged",
    "Microsoft.ResourceNotifications.HealthResources.ResourceAnnotated",
    "Microsoft.ResourceNotifications.ContainerServiceEventResources.ScheduledEventEmitted",
  ])("%s (not the Resources topic) is irrelevant", (eventType) => {
    const e = event("resource-notifications-created-nsg.eventgrid");
    e.eventType = eventType;
    expect(normaliseEventGrid(e).skipped).toEqual([
      {
        eventId: "6b2d7e1f-0c4a-4b9e-8d3f-5a1c9e7b2d40",
        eventType,
        reason: "irrelevant-event-type",
        detail: `${eventType} is not a resource change event`,
      },
    ]);
  });

  it("missing resourceInfo.id is malformed", () => {
    const e = event("resource-notifications-deleted-nsg.cloudevents");
    delete (dataOf(e).resourceInfo as Json).id;
    expect(normaliseEventGrid(e).skipped[0]).toEqual({
      eventId: "d4611260-d179-4f86-b196-3a9d4128be2d",
      eventType: "Microsoft.ResourceNotifications.Resources.Deleted",
      reason: "malformed",
      detail: "event[0]: data.resourceInfo.id is missing",
    });
  });
});

describe("irrelevant events", () => {
  it("a blob created event is skipped as irrelevant", () => {
    expect(normaliseEventGrid(fixture("blob-created.eventgrid"))).toEqual({
      changes: [],
      skipped: [
        {
          eventId: "831e1650-001e-001b-66ab-eeb76e069631",
          eventType: "Microsoft.Storage.BlobCreated",
          reason: "irrelevant-event-type",
          detail: "Microsoft.Storage.BlobCreated is not a resource change event",
        },
      ],
    });
  });
});

describe("normalise (dispatcher)", () => {
  it("hands Event Grid deliveries to the Azure normaliser", () => {
    const delivery = fixture("batch.eventgrid");
    expect(normalise(delivery)).toEqual(normaliseEventGrid(delivery));
  });

  it("rejects a top-level input that is not an object or array", () => {
    expect(() => normalise("text")).toThrow(InputError);
  });
});
