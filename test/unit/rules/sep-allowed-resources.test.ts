// sep-allowed-resources and sep-remove-resources over the REST spec example and the Qubole data-lake policy.
import { describe, expect, it } from "vitest";
import { evaluatePolicy } from "../../../shared/policy/evaluate.ts";
import { parsePolicy } from "../../../shared/policy/load.ts";
import { sepRemoveResources } from "../../../shared/remediation/sep-remove-resources.ts";
import type { Snapshot } from "../../../shared/types.ts";
import { DATA_SUB, type Json, load, sepSnap } from "../../fixtures/azure/subnet/subnet.ts";

const entry = (options: string) =>
  parsePolicy(`version: 1
rules:
  - name: sep
    rule: sep-allowed-resources
    mode: remediate
    options: ${options}
`);

const lake = `/subscriptions/${DATA_SUB}/resourceGroups/rg-datalake/providers/Microsoft.Storage/storageAccounts/stqubolelake`;
const logs = `/subscriptions/${DATA_SUB}/resourceGroups/rg-logs`;
const qubole = `{ allow: [${lake}, ${logs}] }`;

function evaluate(options: string, snapshot: Snapshot) {
  return evaluatePolicy(entry(options), snapshot).map((e) => e.finding);
}

function withResources(resources: string[]): Json {
  const sep = load("sep-datalake.json");
  const def = ((sep.properties as Json).serviceEndpointPolicyDefinitions as Json[])[0] as Json;
  (def.properties as Json).serviceResources = resources;
  return sep;
}

describe("sep-allowed-resources", () => {
  it("passes the policy as approved", () => {
    expect(evaluate(qubole, sepSnap(load("sep-datalake.json")))).toEqual([]);
    // Anything under an approved group: an account in rg-logs.
    const inLogs = `${logs}/providers/Microsoft.Storage/storageAccounts/stclusterlogs`;
    expect(evaluate(qubole, sepSnap(withResources([lake, inLogs])))).toEqual([]);
  });

  it("names a whole other subscription added to the definition", () => {
    const rogue = "/subscriptions/6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a";
    const [f] = evaluate(qubole, sepSnap(withResources([lake, logs, rogue])));
    expect(f?.matched).toEqual([
      {
        definition: "datalake",
        service: "Microsoft.Storage",
        resource: rogue,
        why: "whole subscription 6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a, another subscription than those approved",
      },
    ]);
    expect(f?.message).toMatch(
      /sep-datalake lets the endpoint reach beyond the approved resources: datalake:/,
    );
  });

  it("tells a whole subscription or group from the single accounts approved in it", () => {
    const options = `{ accountsIn: [/subscriptions/${DATA_SUB}] }`;
    const [f] = evaluate(options, sepSnap(withResources([lake, `/subscriptions/${DATA_SUB}`, logs])));
    expect(f?.matched.map((m) => m.why)).toEqual([
      `whole subscription ${DATA_SUB}, where only single accounts or groups are approved`,
      "whole resource group rg-logs, where only single accounts are approved",
    ]);
  });

  it("reads the REST spec example: a subscription, a group and an account of subid1", () => {
    const spec = sepSnap(load("ServiceEndpointPolicyGet.json"));
    const [f] = evaluate("{ allow: [/subscriptions/subid1/resourceGroups/storageRg] }", spec);
    expect(f?.matched.map((m) => [m.resource, m.why])).toEqual([
      [
        "/subscriptions/subid1",
        "whole subscription subid1, where only single accounts or groups are approved",
      ],
    ]);
    expect(evaluate("{ allow: [/subscriptions/subid1] }", spec)).toEqual([]);
    const [other] = evaluate(`{ allow: [${lake}] }`, spec);
    expect(other?.matched).toHaveLength(3);
    expect(other?.matched[2]?.why).toBe("a storage account in subscription subid1, which is not approved");
  });

  it("lists unlisted groups, accounts, aliases and malformed entries; compares ids without case", () => {
    const resources = [
      lake.toUpperCase(),
      `/subscriptions/${DATA_SUB}/resourceGroups/rg-other`,
      `/subscriptions/${DATA_SUB}/resourceGroups/rg-datalake/providers/Microsoft.Storage/storageAccounts/strogue`,
      "/services/Azure/Databricks",
      "not-an-id",
    ];
    const [f] = evaluate(
      `{ allow: [${lake}], accountsIn: [/subscriptions/${DATA_SUB}/resourceGroups/rg-x] }`,
      sepSnap(withResources(resources)),
    );
    expect(f?.matched.map((m) => m.why)).toEqual([
      "resource group rg-other is not listed",
      "storage account strogue is not listed",
      "service alias /services/Azure/Databricks is not approved",
      "not-an-id is not a subscription, resource group or storage account",
    ]);
    const aliases = `{ allow: [${lake}], aliases: [/services/azure/databricks] }`;
    expect(evaluate(aliases, sepSnap(withResources([lake, "/services/Azure/Databricks"])))).toEqual([]);
  });
});

describe("sep-remove-resources", () => {
  it("removes the unapproved entries and keeps the rest, the definition otherwise as read, with its etag", () => {
    const rogue = "/subscriptions/6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a";
    const sep = withResources([lake, rogue, logs]);
    const snapshot = sepSnap(sep);
    const [f] = evaluate(qubole, snapshot);
    const change = sepRemoveResources.plan(snapshot, f as never, { trustedSources: [] });
    const def = ((sep.properties as Json).serviceEndpointPolicyDefinitions as Json[])[0] as Json;
    const { provisioningState: _, ...props } = def.properties as Json;
    expect(change?.operation).toEqual({
      kind: "put-service-endpoint-policy-definition",
      policyId: snapshot.resourceId,
      definitionName: "datalake",
      ifMatch: def.etag,
      definition: { ...def, properties: { ...props, serviceResources: [lake, logs] } },
    });
    expect(change?.summary).toBe(
      `remove ${rogue} from service endpoint policy definition datalake; keeps ${lake}, ${logs}`,
    );
    expect(change?.complete).toBe(true);
    // Undo: the definition as it was, rogue entry included.
    const step = change && sepRemoveResources.undo?.(change);
    expect(step?.command).toMatch(/serviceEndpointPolicyDefinitions\/datalake\?api-version=2026-01-01/);
    expect(step?.command).toContain(rogue);
  });

  it("leaves a definition with no approved entry to a person", () => {
    const rogue = "/subscriptions/6d5c4b3a-2f1e-4d0c-9b8a-7f6e5d4c3b2a";
    const snapshot = sepSnap(withResources([rogue]));
    const [f] = evaluate(qubole, snapshot);
    expect(sepRemoveResources.plan(snapshot, f as never, { trustedSources: [] })).toBeUndefined();
    expect(sepRemoveResources.manual?.(snapshot, f as never)).toBe(
      "definition datalake lists no approved entry: removing them all would leave it empty",
    );
  });
});
