// What people capture, recognised by its shape and turned into what the guardian reads: ARM resources as a GET returns
// them (with their `properties`), DescribeSecurityGroups items, the Describe output of the other AWS kinds (each kind's
// `fromJson` says whether an object is its own), and event deliveries the normalisers take (Event Grid events and
// batches in either schema, EventBridge events). Pure: no I/O. Which resource kind an ARM or EC2 object is
// gets decided later, by the kind detection in snapshots.ts; this module only undoes the wrapping and flattening that
// tools add, so kinds added later plug in without a change here.

import { awsKinds } from "../clouds/aws/kinds/index.ts";
import { InputError } from "../errors.ts";

/** Where one resource or event came from, for messages: `nsgs.json: value[3]`. */
export interface Located {
  value: unknown;
  source: string;
}

export interface RecognisedInput {
  /** What the file was, in words, for messages: `aws ec2 describe-security-groups output`. */
  shape: string;
  /** ARM resources (properties-wrapped) and DescribeSecurityGroups responses or items, as the APIs return them. */
  resources: Located[];
  /** Deliveries for the event normaliser: an Event Grid event or batch, an EventBridge event. */
  events: Located[];
  /** Said to the person: only one page of a list was read, and the like. */
  notes: string[];
  /** Parts of the input that could not be read (an SQS record whose body is not JSON); the rest is still used. */
  problems: string[];
}

/** Every shape recognised, for the message when a file is none of them. */
export const EXPECTED_SHAPES = [
  "an ARM resource as GET or `az rest` returns it, or an ARM list ({value: [...]})",
  "`az network nsg show` / `az network nsg list` output (flattened, no `properties`)",
  "`aws ec2 describe-security-groups` output ({SecurityGroups: [...]}) or one group",
  "`aws ec2 describe-vpc-endpoint-service-configurations` output, with the service's `describe-vpc-endpoint-service-permissions` and `describe-vpc-endpoint-connections` outputs in the same object; `describe-vpc-endpoint-connections` output alone",
  "`aws ec2 describe-vpcs` and `describe-vpc-endpoints` outputs in one object ({Vpcs: [...], VpcEndpoints: [...]})",
  "a CloudTrail record, a CloudTrail log file ({Records: [...]}), `aws cloudtrail lookup-events` output or CloudTrail Lake query results",
  "an EventBridge event, or an SQS or SNS batch of them as Lambda receives it",
  "Event Grid events, one or an array, in the Event Grid or CloudEvents schema",
];

const MAX_DEPTH = 6;

/**
 * Recognises one parsed file. Throws InputError naming the file and the shapes expected when it is none of them;
 * an empty list is recognised (and yields nothing), so the caller can say that nothing was evaluated.
 */
export function recogniseInput(json: unknown, source: string): RecognisedInput {
  const out: RecognisedInput = { shape: "", resources: [], events: [], notes: [], problems: [] };
  const shape = visit(json, source, out, 0);
  if (shape === undefined) {
    throw new InputError(
      `${source}: not an input the guardian reads (${describe(json)}). Expected one of:\n${EXPECTED_SHAPES.map((s) => `  - ${s}`).join("\n")}`,
    );
  }
  out.shape = shape;
  return out;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (isObject(value)) {
    const keys = Object.keys(value).slice(0, 6);
    return keys.length === 0 ? "an empty object" : `an object with ${keys.map((k) => `"${k}"`).join(", ")}`;
  }
  return `a ${typeof value}`;
}

