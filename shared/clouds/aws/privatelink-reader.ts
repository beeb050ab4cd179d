// Reading PrivateLink resources through EC2: an endpoint service with its permissions, one connection, a VPC with
// its endpoints, and the listing of connections the notification path and the sweep share.

import {
  DescribeVpcEndpointServiceConfigurationsCommand,
  DescribeVpcEndpointsCommand,
  DescribeVpcsCommand,
  type EC2Client,
  type Filter,
  paginateDescribeVpcEndpointConnections,
  paginateDescribeVpcEndpointServicePermissions,
  paginateDescribeVpcEndpoints,
  type VpcEndpointConnection,
} from "@aws-sdk/client-ec2";
import { InputError } from "../../errors.ts";
import { VPC_OF_ENDPOINT_PREFIX } from "../../events/cloudtrail/privatelink.ts";
import { splitConnectionResourceId } from "../../rules/vpce/resources.ts";
import type { Snapshot } from "../../types.ts";
import type { CallCounter, CallOptions, ResourceReader, ResourceRef } from "../ports.ts";
import { asTransient, clientFor, type Ec2ClientSource, ec2ErrorCode, withContext } from "./client.ts";
import { AWS_VPC_TYPE, vpcSnapshot } from "./kinds/vpc.ts";
import {
  AWS_VPC_ENDPOINT_CONNECTION_TYPE,
  endpointConnectionSnapshot,
} from "./kinds/vpc-endpoint-connection.ts";
import { AWS_VPC_ENDPOINT_SERVICE_TYPE, endpointServiceSnapshot } from "./kinds/vpc-endpoint-service.ts";

export interface PrivateLinkReaderOptions {
  clients: Ec2ClientSource;
  counter?: CallCounter;
}

// The service is gone (or was never ours): nothing to evaluate. moto spells the first one without "Id".
const SERVICE_GONE = new Set(["InvalidVpcEndpointServiceId.NotFound", "InvalidVpcEndpointService.NotFound"]);
const ENDPOINT_GONE = new Set(["InvalidVpcEndpointId.NotFound", "InvalidVpcEndpoint.NotFound"]);

function expectType(ref: ResourceRef, type: string, reader: string): void {
  if (ref.cloud !== "aws" || ref.resourceType !== type) {
    throw new InputError(`${reader} cannot read ${ref.cloud} ${ref.resourceType} "${ref.resourceId}"`);
  }
}

/** The SDK's per-call options: the invocation's budget, when there is one. */
function sendOptions(options: CallOptions): { abortSignal?: AbortSignal } {
  return options.signal ? { abortSignal: options.signal } : {};
}

/** Runs one read, turning "gone" into undefined and throttling or outages into TransientError. */
async function attempt<T>(
  what: string,
  gone: ReadonlySet<string>,
  call: () => Promise<T>,
): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    const code = ec2ErrorCode(error);
    if (code !== undefined && gone.has(code)) return undefined;
    throw asTransient(error, what) ?? withContext(error, what);
  }
}

/** An endpoint service: its configuration (one call) and all its allowed principals (paginated). */
export class AwsEndpointServiceReader implements ResourceReader {
  readonly counter: CallCounter;
  readonly #clients: Ec2ClientSource;

  constructor(options: PrivateLinkReaderOptions) {
    this.#clients = options.clients;
    this.counter = options.counter ?? { reads: 0, writes: 0 };
  }

  async read(ref: ResourceRef, options: CallOptions = {}): Promise<Snapshot | undefined> {
    expectType(ref, AWS_VPC_ENDPOINT_SERVICE_TYPE, "AwsEndpointServiceReader");
    const serviceId = ref.resourceId;
    const client = clientFor(this.#clients, ref.region);
    const send = sendOptions(options);
    const config = await attempt(
      `DescribeVpcEndpointServiceConfigurations for ${serviceId}`,
      SERVICE_GONE,
      async () => {
        this.counter.reads += 1;
        const out = await client.send(
          new DescribeVpcEndpointServiceConfigurationsCommand({ ServiceIds: [serviceId] }),
          send,
        );
        return out.ServiceConfigurations?.[0];
      },
    );
    if (config === undefined) return undefined;
    const principals = await attempt(
      `DescribeVpcEndpointServicePermissions for ${serviceId}`,
      SERVICE_GONE,
      async () => {
        const all = [];
        for await (const page of paginateDescribeVpcEndpointServicePermissions(
          { client },
          { ServiceId: serviceId },
          send,
        )) {
          this.counter.reads += 1;
          all.push(...(page.AllowedPrincipals ?? []));
        }
        return all;
      },
    );
    // Deleted between the two calls.
    if (principals === undefined) return undefined;
    return endpointServiceSnapshot(
      { ServiceConfiguration: config, AllowedPrincipals: principals },
      { account: ref.account, region: ref.region },
    );
  }
}

/** Every connection the filters select, all pages (DescribeVpcEndpointConnections, in the provider's account). */
export async function listEndpointConnections(
  client: EC2Client,
  filters: Filter[],
  counter?: CallCounter,
  signal?: AbortSignal,
): Promise<VpcEndpointConnection[]> {
  const what = "DescribeVpcEndpointConnections";
  const all: VpcEndpointConnection[] = [];
  try {
    for await (const page of paginateDescribeVpcEndpointConnections(
      { client },
      filters.length > 0 ? { Filters: filters } : {},
      signal ? { abortSignal: signal } : {},
    )) {
      if (counter) counter.reads += 1;
      all.push(...(page.VpcEndpointConnections ?? []));
    }
  } catch (error) {
    throw asTransient(error, what) ?? withContext(error, what);
  }
  return all;
}

/** One connection, by `<service id>/<endpoint id>`. */
export class AwsEndpointConnectionReader implements ResourceReader {
  readonly counter: CallCounter;
  readonly #clients: Ec2ClientSource;

