// Every resource type the emulator serves. A new type is one handler module plus one line here.

import type { Route } from "../router.ts";
import { networkSecurityGroupRoutes } from "./network-security-groups.ts";
import { privateLinkRoutes } from "./private-link.ts";
import { privateLinkTargetRoutes } from "./private-link-targets.ts";
import { routeTableRoutes } from "./route-tables.ts";
import { serviceEndpointPolicyRoutes } from "./service-endpoint-policies.ts";
import { storageAccountRoutes } from "./storage-accounts.ts";
import { virtualNetworkRoutes } from "./virtual-networks.ts";

export const resourceRoutes: readonly Route[] = [
  ...networkSecurityGroupRoutes,
  ...virtualNetworkRoutes,
  ...storageAccountRoutes,
  ...privateLinkRoutes,
  ...privateLinkTargetRoutes,
  ...routeTableRoutes,
  ...serviceEndpointPolicyRoutes,
];