/** The shape found (and its parts added to `out`), or undefined when the value is none of the known shapes. */
function visit(value: unknown, source: string, out: RecognisedInput, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return undefined;
  if (Array.isArray(value)) return visitArray(value, source, out, depth);
  if (!isObject(value)) return undefined;

  if ("detail-type" in value) {
    out.events.push({ value, source });
    return "an EventBridge event";
  }
  if (isEventGridEvent(value)) {
    out.events.push({ value, source });
    return "specversion" in value ? "an Event Grid event (CloudEvents schema)" : "an Event Grid event";
  }
  if (Array.isArray(value.Records)) return visitRecords(value.Records, source, out, depth);
  if (Array.isArray(value.Events) && value.Events.some((e) => isObject(e) && "CloudTrailEvent" in e)) {
    return visitLookupEvents(value, source, out);
  }
  if (Array.isArray(value.QueryResultRows)) return visitLakeResults(value, source, out);
  if (isCloudTrailRecord(value)) {
    out.events.push({ value: eventBridgeFromRecord(value), source });
    return "a CloudTrail record";
  }
  if (value.Type === "Notification" && typeof value.Message === "string") {
    return visitJsonString(value.Message, `${source}: Message`, out, depth, "an SNS notification");
  }
  if ("SecurityGroups" in value || "GroupId" in value) {
    out.resources.push({ value, source });
    const more = typeof value.NextToken === "string" && value.NextToken !== "";
    if (more) {
      const count = Array.isArray(value.SecurityGroups) ? value.SecurityGroups.length : 1;
      out.notes.push(
        `${source}: this is one page (${count} security group${count === 1 ? "" : "s"}): only it was evaluated; the response has a NextToken, so run the command without --max-items (or with --starting-token) for the rest`,
      );
    }
    return "SecurityGroups" in value ? "`aws ec2 describe-security-groups` output" : "a security group";
  }
  const awsKind = otherAwsKindOf(value);
  if (awsKind !== undefined) {
    out.resources.push({ value, source });
    if (typeof value.NextToken === "string" && value.NextToken !== "") {
      out.notes.push(
        `${source}: this is one page of ${awsKind}s: only it was evaluated; the response has a NextToken, so run the command without --max-items (or with --starting-token) for the rest`,
      );
    }
    return `${awsKind} output`;
  }
  if (Array.isArray(value.value) && value.id === undefined) {
    const nextLink = typeof value.nextLink === "string" && value.nextLink !== "" ? value.nextLink : undefined;
    if (nextLink) {
      out.notes.push(
        `${source}: this is one page of a list (${value.value.length} resource${value.value.length === 1 ? "" : "s"}): only it was evaluated; the response has a nextLink (${nextLink}) to the next page`,
      );
    }
    value.value.forEach((item, i) => {
      pushArmResource(item, `${source}: value[${i}]`, out);
    });
    return "an ARM list response";
  }
  if (typeof value.id === "string" && value.id.startsWith("/subscriptions/")) {
    return pushArmResource(value, source, out);
  }
  return undefined;
}

/**
 * The label of the AWS kind (other than security groups, recognised above) whose Describe output `value` is, as the
 * kind's own `fromJson` decides; a shape a kind claims but finds malformed counts as that kind's, so the detection in
 * snapshots.ts reports exactly what is wrong with it.
 */
function otherAwsKindOf(value: Json): string | undefined {
  for (const kind of awsKinds) {
    if (kind.id === "security-group") continue;
    try {
      if (kind.fromJson(value) !== undefined) return kind.label;
    } catch (error) {
      if (error instanceof InputError) return kind.label;
      throw error;
    }
  }
  return undefined;
}

function visitArray(
  items: unknown[],
  source: string,
  out: RecognisedInput,
  depth: number,
): string | undefined {
  if (items.length === 0) return "an empty list";
  // An Event Grid delivery is one array: kept whole, so duplicates within it collapse as they do for the Function.
  if (items.every((item) => isObject(item) && isEventGridEvent(item))) {
    out.events.push({ value: items, source });
    return "an array of Event Grid events";
  }
  const shapes = new Set<string>();
  for (const [i, item] of items.entries()) {
    const itemSource = `${source}[${i}]`;
    // az network nsg list and a bare array of resources: ARM objects, flattened or not.
    if (isObject(item) && typeof item.id === "string" && item.id.startsWith("/subscriptions/")) {
      shapes.add(pushArmResource(item, itemSource, out));
      continue;
    }
    const shape = visit(item, itemSource, out, depth + 1);
    if (shape === undefined) return undefined;
    shapes.add(shape);
  }
  return `an array of ${[...shapes].join(", ")}`;
}

