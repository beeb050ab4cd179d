import { awsGuardianDeps } from "../shared/clouds/aws/runtime.ts";
import { config } from "../shared/config.ts";
import { jsonLogger, type Logger } from "../shared/log.ts";
import type { GuardianDeps } from "../shared/pipeline.ts";

export type DepsFactory = (log: Logger) => Promise<GuardianDeps>;

/** Lambda captures stdout per invocation: one JSON line per log record. */
export const lambdaLogger = (requestId: string): Logger =>
  jsonLogger((line) =>
    process.stdout.write(`${line.replace(/^\{/, `{"requestId":${JSON.stringify(requestId)},`)}\n`),
  );

/** Configuration and clients once per execution environment; warm invocations reuse them. */
export function environmentDeps(): DepsFactory {
  let base: Promise<GuardianDeps> | undefined;
  return async (log) => {
    base ??= awsGuardianDeps(config(), log).catch((error: unknown) => {
      base = undefined;
      throw error;
    });
    return { ...(await base), log };
  };
}
