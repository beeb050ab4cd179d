// Bearer tokens for the emulator: unsigned JWTs (RFC 7519 "alg":"none") whose payload the emulator decodes to learn
// who the caller is. There is no signature check: the emulator is a test double, not a security boundary.

import type { AccessToken, TokenCredential } from "@azure/core-auth";
import { isObject, type JsonObject } from "./json.ts";

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8").toString("base64url");
}

/**
 * An unsigned JWT carrying `claims`. `iat`, `nbf` and `exp` (one hour) and `aud` are added when absent so the token
 * looks like an Entra ID access token for ARM.
 */
export function mintToken(claims: Record<string, unknown>): string {
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    aud: "https://management.core.windows.net/",
    iat: now,
    nbf: now,
    exp: now + 3600,
    ...claims,
  };
  return `${base64url({ alg: "none", typ: "JWT" })}.${base64url(payload)}.`;
}

/** The payload of a JWT, or undefined when the token is not one. */
export function decodeToken(token: string): JsonObject | undefined {
  const parts = token.split(".");
  if (parts.length < 2 || parts.length > 3) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1] as string, "base64url").toString("utf8"));
    return isObject(payload) ? payload : undefined;
  } catch {
    return undefined;
  }
}

/** A TokenCredential that always returns `token` (what the SDK's bearer policy sends as `Authorization`). */
export function staticTokenCredential(token: string): TokenCredential {
  return {
    async getToken(): Promise<AccessToken> {
      const exp = decodeToken(token)?.exp;
      const expiresOnTimestamp = typeof exp === "number" ? exp * 1000 : Date.now() + 3_600_000;
      return { token, expiresOnTimestamp, tokenType: "Bearer" };
    },
  };
}
