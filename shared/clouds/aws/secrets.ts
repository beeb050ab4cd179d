import { SecretsProvider } from "@aws-lambda-powertools/parameters/secrets";
import { InputError, TransientError } from "../../errors.ts";
import { DEFAULT_EC2_TIMEOUTS } from "./client.ts";

/** How long a read secret is reused: a rotated webhook URL is picked up within this time, without a redeploy. */
export const SECRET_MAX_AGE_SECONDS = 300;

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):\d{12}:secret:.+$/;

/**
 * Reads a webhook URL from Secrets Manager when an alert is sent, through Powertools Parameters (cached for
 * SECRET_MAX_AGE_SECONDS per instance). The function's configuration holds only the secret's ARN, so whoever can read
 * the configuration (lambda:GetFunctionConfiguration) does not get the URL; the role may read that secret only.
 * Errors name the secret, never its value.
 */
export function secretReader(arn: string): () => Promise<string> {
  const region = SECRET_ARN.exec(arn)?.[1];
  if (region === undefined)
    throw new InputError(`"${arn.slice(0, 200)}" is not a Secrets Manager secret ARN`);
  const provider = new SecretsProvider({
    clientConfig: {
      // The secret lives in its own region, whatever region the guardian runs in.
      region,
      maxAttempts: 3,
      requestHandler: {
        connectionTimeout: DEFAULT_EC2_TIMEOUTS.connectMs,
        requestTimeout: DEFAULT_EC2_TIMEOUTS.requestMs,
        throwOnRequestTimeout: true,
      },
    },
  });
  return async () => {
    let value: unknown;
    try {
      value = await provider.get(arn, { maxAge: SECRET_MAX_AGE_SECONDS });
    } catch (error) {
      const cause = (error as { cause?: { name?: unknown } }).cause;
      const code =
        typeof cause?.name === "string" ? cause.name : error instanceof Error ? error.name : "error";
      throw new TransientError(`secret ${arn} could not be read (${code})`, { cause: error });
    }
    if (typeof value !== "string" || value.trim() === "") {
      throw new InputError(`secret ${arn} has no SecretString (expected the webhook URL as its text)`);
    }
    return value.trim();
  };
}
