import { describe, expect, it } from "vitest";
import { destinationsFor } from "../../../shared/notify/route.ts";
import { PolicyError, parsePolicy } from "../../../shared/policy/load.ts";
import { goldenCases } from "./decision-fixtures.ts";

const cases = goldenCases();
const azure = cases["azure-remediated"]?.[0];
const aws = cases["aws-remediated"]?.[0];
if (!azure || !aws) throw new Error("fixtures missing");

const POLICY = `version: 1
rules:
  - name: no-ssh
    rule: nsg-inbound-exposure
alerts:
  destinations:
    - { name: secops, type: slack, url: SECOPS_WEBHOOK_URL }
    - { name: data-team, type: teams, url: DATA_TEAM_WEBHOOK_URL }
    - { name: siem, type: webhook, url: SIEM_WEBHOOK_URL }
  routes:
    - { to: [siem] }
    - { to: [secops], severities: [critical] }
    - { to: [data-team], clouds: [azure], resourceGroups: [RG-QUBOLE], tags: { owner: "*" } }
`;

describe("routing by policy", () => {
  const policy = parsePolicy(POLICY);
  const all = ["secops", "data-team", "siem"];

  it("sends a decision to every destination of every route it matches", () => {
    // azure: high severity, rg-qubole, tagged owner → siem and the data team, not secops (not critical).
    expect(destinationsFor(azure, policy.alerts?.routes, all).sort()).toEqual(["data-team", "siem"]);
    // aws: critical → siem and secops; not Azure, so not the data team.
    expect(destinationsFor(aws, policy.alerts?.routes, all).sort()).toEqual(["secops", "siem"]);
  });

  it("sends a decision no route matches to every destination, so a routing gap loses nothing", () => {
    expect(destinationsFor(azure, [{ to: ["secops"], kinds: ["failed"] }], all)).toEqual(all);
  });

  it("reads tags as own properties only", () => {
    expect(destinationsFor(azure, [{ to: ["secops"], tags: { constructor: "*" } }, { to: [] }], all)).toEqual(
      [],
    );
  });

  it("names the YAML path and line of an unknown destination or a URL written into the policy", () => {
    const bad = POLICY.replace("to: [secops], severities", "to: [secop], severities").replace(
      "url: SIEM_WEBHOOK_URL",
      "url: https://hooks.example/secret",
    );
    let error: unknown;
    try {
      parsePolicy(bad);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PolicyError);
    const problems = (error as PolicyError).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          path: "alerts.routes[1].to[0]",
          message: expect.stringContaining('unknown destination "secop"'),
        }),
        expect.objectContaining({ path: "alerts.destinations[2].url", line: 9 }),
      ]),
    );
  });
});
