// Every input shape `guardian evaluate` and `guardian explain` take, from published samples (fixture READMEs) and the
// documented envelopes around them: recognised, turned into what the guardian reads, and evaluated.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../../shared/errors.ts";
import { loadPolicyFile } from "../../../shared/policy/file.ts";
import { parsePolicy } from "../../../shared/policy/load.ts";
import type { Policy } from "../../../shared/policy/schema.ts";
import { armFromAzCli, recogniseInput } from "../../../shared/usecases/inputs.ts";
import { evaluateSnapshots, explainEvent, statesFromEvents } from "../../../shared/usecases/offline.ts";
import { snapshotsFromJson } from "../../../shared/usecases/snapshots.ts";
import { sqsEvent, sqsRecord } from "../../integration/helpers/aws-events.ts";

const json = (file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(`test/fixtures/${file}`, "utf8")) as Record<string, unknown>;

let baseline: Policy;
beforeAll(async () => {
  baseline = await loadPolicyFile("policies/baseline.yaml");
});

/** The snapshots of every resource a file holds, as the CLI makes them. */
function snapshotsOf(value: unknown, source = "input.json") {
  const input = recogniseInput(value, source);
  return input.resources.flatMap((r) => snapshotsFromJson(r.value, r.source));
}

async function explain(value: unknown, source = "event.json") {
  const input = recogniseInput(value, source);
  return { input, result: await explainEvent(baseline, input.events, []) };
}

const FLAT_CIDR = json("events/aws/authorize-ingress-flat-cidr-iam-user.json");
const RAW_RECORD = FLAT_CIDR.detail as Record<string, unknown>;

