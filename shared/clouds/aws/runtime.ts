import { logAuditSink } from "../../audit/index.ts";
import type { GuardianConfig } from "../../config.ts";
import type { Logger } from "../../log.ts";
import { notifiersFromConfig } from "../../notify/index.ts";
import type { Notifier } from "../../notify/types.ts";
import { type CloudPort, type GuardianDeps, ResourceLocks } from "../../pipeline.ts";
import { loadPolicyFile } from "../../policy/file.ts";
import type { Policy } from "../../policy/schema.ts";
import type { CallCounter } from "../ports.ts";
import { createEc2Client, type Ec2ClientSource } from "./client.ts";
import { awsConsoleUrl } from "./console.ts";
import { isOwnAwsIdentity } from "./identity.ts";
import { AwsSecurityGroupReader } from "./security-group-reader.ts";
import { AwsSecurityGroupWriter } from "./security-group-writer.ts";

/** The AWS side of the pipeline: security groups read and revoked through EC2. */
export function awsPort(
  clients: Ec2ClientSource,
  ownRoleArns: readonly string[],
  counter?: CallCounter,
): CloudPort {
  const shared = counter ?? { reads: 0, writes: 0 };
  return {
    reader: new AwsSecurityGroupReader({ clients, counter: shared }),
    writer: new AwsSecurityGroupWriter({ clients, counter: shared }),
    // CloudTrail events never carry the resource.
    snapshotFromEvent: () => undefined,
    consoleUrl: (ref) => awsConsoleUrl(ref.region ?? "us-east-1", ref.resourceId),
    isOwnChange: (actor) => isOwnAwsIdentity(actor, ownRoleArns),
  };
}

export interface AwsRuntimeOverrides {
  clients?: Ec2ClientSource;
  policy?: Policy;
  notifiers?: Notifier[];
  counter?: CallCounter;
}

export async function awsGuardianDeps(
  cfg: GuardianConfig,
  log: Logger,
  overrides: AwsRuntimeOverrides = {},
): Promise<GuardianDeps> {
  const clients =
    overrides.clients ?? createEc2Client({ region: cfg.aws.region, endpoint: cfg.aws.ec2Endpoint });
  if (cfg.selfIdentities.length === 0) {
    // Without its role ARN the guardian cannot tell its own revokes from a person's; it would re-evaluate them
    // (harmless, they are compliant) but could not say so. The deploy template always sets it.
    log.warn("guardian.identity-unknown", {
      message:
        "GUARDIAN_SELF_IDENTITIES is not set: the guardian's own changes will not be recognised as its own",
    });
  }
  return {
    policy: overrides.policy ?? (await loadPolicyFile(cfg.policyFile)),
    clouds: { aws: awsPort(clients, cfg.selfIdentities, overrides.counter) },
    notifiers: overrides.notifiers ?? notifiersFromConfig(cfg),
    audit: logAuditSink(log),
    selfIdentities: cfg.selfIdentities,
    dryRun: cfg.dryRun,
    log,
    locks: new ResourceLocks(),
  };
}