function visitRecords(
  records: unknown[],
  source: string,
  out: RecognisedInput,
  depth: number,
): string | undefined {
  if (records.length === 0) return "a CloudTrail log file with no records";
  const first = records[0];
  if (isObject(first) && (first.eventSource === "aws:sqs" || ("messageId" in first && "body" in first))) {
    records.forEach((record, i) => {
      const body = isObject(record) ? record.body : undefined;
      const where = `${source}: Records[${i}].body`;
      if (typeof body !== "string") {
        out.problems.push(`${where} is missing`);
        return;
      }
      visitJsonString(body, where, out, depth, "an SQS message");
    });
    return "an SQS batch";
  }
  if (isObject(first) && (first.EventSource === "aws:sns" || isObject(first.Sns))) {
    records.forEach((record, i) => {
      const sns = isObject(record) && isObject(record.Sns) ? record.Sns : undefined;
      const where = `${source}: Records[${i}].Sns.Message`;
      if (typeof sns?.Message !== "string") {
        out.problems.push(`${where} is missing`);
        return;
      }
      visitJsonString(sns.Message, where, out, depth, "an SNS message");
    });
    return "an SNS batch";
  }
  let recognised = 0;
  records.forEach((record, i) => {
    if (isObject(record) && isCloudTrailRecord(record)) {
      out.events.push({ value: eventBridgeFromRecord(record), source: `${source}: Records[${i}]` });
      recognised++;
    } else {
      out.problems.push(`${source}: Records[${i}] is not a CloudTrail record (${describe(record)})`);
    }
  });
  return recognised > 0 ? "a CloudTrail log file" : undefined;
}

/** A JSON document carried as a string (an SQS body, an SNS message, a lookup-events CloudTrailEvent). */
function visitJsonString(
  text: string,
  where: string,
  out: RecognisedInput,
  depth: number,
  what: string,
): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    out.problems.push(`${where} is not JSON: ${(error as Error).message}`);
    return what;
  }
  if (visit(parsed, where, out, depth + 1) === undefined) {
    out.problems.push(`${where}: not an event the guardian reads (${describe(parsed)})`);
  }
  return what;
}

/** `aws cloudtrail lookup-events` (CloudTrail Event history): each record is a JSON string in CloudTrailEvent. */
function visitLookupEvents(value: Json, source: string, out: RecognisedInput): string {
  const events = value.Events as unknown[];
  events.forEach((event, i) => {
    const text = isObject(event) ? event.CloudTrailEvent : undefined;
    const where = `${source}: Events[${i}].CloudTrailEvent`;
    if (typeof text !== "string") {
      out.problems.push(`${where} is missing`);
      return;
    }
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (error) {
      out.problems.push(`${where} is not JSON: ${(error as Error).message}`);
      return;
    }
    if (isObject(record) && isCloudTrailRecord(record))
      out.events.push({ value: eventBridgeFromRecord(record), source: where });
    else out.problems.push(`${where} is not a CloudTrail record`);
  });
  if (typeof value.NextToken === "string" && value.NextToken !== "") {
    out.notes.push(
      `${source}: this is one page of CloudTrail Event history (${events.length} event${events.length === 1 ? "" : "s"}): only it was read; the response has a NextToken for the rest`,
    );
  }
  return "`aws cloudtrail lookup-events` output";
}

/**
 * CloudTrail Lake `get-query-results`: each row is a list of one-field objects (`[{"eventName": "..."}, ...]`), and
 * nested fields come back as JSON strings. A row is a record when it names an event.
 */