describe("Azure resources", () => {
  it("an ARM GET body (the REST spec example) is one resource, kept as it is", () => {
    const nsg = json("azure/nsg/NetworkSecurityGroupGet.json");
    const input = recogniseInput(nsg, "nsg.json");
    expect(input).toMatchObject({ shape: "an ARM resource", events: [], notes: [], problems: [] });
    expect(input.resources).toEqual([{ value: nsg, source: "nsg.json" }]);
    expect(snapshotsOf(nsg)[0]?.resourceType).toBe("microsoft.network/networksecuritygroups");
  });

  it("an ARM list page with a nextLink (az rest on a list URL): each item, and a note that only this page was read", () => {
    const page = {
      value: [json("azure/nsg/NetworkSecurityGroupGet.json"), json("azure/nsg/nsg-mixed.json")],
      nextLink:
        "https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Network/networkSecurityGroups?api-version=2024-07-01&$skiptoken=abc",
    };
    const input = recogniseInput(page, "page.json");
    expect(input.shape).toBe("an ARM list response");
    expect(input.resources.map((r) => r.source)).toEqual(["page.json: value[0]", "page.json: value[1]"]);
    expect(input.notes).toEqual([
      expect.stringMatching(
        /^page\.json: this is one page of a list \(2 resources\): only it was evaluated; the response has a nextLink \(https:\/\/management\.azure\.com\/.*skiptoken=abc\)/,
      ),
    ]);
    expect(recogniseInput({ value: page.value }, "all.json").notes).toEqual([]);
  });

  it("`az network nsg show` output goes back under properties, rules too, without the CLI's nulls and resourceGroup", () => {
    const flat = json("azure/nsg/az-nsg-show.json");
    const input = recogniseInput(flat, "az.json");
    expect(input.shape).toBe("Azure CLI output");
    const arm = input.resources[0]?.value as {
      id: string;
      etag: string;
      properties: Record<string, unknown> & { securityRules: Record<string, unknown>[] };
    };
    expect(Object.keys(arm).sort()).toEqual(["etag", "id", "location", "name", "properties", "tags", "type"]);
    expect(arm.properties).not.toHaveProperty("resourceGroup");
    expect(arm.properties).not.toHaveProperty("subnets");
    expect(arm.properties.resourceGuid).toBe("7850b844-efeb-404d-bdd9-6cff949807d2");
    expect(arm.properties.securityRules[0]).toEqual({
      etag: 'W/"5c7a651a-7eeb-494d-816b-5e1633f3dc90"',
      id: `${arm.id}/securityRules/default-allow-ssh`,
      name: "default-allow-ssh",
      type: "Microsoft.Network/networkSecurityGroups/securityRules",
      properties: {
        access: "Allow",
        destinationAddressPrefix: "*",
        destinationAddressPrefixes: [],
        destinationPortRange: "22",
        destinationPortRanges: [],
        direction: "Inbound",
        priority: 1000,
        protocol: "Tcp",
        provisioningState: "Succeeded",
        sourceAddressPrefix: "*",
        sourceAddressPrefixes: [],
        sourcePortRange: "*",
        sourcePortRanges: [],
      },
    });
    // The NIC it references is not a child of the NSG: left as the CLI printed it.
    expect((arm.properties.networkInterfaces as { resourceGroup?: string }[])[0]?.resourceGroup).toBe(
      "myResourceGroup",
    );
    const { findings } = evaluateSnapshots(baseline, snapshotsOf(flat));
    expect(findings.map((f) => f.policyRule).sort()).toEqual([
      "azure-no-http-from-internet",
      "azure-no-ssh-from-internet",
      "azure-no-udp-from-internet",
    ]);
  });

  it("`az network nsg list` output (an array of flattened NSGs) and the same NSG as ARM give the same findings", () => {
    const flat = json("azure/nsg/az-nsg-show.json");
    const list = snapshotsOf([flat, flat], "list.json");
    expect(list).toHaveLength(2);
    const asArm = snapshotsOf(armFromAzCli(flat));
    const strip = (fs: { message: string; policyRule: string }[]) => fs.map((f) => [f.policyRule, f.message]);
    expect(strip(evaluateSnapshots(baseline, list.slice(0, 1)).findings)).toEqual(
      strip(evaluateSnapshots(baseline, asArm).findings),
    );
  });

  it("`az storage account show` names that differ from the REST API are mapped back", () => {
    const id =
      "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa1";
    const arm = armFromAzCli({
      id,
      name: "sa1",
      type: "Microsoft.Storage/storageAccounts",
      kind: "StorageV2",
      sku: { name: "Standard_LRS", tier: "Standard" },
      location: "westeurope",
      resourceGroup: "rg",
      enableHttpsTrafficOnly: true,
      allowBlobPublicAccess: false,
      networkRuleSet: {
        bypass: "AzureServices",
        defaultAction: "Deny",
        ipRules: [{ action: "Allow", ipAddressOrRange: "203.0.113.0/24" }],
        virtualNetworkRules: [
          { action: "Allow", virtualNetworkResourceId: `${id}-vnet`, state: "Succeeded" },
        ],
        resourceAccessRules: null,
      },
    });
    expect(arm).toEqual({
      id,
      name: "sa1",
      type: "Microsoft.Storage/storageAccounts",
      kind: "StorageV2",
      sku: { name: "Standard_LRS", tier: "Standard" },
      location: "westeurope",
      properties: {
        supportsHttpsTrafficOnly: true,
        allowBlobPublicAccess: false,
        networkAcls: {
          bypass: "AzureServices",
          defaultAction: "Deny",
          ipRules: [{ action: "Allow", value: "203.0.113.0/24" }],
          virtualNetworkRules: [{ action: "Allow", id: `${id}-vnet`, state: "Succeeded" }],
          resourceAccessRules: null,
        },
      },
    });
  });
});

