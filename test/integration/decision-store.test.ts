// The DynamoDB decision store (Powertools Idempotency's persistence model, our DynamoDB backend) against moto's
// DynamoDB: a claim is exclusive, a completed decision blocks claims until its TTL, a released one does not, and a
// claim whose holder died stops blocking once its lease runs out.

import { CreateTableCommand, DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DynamoDbDecisionStore } from "../../shared/clouds/aws/decision-store.ts";
import { type MotoServer, startMoto } from "../harness/moto.ts";
import { type SerialProxy, startSerialProxy } from "../harness/serial-proxy.ts";

const TABLE = "decisions";
let moto: MotoServer;
let client: DynamoDBClient;
// moto checks a ConditionExpression and writes without a lock; DynamoDB does both atomically (see serial-proxy.ts).
let serial: SerialProxy;

beforeAll(async () => {
  moto = await startMoto();
  serial = await startSerialProxy(moto.endpoint);
  client = new DynamoDBClient({
    endpoint: serial.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
});

afterAll(async () => {
  client?.destroy();
  await serial?.stop();
  await moto?.stop();
});

beforeEach(async () => {
  await moto.reset();
  await client.send(
    new CreateTableCommand({
      TableName: TABLE,
      KeySchema: [{ AttributeName: "id", KeyType: "HASH" }],
      AttributeDefinitions: [{ AttributeName: "id", AttributeType: "S" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("DynamoDB decision store", () => {
  it("lets one claim win, keeps a decision made until its TTL, and lets a released one be claimed again", async () => {
    const store = new DynamoDbDecisionStore({ tableName: TABLE, client, ttlSeconds: 1 });
    const [a, b] = await Promise.all([store.claim("svc/vpce-1"), store.claim("svc/vpce-1")]);
    expect([a, b].sort()).toEqual([false, true]);
    await store.complete("svc/vpce-1", "approved");
    expect(await store.claim("svc/vpce-1")).toBe(false);
    // Another request is its own decision.
    expect(await store.claim("svc/vpce-2")).toBe(true);
    await store.release("svc/vpce-2");
    expect(await store.claim("svc/vpce-2")).toBe(true);
    // The record: a hashed, prefixed id, the status and the expiry Powertools writes, the outcome as data.
    const items = (await client.send(new ScanCommand({ TableName: TABLE }))).Items ?? [];
    const done = items.find((i) => i.status?.S === "COMPLETED");
    expect(done?.id?.S).toMatch(/^network-guardian\.decision#[A-Za-z0-9+/=]+$/);
    expect(JSON.parse(done?.data?.S ?? "null")).toEqual({ outcome: "approved" });
    // Once the TTL has passed, the request may be decided (and announced) again. The expiry is kept in whole seconds
    // (Powertools' `expiration`), so one second of TTL can last almost two.
    await sleep(2_100);
    expect(await store.claim("svc/vpce-1")).toBe(true);
  });

  it("stops honouring a claim whose holder never finished once its lease runs out", async () => {
    const store = new DynamoDbDecisionStore({
      tableName: TABLE,
      client,
      ttlSeconds: 3600,
      claimLeaseMs: 200,
    });
    expect(await store.claim("svc/vpce-9")).toBe(true);
    expect(await store.claim("svc/vpce-9")).toBe(false);
    await sleep(300);
    expect(await store.claim("svc/vpce-9")).toBe(true);
  });
});
