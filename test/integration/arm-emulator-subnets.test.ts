// The ARM emulator's route tables, service endpoint policies and subnets, through the real @azure/arm-network client
// and raw requests. Request bodies are the REST spec examples' (Microsoft.Network stable/2024-07-01:
// RouteTableCreateWithRoute.json, ServiceEndpointPolicyCreateWithDefinition.json,
// VirtualNetworkCreateServiceEndpointPolicy.json, SubnetCreateServiceEndpoint.json); expected responses their fields.

import type { NetworkManagementClient } from "@azure/arm-network";
import { RestError } from "@azure/core-rest-pipeline";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type ArmEmulator,
  DEFAULT_SUBSCRIPTION_ID,
  mintToken,
  networkClientFor,
  rawArmRequest,
  startArmEmulator,
} from "../harness/arm-emulator/index.ts";

const SUB = DEFAULT_SUBSCRIPTION_ID;
const RG = "vnetTest";
const NET = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network`;
const API = "api-version=2026-01-01";
const FAST = { updateIntervalInMs: 0 };
const token = mintToken({ oid: "a1b2c3d4-0000-4000-8000-000000000001", upn: "alice@contoso.example" });

let emu: ArmEmulator;
let client: NetworkManagementClient;

beforeAll(async () => {
  emu = await startArmEmulator({ lroPolls: 1 });
  client = networkClientFor(emu, token);
});
afterAll(async () => emu?.stop());
beforeEach(() => emu.reset());

/** The spec examples' requests, in this subscription and group. */
async function seedSpecEstate() {
  await client.routeTables.createOrUpdate(
    RG,
    "testrt",
    {
      location: "eastus2euap",
      disableBgpRoutePropagation: true,
      routes: [{ name: "route1", addressPrefix: "10.0.3.0/24", nextHopType: "VirtualNetworkGateway" }],
    },
    FAST,
  );
  const sepBody = {
    location: "eastus2euap",
    properties: {
      serviceEndpointPolicyDefinitions: [
        {
          name: "StorageServiceEndpointPolicyDefinition",
          properties: {
            description: "Storage Service EndpointPolicy Definition",
            service: "Microsoft.Storage",
            serviceResources: [
              "/subscriptions/subid1",
              "/subscriptions/subid1/resourceGroups/storageRg",
              "/subscriptions/subid1/resourceGroups/storageRg/providers/Microsoft.Storage/storageAccounts/stAccount",
            ],
          },
        },
      ],
    },
  };
  const sep = await rawArmRequest(
    emu,
    "PUT",
    `${NET}/serviceEndpointPolicies/ServiceEndpointPolicy1?${API}`,
    {
      token,
      body: sepBody,
    },
  );
  expect(sep.status).toBe(201);
  await client.virtualNetworks.createOrUpdate(
    RG,
    "vnet1",
    {
      location: "eastus2euap",
      addressSpace: { addressPrefixes: ["10.0.0.0/16"] },
      subnets: [
        {
          name: "test-1",
          addressPrefix: "10.0.0.0/16",
          serviceEndpoints: [{ service: "Microsoft.Storage" }],
          serviceEndpointPolicies: [{ id: `${NET}/serviceEndpointPolicies/ServiceEndpointPolicy1` }],
          routeTable: { id: `${NET}/routeTables/testrt` },
        },
      ],
    },
    FAST,
  );
}

describe("ARM emulator: route tables, service endpoint policies, subnets", () => {
  it("returns the spec's shapes with etags, and the read-only back-references to the subnets using them", async () => {
    await seedSpecEstate();
    const rt = (await rawArmRequest(emu, "GET", `${NET}/routeTables/testrt?${API}`, { token })).body as {
      etag: string;
      properties: {
        routes: { name: string; etag: string; type: string; properties: Record<string, unknown> }[];
        subnets: { id: string }[];
      };
    };
    expect(rt.properties.routes[0]).toMatchObject({
      name: "route1",
      etag: rt.etag,
      type: "Microsoft.Network/routeTables/routes",
      properties: {
        provisioningState: "Succeeded",
        addressPrefix: "10.0.3.0/24",
        nextHopType: "VirtualNetworkGateway",
      },
    });
    expect(rt.properties.subnets).toEqual([{ id: `${NET}/virtualNetworks/vnet1/subnets/test-1` }]);

    const sep = await client.serviceEndpointPolicies.get(RG, "ServiceEndpointPolicy1");
    expect(sep.serviceEndpointPolicyDefinitions?.[0]?.serviceResources).toHaveLength(3);
    expect(sep.subnets?.map((s) => s.id)).toEqual([`${NET}/virtualNetworks/vnet1/subnets/test-1`]);

    const subnet = (
      await rawArmRequest(emu, "GET", `${NET}/virtualNetworks/vnet1/subnets/test-1?${API}`, { token })
    ).body as { etag: string; properties: Record<string, unknown> };
    // ARM fills in where the endpoint applies; the subnet's etag is its network's.
    expect(subnet.properties.serviceEndpoints).toEqual([
      { service: "Microsoft.Storage", locations: ["eastus2euap"], provisioningState: "Succeeded" },
    ]);
    const vnet = (await rawArmRequest(emu, "GET", `${NET}/virtualNetworks/vnet1?${API}`, { token })).body as {
      etag: string;
      properties: { subnets: unknown[] };
    };
    expect(subnet.etag).toBe(vnet.etag);
    // The subnet in its network's body is the subnet's own GET, byte for byte.
    expect(vnet.properties.subnets[0]).toEqual(subnet);
  });

  it("announces child writes with their own operation names", async () => {
    await seedSpecEstate();
    const mark = emu.events.length;
    await client.routes.createOrUpdate(
      RG,
      "testrt",
      "default",
      { addressPrefix: "0.0.0.0/0", nextHopType: "Internet" },
      FAST,
    );
    await client.serviceEndpointPolicyDefinitions.createOrUpdate(
      RG,
      "ServiceEndpointPolicy1",
      "StorageServiceEndpointPolicyDefinition",
      { service: "Microsoft.Storage", serviceResources: ["/subscriptions/subid1"] },
      FAST,
    );
    await client.subnets.createOrUpdate(RG, "vnet1", "test-2", { addressPrefix: "10.0.2.0/24" }, FAST);
    const ops = (emu.events.slice(mark) as { data: { operationName: string } }[]).map(
      (e) => e.data.operationName,
    );
    expect(ops).toEqual([
      "Microsoft.Network/routeTables/routes/write",
      "Microsoft.Network/serviceEndpointPolicies/serviceEndpointPolicyDefinitions/write",
      "Microsoft.Network/virtualNetworks/subnets/write",
    ]);
  });

  it("guards a subnet PUT with If-Match: a stale etag is 412 and changes nothing", async () => {
    await seedSpecEstate();
    const path = `${NET}/virtualNetworks/vnet1/subnets/test-1?${API}`;
    const read = (await rawArmRequest(emu, "GET", path, { token })).body as {
      etag: string;
      properties: Record<string, unknown>;
    };
    // Someone else changes the network (another subnet): the etag of every subnet moves with it.
    await client.subnets.createOrUpdate(RG, "vnet1", "other", { addressPrefix: "10.0.9.0/24" }, FAST);
    const stale = await rawArmRequest(emu, "PUT", path, {
      token,
      headers: { "If-Match": read.etag },
      body: { ...read, properties: { ...read.properties, serviceEndpointPolicies: [] } },
    });
    expect(stale.status).toBe(412);
    expect((stale.body as { error: { code: string } }).error.code).toBe("PreconditionFailed");
    const now = (await rawArmRequest(emu, "GET", path, { token })).body as {
      properties: Record<string, unknown>;
    };
    expect(now.properties.serviceEndpointPolicies).toHaveLength(1);
  });

  it("refuses references to what does not exist, and deleting what subnets still use", async () => {
    await seedSpecEstate();
    const error = await client.subnets
      .createOrUpdate(
        RG,
        "vnet1",
        "test-1",
        {
          addressPrefix: "10.0.0.0/16",
          serviceEndpointPolicies: [{ id: `${NET}/serviceEndpointPolicies/missing` }],
        },
        FAST,
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RestError);
    expect((error as RestError).code).toBe("InvalidResourceReference");
    const rt = await rawArmRequest(emu, "DELETE", `${NET}/routeTables/testrt?${API}`, { token });
    expect(rt.status).toBe(400);
    expect((rt.body as { error: { code: string } }).error.code).toBe("InUseRouteTableCannotBeDeleted");
    const sep = await rawArmRequest(
      emu,
      "DELETE",
      `${NET}/serviceEndpointPolicies/ServiceEndpointPolicy1?${API}`,
      {
        token,
      },
    );
    expect((sep.body as { error: { code: string } }).error.code).toBe(
      "InUseServiceEndpointPolicyCannotBeDeleted",
    );
  });

  it("validates a route's next hop type as the spec's enum", async () => {
    await seedSpecEstate();
    const bad = await rawArmRequest(emu, "PUT", `${NET}/routeTables/testrt/routes/r?${API}`, {
      token,
      body: { properties: { addressPrefix: "0.0.0.0/0", nextHopType: "Firewall" } },
    });
    expect(bad.status).toBe(400);
    expect((bad.body as { error: { code: string } }).error.code).toBe("InvalidRequestFormat");
  });
});
