import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseArmResourceId } from "../../../shared/clouds/azure/ids.ts";
import {
  ARM_BOOLEAN_PROPERTIES,
  normaliseArmBooleans,
  SUPPORTED_AZURE_RESOURCE_TYPES,
} from "../../../shared/events/azure.ts";

const SUB = "8f2c1e4a-6b3d-4f9a-a7c5-2d1e0b9f3c64";
const RG = `/subscriptions/${SUB}/resourceGroups/rg-network-prod`;

describe("parseArmResourceId", () => {
  it.each([
    [
      `${RG}/providers/Microsoft.Network/networkSecurityGroups/nsg-web`,
      "microsoft.network/networksecuritygroups",
    ],
    [
      `${RG}/providers/Microsoft.Network/networkSecurityGroups/nsg-web/securityRules/allow-ssh`,
      "microsoft.network/networksecuritygroups/securityrules",
    ],
    [
      `${RG}/providers/Microsoft.Network/virtualNetworks/vnet-hub/subnets/snet-web`,
      "microsoft.network/virtualnetworks/subnets",
    ],
    [
      `${RG}/providers/Microsoft.Network/privateLinkServices/pls-api/privateEndpointConnections/pe-1.guid`,
      "microsoft.network/privatelinkservices/privateendpointconnections",
    ],
    // Extension resources take the type of the last provider section.
    [
      `${RG}/providers/Microsoft.Network/networkSecurityGroups/nsg-web/providers/Microsoft.Authorization/locks/no-delete`,
      "microsoft.authorization/locks",
    ],
    // A resource named "providers" is a name, not a providers section.
    [
      `${RG}/providers/Microsoft.Network/networkSecurityGroups/providers`,
      "microsoft.network/networksecuritygroups",
    ],
    [`/subscriptions/${SUB}/resourcegroups/rg-network-prod`, "microsoft.resources/resourcegroups"],
    [`/subscriptions/${SUB}`, "microsoft.resources/subscriptions"],
    [
      `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleAssignments/0b1c2d3e`,
      "microsoft.authorization/roleassignments",
    ],
  ])("%s is a %s", (id, type) => {
    const parsed = parseArmResourceId(id);
    expect(parsed?.type).toBe(type);
    expect(parsed?.subscriptionId).toBe(SUB);
  });

  it("extracts the resource group as written", () => {
    expect(
      parseArmResourceId(
        `/subscriptions/${SUB}/resourcegroups/RG-Mixed/providers/Microsoft.Network/networkSecurityGroups/n`,
      )?.resourceGroup,
    ).toBe("RG-Mixed");
  });

  it.each([
    "",
    "nsg-web",
    "/providers/Microsoft.Network/networkSecurityGroups",
    `${RG}/providers/Microsoft.Network/networkSecurityGroups`,
    `${RG}/providers/Microsoft.Network`,
    `${RG}/Microsoft.Network/networkSecurityGroups/nsg-web`,
    `/subscriptions/${SUB}/resourceGroups`,
  ])("%j is not a resource id", (id) => {
    expect(parseArmResourceId(id)).toBeUndefined();
  });
});

