// The Event Grid handler and the sweep timer of one Function "instance" over the ARM emulator, with the audit kept in
// memory: the Private Link end-to-end tests drive both and compare what they decided.
import crypto from "node:crypto";
import path from "node:path";
import { type EventGridEvent, InvocationContext, type Timer } from "@azure/functions";
import { createOnChangeHandler } from "../../../functions/on-change.ts";
import { createSweepHandler } from "../../../functions/sweep-private-endpoints.ts";
import { azureGuardianDeps } from "../../../shared/clouds/azure/runtime.ts";
import { parseConfig } from "../../../shared/config.ts";
import { memoryDecisionStore } from "../../../shared/decisions.ts";
import { type Logger, memoryLogger } from "../../../shared/log.ts";
import type { AuditRecord } from "../../../shared/types.ts";
import { staticTokenCredential } from "../../harness/arm-emulator/index.ts";

export interface PrivateLinkSetup {
  /** The emulator's URL; `dir` holds its CA (`ca.pem`) and the policy (`policy.yaml`). */
  armUrl: string;
  dir: string;
  slackUrl: string;
  /** The guardian's bearer token. */
  token: string;
  /** The subscription the sweep covers. */
  subscription: string;
}

export function privateLinkHandlers(setup: PrivateLinkSetup) {
  const audit: AuditRecord[] = [];
  // One store for the "instance", as perInstance builds it once.
  const decisions = memoryDecisionStore();
  const factory = async (log: Logger) => {
    const deps = await azureGuardianDeps(
      parseConfig({
        GUARDIAN_POLICY_FILE: path.join(setup.dir, "policy.yaml"),
        AZURE_ARM_ENDPOINT: setup.armUrl,
        AZURE_ARM_CA_FILE: path.join(setup.dir, "ca.pem"),
        AZURE_ARM_POLL_INTERVAL_MS: "0",
        SLACK_WEBHOOK_URL: setup.slackUrl,
      }),
      log,
      { credential: staticTokenCredential(setup.token), decisions },
    );
    return { ...deps, audit: { record: async (r: AuditRecord) => void audit.push(r) } };
  };
  const onChange = createOnChangeHandler(factory);
  const sweep = createSweepHandler(factory, () => setup.subscription);
  const ctx = () =>
    new InvocationContext({
      invocationId: crypto.randomUUID(),
      functionName: "test",
      logHandler: (_level, ...args) => memoryLogger().info(String(args[0])),
    });
  return {
    audit,
    deliver: async (events: readonly object[]) => {
      const out = [];
      for (const e of events) out.push(await onChange(e as EventGridEvent, ctx()));
      return out;
    },
    sweep: () => sweep({ isPastDue: false } as unknown as Timer, ctx()),
  };
}
