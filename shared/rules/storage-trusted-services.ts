// The storage firewall's trusted-services exception (networkAcls.bypass contains AzureServices): required where the
// platform needs it (ADLS for Qubole: without it jobs stop), or forbidden where the policy says so. `bypass` is a
// comma-separated combination of Logging, Metrics, AzureServices, or None; omitted, it is AzureServices.
import * as z from "zod";
import { bypassesAzureServices, STORAGE_ACCOUNT_TYPE, storageAccountOf } from "./storage/account.ts";
import { CIS_TRUSTED_SERVICES, MCSB_NS_2 } from "./storage/controls.ts";
import type { RuleDefinition, Violation } from "./types.ts";

export const storageTrustedServicesOptions = z.strictObject({
  azureServices: z.enum(["required", "forbidden"]).default("required"),
});

type Options = z.infer<typeof storageTrustedServicesOptions>;

export const storageTrustedServices = {
  id: "storage-trusted-services",
  description:
    "The storage firewall's exception for trusted Azure services (bypass AzureServices): required, or forbidden, " +
    "as the policy says.",
  cloud: "azure",
  resourceTypes: [STORAGE_ACCOUNT_TYPE],
  controls: [...CIS_TRUSTED_SERVICES, MCSB_NS_2],
  options: storageTrustedServicesOptions,
  permissions: ["Microsoft.Storage/storageAccounts/read"],
  remediations: ["storage-close-network"],
  example: `- name: storage-trusted-services-on
  rule: storage-trusted-services
  mode: remediate
  severity: high
  options:
    azureServices: required
`,
  evaluate(snapshot, options: Options): Violation[] {
    const account = storageAccountOf(snapshot);
    const present = bypassesAzureServices(account);
    const value = account.properties?.networkAcls?.bypass ?? null;
    const shown = value ?? "AzureServices (not set)";
    if (options.azureServices === "required" && !present) {
      return [
        {
          message: `Storage firewall: trusted Azure services are not allowed through (bypass is ${shown})`,
          controls: [...CIS_TRUSTED_SERVICES, MCSB_NS_2],
          matched: [{ part: "networkAcls.bypass", value, azureServices: "add" }],
        },
      ];
    }
    if (options.azureServices === "forbidden" && present) {
      return [
        {
          message: `Storage firewall: trusted Azure services are let through, which the policy forbids (bypass is ${shown})`,
          // CIS asks for the exception; forbidding it is the policy's own choice and fails no CIS recommendation.
          controls: [MCSB_NS_2],
          matched: [{ part: "networkAcls.bypass", value, azureServices: "remove" }],
        },
      ];
    }
    return [];
  },
} satisfies RuleDefinition<typeof storageTrustedServicesOptions>;
