import { parse } from "yaml";
import { z } from "zod";
import { it } from "vitest";
import { policyEntrySchema } from "../../../shared/policy/schema.ts";
import { sgIngressExposure } from "../../../shared/rules/sg-ingress-exposure.ts";
import { sgDefaultNoRules } from "../../../shared/rules/sg-default-no-rules.ts";
it("x", () => {
for (const r of [sgIngressExposure, sgDefaultNoRules]) {
  const [entry] = parse(r.example);
  const res = policyEntrySchema.safeParse(entry);
  console.log(r.id, res.success, res.success ? "" : JSON.stringify(res.error.issues));
}
console.log(JSON.stringify(z.toJSONSchema(sgIngressExposure.options, { io: "input" })).slice(0, 600));
});
