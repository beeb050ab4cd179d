// Page-level listing of AWS kinds for the scan and the reconciler. Generic over the registry: a kind names the EC2
// Describe call that lists it (`AwsKind.list.call`), every such call pages with NextToken/MaxResults, and the
// kind's own `fromJson` turns the response into snapshots, so a new EC2 kind needs no code here.

import * as ec2 from "@aws-sdk/client-ec2";
import { InputError } from "../../errors.ts";
import type { Snapshot } from "../../types.ts";
import type { CallCounter } from "../ports.ts";
import { asTransient, clientFor, type Ec2ClientSource, withContext } from "./client.ts";
import type { AwsKind } from "./kinds/types.ts";

export interface ListedAwsPage {
  items: Snapshot[];
  /** The NextToken for the following page; undefined on the last page. */
  next?: string;
}

/** Items per page: EC2's Describe calls accept 5–1000; a page is also the unit a reconcile hands to one worker. */
export const AWS_PAGE_SIZE = 200;

type CommandClass = new (
  input: Record<string, unknown>,
) => ec2.EC2Client extends { send(c: infer C): unknown } ? C : never;

function commandFor(kind: AwsKind): CommandClass {
  if (!kind.list.client.startsWith("@aws-sdk/client-ec2")) {
    throw new InputError(`no lister for ${kind.label}s: ${kind.list.client} is not an EC2 client`);
  }
  const command = (ec2 as unknown as Record<string, unknown>)[`${kind.list.call}Command`];
  if (typeof command !== "function") throw new InputError(`no EC2 command ${kind.list.call}`);
  return command as CommandClass;
}

/** One Describe page of `kind` in `region`. The SDK's retry strategy backs off on throttling (RequestLimitExceeded). */
export async function listAwsPage(
  clients: Ec2ClientSource,
  kind: AwsKind,
  region: string,
  from?: string,
  options: { pageSize?: number; counter?: CallCounter; signal?: AbortSignal } = {},
): Promise<ListedAwsPage> {
  const Command = commandFor(kind);
  const what = `${kind.list.call} in ${region}`;
  const client = clientFor(clients, region);
  let output: Record<string, unknown>;
  try {
    if (options.counter) options.counter.reads++;
    const input = { MaxResults: options.pageSize ?? AWS_PAGE_SIZE, ...(from ? { NextToken: from } : {}) };
    output = (await client.send(new Command(input), {
      ...(options.signal ? { abortSignal: options.signal } : {}),
    })) as unknown as Record<string, unknown>;
  } catch (error) {
    throw asTransient(error, what) ?? withContext(error, what);
  }
  const { $metadata: _meta, NextToken, ...response } = output;
  // A kind whose listing lacks what its rules judge gives stand-ins, which the scan reads in full (AwsKind.list).
  const listed = kind.list.incomplete ? kind.list.incomplete.stubs(response) : kind.fromJson(response);
  const items = (listed ?? []).map((s) => ({ ...s, region, origin: "read" as const }));
  const next = typeof NextToken === "string" && NextToken.length > 0 ? NextToken : undefined;
  return next === undefined ? { items } : { items, next };
}
