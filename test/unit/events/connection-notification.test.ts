// Connection notifications are triggers: ids are found wherever the message puts them, and a message that names no
// service widens the re-read to the whole account instead of being dropped.

import { describe, expect, it } from "vitest";
import { InputError } from "../../../shared/errors.ts";
import { parseConnectionRecord } from "../../../shared/events/connection-notification.ts";
import { notificationScope } from "../../../shared/usecases/endpoint-connections.ts";

// The record shape of the Lambda developer guide's "Using Lambda with Amazon SNS" example event.
function record(message: string) {
  return {
    EventVersion: "1.0",
    EventSubscriptionArn:
      "arn:aws:sns:us-east-1:123456789012:vpce-notifications:21be56ed-a058-49f5-8c98-aedd2564c486",
    EventSource: "aws:sns",
    Sns: {
      SignatureVersion: "1",
      Timestamp: "2024-03-12T10:05:31.000Z",
      Signature: "tcc6faL2yUC6dgZdmrwh1Y4cGa/ebXEkAi6RibDsvpi+tE/1+82j...65r==",
      SigningCertUrl:
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-ac565b8b1a6c5d002d285f9598aa1d9b.pem",
      MessageId: "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
      Message: message,
      MessageAttributes: {},
      Type: "Notification",
      UnsubscribeUrl:
        "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:vpce-notifications:21be56ed-a058-49f5-8c98-aedd2564c486",
      TopicArn: "arn:aws:sns:us-east-1:123456789012:vpce-notifications",
      Subject: "",
    },
  };
}

describe("connection notification records", () => {
  it("finds the service, the endpoint and the event in a JSON message, whatever the keys", () => {
    const trigger = parseConnectionRecord(
      record(
        JSON.stringify({
          a: { b: ["vpce-svc-0e7555fb6441987e1"] },
          endpoint: "vpce-0abed31004e618123",
          what: "Connect",
        }),
      ),
    );
    expect(trigger).toEqual({
      messageId: "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
      topicArn: "arn:aws:sns:us-east-1:123456789012:vpce-notifications",
      account: "123456789012",
      region: "us-east-1",
      time: "2024-03-12T10:05:31.000Z",
      serviceIds: ["vpce-svc-0e7555fb6441987e1"],
      vpcEndpointIds: ["vpce-0abed31004e618123"],
      events: ["Connect"],
    });
    expect(notificationScope(trigger)).toMatchObject({
      serviceIds: ["vpce-svc-0e7555fb6441987e1"],
      vpcEndpointIds: ["vpce-0abed31004e618123"],
      operationName: "Connect notification",
    });
  });

  it("takes neither a notification id nor a connection id for an endpoint", () => {
    // The harness's message (test/harness/privatelink/README.md): the connection's fields and the notification's id.
    const trigger = parseConnectionRecord(
      record(
        JSON.stringify({
          ConnectionNotificationId: "vpce-nfn-04bcb952bc8af7123",
          ConnectionEvents: ["Connect"],
          ServiceId: "vpce-svc-03d5ebb7d9579a2b3",
          VpcEndpointId: "vpce-0c1308d7312217abc",
          VpcEndpointConnectionId: "vpce-con-0a1b2c3d4e5f60718",
          VpcEndpointOwner: "123456789012",
          VpcEndpointState: "pendingAcceptance",
        }),
      ),
    );
    expect([trigger.serviceIds, trigger.vpcEndpointIds]).toEqual([
      ["vpce-svc-03d5ebb7d9579a2b3"],
      ["vpce-0c1308d7312217abc"],
    ]);
  });

  it("reads ids from a plain-text message too", () => {
    const trigger = parseConnectionRecord(
      record("Endpoint vpce-0abed31004e618123 requested vpce-svc-0e7555fb6441987e1"),
    );
    expect([trigger.serviceIds, trigger.vpcEndpointIds]).toEqual([
      ["vpce-svc-0e7555fb6441987e1"],
      ["vpce-0abed31004e618123"],
    ]);
  });

  it("sweeps the whole account when the message names no service", () => {
    const scope = notificationScope(
      parseConnectionRecord(record("something happened to vpce-0abed31004e618123")),
    );
    expect(scope.serviceIds).toBeUndefined();
    expect(scope.vpcEndpointIds).toBeUndefined();
    expect(scope.account).toBe("123456789012");
  });

  it("rejects what is not an SNS record, naming the field", () => {
    const bad = record("x");
    (bad.Sns as Record<string, unknown>).TopicArn = "not-an-arn";
    expect(() => parseConnectionRecord(bad)).toThrow(InputError);
    expect(() => parseConnectionRecord({ EventSource: "aws:sqs" }, "Records[2]")).toThrow(/Records\[2\]/);
  });
});
