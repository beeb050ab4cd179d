import { logAuditSink } from "../../audit/index.ts";
import type { GuardianConfig } from "../../config.ts";
import { InputError } from "../../errors.ts";
import type { Logger } from "../../log.ts";
import { notifiersFromConfig } from "../../notify/index.ts";
import type { Notifier } from "../../notify/types.ts";
import { type CloudPort, type GuardianDeps, ResourceLocks } from "../../pipeline.ts";
import { loadPolicyFile } from "../../policy/file.ts";
import type { Policy } from "../../policy/schema.ts";
import type { CallCounter, ResourceReader, ResourceWriter } from "../ports.ts";
import { createEc2Client, type Ec2ClientSource } from "./client.ts";
import { isOwnAwsIdentity } from "./identity.ts";
import { awsKindOf } from "./kinds/index.ts";
import { AwsSecurityGroupReader } from "./security-group-reader.ts";
import { AwsSecurityGroupWriter } from "./security-group-writer.ts";

interface AwsPortDeps {
  clients: Ec2ClientSource;
  counter: CallCounter;
}

/** The readers, by kind id: each kind says which call reads it (`AwsKind.read`); the SDK-bound code is here. */
export const awsReaders = {
  "security-group": (deps) => new AwsSecurityGroupReader(deps),
} satisfies Record<string, (deps: AwsPortDeps) => ResourceReader>;

/** The writers, by planned-operation kind (`PlannedChange.operation.kind`); a kind lists those it accepts. */
export const awsWriters = {
  "revoke-security-group-ingress": (deps) => new AwsSecurityGroupWriter(deps),
  "revoke-security-group-rules": (deps) => new AwsSecurityGroupWriter(deps),
} satisfies Record<string, (deps: AwsPortDeps) => ResourceWriter>;

function kindOf(resourceType: string, what: string) {
  const kind = awsKindOf(resourceType);
  if (!kind) throw new InputError(`no AWS ${what} for resource type ${resourceType}`);
  return kind;
}

/** The AWS side of the pipeline: readers by kind, writers by planned operation, both from the tables above. */
export function awsPort(
  clients: Ec2ClientSource,
  ownRoleArns: readonly string[],
  counter?: CallCounter,
): CloudPort {
  const deps: AwsPortDeps = { clients, counter: counter ?? { reads: 0, writes: 0 } };
  const readers = new Map<string, ResourceReader>();
  const writers = new Map<string, ResourceWriter>();
  return {
    reader: {
      read(ref) {
        const kind = kindOf(ref.resourceType, "reader");
        let reader = readers.get(kind.id);
        if (!reader) {
          const factory = Object.hasOwn(awsReaders, kind.id)
            ? awsReaders[kind.id as keyof typeof awsReaders]
            : undefined;
          if (!factory) throw new InputError(`no AWS reader for ${kind.label}s`);
          reader = factory(deps);
          readers.set(kind.id, reader);
        }
        return reader.read(ref);
      },
    },
    writer: {
      apply(change, snapshot) {
        const kind = kindOf(snapshot.resourceType, "writer");
        const op = typeof change.operation.kind === "string" ? change.operation.kind : "";
        const factory = Object.hasOwn(awsWriters, op) ? awsWriters[op as keyof typeof awsWriters] : undefined;
        if (!kind.writes.includes(op) || !factory) {
          throw new InputError(
            `no AWS writer for ${op || "(no operation kind)"} on ${kind.label} ${snapshot.resourceId}`,
          );
        }
        let writer = writers.get(op);
        if (!writer) {
          writer = factory(deps);
          writers.set(op, writer);
        }
        return writer.apply(change, snapshot);
      },
    },
    // CloudTrail events never carry the resource.
    snapshotFromEvent: () => undefined,
    consoleUrl: (ref) =>
      kindOf(ref.resourceType, "console page").consoleUrl(ref.region ?? "us-east-1", ref.resourceId),
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
