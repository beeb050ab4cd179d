import type { TokenCredential } from "@azure/core-auth";

/**
 * The guardian's own identity as ARM will report it in event claims (object id and app id), read from its token,
 * so that its own writes are recognised without anyone having to configure its principal id.
 */
export async function identitiesFromToken(credential: TokenCredential, scope: string): Promise<string[]> {
  const token = await credential.getToken(scope);
  const payload = token?.token.split(".")[1];
  if (!payload) return [];
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    return ["oid", "appid", "azp"]
      .map((k) => claims[k])
      .filter((v): v is string => typeof v === "string" && v !== "");
  } catch {
    return [];
  }
}
