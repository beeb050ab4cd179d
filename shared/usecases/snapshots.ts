import { awsKinds } from "../clouds/aws/kinds/index.ts";
import { parseArmResourceId } from "../clouds/azure/ids.ts";
import { azureSnapshot } from "../clouds/azure/snapshot.ts";
import { InputError } from "../errors.ts";
import type { Snapshot } from "../types.ts";

/**
 * Turns resource JSON exactly as the cloud APIs return it into snapshots: one ARM GET body, an ARM list
 * (`{"value":[...]}`), an AWS kind's Describe output (one item or a whole response, e.g. `{"SecurityGroups":[...]}`),
 * or an array of any of those. Which AWS kind a JSON is, each kind of the registry says (`fromJson`).
 */
export function snapshotsFromJson(json: unknown, source: string): Snapshot[] {
  if (Array.isArray(json)) return json.flatMap((item, i) => snapshotsFromJson(item, `${source}[${i}]`));
  if (typeof json !== "object" || json === null) {
    throw new InputError(`${source}: expected a resource object or a list of resources`);
  }
  const obj = json as Record<string, unknown>;
  if (Array.isArray(obj.value) && obj.id === undefined)
    return snapshotsFromJson(obj.value, `${source}.value`);
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
    if (!id?.type) throw new InputError(`${source}: "${obj.id}" is not an Azure resource id`);
    const snap = azureSnapshot(obj, id.type);
    if (snap) return [snap];
  }
  throw new InputError(
    `${source}: not a resource the guardian knows (expected an ARM resource with "id", or a security group with "GroupId")`,
  );
}
