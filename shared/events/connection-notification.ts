// An endpoint service's connection notification, as Lambda receives it from SNS ("Using Lambda with Amazon SNS":
// `Records[].Sns{Type, MessageId, TopicArn, Subject, Message, Timestamp, …}`, `EventSource: "aws:sns"`).
//
// The message is a trigger, never the truth: the PrivateLink guide does not publish its body's format, so nothing here
// depends on field names. The service and endpoint ids are looked for anywhere in the message (its JSON values, or
// its text), and the guardian re-reads the connections they name; when the message names no service, the whole
// account is swept. An event word (Connect, Accept, Reject, Delete) found in it is kept for the audit trail only.

import * as z from "zod";
import { InputError } from "../errors.ts";

export interface ConnectionTrigger {
  /** The SNS message id: the audit trail's event id. */
  messageId: string;
  topicArn: string;
  /** The topic's account and region: the provider's, where the connections are read. */
  account: string;
  region: string;
  time: string;
  serviceIds: string[];
  vpcEndpointIds: string[];
  /** Connect, Accept, Reject, Delete, as far as the message says. */
  events: string[];
}

const recordSchema = z.looseObject({
  EventSource: z.literal("aws:sns"),
  Sns: z.looseObject({
    MessageId: z.string().min(1),
    TopicArn: z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:.+$/, "an SNS topic ARN"),
    Message: z.string(),
    Timestamp: z.string().min(1),
  }),
});

export const snsEventSchema = z.looseObject({ Records: z.array(z.unknown()).min(1) });

// Endpoint and service ids are `vpce-` / `vpce-svc-` and 8 or 17 hex digits; a notification id (`vpce-nfn-…`) or a
// connection id (`vpce-con-…`) is neither.
const SERVICE_ID = /\bvpce-svc-[0-9a-f]{8,17}(?![0-9a-z-])/g;
const ENDPOINT_ID = /\bvpce-[0-9a-f]{8,17}(?![0-9a-z-])/g;
const EVENTS = new Set(["Connect", "Accept", "Reject", "Delete"]);

/** Every string value in a JSON document, depth-first (bounded: a message is small). */
function strings(value: unknown, depth = 0, out: string[] = []): string[] {
  if (depth > 8) return out;
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, depth + 1, out);
  else if (typeof value === "object" && value !== null)
    for (const v of Object.values(value)) strings(v, depth + 1, out);
  return out;
}

const unique = (values: Iterable<string>) => [...new Set(values)];

/** One SNS record of a connection notification; InputError naming what is wrong when it is not one. */
export function parseConnectionRecord(record: unknown, where = "Records[0]"): ConnectionTrigger {
  const parsed = recordSchema.safeParse(record);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = [where, ...(issue?.path ?? []).map(String)].join(".");
    throw new InputError(`not an SNS notification record: ${path}: ${issue?.message}`, {
      path,
      cause: parsed.error,
    });
  }
  const { Sns: sns } = parsed.data;
  const [, , , region = "", account = ""] = sns.TopicArn.split(":");
  let values: string[];
  try {
    values = strings(JSON.parse(sns.Message) as unknown);
  } catch {
    values = [sns.Message];
  }
  const text = values.join("\n");
  return {
    messageId: sns.MessageId,
    topicArn: sns.TopicArn,
    account,
    region,
    time: sns.Timestamp,
    serviceIds: unique(text.match(SERVICE_ID) ?? []),
    vpcEndpointIds: unique(text.match(ENDPOINT_ID) ?? []),
    events: unique(values.filter((v) => EVENTS.has(v))),
  };
}
