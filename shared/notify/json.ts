// The generic JSON webhook (a SIEM, PagerDuty through its own endpoint, any tool that takes JSON): a documented,
// versioned body (docs/alerts.md; docs/alert-payload.schema.json is generated from `alertPayloadSchema`).
import * as z from "zod";
import {
  ALERT_PAYLOAD_VERSION,
  type AlertDecision,
  type AlertPayload,
  alertPayloadSchema,
  headline,
  highestSeverity,
  kindsOf,
  latest,
  messageId,
  ordered,
} from "./model.ts";

/** Budget for the body: far below what HTTP intakes accept (Splunk HEC, Sentinel's 1 MB), so proxies pass it too. */
export const JSON_MAX_BYTES = 200_000;

export function renderJson(
  decisions: readonly AlertDecision[],
  maxBytes: number = JSON_MAX_BYTES,
): AlertPayload {
  const list = ordered(decisions);
  const last = latest(list);
  const payload: AlertPayload = {
    schema: "network-guardian.alert",
    version: ALERT_PAYLOAD_VERSION,
    id: messageId(list, "json"),
    headline: headline(list),
    severity: highestSeverity(list),
    kinds: kindsOf(list),
    resource: {
      cloud: last.cloud,
      account: last.account,
      ...(last.region ? { region: last.region } : {}),
      ...(last.resourceGroup ? { resourceGroup: last.resourceGroup } : {}),
      id: last.resourceId,
      name: last.resourceName,
      type: last.resourceType,
      tags: last.tags,
      consoleUrl: last.consoleUrl,
    },
    decisions: [],
    omitted: 0,
  };
  let used = Buffer.byteLength(JSON.stringify(payload), "utf8") + 16;
  for (const d of list) {
    const size = Buffer.byteLength(JSON.stringify(d), "utf8") + 1;
    // The first decision always goes in: each is bounded far below the budget.
    if (payload.decisions.length > 0 && used + size > maxBytes) break;
    payload.decisions.push(d);
    used += size;
  }
  payload.omitted = list.length - payload.decisions.length;
  return payload;
}

/** The payload's JSON Schema, as published in docs/alert-payload.schema.json. */
export function alertPayloadJsonSchema(): unknown {
  return z.toJSONSchema(alertPayloadSchema, { io: "output" });
}
