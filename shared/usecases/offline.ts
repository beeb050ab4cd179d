import { memoryAuditSink } from "../audit/index.ts";
import { azureKindOf } from "../clouds/azure/kinds/index.ts";
import { PRIVATE_ENDPOINT_TYPE } from "../clouds/azure/kinds/private-endpoint.ts";
import { InputError } from "../errors.ts";
import { normalise } from "../events/index.ts";
import { memoryLogger } from "../log.ts";
import { type CloudPort, handleChanges } from "../pipeline.ts";
import {
  evaluatePolicy,
  exemptionFor,
  exemptTagFinding,
  relatedWanted,
  ruleFor,
  type SubscriptionTenants,
  tenantSubscriptions,
} from "../policy/evaluate.ts";
import type { Policy } from "../policy/schema.ts";
import type { ActionResult, Actor, Finding, ResourceChange, SkippedEvent, Snapshot } from "../types.ts";
import { stateFromEvent } from "./change-state.ts";

export interface FindingView {
  resourceId: string;
  resourceType: string;
  /** Set when the resource is exempt from this entry (tag or policy exemption): reported, not counted. */
  exempt?: string;
  ruleId: string;
  policyRule: string;
  severity: string;
  message: string;
  controls: string[];
  matched: unknown[];
  /** The kind of sources the finding holds when its entry reports several (world-open, public-prefix, ...). */
  kind?: string;
}

export function findingView(f: Finding): FindingView {
  return {
    resourceId: f.resourceId,
    resourceType: f.resourceType,
    ruleId: f.ruleId,
    policyRule: f.policyRule,
    severity: f.severity,
    message: f.message,
    controls: f.controls,
    matched: f.matched,
    ...(f.kind === undefined ? {} : { kind: f.kind }),
  };
}

/** Why a tenant is unknown offline, and how to supply it (the public way any subscription's tenant is learnt). */
export const OFFLINE_TENANT_REASON =
  "guardian evaluate works offline and does not look tenants up: give --tenant <subscription>=<tenant>";

/**
 * Tenants as the user supplied them (`--tenant sub=tenant`) for the subscriptions the entries need; any other is
 * unresolved with the offline reason. Undefined when nothing is needed.
 */
export function offlineTenants(
  policy: Policy,
  snapshot: Snapshot,
  given: ReadonlyMap<string, string>,
  missing?: Set<string>,
): SubscriptionTenants | undefined {
  const needed = tenantSubscriptions(policy, snapshot);
  if (needed.size === 0) return undefined;
  return new Map(
    [...needed].map((sub) => {
      const tenantId = given.get(sub);
      if (tenantId === undefined) missing?.add(sub);
      return [sub, tenantId ? { tenantId } : { unresolved: OFFLINE_TENANT_REASON }];
    }),
  );
}

export interface NotEvaluated {
  resourceId: string;
  resourceType: string;
  reason: string;
}

/**
 * `guardian evaluate`: pure evaluation of snapshots, no cloud call. Exempt findings are reported with their reason;
 * resources no enabled rule evaluates are listed, never passed off as compliant.
 */
export function evaluateSnapshots(
  policy: Policy,
  snapshots: readonly Snapshot[],
  now: Date = new Date(),
  tenants: Readonly<Record<string, string>> = {},
): { findings: FindingView[]; notEvaluated: NotEvaluated[]; notes: string[] } {
  const run = new OfflineEvaluation(policy, now, tenants);
  run.add(snapshots);
  return run.finish();
}

/**
 * `guardian evaluate` over input that arrives in parts (file by file). A virtual network is evaluated as its
 * subnets; a route table is what the subnets using it are judged against, never judged alone; a subnet whose rules
 * read a route table not seen yet waits for it until `finish` (only those are kept in memory).
 */
export class OfflineEvaluation {
  readonly #policy: Policy;
  readonly #now: Date;
  readonly #findings: FindingView[] = [];
  readonly #notEvaluated: NotEvaluated[] = [];
  /** Resources other ones' rules read (route tables), by lower-cased id. */
  readonly #context = new Map<string, Snapshot>();
  /** The context resources some evaluated resource used. */
  readonly #used = new Set<string>();
  /** Resources waiting for a context resource not seen yet. */
  readonly #waiting: Snapshot[] = [];
  /** Tenants the user gave (`--tenant`), by lower-cased subscription id. */
  readonly #tenants: ReadonlyMap<string, string>;
  /** Subscriptions whose tenant an entry needed and nobody gave. */
  readonly #tenantsMissing = new Set<string>();
  /** Requesting private endpoints an entry by groupIds needed and the input did not hold. */
  readonly #endpointsMissing = new Set<string>();
  /**
   * Resources judged by every rule that applies, with all they read: the summary's count. Counted here, not as
   * inputs minus problems, since a virtual network's subnets are judged one by one (its problems are per subnet).
   */
  #evaluated = 0;

