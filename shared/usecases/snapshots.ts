import { awsKinds } from "../clouds/aws/kinds/index.ts";
import { parseArmResourceId } from "../clouds/azure/ids.ts";
import { azureSnapshot } from "../clouds/azure/snapshot.ts";
import { clip, InputError } from "../errors.ts";
import type { Snapshot } from "../types.ts";

/**
 * Turns resource JSON exactly as the cloud APIs return it into snapshots: one ARM GET body, an ARM list
 * (`{"value":[...]}`), an AWS kind's Describe output (one item or a whole response, e.g. `{"SecurityGroups":[...]}`),
 * or an array of any of those. Which AWS kind a JSON is, each kind of the registry says (`fromJson`).
 */
export function snapshotsFromJson(json: unknown, source: string): Snapshot[] {
  const out: Snapshot[] = [];
  collect(json, source, 0, out);
  return out;
}

/**
 * Lists of lists are accepted (an array of list responses), but not without end: nesting is bounded before the
 * recursion could overflow the stack on a file of `[[[[...]]]]`.
 */
const MAX_LIST_NESTING = 8;

function collect(json: unknown, source: string, nesting: number, out: Snapshot[]): void {
  if (Array.isArray(json) || (isObject(json) && Array.isArray(json.value) && json.id === undefined)) {
    if (nesting >= MAX_LIST_NESTING) {
      throw new InputError(`${source}: lists nested more than ${MAX_LIST_NESTING} deep`);
    }
    const list = (Array.isArray(json) ? json : json.value) as unknown[];
    const at = Array.isArray(json) ? source : `${source}.value`;
    // Pushed one by one: spreading a list into push() fails above about 125,000 items.
    list.forEach((item, i) => {
      collect(item, `${at}[${i}]`, nesting + 1, out);
    });
    return;
  }
  for (const snapshot of snapshotsOfOne(json, source)) out.push(snapshot);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function snapshotsOfOne(json: unknown, source: string): Snapshot[] {
  if (typeof json !== "object" || json === null) {
    throw new InputError(`${source}: expected a resource object or a list of resources`);
  }
  const obj = json as Record<string, unknown>;
  for (const kind of awsKinds) {
    try {
      const snapshots = kind.fromJson(obj);
      if (snapshots) return snapshots;
    } catch (error) {
      if (error instanceof InputError)
        throw new InputError(`${source}: ${error.message}`, { path: error.path });
      throw error;
    }
  }
  if (typeof obj.id === "string") {
    const id = parseArmResourceId(obj.id);
    if (!id?.type) throw new InputError(`${source}: "${clip(obj.id, 200)}" is not an Azure resource id`);
    const snap = azureSnapshot(obj, id.type);
    if (snap) return [snap];
  }
  throw new InputError(
    `${source}: not a resource the guardian knows (expected an ARM resource with "id", a security group with "GroupId", ` +
      `endpoint services ("ServiceConfigurations", with "AllowedPrincipals" and "VpcEndpointConnections"), ` +
      `connections ("VpcEndpointConnections"), or VPCs with their endpoints ("Vpcs" and "VpcEndpoints")`,
  );
}
