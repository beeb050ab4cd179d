// moto without a manual step: found on PATH or in the project-local venv, else set up there on first use; where that
// cannot be done, one line says why, and the AWS tests fail with it. The failure paths are driven by the environment
// overrides (a moto_server that does not exist, a Python that does not exist, a package index that does not answer).

import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureMoto, locateMoto, MOTO_ENV, MotoUnavailableError, startMoto } from "../harness/moto.ts";

let work: string;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "guardian-moto-"));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** What ensureMoto said and threw. */
function attempt(env: NodeJS.ProcessEnv): { said: string[]; error: unknown; command?: string } {
  const said: string[] = [];
  try {
    const command = ensureMoto((line) => said.push(line), env);
    return { said, error: undefined, command };
  } catch (error) {
    return { said, error };
  }
}

describe("moto set-up", () => {
  it("uses the moto_server the run found (GUARDIAN_MOTO_SERVER), installing nothing", () => {
    const found = process.env[MOTO_ENV.server];
    expect(found).toBeTruthy();
    const result = attempt({ ...process.env, [MOTO_ENV.venv]: path.join(work, "unused") });
    expect(result).toMatchObject({ said: [], error: undefined, command: found });
  });

  it("falls back to the project-local venv when the named moto_server does not exist", async () => {
    const venv = path.join(work, "existing-venv");
    await mkdir(path.join(venv, "bin"), { recursive: true });
    await symlink(process.env[MOTO_ENV.server] ?? "", path.join(venv, "bin", "moto_server"));
    const env = {
      ...process.env,
      [MOTO_ENV.server]: path.join(work, "no", "moto_server"),
      [MOTO_ENV.venv]: venv,
    };
    expect(locateMoto(env)).toBe(path.join(venv, "bin", "moto_server"));
    expect(attempt(env)).toMatchObject({ said: [], command: path.join(venv, "bin", "moto_server") });
    // And the venv's moto really serves.
    const moto = await startMoto(env);
    try {
      const answer = await fetch(`${moto.endpoint}/moto-api/`);
      expect(answer.status).toBe(200);
    } finally {
      await moto.stop();
    }
  });

  it("says in one line that Python is missing, and leaves no half-made venv", () => {
    const venv = path.join(work, "no-python-venv");
    const result = attempt({
      ...process.env,
      [MOTO_ENV.server]: path.join(work, "no", "moto_server"),
      [MOTO_ENV.venv]: venv,
      [MOTO_ENV.python]: path.join(work, "no", "python3"),
    });
    expect(result.said).toEqual([
      expect.stringMatching(
        /does not exist: installing moto\[server\]==5\.\d+\.\d+ into .*no-python-venv \(first use only/,
      ),
    ]);
    expect(result.error).toBeInstanceOf(MotoUnavailableError);
    const message = (result.error as Error).message;
    expect(message).toMatch(
      /^cannot set up moto: Python 3 is not installed \(.*python3 not found\); install it with {2}pip install 'moto\[server\]==5/,
    );
    expect(message).not.toContain("\n");
    expect(locateMoto({ [MOTO_ENV.server]: "/nonexistent", [MOTO_ENV.venv]: venv })).toBeUndefined();
  });

  it("says in one line that the package index cannot be reached", async () => {
    // A port that refuses connections stands in for an index out of reach; pip's own configuration is ignored.
    const closed = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, "127.0.0.1", () => {
        const address = server.address();
        server.close(() => resolve(typeof address === "object" && address ? address.port : 9));
      });
    });
    const venv = path.join(work, "offline-venv");
    const result = attempt({
      ...process.env,
      [MOTO_ENV.server]: path.join(work, "no", "moto_server"),
      [MOTO_ENV.venv]: venv,
      PIP_CONFIG_FILE: "/dev/null",
      PIP_INDEX_URL: `http://127.0.0.1:${closed}/simple`,
      PIP_EXTRA_INDEX_URL: "",
      PIP_FIND_LINKS: "",
      PIP_RETRIES: "0",
    });
    expect(result.error).toBeInstanceOf(MotoUnavailableError);
    const message = (result.error as Error).message;
    expect(message).toMatch(
      /^cannot set up moto: pip could not install moto\[server\]==5\.\d+\.\d+ from the package index \(/,
    );
    expect(message).not.toContain("\n");
    expect(locateMoto({ [MOTO_ENV.server]: "/nonexistent", [MOTO_ENV.venv]: venv })).toBeUndefined();
  }, 120_000);

  it("an AWS test then fails with that reason, not a skip", async () => {
    const reason = "cannot set up moto: Python 3 is not installed (python3 not found); install it with …";
    await expect(startMoto({ ...process.env, [MOTO_ENV.unavailable]: reason })).rejects.toThrow(reason);
    await expect(
      startMoto({ PATH: "/nonexistent", [MOTO_ENV.venv]: path.join(work, "none") }),
    ).rejects.toThrow(
      /^moto_server was not found \(PATH, \.tools\/moto-venv\); install it with {2}pip install/,
    );
  });
});