  constructor(policy: Policy, now: Date = new Date(), tenants: Readonly<Record<string, string>> = {}) {
    this.#policy = policy;
    this.#now = now;
    this.#tenants = new Map(Object.entries(tenants).map(([s, t]) => [s.toLowerCase(), t.toLowerCase()]));
  }

  add(snapshots: readonly Snapshot[]): void {
    const ready: Snapshot[] = [];
    for (const snapshot of snapshots) {
      const kind = snapshot.cloud === "azure" ? azureKindOf(snapshot.resourceType) : undefined;
      const targets = kind?.fanOut?.(snapshot) ?? [];
      if (kind?.covers) {
        // A virtual network: its subnets, each as its body shows it; and its tags for the storage firewall rules
        // that approve its subnets by role.
        this.#context.set(snapshot.resourceId.toLowerCase(), snapshot);
        this.#used.add(snapshot.resourceId.toLowerCase());
        for (const t of targets) if (t.snapshot) ready.push(t.snapshot);
      } else if (kind?.fanOut) {
        // A route table: judged through the subnets that use it.
        this.#context.set(snapshot.resourceId.toLowerCase(), snapshot);
      } else {
        // A private endpoint is judged itself (what it connects to) and is also the requester whose sub-resources
        // (groupIds) an allow entry on its target reads, when the target's provider does not record them.
        if (snapshot.resourceType === PRIVATE_ENDPOINT_TYPE) {
          this.#context.set(snapshot.resourceId.toLowerCase(), snapshot);
        }
        ready.push(snapshot);
      }
    }
    for (const snapshot of ready) {
      if (this.#missing(snapshot).length > 0) this.#waiting.push(snapshot);
      else this.#evaluate(snapshot);
    }
    // What arrived may be what earlier resources waited for.
    const waiting = this.#waiting.splice(0);
    for (const snapshot of waiting) {
      if (this.#missing(snapshot).length > 0) this.#waiting.push(snapshot);
      else this.#evaluate(snapshot);
    }
  }

  finish(): { findings: FindingView[]; notEvaluated: NotEvaluated[]; notes: string[]; evaluated: number } {
    for (const snapshot of this.#waiting.splice(0)) {
      const before = this.#notEvaluated.length;
      for (const { resourceId: id, resourceType } of this.#missing(snapshot)) {
        if (resourceType === PRIVATE_ENDPOINT_TYPE) {
          // Judged without it: what an entry by groupIds would decide shows as held (said once, in the notes).
          this.#endpointsMissing.add(id);
          continue;
        }
        this.#notEvaluated.push({
          resourceId: snapshot.resourceId,
          resourceType: snapshot.resourceType,
          reason: `its rules read ${id}, which the input does not hold: give that resource's JSON too (nothing that needs it was judged)`,
        });
      }
      this.#evaluate(snapshot, this.#notEvaluated.length > before);
    }
    for (const [id, snapshot] of this.#context) {
      if (this.#used.has(id)) continue;
      if (snapshot.resourceType === PRIVATE_ENDPOINT_TYPE) {
        // Neither judged by a rule of its own nor read for a target's connection: say so.
        if (!this.#applies(snapshot)) this.#notEvaluated.push(this.#noRule(snapshot));
        continue;
      }
      this.#notEvaluated.push({
        resourceId: snapshot.resourceId,
        resourceType: snapshot.resourceType,
        reason: `a ${azureKindOf(snapshot.resourceType)?.label ?? snapshot.resourceType} is judged through the subnets that use it: give them (or their virtual network) too`,
      });
    }
    const notes: string[] = [];
    if (this.#tenantsMissing.size > 0) {
      // Said once, plainly: entries by tenant matched nobody here, so what they would cover shows as held.
      const subs = [...this.#tenantsMissing].sort();
      notes.push(
        `allow entries by tenant need the tenant of ${subs.length === 1 ? "subscription" : "subscriptions"} ` +
          `${subs.join(", ")}, which guardian evaluate does not look up (the deployed guardian asks ARM): what ` +
          "those entries would decide is shown as held. Give --tenant <subscription>=<tenant> (once per subscription); any subscription's " +
          "tenant is in the WWW-Authenticate header of an unauthenticated GET " +
          "https://management.azure.com/subscriptions/<id>?api-version=2022-12-01",
      );
    }
    if (this.#endpointsMissing.size > 0) {
      const ids = [...this.#endpointsMissing].sort();
      notes.push(
        `allow entries by groupIds need the sub-resources the requesting private ${ids.length === 1 ? "endpoint" : "endpoints"} ` +
          `${ids.join(", ")} asked for, which Storage, Key Vault and Private Link Service connections do not record and ` +
          "the input does not hold: the sub-resource was not determined, and what those entries would decide is shown as " +
          "held. Give each endpoint's JSON too (az network private-endpoint show --ids <id>)",
      );
    }
    return { findings: this.#findings, notEvaluated: this.#notEvaluated, notes, evaluated: this.#evaluated };
  }

  /** The related resources the applicable rules read that the input has not given yet. */
  #missing(snapshot: Snapshot): { resourceId: string; resourceType: string }[] {
    return this.#relatedRefs(snapshot).filter((r) => !this.#context.has(r.resourceId.toLowerCase()));
  }

  #relatedRefs(snapshot: Snapshot): { resourceId: string; resourceType: string }[] {
    if (snapshot.cloud !== "azure") return [];
    const wanted = relatedWanted(this.#policy, snapshot);
    if (wanted === undefined) return [];
    const kind = azureKindOf(snapshot.resourceType);
    return (kind?.related?.(snapshot) ?? []).filter(wanted);
  }

  #applies(snapshot: Snapshot): boolean {
    return this.#policy.rules.some(
      (e) => e.enabled && ruleFor(e).resourceTypes.includes(snapshot.resourceType),
    );
  }

