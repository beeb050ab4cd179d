import { nsgInboundExposure } from "./nsg-inbound-exposure.ts";
import { sgDefaultNoRules } from "./sg-default-no-rules.ts";
import { sgIngressExposure } from "./sg-ingress-exposure.ts";
import type { RuleDefinition } from "./types.ts";

/** Every rule the guardian knows, keyed by id (= file name). One line per rule. */
export const ruleRegistry = {
  "nsg-inbound-exposure": nsgInboundExposure,
  "sg-ingress-exposure": sgIngressExposure,
  "sg-default-no-rules": sgDefaultNoRules,
} satisfies Record<string, RuleDefinition>;

export type RuleId = keyof typeof ruleRegistry;