describe("supported types table", () => {
  it("is keyed by lower-cased ARM types and lists NSGs with their security rules, storage accounts and the Private Link kinds (SQL servers and Cosmos DB accounts among the targets)", () => {
    expect(SUPPORTED_AZURE_RESOURCE_TYPES).toEqual({
      "microsoft.network/networksecuritygroups": {
        childTypes: ["microsoft.network/networksecuritygroups/securityrules"],
      },
      "microsoft.storage/storageaccounts": {
        childTypes: ["microsoft.storage/storageaccounts/privateendpointconnections"],
      },
      "microsoft.keyvault/vaults": { childTypes: ["microsoft.keyvault/vaults/privateendpointconnections"] },
      "microsoft.sql/servers": { childTypes: ["microsoft.sql/servers/privateendpointconnections"] },
      "microsoft.documentdb/databaseaccounts": {
        childTypes: ["microsoft.documentdb/databaseaccounts/privateendpointconnections"],
      },
      "microsoft.network/privatelinkservices": {
        childTypes: ["microsoft.network/privatelinkservices/privateendpointconnections"],
      },
      "microsoft.network/privateendpoints": { childTypes: [] },
      "microsoft.network/virtualnetworks": { childTypes: [] },
      "microsoft.network/virtualnetworks/subnets": { childTypes: [] },
      "microsoft.network/routetables": { childTypes: ["microsoft.network/routetables/routes"] },
      "microsoft.network/serviceendpointpolicies": {
        childTypes: ["microsoft.network/serviceendpointpolicies/serviceendpointpolicydefinitions"],
      },
    });
    for (const [type, support] of Object.entries(SUPPORTED_AZURE_RESOURCE_TYPES)) {
      expect(type).toBe(type.toLowerCase());
      for (const child of support.childTypes) {
        expect(child.startsWith(`${type}/`)).toBe(true);
        expect(child).toBe(child.toLowerCase());
      }
    }
    expect(Object.isFrozen(SUPPORTED_AZURE_RESOURCE_TYPES)).toBe(true);
  });
});

describe("normaliseArmBooleans", () => {
  function storageProperties(): Record<string, unknown> {
    const url = new URL(
      "../../fixtures/events/azure/resource-notifications-created-storage.eventgrid.json",
      import.meta.url,
    );
    const event = JSON.parse(readFileSync(url, "utf8")) as {
      data: { resourceInfo: { properties: Record<string, unknown> } };
    };
    return event.data.resourceInfo.properties;
  }

  it("turns the documented storage 1/0 flags into booleans, by name", () => {
    const input = storageProperties();
    const out = normaliseArmBooleans("microsoft.storage/storageaccounts", input);
    expect(out).toMatchObject({
      allowBlobPublicAccess: true,
      allowSharedKeyAccess: true,
      supportsHttpsTrafficOnly: true,
      encryption: {
        requireInfrastructureEncryption: false,
        keySource: "Microsoft.Storage",
        services: {
          file: { enabled: true, keyType: "Account" },
          blob: { enabled: true, keyType: "Account" },
        },
      },
      minimumTlsVersion: "TLS1_2",
      networkAcls: { bypass: "AzureServices", defaultAction: "Allow", ipRules: [], virtualNetworkRules: [] },
    });
    // The input is not mutated.
    expect(input.allowBlobPublicAccess).toBe(1);
  });

  it("leaves numbers that are not ARM booleans alone", () => {
    const out = normaliseArmBooleans("microsoft.network/networksecuritygroups", {
      flushConnection: 1,
      securityRules: [{ properties: { priority: 1, sourcePortRange: "1" } }],
      someCount: 1,
      other: 0,
    });
    expect(out).toEqual({
      flushConnection: true,
      securityRules: [{ properties: { priority: 1, sourcePortRange: "1" } }],
      someCount: 1,
      other: 0,
    });
  });

  it("keeps true/false, odd values and unknown types as they are", () => {
    expect(
      normaliseArmBooleans("microsoft.network/networksecuritygroups", { flushConnection: false }),
    ).toEqual({
      flushConnection: false,
    });
    expect(normaliseArmBooleans("microsoft.network/networksecuritygroups", { flushConnection: 2 })).toEqual({
      flushConnection: 2,
    });
    expect(normaliseArmBooleans("microsoft.compute/virtualmachines", { flag: 1 })).toEqual({ flag: 1 });
  });

  it("every table entry is a lower-cased type with dotted paths", () => {
    for (const [type, paths] of Object.entries(ARM_BOOLEAN_PROPERTIES)) {
      expect(type).toBe(type.toLowerCase());
      for (const path of paths)
        expect(path).toMatch(/^(\*|[A-Za-z][A-Za-z0-9]*)(\.(\*|[A-Za-z][A-Za-z0-9]*))*$/);
    }
  });
});