  #noRule(snapshot: Snapshot): NotEvaluated {
    return {
      resourceId: snapshot.resourceId,
      resourceType: snapshot.resourceType,
      reason: `no enabled rule of the policy evaluates ${snapshot.resourceType}`,
    };
  }

  #evaluate(snapshot: Snapshot, partial = false): void {
    const policy = this.#policy;
    const applicable = policy.rules.filter(
      (e) => e.enabled && ruleFor(e).resourceTypes.includes(snapshot.resourceType),
    );
    if (applicable.length === 0) {
      // A private endpoint may still be what a target's connection reads (finish tells).
      if (snapshot.resourceType !== PRIVATE_ENDPOINT_TYPE) this.#notEvaluated.push(this.#noRule(snapshot));
      return;
    }
    // A rule missing part of what it reads (permissions not given with an endpoint service) says so: listed, not
    // passed off as compliant.
    const before = this.#notEvaluated.length;
    for (const entry of applicable) {
      const reason = ruleFor(entry).cannotEvaluate?.(snapshot);
      if (reason !== undefined) {
        this.#notEvaluated.push({
          resourceId: snapshot.resourceId,
          resourceType: snapshot.resourceType,
          reason: `${entry.name} (${entry.rule}): ${reason}`,
        });
      }
    }
    if (!partial && this.#notEvaluated.length === before) this.#evaluated++;
    const related = new Map<string, Snapshot | null>();
    for (const { resourceId: id } of this.#relatedRefs(snapshot)) {
      const found = this.#context.get(id.toLowerCase());
      if (found) {
        related.set(id.toLowerCase(), found);
        this.#used.add(id.toLowerCase());
      }
    }
    const tenants = offlineTenants(policy, snapshot, this.#tenants, this.#tenantsMissing);
    for (const { entry, finding } of evaluatePolicy(policy, snapshot, undefined, related, tenants)) {
      const exempt = exemptionFor(policy, entry, snapshot, this.#now);
      this.#findings.push({ ...findingView(finding), ...(exempt ? { exempt } : {}) });
    }
    // An exempt tag that exempts nothing is shown too: it is no exemption, and whoever set it should know.
    const tagProblem = exemptTagFinding(policy, snapshot);
    if (tagProblem) this.#findings.push(findingView(tagProblem));
  }
}

export type ChangeView =
  | {
      cloud: string;
      resourceId: string;
      resourceType: string;
      operation: string;
      operationName: string;
      actor: ResourceChange["actor"];
      eventId: string;
      correlationId?: string;
      subjectId?: string;
      /** Whether the change was evaluated; when not, `note` says why (no resource to evaluate, own change). */
      evaluated: boolean;
      /**
       * What stood in for the read: `resource` a --resource snapshot, `event` the resource the event carried,
       * `change` only the part the change wrote (what an Authorize added); `note` says which in words.
       */
      evaluatedFrom?: "resource" | "event" | "change";
      /** Set when the change could not be evaluated for want of its resource (explain then exits 3). */
      needsResource?: boolean;
      note?: string;
      /** Where the event came from in the input (`events.json: Records[2]`). */
      source?: string;
    }
  | {
      skipped: SkippedEvent["reason"];
      detail: string;
      eventId?: string;
      eventType?: string;
      source?: string;
    };

export interface ActionView {
  resourceId: string;
  policyRule: string;
  mode: string;
  /** What the guardian would do: the planned change for a remediation, else the reason it would not act. */
  wouldDo: string;
  outcome: ActionResult["outcome"];
  planned?: unknown;
  /** Index of the change in `changes` this action is about. */
  change: number;
}

export interface ExplainResult {
  changes: ChangeView[];
  /** Each finding names, in `change`, the index of the change in `changes` it is about. */
  findings: (FindingView & { change: number })[];
  actions: ActionView[];
  unusedResources: string[];
}

/**
 * `guardian explain`: what the guardian would do with captured events, offline. A --resource snapshot, else the
 * resource the event carried, else the part the change wrote (stateFromEvent) stands in for the read; the pipeline
 * runs in dry-run with no writer and no alert channel. `deliveries` are what the normalisers take (recogniseInput).
 */
export async function explainEvent(
  policy: Policy,
  deliveries: readonly { value: unknown; source?: string }[],
  resources: readonly Snapshot[],
  selfIdentities: readonly string[] = [],
  ownChange?: (actor: Actor) => boolean,
): Promise<ExplainResult> {
  const findings: ExplainResult["findings"] = [];
  const actions: ActionView[] = [];
  const views: ChangeView[] = [];
  const used = new Set<Snapshot>();
  for (const delivery of deliveries) {
    const where = delivery.source === undefined ? {} : { source: delivery.source };
    const { changes, skipped } = normalise(delivery.value);
    for (const c of changes) {
      const supplied = resources.find((r) => r.resourceId.toLowerCase() === c.resourceId.toLowerCase());
      if (supplied) used.add(supplied);
      const fromEvent = supplied ? undefined : stateFromEvent(c);
      const standIn = supplied ?? fromEvent?.snapshot;
      const view = {
        cloud: c.cloud,
        resourceId: c.resourceId,
        resourceType: c.resourceType,
        operation: c.operation,
        operationName: c.operationName,
        actor: c.actor,
        eventId: c.eventId,
        correlationId: c.correlationId,
        subjectId: c.subjectId,
        ...where,
      };
      // One change that cannot be explained (a resource that is not what its type says) must not hide the others.
      const outcomes = await handleChanges([c], {
        policy,
        clouds: { [c.cloud]: offlinePort(standIn, resources, used, ownChange) },
        // Offline: what would be alerted is shown by the caller, nothing is sent.
        outbox: { enqueue: async () => [] },
        audit: memoryAuditSink(),
        selfIdentities,
        dryRun: true,
        log: memoryLogger(),
      });
      const [outcome] = outcomes;
      if (!outcome) continue;
      const notes: Partial<Record<typeof outcome.status, string>> = {
        "skipped-self": "made by the guardian's own identity: it would not act on it",
        "resource-deleted": "the resource was deleted: nothing to evaluate",
        "resource-gone":
          "the event carries no resource and does not record what the change wrote: pass the resource with --resource",
        failed: outcome.error,
      };
      const evaluated = outcome.status === "evaluated";
      const note = evaluated ? fromEvent?.note : notes[outcome.status];
      const index = views.length;
      views.push({
        ...view,
        evaluated,
        ...(evaluated ? { evaluatedFrom: supplied ? ("resource" as const) : fromEvent?.from } : {}),
        ...(outcome.status === "resource-gone" ? { needsResource: true } : {}),
        ...(note ? { note } : {}),
      });
      // An exempt finding is shown with its exemption and not counted, as `guardian evaluate` does.
      const exempt = new Map(
        outcome.actions
          .filter((a) => a.outcome === "skipped-exempt")
          .map((a) => [a.finding, a.reason] as const),
      );
      // Item by item, here and below: spreading a list into push() fails above about 125,000 items. The resource's
      // own findings, then those of what it fans out to (a network's subnets, the subnets using a route table).
      for (const o of outcomes) {
        for (const a of o.actions) if (a.outcome === "skipped-exempt") exempt.set(a.finding, a.reason);
        for (const f of o.findings) {
          const reason = exempt.get(f);
          findings.push({ ...findingView(f), ...(reason ? { exempt: reason } : {}), change: index });
        }
        for (const a of o.actions) {
          actions.push({
            resourceId: a.finding.resourceId,
            policyRule: a.finding.policyRule,
            mode: a.mode,
            outcome: a.outcome,
            wouldDo: a.planned ? a.planned.summary : a.reason,
            planned: a.planned?.operation,
            change: index,
          });
        }
      }
    }
    for (const s of skipped) {
      views.push({
        skipped: s.reason,
        detail: s.detail,
        eventId: s.eventId,
        eventType: s.eventType,
        ...where,
      });
    }
  }
  const unused = resources.filter((r) => !used.has(r)).map((r) => r.resourceId);
  return { changes: views, findings, actions, unusedResources: unused };
}

/** What `guardian evaluate` makes of events: the resource state each one shows (stateFromEvent), and what it skipped. */
export function statesFromEvents(deliveries: readonly { value: unknown; source: string }[]): {
  states: { snapshot: Snapshot; note: string; source: string }[];
  /** Events that show no resource state, or that the guardian ignores, with the reason. */
  unevaluated: { source: string; reason: string }[];
} {
  const states: { snapshot: Snapshot; note: string; source: string }[] = [];
  const unevaluated: { source: string; reason: string }[] = [];
  for (const delivery of deliveries) {
    const { changes, skipped } = normalise(delivery.value);
    for (const c of changes) {
      const state = stateFromEvent(c);
      if (state) states.push({ snapshot: state.snapshot, note: state.note, source: delivery.source });
      else
        unevaluated.push({
          source: delivery.source,
          reason: `${c.operationName} on ${c.resourceId} shows no resource state: use guardian explain --event with --resource`,
        });
    }
    for (const s of skipped)
      unevaluated.push({ source: delivery.source, reason: `${s.reason}: ${s.detail}` });
  }
  return { states, unevaluated };
}

/**
 * The cloud as the supplied resources show it: the stand-in serves the change's own read; what the change fans out to
 * or reads beside it (a route table's subnets, a subnet's route table) comes from the other supplied resources, a
 * supplied virtual network's subnets included.
 */
function offlinePort(
  standIn: Snapshot | undefined,
  resources: readonly Snapshot[],
  used: Set<Snapshot>,
  ownChange?: (actor: Actor) => boolean,
): CloudPort {
  const byId = (id: string): Snapshot | undefined => {
    const lower = id.toLowerCase();
    for (const r of resources) {
      if (r.resourceId.toLowerCase() === lower) {
        used.add(r);
        return r;
      }
      for (const t of r.cloud === "azure" ? (azureKindOf(r.resourceType)?.fanOut?.(r) ?? []) : []) {
        if (t.snapshot && t.resourceId.toLowerCase() === lower) {
          used.add(r);
          return t.snapshot;
        }
      }
    }
    return undefined;
  };
  const ref = (resourceId: string, resourceType: string, account: string) => ({
    cloud: "azure" as const,
    resourceId,
    resourceType,
    account,
  });
  const isStandIn = (id: string) =>
    standIn !== undefined && standIn.resourceId.toLowerCase() === id.toLowerCase();
  return {
    ...(ownChange ? { isOwnChange: ownChange } : {}),
    reader: { read: async (r) => (isStandIn(r.resourceId) ? standIn : byId(r.resourceId)) },
    writer: {
      apply: async () => {
        throw new InputError("explain never writes");
      },
    },
    snapshotFromEvent: (change) => (isStandIn(change.resourceId) ? standIn : undefined),
    fanOut: (snapshot) =>
      snapshot.cloud !== "azure"
        ? []
        : (azureKindOf(snapshot.resourceType)?.fanOut?.(snapshot) ?? []).map((t) => ({
            ref: ref(t.resourceId, t.resourceType, snapshot.account),
            ...(t.snapshot ? { snapshot: t.snapshot } : {}),
          })),
    // Only what was supplied: a resource not given is not read (its rules judge nothing that needs it), never taken
    // for one that no longer exists (a storage VNet rule into a network "gone" would be planned for removal).
    related: (snapshot) =>
      snapshot.cloud !== "azure"
        ? []
        : (azureKindOf(snapshot.resourceType)?.related?.(snapshot) ?? [])
            .filter((r) => byId(r.resourceId) !== undefined)
            .map((r) => ref(r.resourceId, r.resourceType, snapshot.account)),
    // Offline: no tenant is looked up; entries by tenant match nobody and say why.
    tenantsOf: async (subs) =>
      new Map(
        subs.map((sub) => [
          sub,
          { unresolved: "guardian explain works offline and does not look tenants up" },
        ]),
      ),
    consoleUrl: () => "",
  };
}
