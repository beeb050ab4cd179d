// Subscription → tenant resolution (shared/clouds/azure/tenants.ts) against the ARM emulator, which answers an
// unauthenticated GET of a subscription as ARM does: 401 with a bearer challenge naming the tenant, or 404
// SubscriptionNotFound. The guardian's own credential is never sent with it.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AzureNetwork } from "../../shared/clouds/azure/network.ts";
import { SubscriptionTenantResolver, tenantFromChallenge } from "../../shared/clouds/azure/tenants.ts";
import {
  type ArmEmulator,
  DEFAULT_TENANT_ID,
  mintToken,
  DEFAULT_SUBSCRIPTION_ID as OURS,
  rawArmRequest,
  startArmEmulator,
  staticTokenCredential,
} from "../harness/arm-emulator/index.ts";

const PARTNER = "3f2a9c1e-7b4d-4e8a-9c2f-1a2b3c4d5e6f";
const PARTNER_TENANT = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
const NOBODY = "e1d2c3b4-a596-4788-9900-aabbccddeeff";

let emu: ArmEmulator;
let network: AzureNetwork;

beforeAll(async () => {
  emu = await startArmEmulator({ lroPolls: 0 });
  network = new AzureNetwork({
    credential: staticTokenCredential(mintToken({ oid: "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d" })),
    endpoint: emu.url,
    ca: emu.ca,
    retryDelayInMs: 1,
    maxRetryDelayInMs: 1,
  });
});
afterAll(async () => {
  await emu?.stop();
});
beforeEach(() => {
  emu.reset();
  emu.subscriptionTenant(PARTNER, PARTNER_TENANT);
  emu.subscriptionTenant(NOBODY, undefined);
});

const subscriptionGets = () => emu.requests.filter((r) => /^\/subscriptions\/[^/]+$/i.test(r.path));

describe("tenantFromChallenge", () => {
  it("reads the tenant from authorization_uri's first path segment, on any login host", () => {
    const arm = `Bearer authorization_uri="https://login.windows.net/${PARTNER_TENANT}", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`;
    expect(tenantFromChallenge(arm)).toBe(PARTNER_TENANT);
    expect(
      tenantFromChallenge(
        `Bearer authorization_uri="https://login.microsoftonline.us/${DEFAULT_TENANT_ID}/"`,
      ),
    ).toBe(DEFAULT_TENANT_ID);
    expect(tenantFromChallenge(`Bearer authorization_uri=https://login.windows.net/${PARTNER_TENANT}`)).toBe(
      PARTNER_TENANT,
    );
  });

  it("finds none where the challenge names no tenant", () => {
    expect(tenantFromChallenge('Bearer authorization_uri="https://login.microsoftonline.com/common"')).toBe(
      undefined,
    );
    expect(tenantFromChallenge(`Basic realm="https://login.windows.net/${PARTNER_TENANT}"`)).toBe(undefined);
    expect(tenantFromChallenge('Bearer authorization_uri="not a url"')).toBe(undefined);
    expect(tenantFromChallenge(undefined)).toBe(undefined);
  });
});

describe("the emulator's answer to an unauthenticated GET of a subscription", () => {
  it("is ARM's: 401 with a challenge naming the tenant for a known subscription, 404 SubscriptionNotFound otherwise", async () => {
    const known = await rawArmRequest(emu, "GET", `/subscriptions/${PARTNER}?api-version=2022-12-01`);
    expect(known.status).toBe(401);
    expect(known.headers["www-authenticate"]).toBe(
      `Bearer authorization_uri="https://login.windows.net/${PARTNER_TENANT}", error="invalid_token", ` +
        `error_description="The authentication failed because of missing 'Authorization' header."`,
    );
    expect(known.body).toEqual({
      error: {
        code: "AuthenticationFailed",
        message: "Authentication failed. The 'Authorization' header is missing.",
      },
    });
    const unknown = await rawArmRequest(emu, "GET", `/subscriptions/${NOBODY}?api-version=2022-12-01`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: { code: "SubscriptionNotFound" } });
    // With a token it is an ordinary (unmodelled) request, not a challenge; without api-version, ARM's 400 first.
    const authed = await rawArmRequest(emu, "GET", `/subscriptions/${PARTNER}?api-version=2022-12-01`, {
      token: mintToken({ oid: "0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d" }),
    });
    expect(authed.status).not.toBe(401);
    expect((await rawArmRequest(emu, "GET", `/subscriptions/${PARTNER}`)).status).toBe(400);
  });
});

describe("SubscriptionTenantResolver against the ARM emulator", () => {
  it("resolves ours and a stranger's subscription without sending a token, and names one ARM does not know", async () => {
    const resolver = new SubscriptionTenantResolver(network);
    const found = await resolver.resolve([OURS, PARTNER.toUpperCase(), NOBODY]);
    expect(found.get(OURS)).toEqual({ tenantId: DEFAULT_TENANT_ID });
    expect(found.get(PARTNER)).toEqual({ tenantId: PARTNER_TENANT });
    expect(found.get(NOBODY)).toEqual({ unresolved: `ARM does not know subscription ${NOBODY}` });
    const gets = subscriptionGets();
    expect(gets.map((r) => r.status).sort()).toEqual([401, 401, 404]);
    // The emulator logs the token's oid as the caller: none was sent.
    expect(gets.every((r) => r.caller === undefined)).toBe(true);
  });

  it("asks once per subscription while the answer is fresh, again once it expires; the cache is bounded", async () => {
    let now = 1_000_000;
    const resolver = new SubscriptionTenantResolver(network, {
      ttlMs: 60_000,
      unknownTtlMs: 1_000,
      maxEntries: 2,
      now: () => now,
    });
    await resolver.resolve([PARTNER, PARTNER, NOBODY]);
    await resolver.resolve([PARTNER, NOBODY]);
    expect(subscriptionGets()).toHaveLength(2);
    now += 2_000; // the unknown subscription is asked again; the resolved one is still fresh
    await resolver.resolve([PARTNER, NOBODY]);
    expect(subscriptionGets()).toHaveLength(3);
    await resolver.resolve([OURS]);
    expect(resolver.size).toBe(2);
  });

  it("leaves the tenant unresolved when ARM cannot be asked, and asks again next time", async () => {
    const resolver = new SubscriptionTenantResolver(network);
    emu.injectFault({ pathIncludes: `/subscriptions/${PARTNER}`, times: 10, kind: "reset-before" });
    const first = await resolver.resolve([PARTNER]);
    expect(first.get(PARTNER)).toMatchObject({
      unresolved: expect.stringMatching(/^ARM could not be asked/),
    });
    emu.reset();
    const second = await resolver.resolve([PARTNER]);
    expect(second.get(PARTNER)).toEqual({ tenantId: PARTNER_TENANT });
  });

  it("retries a throttled lookup as the SDK retries any ARM call", async () => {
    const resolver = new SubscriptionTenantResolver(network);
    emu.injectFault({
      pathIncludes: `/subscriptions/${PARTNER}`,
      times: 1,
      status: 429,
      retryAfterSeconds: 0,
    });
    expect((await resolver.resolve([PARTNER])).get(PARTNER)).toEqual({ tenantId: PARTNER_TENANT });
    expect(subscriptionGets().map((r) => r.status)).toEqual([429, 401]);
  });
});
