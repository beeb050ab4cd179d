// The demo's last act: drift that no event announced (seeded straight into the emulators, as years of drift are on
// the day the guardian is deployed), found by a scan of both clouds and written as the HTML report and SARIF.

import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateVpcCommand,
} from "@aws-sdk/client-ec2";
import { awsPort } from "../shared/clouds/aws/runtime.ts";
import { azurePort } from "../shared/clouds/azure/index.ts";
import { AzureNetwork } from "../shared/clouds/azure/network.ts";
import { pageLister } from "../shared/clouds/listers.ts";
import { memoryLogger } from "../shared/log.ts";
import { loadPolicyFile } from "../shared/policy/file.ts";
import { renderHtml } from "../shared/report/html.ts";
import { toSarif } from "../shared/report/sarif.ts";
import { renderScanTable } from "../shared/report/table.ts";
import { type ScanReport, scanEstate } from "../shared/usecases/scan.ts";
import { NSG_ID, nsgWith } from "../test/fixtures/azure/nsg/nsg.ts";
import { staticTokenCredential } from "../test/harness/arm-emulator/index.ts";
import { ec2ClientFor } from "../test/harness/moto.ts";
import type { AzureDemoEstate } from "./azure.ts";

export interface DemoScanResult {
  report: ScanReport;
  files: { html: string; sarif: string };
  /** The drift seeded without an event, by resource id: the scan must find each. */
  missed: string[];
}

/** Seeds drift no event announced, scans both estates report-only and writes report.html and report.sarif in `dir`. */
export async function runDemoScan(io: {
  print(text: string): void;
  azure: AzureDemoEstate;
  /** moto (behind the PrivateLink proxy, which answers what moto lacks) and its region. */
  aws?: { endpoint: string; region: string };
  policyFile: string;
  dir: string;
}): Promise<DemoScanResult> {
  const { print, azure } = io;
  const missed: string[] = [];
  // Azure: an NSG a person opened to the Internet while Event Grid was not subscribed (no event).
  const nsgId = `/subscriptions/${azure.subscriptionId}/resourceGroups/${azure.resourceGroup}/providers/Microsoft.Network/networkSecurityGroups/nsg-legacy-jumpbox`;
  const nsg = JSON.parse(
    JSON.stringify(nsgWith([{ name: "rdp-anywhere", priority: 100, source: "*", ports: "3389" }])).replaceAll(
      NSG_ID,
      nsgId,
    ),
  ) as Record<string, unknown>;
  nsg.name = "nsg-legacy-jumpbox";
  azure.emulator.seed(nsg);
  missed.push(nsgId);
  const ec2 = io.aws ? ec2ClientFor(io.aws.endpoint) : undefined;
  try {
    if (ec2) {
      // AWS: a security group opened to the world whose CloudTrail event never reached EventBridge.
      const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: "10.42.0.0/16" }));
      const group = await ec2.send(
        new CreateSecurityGroupCommand({
          GroupName: "legacy-admin",
          Description: "legacy admin",
          VpcId: vpc.Vpc?.VpcId,
        }),
      );
      await ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: group.GroupId,
          IpPermissions: [
            { IpProtocol: "tcp", FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: "0.0.0.0/0" }] },
          ],
        }),
      );
      missed.push(group.GroupId ?? "");
    }
    print(`Seeded without an event: ${missed.join(", ")}`);
    const network = new AzureNetwork({
      credential: staticTokenCredential(azure.token),
      endpoint: azure.emulator.url,
      ca: azure.emulator.ca,
    });
    const policy = await loadPolicyFile(io.policyFile);
    const report = await scanEstate(
      [
        { cloud: "azure", subscriptionId: azure.subscriptionId },
        ...(io.aws ? [{ cloud: "aws" as const, region: io.aws.region }] : []),
      ],
      {
        policy,
        clouds: { azure: azurePort(network), ...(ec2 ? { aws: awsPort(ec2, []) } : {}) },
        outbox: { enqueue: async () => [] },
        audit: { record: async () => {} },
        selfIdentities: [],
        dryRun: true,
        log: memoryLogger(),
      },
      pageLister({ azure: network, ...(ec2 ? { aws: ec2 } : {}) }),
      { remediate: false },
    );
    await mkdir(io.dir, { recursive: true });
    const files = { html: path.join(io.dir, "report.html"), sarif: path.join(io.dir, "report.sarif") };
    await writeFile(files.html, renderHtml(report));
    await writeFile(files.sarif, `${JSON.stringify(toSarif(report, "demo"), null, 2)}\n`);
    print(renderScanTable(report).replace(/^/gm, "  "));
    print(`\n  Report written to ${io.dir}:\n    ${files.html}  (open it in a browser)\n    ${files.sarif}`);
    return { report, files, missed };
  } finally {
    ec2?.destroy();
  }
}