describe("AWS resources", () => {
  it("`aws ec2 describe-security-groups` output, and a page of it with a NextToken", () => {
    const describeOutput = json("aws/sg/describe-security-groups.json");
    const all = recogniseInput(describeOutput, "sgs.json");
    expect(all).toMatchObject({ shape: "`aws ec2 describe-security-groups` output", notes: [] });
    expect(snapshotsOf(describeOutput).every((s) => s.resourceType === "aws:ec2:security-group")).toBe(true);
    const page = recogniseInput(
      { ...describeOutput, NextToken: "eyJOZXh0VG9rZW4iOiBudWxsfQ==" },
      "page.json",
    );
    expect(page.notes).toEqual([
      expect.stringMatching(
        /^page\.json: this is one page \(\d+ security groups\): only it was evaluated; the response has a NextToken/,
      ),
    ]);
  });

  it("the AWS CLI documentation's example output", () => {
    const example = json("aws/sg/aws-cli-docs-example.json");
    expect(snapshotsOf(example).length).toBeGreaterThan(0);
  });
});

describe("AWS events", () => {
  it("a raw CloudTrail record is wrapped in the EventBridge envelope CloudTrail would have given it", () => {
    const input = recogniseInput(RAW_RECORD, "record.json");
    expect(input.shape).toBe("a CloudTrail record");
    expect(input.events[0]?.value).toEqual({
      version: "0",
      "detail-type": "AWS API Call via CloudTrail",
      source: "aws.ec2",
      account: "032092706103",
      time: "2024-08-01T12:23:55Z",
      region: "us-east-1",
      resources: [],
      detail: RAW_RECORD,
    });
  });

  it("a raw record and the EventBridge event that carried it explain the same way", async () => {
    const fromRecord = await explain(RAW_RECORD);
    const fromEventBridge = await explain(FLAT_CIDR);
    expect(fromEventBridge.input.shape).toBe("an EventBridge event");
    const view = (r: typeof fromRecord.result) => ({
      findings: r.findings.map((f) => f.message),
      actions: r.actions.map((a) => a.wouldDo),
      from: r.changes.map((c) => ("evaluatedFrom" in c ? c.evaluatedFrom : undefined)),
    });
    expect(view(fromRecord.result)).toEqual(view(fromEventBridge.result));
    expect(view(fromRecord.result)).toEqual({
      findings: ["Security group sg-003dc7f1f1c686164 allows tcp 22 from 0.0.0.0/0"],
      actions: ["revoke ingress tcp 22 from 0.0.0.0/0 on sg-003dc7f1f1c686164; other sources stay"],
      from: ["change"],
    });
  });

  it("a CloudTrail log file ({Records}) from the user guide: an irrelevant record is skipped, the rest evaluated", async () => {
    const { input, result } = await explain(json("events/aws/cloudtrail-log-file.json"), "log.json");
    expect(input.shape).toBe("a CloudTrail log file");
    expect(input.events.map((e) => e.source)).toEqual(["log.json: Records[0]", "log.json: Records[1]"]);
    expect(result.changes[0]).toMatchObject({
      skipped: "irrelevant-event-type",
      detail: expect.stringMatching(/^StartInstances does not change a resource the guardian evaluates \(/),
      source: "log.json: Records[0]",
    });
    expect(result.findings.map((f) => f.policyRule)).toEqual(["aws-no-admin-ports-from-world"]);
  });

  it("`aws cloudtrail lookup-events` output (CloudTrail Event history): the record is the CloudTrailEvent string", async () => {
    const output = {
      Events: [
        {
          EventId: RAW_RECORD.eventID,
          EventName: "AuthorizeSecurityGroupIngress",
          ReadOnly: "false",
          AccessKeyId: "AKIAXW7UJ577KFYIAHIM",
          EventTime: "2024-08-01T12:23:55+00:00",
          EventSource: "ec2.amazonaws.com",
          Username: "christophe",
          Resources: [{ ResourceType: "AWS::EC2::SecurityGroup", ResourceName: "sg-003dc7f1f1c686164" }],
          CloudTrailEvent: JSON.stringify(RAW_RECORD),
        },
      ],
      NextToken: "kbOt5LlZe++mErCebpy2TgaMgmDvF1kYGFcH64JSjIbZFjsuvrSqg66b5YGssKutDYIyII4lrP4",
    };
    const { input, result } = await explain(output, "history.json");
    expect(input.shape).toBe("`aws cloudtrail lookup-events` output");
    expect(input.notes).toEqual([
      expect.stringMatching(/^history\.json: this is one page of CloudTrail Event history \(1 event\)/),
    ]);
    expect(result.findings.map((f) => f.policyRule)).toEqual(["aws-no-admin-ports-from-world"]);
  });

  it("an Athena row (lower-cased columns, JSON-string request parameters) reads as the record", async () => {
    const row: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(RAW_RECORD)) {
      const lowered =
        key === "userIdentity"
          ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k.toLowerCase(), v]))
          : value;
      row[key.toLowerCase()] =
        key === "requestParameters" || key === "responseElements" ? JSON.stringify(lowered) : lowered;
    }
    const { result } = await explain(row);
    const change = result.changes[0];
    expect(change && "actor" in change ? change.actor.name : undefined).toBe(
      "arn:aws:iam::032092706103:user/christophe",
    );
    expect(result.findings.map((f) => f.policyRule)).toEqual(["aws-no-admin-ports-from-world"]);
  });

  it("CloudTrail Lake query results (rows of one-field cells, nested fields as JSON strings)", async () => {
    const cells = Object.entries(RAW_RECORD).map(([k, v]) => ({
      [k]: typeof v === "object" && v !== null ? JSON.stringify(v) : v,
    }));
    const { input, result } = await explain(
      { QueryStatus: "FINISHED", QueryResultRows: [cells] },
      "lake.json",
    );
    expect(input.shape).toBe("CloudTrail Lake query results");
    expect(result.findings.map((f) => f.policyRule)).toEqual(["aws-no-admin-ports-from-world"]);
  });

  it("an SQS batch as Lambda receives it: each body is an EventBridge event; a body that is not JSON is reported", async () => {
    const queue = { account: "032092706103", region: "us-east-1", queueName: "guardian-events" };
    const batch = sqsEvent([
      sqsRecord(JSON.stringify(FLAT_CIDR), queue, "059f36b4-87a3-44ab-83d2-661975830a7d"),
      sqsRecord(JSON.stringify(json("events/aws/ec2-create-tags.json")), queue),
      sqsRecord("{not json", queue, "2e1424d4-f796-459a-8184-9c92662be6da"),
    ]);
    const { input, result } = await explain(batch, "sqs.json");
    expect(input.shape).toBe("an SQS batch");
    expect(input.events).toHaveLength(2);
    expect(input.problems).toEqual([expect.stringMatching(/^sqs\.json: Records\[2\]\.body is not JSON: /)]);
    expect(result.findings.map((f) => f.policyRule)).toEqual(["aws-no-admin-ports-from-world"]);
    expect(result.changes[1]).toMatchObject({ skipped: "irrelevant-event-type" });
  });

  it("an SNS batch, and an SQS body that is an SNS notification (raw delivery off)", async () => {
    const notification = {
      Type: "Notification",
      MessageId: "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
      TopicArn: "arn:aws:sns:us-east-1:032092706103:guardian-events",
      Subject: null,
      Message: JSON.stringify(FLAT_CIDR),
      Timestamp: "2024-08-01T12:24:01.000Z",
      SignatureVersion: "1",
      Signature: "EXAMPLE",
      SigningCertUrl:
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
      UnsubscribeUrl: "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
      MessageAttributes: {},
    };
    const sns = {
      Records: [
        {
          EventVersion: "1.0",
          EventSubscriptionArn:
            "arn:aws:sns:us-east-1:032092706103:guardian-events:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
          EventSource: "aws:sns",
          Sns: notification,
        },
      ],
    };
    const viaSns = await explain(sns);
    expect(viaSns.input.shape).toBe("an SNS batch");
    expect(viaSns.result.findings).toHaveLength(1);
    const queue = { account: "032092706103", region: "us-east-1", queueName: "guardian-events" };
    const viaSqs = await explain(sqsEvent([sqsRecord(JSON.stringify(notification), queue)]));
    expect(viaSqs.result.findings).toHaveLength(1);
  });
});

