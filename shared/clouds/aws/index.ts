export {
  asTransient,
  clientFor,
  createEc2Client,
  type Ec2ClientOptions,
  type Ec2ClientSource,
  ec2ErrorCode,
} from "./client.ts";
export { awsConsoleUrl } from "./console.ts";
export { isOwnAwsIdentity } from "./identity.ts";
export {
  AWS_SECURITY_GROUP_TYPE,
  AwsSecurityGroupReader,
  type AwsSecurityGroupReaderOptions,
  parseSecurityGroupResourceId,
  type SecurityGroupLocator,
  securityGroupNameRef,
} from "./security-group-reader.ts";
export {
  AwsSecurityGroupWriter,
  type AwsSecurityGroupWriterOptions,
  type IpPermissionInput,
  type RevokeSecurityGroupIngressOperation,
  type RevokeSecurityGroupRulesOperation,
  type SecurityGroupOperation,
  securityGroupOperationSchema,
} from "./security-group-writer.ts";
