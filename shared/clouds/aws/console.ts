/** The EC2 console page of one security group, for alerts. */
export function awsConsoleUrl(region: string, groupId: string): string {
  const r = encodeURIComponent(region);
  return `https://${r}.console.aws.amazon.com/ec2/home?region=${r}#SecurityGroup:groupId=${encodeURIComponent(groupId)}`;
}
