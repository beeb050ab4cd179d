// The CIS Microsoft Azure Foundations recommendations and Microsoft cloud security benchmark controls the storage
// account rules correspond to. Sources: CIS Microsoft Azure Foundations Benchmark v2.0.0 section 3 and v3.0.0
// section 4 (recommendation titles as published; e.g. elastic/cloudbeat's cis_azure rule metadata for v2.0.0, the
// v3.0.0 titles in turbot's azure-compliance mods), each of which references MCSB (Azure Security Benchmark v3)
// NS-2 "Secure cloud services with network controls".
//
// - v2.0.0 3.7 / v3.0.0 4.17: "Public access level" disabled for accounts with blob containers / "Allow Blob
//   Anonymous Access" Disabled (allowBlobPublicAccess false). v2.0.0's 3.7 audits publicNetworkAccess in its text
//   but its title and rationale are anonymous blob access; v2.1.0 renumbered and split it.
// - v3.0.0 4.6: "Public Network Access" Disabled.
// - v2.0.0 3.8 / v3.0.0 4.7: default network access rule set to Deny.
// - v2.0.0 3.9 / v3.0.0 4.8: "Allow Azure services on the trusted services list" enabled (bypass has AzureServices).

export const CIS_BLOB_ANONYMOUS = ["CIS Azure v2.0.0 3.7", "CIS Azure v3.0.0 4.17"] as const;
export const CIS_PUBLIC_NETWORK_ACCESS = ["CIS Azure v3.0.0 4.6"] as const;
export const CIS_DEFAULT_DENY = ["CIS Azure v2.0.0 3.8", "CIS Azure v3.0.0 4.7"] as const;
export const CIS_TRUSTED_SERVICES = ["CIS Azure v2.0.0 3.9", "CIS Azure v3.0.0 4.8"] as const;
export const MCSB_NS_2 = "MCSB v1 NS-2";