describe("Azure events", () => {
  it("Event Grid deliveries in both schemas go to the normaliser whole", () => {
    const eventGrid = json("events/azure/resource-write-success.eventgrid.json");
    const cloudEvents = json("events/azure/resource-write-success.cloudevents.json");
    expect(recogniseInput(eventGrid, "eg.json")).toMatchObject({
      shape: expect.stringMatching(/Event Grid event/),
      events: [{ value: eventGrid, source: "eg.json" }],
    });
    expect(recogniseInput(cloudEvents, "ce.json").events).toEqual([
      { value: cloudEvents, source: "ce.json" },
    ]);
    const batch = json("events/azure/batch.eventgrid.json");
    expect(recogniseInput(batch, "batch.json").events).toHaveLength(1);
  });

  it("a Resource Notifications event carries the NSG: evaluated as the event carried it", async () => {
    const { result } = await explain(json("events/azure/resource-notifications-created-nsg.eventgrid.json"));
    expect(result.changes[0]).toMatchObject({ evaluated: true, evaluatedFrom: "event" });
    expect(result.findings.map((f) => f.policyRule)).toContain("azure-no-ssh-from-internet");
  });

  it("a Resource Notifications event about a security rule: the rule the change wrote is evaluated, alone", async () => {
    const event = json("events/azure/resource-notifications-created-nsg.eventgrid.json") as {
      subject: string;
      data: {
        resourceInfo: Record<string, unknown> & { properties: { securityRules: Record<string, unknown>[] } };
      };
    };
    const rule = event.data.resourceInfo.properties.securityRules[0] as Record<string, unknown>;
    const written = {
      ...event,
      subject: String(rule.id),
      data: {
        ...event.data,
        resourceInfo: {
          ...rule,
          type: "Microsoft.Network/networkSecurityGroups/securityRules",
          location: "westeurope",
        },
      },
    };
    const { result } = await explain(written);
    expect(result.changes[0]).toMatchObject({
      evaluated: true,
      evaluatedFrom: "change",
      note: expect.stringMatching(
        /^evaluated allow-ssh as the event carried it, alone: the NSG's other rules/,
      ),
    });
    expect(result.findings.map((f) => f.policyRule)).toEqual(["azure-no-ssh-from-internet"]);
    // What evaluate makes of the same event.
    const states = statesFromEvents(recogniseInput(written, "rn.json").events);
    expect(states.states).toHaveLength(1);
  });

  it("a ResourceWriteSuccess carries no resource: nothing is evaluated and it says why", async () => {
    const { result } = await explain(json("events/azure/resource-write-success.eventgrid.json"));
    expect(result.changes[0]).toMatchObject({ evaluated: false, needsResource: true });
  });
});

