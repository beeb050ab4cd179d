// Anonymous (public) read access to blobs: allowBlobPublicAccess must be false. Anything else, absent included,
// leaves containers able to accept anonymous requests on accounts where the property was never set (the built-in
// Azure Policy "Storage account public access should be disallowed" counts only an explicit false as compliant).
import * as z from "zod";
import { allowsBlobPublicAccess, STORAGE_ACCOUNT_TYPE, storageAccountOf } from "./storage/account.ts";
import { CIS_BLOB_ANONYMOUS, MCSB_NS_2 } from "./storage/controls.ts";
import type { RuleDefinition, Violation } from "./types.ts";

export const storageBlobPublicAccessOptions = z.strictObject({});

export const storageBlobPublicAccess = {
  id: "storage-blob-public-access",
  description:
    "Storage accounts that do not disallow anonymous blob access (allowBlobPublicAccess not false).",
  cloud: "azure",
  resourceTypes: [STORAGE_ACCOUNT_TYPE],
  controls: [...CIS_BLOB_ANONYMOUS, MCSB_NS_2],
  options: storageBlobPublicAccessOptions,
  permissions: ["Microsoft.Storage/storageAccounts/read"],
  remediations: ["storage-close-network"],
  example: `- name: storage-no-anonymous-blobs
  rule: storage-blob-public-access
  mode: remediate
  severity: high
`,
  evaluate(snapshot): Violation[] {
    const account = storageAccountOf(snapshot);
    if (!allowsBlobPublicAccess(account)) return [];
    const value = account.properties?.allowBlobPublicAccess ?? null;
    return [
      {
        message: `Storage account allows anonymous blob access (allowBlobPublicAccess is ${value ?? "not set"})`,
        matched: [{ part: "allowBlobPublicAccess", value }],
      },
    ];
  },
} satisfies RuleDefinition<typeof storageBlobPublicAccessOptions>;