function visitLakeResults(value: Json, source: string, out: RecognisedInput): string {
  const rows = value.QueryResultRows as unknown[];
  rows.forEach((row, i) => {
    const record: Json = {};
    for (const cell of Array.isArray(row) ? row : []) {
      if (isObject(cell)) for (const [k, v] of Object.entries(cell)) record[k] = parseIfJsonObject(v);
    }
    if (isCloudTrailRecord(record))
      out.events.push({ value: eventBridgeFromRecord(record), source: `${source}: QueryResultRows[${i}]` });
    else out.problems.push(`${source}: QueryResultRows[${i}] does not select eventSource and eventName`);
  });
  if (typeof value.NextToken === "string" && value.NextToken !== "") {
    out.notes.push(
      `${source}: this is one page of query results: only it was read; the response has a NextToken`,
    );
  }
  return "CloudTrail Lake query results";
}

// ---------------------------------------------------------------------------------------------------------------
// Event Grid

function isEventGridEvent(value: Json): boolean {
  if (typeof value.eventType === "string" && ("data" in value || "subject" in value)) return true;
  return (
    value.specversion !== undefined && typeof value.type === "string" && typeof value.source === "string"
  );
}

// ---------------------------------------------------------------------------------------------------------------
// CloudTrail records → the EventBridge event that carries them

/** The detail-type EventBridge gives each CloudTrail eventType (EventBridge user guide, "Events from AWS services"). */
const DETAIL_TYPES: Record<string, string> = {
  AwsApiCall: "AWS API Call via CloudTrail",
  AwsConsoleSignIn: "AWS Console Sign In via CloudTrail",
  AwsServiceEvent: "AWS Service Event via CloudTrail",
  AwsConsoleAction: "AWS Console Action via CloudTrail",
};

/** Athena tables over CloudTrail logs lower-case every column; these are the record's own names. */
const RECORD_FIELDS = [
  "eventVersion",
  "userIdentity",
  "eventTime",
  "eventSource",
  "eventName",
  "awsRegion",
  "sourceIPAddress",
  "userAgent",
  "errorCode",
  "errorMessage",
  "requestParameters",
  "responseElements",
  "additionalEventData",
  "requestID",
  "eventID",
  "readOnly",
  "eventType",
  "managementEvent",
  "recipientAccountId",
  "eventCategory",
];
const IDENTITY_FIELDS = [
  "type",
  "principalId",
  "arn",
  "accountId",
  "accessKeyId",
  "userName",
  "invokedBy",
  "sessionContext",
  "sessionIssuer",
  "attributes",
  "mfaAuthenticated",
  "creationDate",
];
const BY_LOWER = new Map([...RECORD_FIELDS, ...IDENTITY_FIELDS].map((name) => [name.toLowerCase(), name]));

function isCloudTrailRecord(value: Json): boolean {
  const name = value.eventName ?? value.eventname;
  const source = value.eventSource ?? value.eventsource;
  return typeof name === "string" && typeof source === "string";
}

/** A record as CloudTrail writes it: Athena's lower-cased names restored, JSON-string fields parsed. */
function normaliseRecord(value: Json): Json {
  const record: Json = {};
  for (const [key, raw] of Object.entries(value)) {
    const name = BY_LOWER.get(key.toLowerCase()) ?? key;
    const v = parseIfJsonObject(raw);
    record[name] = name === "userIdentity" && isObject(v) ? renameDeep(v) : v;
  }
  return record;
}

function renameDeep(value: Json): Json {
  const out: Json = {};
  for (const [key, v] of Object.entries(value)) {
    out[BY_LOWER.get(key.toLowerCase()) ?? key] = isObject(v) ? renameDeep(v) : v;
  }
  return out;
}

