import { awsGuardianDeps, awsSenderDeps } from "../shared/clouds/aws/runtime.ts";
import { config } from "../shared/config.ts";
import { jsonLogger, type Logger } from "../shared/log.ts";
import { type DepsFactory, perInstance, perInstanceSender, type SenderFactory } from "../shared/runtime.ts";

export type { DepsFactory, SenderFactory } from "../shared/runtime.ts";

/** Lambda captures stdout per invocation: one JSON line per log record, each carrying the request id. */
export const lambdaLogger = (requestId: string): Logger =>
  jsonLogger((line) => process.stdout.write(`${line}\n`), { requestId });

/** Configuration and clients once per execution environment; logger and audit per invocation. */
export function environmentDeps(): DepsFactory {
  return perInstance((log) => awsGuardianDeps(config(), log));
}

/** The sender's queues, table and channels once per execution environment; logger per invocation. */
export function senderDeps(): SenderFactory {
  return perInstanceSender((log) => awsSenderDeps(config(), log));
}
