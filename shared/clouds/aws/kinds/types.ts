// What the guardian knows about one kind of AWS resource, in one place: the CloudTrail decoder that finds it in an
// API call, how it is read, listed and written, its permissions and its console page. The event envelope, the
// reader and writer dispatch, `guardian evaluate` and the infra generator read it from the registry (./index.ts).
//
// A kind module imports no SDK at run time (only its types): the event normaliser and the CLI read the registry.
// The SDK-bound reader and writers sit in the AWS port's tables (shared/clouds/aws/runtime.ts).

import type { Operation, Snapshot } from "../../../types.ts";

type Json = Record<string, unknown>;

/** One CloudTrail event name a kind handles. */
export interface AwsEventSpec {
  operation: Operation;
  /** Facts the event name alone tells (a security group call's rule direction); copied into the change's details. */
  facts?: Readonly<Record<string, string>>;
}

/** The service whose CloudTrail calls announce a kind, as EventBridge and CloudTrail name it. */
export interface AwsService {
  /** EventBridge `source`: `aws.ec2`. */
  source: string;
  /** CloudTrail `eventSource`: `ec2.amazonaws.com`. */
  eventSource: string;
  /** For messages: `EC2`. */
  name: string;
}

/** A successful, mutating CloudTrail call that names an event of the kind, handed to the kind's decoder. */
export interface CloudTrailCall {
  eventName: string;
  spec: AwsEventSpec;
  /** `detail.requestParameters` when it is an object. */
  request: Json | undefined;
  /** `detail.responseElements` when it is an object. */
  response: Json | undefined;
}

/**
 * What a decoder found: the resource the call acted on and the kind's own details (and the other resources of the
 * kind one call acted on, each of which gets a change of its own: CreateTags tags several at once), or why it cannot
 * tell (malformed), or that the call touched no resource of the kind (irrelevant: a tag call on instances only).
 */
export type DecodedCall =
  | { resourceId: string; details: Record<string, unknown>; alsoResourceIds?: readonly string[] }
  | { malformed: string }
  | { irrelevant: string };

export interface AwsKind {
  /** Equals the module's file name in shared/clouds/aws/kinds (checked by the registry meta-test). */
  id: string;
  cloud: "aws";
  /** The `resourceType` of changes and snapshots: `aws:ec2:security-group`. */
  type: string;
  /** For people: "security group". */
  label: string;
  service: AwsService;
  /** Every CloudTrail event name that creates, changes or deletes a resource of this kind. */
  events: Readonly<Record<string, AwsEventSpec>>;
  /** Pure: the resource and details of one call; never throws. */
  decode(call: CloudTrailCall): DecodedCall;
  /** The SDK client and command a read uses (the reader itself is in the AWS port's table, by kind id). */
  read: { client: string; call: string };
  /** How a scan lists the kind: per region, paginated. */
  list: {
    client: string;
    call: string;
    scope: "region";
    paginated: boolean;
    /**
     * Set when the list call returns less than the rules judge (an endpoint service without its permissions, a VPC
     * without its endpoints): `stubs` makes each listed item a stand-in that names the resource (id, tags, account),
     * and the scan reads every one in full before evaluating it; `why` says so in the code and the docs.
     */
    incomplete?: { why: string; stubs(json: Json): Snapshot[] };
  };
  /** The planned-operation kinds this kind accepts; the writer for each is picked from the AWS writer table. */
  writes: readonly string[];
  /** Permissions the reads (and lists) of this kind need. */
  readPermissions: readonly string[];
  /**
   * The IAM resource types (`arn:…:ec2:<region>:<account>:<type>/*`) the writes on this kind act on: the role's
   * write statements are scoped to them. Empty for a kind the guardian never writes.
   */
  writeResourceTypes: readonly string[];
  /** The console page of one resource, for alerts. */
  consoleUrl(region: string, resourceId: string): string;
  /**
   * Snapshots of the kind's Describe output as the SDK or CLI prints it (a response, an item, a list of items);
   * undefined when `json` is not this kind's. Throws InputError naming the first bad field.
   */
  fromJson(json: Json): Snapshot[] | undefined;
}
