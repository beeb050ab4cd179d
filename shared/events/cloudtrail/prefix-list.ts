// CloudTrail calls that change a managed prefix list's entries. CloudTrail wraps these newer EC2 requests:
// `requestParameters.ModifyManagedPrefixListRequest.PrefixListId` (see test/fixtures/events/aws/README.md).

import type { CloudTrailCall, DecodedCall } from "../../clouds/aws/kinds/types.ts";
import { asObject, type Json, nonEmptyString } from "./json.ts";

const PREFIX_LIST_ID = /^pl-[0-9a-f]+$/;

/** The prefix list a call changed; the groups that reference it are found when the change is handled. */
export function decodePrefixListCall(call: CloudTrailCall): DecodedCall {
  const id = prefixListIdOf(call.request, call.eventName);
  if (id === undefined) return { malformed: `${call.eventName} names no prefix list (PrefixListId)` };
  return { resourceId: id, details: {} };
}

/** `<EventName>Request.PrefixListId`, or a plain `prefixListId`; only a well-formed id. */
function prefixListIdOf(request: Json | undefined, eventName: string): string | undefined {
  const wrapped = asObject(request?.[`${eventName}Request`]);
  const id = nonEmptyString(wrapped?.PrefixListId) ?? nonEmptyString(request?.prefixListId);
  return id !== undefined && PREFIX_LIST_ID.test(id) ? id : undefined;
}
