import type { Actor } from "../../types.ts";

interface RoleIdentity {
  partition: string;
  account: string;
  /** The role name without its path: session ARNs drop the path, so only the name can be compared. */
  roleName: string;
}

// arn:aws:sts::123456789012:assumed-role/<role>/<session>
const SESSION_ARN = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/;
// arn:aws:iam::123456789012:role/<optional/path/><role>
const ROLE_ARN = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(?:[^/]+\/)*([^/]+)$/;

function parseRole(arn: string | undefined): RoleIdentity | undefined {
  if (arn === undefined) return undefined;
  const match = SESSION_ARN.exec(arn) ?? ROLE_ARN.exec(arn);
  if (match?.[1] === undefined || match[2] === undefined || match[3] === undefined) return undefined;
  return { partition: match[1], account: match[2], roleName: match[3] };
}

function sameRole(a: RoleIdentity, b: RoleIdentity): boolean {
  // IAM role names are unique case-insensitively within an account.
  return (
    a.partition === b.partition &&
    a.account === b.account &&
    a.roleName.toLowerCase() === b.roleName.toLowerCase()
  );
}

/**
 * True when the change was made by the guardian itself (its Lambda role), so its own revokes do not trigger
 * another round. Matches the actor's assumed-role session ARN (`name`) or its session issuer role ARN
 * (`appId`) against the guardian's role ARNs (`arn:aws:iam::<acct>:role/[path/]<name>`, or session ARNs).
 */
export function isOwnAwsIdentity(actor: Actor, ownRoleArns: readonly string[]): boolean {
  const own = ownRoleArns.map(parseRole).filter((r): r is RoleIdentity => r !== undefined);
  if (own.length === 0) return false;
  for (const candidate of [actor.name, actor.appId]) {
    const role = parseRole(candidate);
    if (role !== undefined && own.some((o) => sameRole(o, role))) return true;
  }
  return false;
}

// arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
const FUNCTION_ARN = /^arn:aws[a-z-]*:lambda:[a-z0-9-]+:(\d{12}):function:/;

/** The account a Lambda function runs in, from its ARN (context.invokedFunctionArn): no STS call needed. */
export function accountOfFunctionArn(arn: string | undefined): string | undefined {
  return arn === undefined ? undefined : FUNCTION_ARN.exec(arn)?.[1];
}
