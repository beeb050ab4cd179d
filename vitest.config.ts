import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Integration tests start their own emulators on free ports; two workers match the CI machine.
    maxWorkers: 2,
    globalSetup: ["test/global-setup.ts"],
  },
});