function parseIfJsonObject(value: unknown): unknown {
  if (typeof value !== "string" || !/^\s*[{[]/.test(value)) return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/**
 * The EventBridge event CloudTrail would have delivered for this record: the envelope only restates fields of the
 * record (source from eventSource, account, region, time), so nothing is invented; `id` is left out.
 */
export function eventBridgeFromRecord(raw: Json): Json {
  const record = normaliseRecord(raw);
  const eventSource = String(record.eventSource);
  const identity = isObject(record.userIdentity) ? record.userIdentity : {};
  const account = record.recipientAccountId ?? identity.accountId;
  const event: Json = {
    version: "0",
    "detail-type":
      (typeof record.eventType === "string" ? DETAIL_TYPES[record.eventType] : undefined) ??
      DETAIL_TYPES.AwsApiCall,
    source: `aws.${eventSource.replace(/\.amazonaws\.com$/, "")}`,
    resources: [],
    detail: record,
  };
  if (typeof account === "string") event.account = account;
  if (typeof record.eventTime === "string") event.time = record.eventTime;
  if (typeof record.awsRegion === "string") event.region = record.awsRegion;
  return event;
}

// ---------------------------------------------------------------------------------------------------------------
// ARM resources, and the Azure CLI's flattened form of them

/**
 * What ARM keeps beside `properties` on a tracked resource (Azure Resource Manager resource envelope). The Azure CLI
 * prints the resource flattened: these stay, `resourceGroup` is its own addition, everything else was a property.
 */
const ARM_ENVELOPE = new Set([
  "id",
  "name",
  "type",
  "location",
  "tags",
  "etag",
  "kind",
  "sku",
  "identity",
  "zones",
  "extendedLocation",
  "systemData",
  "managedBy",
  "plan",
]);
const CLI_ADDED = new Set(["resourceGroup"]);

/**
 * Where the Azure CLI's names (the Python SDK's attribute names in camelCase) differ from the REST API's, by resource
 * type and property path (`[]` = each element). Network resources use the REST names; storage accounts do not.
 */
export const AZ_CLI_RENAMES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  "microsoft.storage/storageaccounts": {
    networkRuleSet: "networkAcls",
    enableHttpsTrafficOnly: "supportsHttpsTrafficOnly",
    "networkAcls.ipRules[].ipAddressOrRange": "value",
    "networkAcls.virtualNetworkRules[].virtualNetworkResourceId": "id",
  },
};

function pushArmResource(value: unknown, source: string, out: RecognisedInput): string {
  if (!isObject(value) || typeof value.id !== "string") {
    out.resources.push({ value, source });
    return "an ARM resource";
  }
  if (isObject(value.properties)) {
    out.resources.push({ value, source });
    return "an ARM resource";
  }
  out.resources.push({ value: armFromAzCli(value), source });
  return "Azure CLI output";
}

/**
 * The ARM shape of a resource the Azure CLI printed flattened: envelope fields stay, the rest goes back under
 * `properties`, and so do the properties of child resources (an NSG's security rules), recognised by an id under the
 * parent's. The CLI prints absent values as null where ARM leaves them out; they are dropped.
 */
export function armFromAzCli(flat: Json): Json {
  const id = String(flat.id);
  const type = typeof flat.type === "string" ? flat.type.toLowerCase() : "";
  const resource: Json = {};
  let properties: Json = {};
  for (const [key, value] of Object.entries(flat)) {
    if (value === null || CLI_ADDED.has(key)) continue;
    if (ARM_ENVELOPE.has(key)) resource[key] = value;
    else properties[key] = childrenFromAzCli(value, id);
  }
  const renames = AZ_CLI_RENAMES[type];
  if (renames) properties = renamed(properties, renames, "");
  resource.properties = properties;
  return resource;
}

function childrenFromAzCli(value: unknown, parentId: string): unknown {
  if (!Array.isArray(value)) return value;
  const prefix = `${parentId.toLowerCase()}/`;
  return value.map((item) =>
    isObject(item) &&
    typeof item.id === "string" &&
    item.id.toLowerCase().startsWith(prefix) &&
    !isObject(item.properties)
      ? armFromAzCli(item)
      : item,
  );
}

function renamed(node: Json, renames: Readonly<Record<string, string>>, path: string): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    const here = path ? `${path}.${key}` : key;
    const name = renames[here] ?? key;
    const at = path ? `${path}.${name}` : name;
    if (Array.isArray(value)) {
      out[name] = value.map((item) => (isObject(item) ? renamed(item, renames, `${at}[]`) : item));
    } else if (isObject(value)) {
      out[name] = renamed(value, renames, at);
    } else {
      out[name] = value;
    }
  }
  return out;
}