  constructor(options: PrivateLinkReaderOptions) {
    this.#clients = options.clients;
    this.counter = options.counter ?? { reads: 0, writes: 0 };
  }

  async read(ref: ResourceRef, options: CallOptions = {}): Promise<Snapshot | undefined> {
    expectType(ref, AWS_VPC_ENDPOINT_CONNECTION_TYPE, "AwsEndpointConnectionReader");
    const id = splitConnectionResourceId(ref.resourceId);
    if (!id) throw new InputError(`"${ref.resourceId}" is not a connection id (<vpce-svc-…>/<vpce-…>)`);
    const client = clientFor(this.#clients, ref.region);
    const found = await listEndpointConnections(
      client,
      [
        { Name: "service-id", Values: [id.serviceId] },
        { Name: "vpc-endpoint-id", Values: [id.vpcEndpointId] },
      ],
      this.counter,
      options.signal,
    );
    const item = found.find((c) => c.ServiceId === id.serviceId && c.VpcEndpointId === id.vpcEndpointId);
    return item === undefined
      ? undefined
      : endpointConnectionSnapshot(item, { account: ref.account, region: ref.region });
  }
}

/**
 * A VPC with its endpoints. A ref naming an endpoint (`endpoint:vpce-…`, what ModifyVpcEndpoint and
 * DeleteVpcEndpoints record) is resolved to the endpoint's VPC first; EC2 keeps a deleted endpoint visible, in state
 * `deleted`, for a while, which is what lets a deletion be traced to its VPC.
 */
export class AwsVpcReader implements ResourceReader {
  readonly counter: CallCounter;
  readonly #clients: Ec2ClientSource;

  constructor(options: PrivateLinkReaderOptions) {
    this.#clients = options.clients;
    this.counter = options.counter ?? { reads: 0, writes: 0 };
  }

  async read(ref: ResourceRef, options: CallOptions = {}): Promise<Snapshot | undefined> {
    expectType(ref, AWS_VPC_TYPE, "AwsVpcReader");
    const client = clientFor(this.#clients, ref.region);
    const send = sendOptions(options);
    let vpcId = ref.resourceId;
    if (vpcId.startsWith(VPC_OF_ENDPOINT_PREFIX)) {
      const endpointId = vpcId.slice(VPC_OF_ENDPOINT_PREFIX.length);
      const endpoint = await attempt(`DescribeVpcEndpoints for ${endpointId}`, ENDPOINT_GONE, async () => {
        this.counter.reads += 1;
        const out = await client.send(
          new DescribeVpcEndpointsCommand({ VpcEndpointIds: [endpointId] }),
          send,
        );
        return out.VpcEndpoints?.[0];
      });
      if (endpoint?.VpcId === undefined) return undefined;
      vpcId = endpoint.VpcId;
    } else if (!/^vpc-[0-9a-z]+$/.test(vpcId)) {
      throw new InputError(`"${vpcId}" is not a VPC id (vpc-…) or an endpoint ref (endpoint:vpce-…)`);
    }
    const found = await attempt(`DescribeVpcs for ${vpcId}`, new Set(["InvalidVpcID.NotFound"]), async () => {
      this.counter.reads += 1;
      const out = await client.send(new DescribeVpcsCommand({ VpcIds: [vpcId] }), send);
      return out.Vpcs?.[0];
    });
    if (found === undefined) return undefined;
    const endpoints = [];
    const what = `DescribeVpcEndpoints in ${vpcId}`;
    try {
      for await (const page of paginateDescribeVpcEndpoints(
        { client },
        { Filters: [{ Name: "vpc-id", Values: [vpcId] }] },
        send,
      )) {
        this.counter.reads += 1;
        endpoints.push(...(page.VpcEndpoints ?? []));
      }
    } catch (error) {
      throw asTransient(error, what) ?? withContext(error, what);
    }
    return vpcSnapshot({ Vpc: found, VpcEndpoints: endpoints }, { account: ref.account, region: ref.region });
  }
}
