// The Azure decision store (shared/clouds/azure/decision-store.ts) against Azurite's Table service: a claim is a
// conditional insert, so of two instances claiming at once one wins; a decision made blocks claims until its TTL; a
// released one does not; a claim whose holder died stops blocking once its lease runs out; expired rows are pruned,
// a bounded number at a time, and live ones kept.
import type { TableClient } from "@azure/data-tables";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { tableClientFor } from "../../shared/clouds/azure/alerts.ts";
import { TableDecisionStore } from "../../shared/clouds/azure/decision-store.ts";
import { type Azurite, startAzurite } from "../harness/azurite.ts";

let azurite: Azurite;
let client: TableClient;
let n = 0;

beforeAll(async () => {
  azurite = await startAzurite();
}, 60_000);
afterAll(async () => {
  await azurite?.stop();
});
beforeEach(async () => {
  n += 1;
  client = tableClientFor({ connectionString: azurite.connectionString }, `decisions${n}`);
  await client.createTable();
});

const rows = async () => {
  const out = [];
  for await (const row of client.listEntities()) out.push(row);
  return out;
};

describe("Azure Table decision store", () => {
  it("lets one of two instances claim, keeps a decision until its TTL, and lets a released one be claimed again", async () => {
    let now = 1_000_000;
    // Two instances: two stores over the same table.
    const a = new TableDecisionStore(client, { ttlMs: 60_000, now: () => now });
    const b = new TableDecisionStore(client, { ttlMs: 60_000, now: () => now });
    const key = "/subscriptions/x/.../privateendpointconnections/pe-1|pending|approve|private-link|remediate";
    const claims = await Promise.all([a.claim(key), b.claim(key), a.claim(key), b.claim(key)]);
    expect(claims.filter(Boolean)).toHaveLength(1);
    await a.complete(key, "approved");
    expect(await b.claim(key)).toBe(false);
    // Another connection is its own decision; a released one may be decided again.
    expect(await b.claim(`${key}-2`)).toBe(true);
    await b.release(`${key}-2`);
    expect(await a.claim(`${key}-2`)).toBe(true);
    // Once the TTL has passed, the request may be decided (and announced) again, by one instance only.
    now += 61_000;
    expect((await Promise.all([a.claim(key), b.claim(key)])).filter(Boolean)).toHaveLength(1);
    // Keys are hashed (resource ids hold `/`, which table keys may not); the expiry is an Int64 (what prune filters on).
    expect((await rows()).every((r) => /^[0-9a-f]{64}$/.test(String(r.rowKey)))).toBe(true);
    for await (const row of client.listEntities({ disableTypeConversion: true })) {
      expect((row as { expiresAtMs?: unknown }).expiresAtMs).toMatchObject({ type: "Int64" });
    }
  });

  it("stops honouring a claim whose holder never finished once its lease runs out", async () => {
    let now = 1_000_000;
    const store = new TableDecisionStore(client, { ttlMs: 3_600_000, claimLeaseMs: 200, now: () => now });
    expect(await store.claim("k")).toBe(true);
    expect(await store.claim("k")).toBe(false);
    now += 300;
    expect(await store.claim("k")).toBe(true);
  });

  it("prunes expired rows, at most pruneMax per call, and keeps live ones", async () => {
    let now = 1_000_000;
    const store = new TableDecisionStore(client, { ttlMs: 1_000, pruneMax: 2, now: () => now });
    for (const k of ["a", "b", "c"]) {
      await store.claim(k);
      await store.complete(k, "held");
    }
    now += 2_000;
    await store.claim("live");
    await store.complete("live", "held");
    expect(await store.prune()).toBe(2);
    expect(await rows()).toHaveLength(2);
    expect(await store.prune()).toBe(1);
    expect(await store.prune()).toBe(0);
    expect(await rows()).toHaveLength(1);
    expect(await store.claim("live")).toBe(false);
  });
});
