import { ensureMoto, MOTO_ENV, MotoUnavailableError } from "./harness/moto.ts";

// Once per run, before any worker starts: finds moto_server, or sets it up in the project-local venv on first use.
// When that is impossible (no Python, no package index) the run goes on: the Azure tests pass or fail on their own,
// and every AWS test fails with the one-line reason (never skipped). Workers inherit what is decided here.
export function setup(): void {
  try {
    process.env[MOTO_ENV.server] = ensureMoto((line) => process.stdout.write(`moto: ${line}\n`));
  } catch (error) {
    if (!(error instanceof MotoUnavailableError)) throw error;
    process.stderr.write(`${error.message} (the AWS tests will fail with this reason)\n`);
    process.env[MOTO_ENV.unavailable] = error.message;
  }
}