describe("what is not an input", () => {
  it("names the file and the shapes expected", () => {
    expect(() => recogniseInput({ hello: "world" }, "x.json")).toThrow(InputError);
    expect(() => recogniseInput({ hello: "world" }, "x.json")).toThrow(
      /^x\.json: not an input the guardian reads \(an object with "hello"\)\. Expected one of:\n {2}- an ARM resource/,
    );
    expect(() => recogniseInput(42, "n.json")).toThrow(
      /^n\.json: not an input the guardian reads \(a number\)/,
    );
    expect(() => recogniseInput([{ a: 1 }], "a.json")).toThrow(/^a\.json: not an input/);
  });

  it("an empty list is recognised, and holds nothing", () => {
    for (const empty of [[], { value: [] }, { SecurityGroups: [] }, { Records: [] }]) {
      const input = recogniseInput(empty, "empty.json");
      expect(snapshotsOf(empty)).toEqual([]);
      expect(input.events).toEqual([]);
    }
  });
});

describe("storage accounts whose VNet rules a role approves by network tags", () => {
  const policy = () =>
    parsePolicy(`version: 1
subnetRoles:
  qubole: { tags: { workload: qubole } }
rules:
  - name: storage-approved-subnets
    rule: storage-vnet-rules
    mode: remediate
    options: { roles: [qubole] }
`);
  const network = json("azure/subnet/vnet-qubole.json") as { id: string; tags: Record<string, string> };
  /**
   * The closed-endpoint account with its VNet rule into vnet-qubole.json's network, moved into that network's
   * subscription (a role approves subnets of the account's own subscription only).
   */
  function account(): Record<string, unknown> {
    const text = JSON.stringify(json("azure/storage/qubole-closed.json"));
    const vnet =
      "/subscriptions/8f2c1e4a-6b3d-4f9a-a7c5-2d1e0b9f3c64/resourceGroups/rg-qubole/providers/Microsoft.Network/virtualNetworks/vnet-qubole";
    const subscription = network.id.split("/")[2] ?? "";
    return JSON.parse(
      text.replaceAll(vnet, network.id).replaceAll("8f2c1e4a-6b3d-4f9a-a7c5-2d1e0b9f3c64", subscription),
    ) as Record<string, unknown>;
  }
  function writeEvent(resource: Record<string, unknown>) {
    const events = json("events/azure/resource-write-success.eventgrid.json") as unknown as {
      subject: string;
      data: { resourceUri: string; operationName: string; authorization: { scope: string; action: string } };
    }[];
    for (const e of events) {
      e.subject = String(resource.id);
      e.data.resourceUri = String(resource.id);
      e.data.operationName = "Microsoft.Storage/storageAccounts/write";
      e.data.authorization.scope = String(resource.id);
      e.data.authorization.action = "Microsoft.Storage/storageAccounts/write";
    }
    return recogniseInput(events, "event.json").events;
  }

  it("explain judges with the networks passed as resources, and never takes one not passed for gone", async () => {
    const sa = account();
    const [saSnapshot] = snapshotsOf(sa);
    const [tagged] = snapshotsOf(network);
    const other = snapshotsOf({ ...network, tags: { workload: "sandbox" } })[0];
    if (!saSnapshot || !tagged || !other) throw new Error("fixtures");

    const approved = await explainEvent(policy(), writeEvent(sa), [saSnapshot, tagged]);
    expect(approved.findings).toEqual([]);

    const flagged = await explainEvent(policy(), writeEvent(sa), [saSnapshot, other]);
    expect(flagged.findings.map((f) => f.message)).toEqual([
      expect.stringMatching(/vnet-qubole\/subnets\/private is not an approved subnet/),
    ]);
    expect(flagged.actions.map((a) => a.outcome)).toEqual(["dry-run"]);

    // Not passed: not judged (no "its network no longer exists", no removal planned).
    const without = await explainEvent(policy(), writeEvent(sa), [saSnapshot]);
    expect(without.findings).toEqual([]);
    expect(without.actions).toEqual([]);
  });

  it("evaluate takes the network from the same input, before or after the account", () => {
    const sa = snapshotsOf(account());
    const vnet = snapshotsOf({ ...network, tags: { workload: "sandbox" } });
    for (const order of [
      [...sa, ...vnet],
      [...vnet, ...sa],
    ]) {
      const { findings, notEvaluated } = evaluateSnapshots(policy(), order);
      expect(notEvaluated.filter((n) => n.resourceType === "microsoft.storage/storageaccounts")).toEqual([]);
      expect(findings.filter((f) => f.ruleId === "storage-vnet-rules").map((f) => f.matched)).toEqual([
        [expect.objectContaining({ index: 0, reason: "not-approved" })],
      ]);
    }
  });
});
