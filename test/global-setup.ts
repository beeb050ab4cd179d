import { assertMotoInstalled } from "./harness/moto.ts";

// Once per run, before any worker starts: a missing moto fails the run with the install command instead of
// every AWS test failing on its own (or, worse, being skipped).
export function setup(): void {
  assertMotoInstalled();
}
