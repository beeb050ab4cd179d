// CloudTrail calls on PrivateLink resources: endpoint services (the provider side) and VPC endpoints (the consumer
// side, evaluated as part of their VPC).
//
// These EC2 actions are recorded with their request wrapped under `<Action>Request` in the query API's PascalCase
// names (`CreateVpcEndpointRequest: { VpcId, ServiceName, … }`), where a list member is `{ "tag": n, "content": v }`
// (or `{ "tag": n, …fields }`) and a list of one is that object alone; responses are wrapped under
// `<Action>Response` in the XML's camelCase. Nothing here trusts a field to be there; the guardian re-reads the
// resource anyway, and what the call recorded is evidence (who added which principal).

import type { CloudTrailCall, DecodedCall } from "../../clouds/aws/kinds/types.ts";
import { asObject, type Json, nonEmptyString } from "./json.ts";

/** A VPC kind resource id naming one of its endpoints: the reader resolves the endpoint's VPC. */
export const VPC_OF_ENDPOINT_PREFIX = "endpoint:";

/** The wrapped request (`ModifyVpcEndpointRequest`), or the request itself when a record has no wrapper. */
function wrapped(call: CloudTrailCall): Json | undefined {
  return asObject(call.request?.[`${call.eventName}Request`]) ?? call.request;
}

function wrappedResponse(call: CloudTrailCall): Json | undefined {
  return asObject(call.response?.[`${call.eventName}Response`]) ?? call.response;
}

/** A recorded string list: a string, `{ content }`, or an array of either. */
export function stringList(value: unknown): string[] {
  const entries = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return entries.flatMap((entry) => {
    const text = nonEmptyString(entry) ?? nonEmptyString(asObject(entry)?.content);
    return text === undefined ? [] : [text];
  });
}

function bool(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (value === "true") return true;
  if (value === "false") return false;
  return undefined;
}

const SERVICE_ID = /^vpce-svc-[0-9a-z]+$/;
const ENDPOINT_ID = /^vpce-[0-9a-z]+$/;

/**
 * Create/ModifyVpcEndpointServiceConfiguration and ModifyVpcEndpointServicePermissions: the service, whether the call
 * set AcceptanceRequired, and the principals it added or removed.
 */
export function decodeEndpointServiceCall(call: CloudTrailCall): DecodedCall {
  const request = wrapped(call);
  const response = wrappedResponse(call);
  const created = asObject(response?.serviceConfiguration);
  const serviceId = nonEmptyString(request?.ServiceId) ?? nonEmptyString(created?.serviceId);
  if (serviceId === undefined || !SERVICE_ID.test(serviceId)) {
    return {
      malformed: `${call.eventName} names no endpoint service: neither the request's ServiceId nor the response's serviceConfiguration.serviceId is a vpce-svc id`,
    };
  }
  const details: Record<string, unknown> = {};
  const acceptance = bool(request?.AcceptanceRequired) ?? bool(created?.acceptanceRequired);
  if (acceptance !== undefined) details.acceptanceRequired = acceptance;
  const added = stringList(request?.AddAllowedPrincipals);
  if (added.length > 0) details.addedPrincipals = added;
  const removed = stringList(request?.RemoveAllowedPrincipals);
  if (removed.length > 0) details.removedPrincipals = removed;
  return { resourceId: serviceId, details };
}

/**
 * Create/ModifyVpcEndpoint and DeleteVpcEndpoints: the VPC the endpoint belongs to, which only CreateVpcEndpoint
 * records; for the others the endpoint id stands in (`endpoint:vpce-…`) and the reader resolves its VPC. A
 * DeleteVpcEndpoints naming several endpoints re-evaluates each one's VPC.
 */
export function decodeVpcEndpointCall(call: CloudTrailCall): DecodedCall {
  const request = wrapped(call);
  const response = wrappedResponse(call);
  const details: Record<string, unknown> = {};
  if (call.eventName === "CreateVpcEndpoint") {
    const endpoint = asObject(response?.vpcEndpoint);
    const vpcId = nonEmptyString(request?.VpcId) ?? nonEmptyString(endpoint?.vpcId);
    if (vpcId === undefined) return { malformed: "CreateVpcEndpoint names no VPC (request VpcId)" };
    const serviceName = nonEmptyString(request?.ServiceName) ?? nonEmptyString(endpoint?.serviceName);
    if (serviceName !== undefined) details.serviceName = serviceName;
    const type = nonEmptyString(request?.VpcEndpointType) ?? nonEmptyString(endpoint?.vpcEndpointType);
    if (type !== undefined) details.vpcEndpointType = type;
    const endpointId = nonEmptyString(endpoint?.vpcEndpointId);
    if (endpointId !== undefined) details.vpcEndpointIds = [endpointId];
    return { resourceId: vpcId, details };
  }
  const ids = stringList(request?.VpcEndpointId).filter((id) => ENDPOINT_ID.test(id));
  const [first, ...rest] = ids;
  if (first === undefined)
    return { malformed: `${call.eventName} names no VPC endpoint (request VpcEndpointId)` };
  details.vpcEndpointIds = ids;
  if (request?.PolicyDocument !== undefined || bool(request?.ResetPolicy) === true)
    details.policyChanged = true;
  return {
    resourceId: `${VPC_OF_ENDPOINT_PREFIX}${first}`,
    details,
    ...(rest.length > 0 ? { alsoResourceIds: rest.map((id) => `${VPC_OF_ENDPOINT_PREFIX}${id}`) } : {}),
  };
}
