// Who an endpoint service lets in, and who the policy allows. An endpoint service's permissions list principals as
// DescribeVpcEndpointServicePermissions returns them (`AllowedPrincipals[].Principal`, typed by `PrincipalType`:
// All, Account, Role, User, Service, OrganizationUnit): `*`, an account's root ARN, an IAM role or user ARN, a
// service principal, an organization or OU ARN. The policy's allow-list uses the same vocabulary, plus bare ids for
// brevity: a 12-digit account id, `o-…` for an organization, `ou-…` for an organizational unit.

import * as z from "zod";
import { globCovers } from "./glob.ts";

export type Principal =
  | { kind: "all" }
  | { kind: "account"; account: string }
  | { kind: "iam"; account: string; arn: string }
  | { kind: "organization"; organization: string }
  | { kind: "ou"; organization?: string; ou: string }
  | { kind: "service"; name: string }
  | { kind: "unknown"; raw: string };

const ACCOUNT = /^\d{12}$/;
const ORG_ID = /^o-[a-z0-9]{10,32}$/;
const OU_ID = /^ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}$/;
// IAM ARNs: partition aws, aws-cn, aws-us-gov, …; `root` is the account itself.
const IAM_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):(.+)$/;
const ORG_ARN = /^arn:aws[a-z-]*:organizations::\d{12}:organization\/(o-[a-z0-9]{10,32})$/;
const OU_ARN =
  /^arn:aws[a-z-]*:organizations::\d{12}:ou\/(o-[a-z0-9]{10,32})\/(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32})$/;
const SERVICE = /^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$/;

/** Reads one principal as the API or a policy writes it. */
export function parsePrincipal(raw: string): Principal {
  const value = raw.trim();
  if (value === "*") return { kind: "all" };
  if (ACCOUNT.test(value)) return { kind: "account", account: value };
  const iam = IAM_ARN.exec(value);
  if (iam?.[1] && iam[2] !== undefined) {
    return iam[2] === "root"
      ? { kind: "account", account: iam[1] }
      : { kind: "iam", account: iam[1], arn: value };
  }
  const org = ORG_ARN.exec(value) ?? (ORG_ID.test(value) ? [value, value] : null);
  if (org?.[1]) return { kind: "organization", organization: org[1] };
  const ou = OU_ARN.exec(value);
  if (ou?.[1] && ou[2]) return { kind: "ou", organization: ou[1], ou: ou[2] };
  if (OU_ID.test(value)) return { kind: "ou", ou: value };
  if (SERVICE.test(value)) return { kind: "service", name: value };
  return { kind: "unknown", raw: value };
}

export function describePrincipal(p: Principal): string {
  switch (p.kind) {
    case "all":
      return "everyone (*)";
    case "account":
      return `account ${p.account}`;
    case "iam":
      return p.arn;
    case "organization":
      return `organization ${p.organization}`;
    case "ou":
      return `organizational unit ${p.ou}`;
    case "service":
      return `service ${p.name}`;
    case "unknown":
      return p.raw;
  }
}

const allowListEntry = z
  .string()
  .min(1)
  .refine((s) => s.trim() !== "*", {
    message: "'*' would allow everyone; list the accounts, roles, organizations or OUs instead",
  })
  .refine((s) => parsePrincipal(s).kind !== "unknown", {
    message:
      "expected an account id (111122223333), an IAM ARN (arn:aws:iam::111122223333:root, …:role/name; * allowed " +
      "in the name), an organization (o-… or its ARN), an OU (ou-… or its ARN) or a service principal",
  });

/** The allow-list a policy entry gives: who may be granted access to an endpoint service, and whose requests pass. */
export const allowedPrincipalsOption = z
  .array(allowListEntry)
  .default([])
  .describe(
    "Who is allowed: account ids, IAM role/user ARNs (wildcards in the name), organization ids or ARNs (o-…), OU ids or ARNs (ou-…)",
  );

export interface AllowList {
  accounts: ReadonlySet<string>;
  organizations: ReadonlySet<string>;
  ous: ReadonlySet<string>;
  services: ReadonlySet<string>;
  /** IAM role and user ARN patterns (`*` and `?` allowed). */
  iamPatterns: readonly string[];
}

const compiled = new WeakMap<readonly string[], AllowList>();

/** Parses a policy allow-list once per (parsed, hence stable) options array. */
export function compileAllowList(entries: readonly string[]): AllowList {
  const cached = compiled.get(entries);
  if (cached) return cached;
  const accounts = new Set<string>();
  const organizations = new Set<string>();
  const ous = new Set<string>();
  const services = new Set<string>();
  const iamPatterns: string[] = [];
  for (const entry of entries) {
    const p = parsePrincipal(entry);
    if (p.kind === "account") accounts.add(p.account);
    else if (p.kind === "iam") iamPatterns.push(p.arn);
    else if (p.kind === "organization") organizations.add(p.organization);
    else if (p.kind === "ou") ous.add(p.ou);
    else if (p.kind === "service") services.add(p.name);
  }
  const list: AllowList = { accounts, organizations, ous, services, iamPatterns };
  compiled.set(entries, list);
  return list;
}

/**
 * Why an endpoint service principal is outside the allow-list, or undefined when it is within. `*` is never within.
 * An account covers its roles and users; an organization covers its OUs; an OU ARN names its organization.
 */
export function outsideAllowList(principal: Principal, list: AllowList): string | undefined {
  switch (principal.kind) {
    case "all":
      return "everyone (*) may connect: the service is public";
    case "account":
      return list.accounts.has(principal.account)
        ? undefined
        : `account ${principal.account} is not allow-listed`;
    case "iam":
      if (list.accounts.has(principal.account)) return undefined;
      return list.iamPatterns.some((p) => globCovers(p, principal.arn))
        ? undefined
        : `${principal.arn} is not allow-listed (nor is its account ${principal.account})`;
    case "organization":
      return list.organizations.has(principal.organization)
        ? undefined
        : `organization ${principal.organization} is not allow-listed`;
    case "ou":
      if (list.ous.has(principal.ou)) return undefined;
      if (principal.organization !== undefined && list.organizations.has(principal.organization))
        return undefined;
      return `organizational unit ${principal.ou} is not allow-listed`;
    case "service":
      return list.services.has(principal.name)
        ? undefined
        : `service principal ${principal.name} is not allow-listed`;
    case "unknown":
      return `unrecognised principal "${principal.raw}"`;
  }
}

/**
 * Whether a connection from this owner account is allow-listed. A connection names only its owner account: an
 * allow-listed account passes, and so does the account of an allow-listed role or user ARN (EC2 let only that
 * principal create the endpoint while the service's permissions named it). Organizations and OUs cannot be checked
 * against an account id without AWS Organizations, so they admit no connection by themselves.
 */
export function ownerAllowed(owner: string, list: AllowList): boolean {
  if (list.accounts.has(owner)) return true;
  return list.iamPatterns.some((p) => IAM_ARN.exec(p)?.[1] === owner);
}
