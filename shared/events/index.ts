// One door for every trigger's payload: the entry points hand over what they received and get changes and skips.

import { checkBounds, EVENT_LIMITS } from "../input.ts";
import type { NormaliseResult } from "../types.ts";
import { normaliseAwsEvent } from "./aws.ts";
import { normaliseEventGrid } from "./azure.ts";

export {
  ARM_BOOLEAN_PROPERTIES,
  normaliseArmBooleans,
  normaliseEventGrid,
  SUPPORTED_AZURE_RESOURCE_TYPES,
} from "./azure.ts";

/**
 * Normalises one delivery from any supported trigger. Synchronous: nothing here does I/O.
 * AWS is tried first because it recognises its own envelope (`detail-type`) and declines everything else; Event
 * Grid then takes the rest (one event or a batch, either schema). Throws InputError only when the input is not an
 * object or an array at all, or is nested deeper or larger than any real delivery (EVENT_LIMITS: measured first,
 * without recursion, so no later step can overflow the stack on it); malformed events come back as `malformed` skips
 * for the caller to dead-letter.
 */
export function normalise(input: unknown): NormaliseResult {
  checkBounds(input, EVENT_LIMITS, "the delivery");
  return normaliseAwsEvent(input) ?? normaliseEventGrid(input);
}
