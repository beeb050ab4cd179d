import { nsgEgressLockdown } from "./nsg-egress-lockdown.ts";
import { nsgInboundExposure } from "./nsg-inbound-exposure.ts";
import { privateEndpointConnections } from "./private-endpoint-connections.ts";
import { privateEndpointTargets } from "./private-endpoint-targets.ts";
import { privateLinkServiceLists } from "./private-link-service-lists.ts";
import { sepAllowedResources } from "./sep-allowed-resources.ts";
import { sgDefaultNoRules } from "./sg-default-no-rules.ts";
import { sgIngressExposure } from "./sg-ingress-exposure.ts";
import { storageBlobPublicAccess } from "./storage-blob-public-access.ts";
import { storageIpRules } from "./storage-ip-rules.ts";
import { storageNetworkAccess } from "./storage-network-access.ts";
import { storageTrustedServices } from "./storage-trusted-services.ts";
import { storageVnetRules } from "./storage-vnet-rules.ts";
import { subnetNsgRequired } from "./subnet-nsg-required.ts";
import { subnetRole } from "./subnet-role.ts";
import { subnetStorageEndpointPolicy } from "./subnet-storage-endpoint-policy.ts";
import type { RuleDefinition } from "./types.ts";
import { vpcPrivateEndpoints } from "./vpc-private-endpoints.ts";
import { vpceAcceptanceRequired } from "./vpce-acceptance-required.ts";
import { vpceAllowedPrincipals } from "./vpce-allowed-principals.ts";
import { vpceConnections } from "./vpce-connections.ts";

/** Every rule the guardian knows, keyed by id (= file name). One line per rule. */
export const ruleRegistry = {
  "nsg-inbound-exposure": nsgInboundExposure,
  "nsg-egress-lockdown": nsgEgressLockdown,
  "sg-ingress-exposure": sgIngressExposure,
  "sg-default-no-rules": sgDefaultNoRules,
  "storage-network-access": storageNetworkAccess,
  "storage-ip-rules": storageIpRules,
  "storage-vnet-rules": storageVnetRules,
  "storage-trusted-services": storageTrustedServices,
  "storage-blob-public-access": storageBlobPublicAccess,
  "private-endpoint-connections": privateEndpointConnections,
  "private-endpoint-targets": privateEndpointTargets,
  "private-link-service-lists": privateLinkServiceLists,
  "subnet-storage-endpoint-policy": subnetStorageEndpointPolicy,
  "subnet-nsg-required": subnetNsgRequired,
  "subnet-role": subnetRole,
  "sep-allowed-resources": sepAllowedResources,
  "vpce-acceptance-required": vpceAcceptanceRequired,
  "vpce-allowed-principals": vpceAllowedPrincipals,
  "vpce-connections": vpceConnections,
  "vpc-private-endpoints": vpcPrivateEndpoints,
} satisfies Record<string, RuleDefinition>;

export type RuleId = keyof typeof ruleRegistry;
