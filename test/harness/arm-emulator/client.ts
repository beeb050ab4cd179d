// SDK clients wired to an emulator: the real @azure/arm-network client, over HTTPS, trusting the emulator's certificate.
//
// arm-network 39 is generated on @azure-rest/core-client: the scope option is `credentials.scopes` (the older
// `credentialScopes` is ignored), and `tlsOptions` becomes the pipeline's tlsPolicy, whose `ca` is used for the
// per-client https.Agent. That is per client, unlike NODE_EXTRA_CA_CERTS which Node reads only at process start.

import { request } from "node:https";
import { NetworkManagementClient, type NetworkManagementClientOptionalParams } from "@azure/arm-network";
import { StorageManagementClient } from "@azure/arm-storage";
import type { TokenCredential } from "@azure/core-auth";
import { staticTokenCredential } from "./auth.ts";

export const DEFAULT_SUBSCRIPTION_ID = "9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f";

export function armClientOptions(emulator: {
  url: string;
  ca: string;
}): NetworkManagementClientOptionalParams {
  return {
    endpoint: emulator.url,
    credentials: { scopes: [`${emulator.url}/.default`] },
    tlsOptions: { ca: emulator.ca },
    // Small delays so throttling and fault tests stay fast; the SDK's policies still decide when to retry.
    retryOptions: { maxRetries: 3, retryDelayInMs: 5, maxRetryDelayInMs: 50 },
  };
}

/** A NetworkManagementClient for `subscriptionId` that authenticates with `token` (see mintToken). */
export function networkClientFor(
  emulator: { url: string; ca: string },
  token: string | TokenCredential,
  subscriptionId: string = DEFAULT_SUBSCRIPTION_ID,
): NetworkManagementClient {
  const credential = typeof token === "string" ? staticTokenCredential(token) : token;
  return new NetworkManagementClient(credential, subscriptionId, armClientOptions(emulator));
}

/** A StorageManagementClient for `subscriptionId` (what a person's tooling uses), at the api-version the guardian follows. */
export function storageClientFor(
  emulator: { url: string; ca: string },
  token: string | TokenCredential,
  subscriptionId: string = DEFAULT_SUBSCRIPTION_ID,
): StorageManagementClient {
  const credential = typeof token === "string" ? staticTokenCredential(token) : token;
  return new StorageManagementClient(credential, subscriptionId, {
    ...armClientOptions(emulator),
    apiVersion: "2025-08-01",
  });
}

export interface RawArmResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body, or undefined when the response had none. */
  body: unknown;
}

/** One HTTPS request to the emulator without the SDK, for checking exact wire shapes and protocol errors. */
export function rawArmRequest(
  emulator: { url: string; ca: string },
  method: string,
  pathAndQuery: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<RawArmResponse> {
  const payload =
    options.body === undefined
      ? undefined
      : typeof options.body === "string"
        ? options.body
        : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(pathAndQuery, emulator.url),
      {
        method,
        ca: emulator.ca,
        agent: false,
        headers: {
          ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}),
          ...(payload === undefined ? {} : { "Content-Type": "application/json" }),
          ...options.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text ? JSON.parse(text) : undefined,
          });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}
