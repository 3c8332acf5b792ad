import * as aws from "@pulumi/aws";

/** Lets EC2 instances take the role. */
export function ec2AssumeRolePolicy(): aws.iam.PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
    };
}

/** The ARN of an SSM parameter path, e.g. arn:aws:ssm:eu-west-1:123456789012:parameter/app/dev/tasks. */
export function parameterPathArn(partition: string, region: string, accountId: string, path: string): string {
    return `arn:${partition}:ssm:${region}:${accountId}:parameter${path}`;
}

/**
 * What a host may do in SSM, and nothing more: read its own service's parameters (the secrets decrypt only through
 * the service's own KMS key, whose key policy names this role), and record the outcome of its releases.
 */
export function hostPolicy(pathArn: string, recordPathArn: string): aws.iam.PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "ReadOwnServiceParameters",
                Effect: "Allow",
                Action: ["ssm:GetParametersByPath", "ssm:GetParameters", "ssm:GetParameter"],
                Resource: [pathArn, `${pathArn}/*`],
            },
            {
                Sid: "RecordOwnReleases",
                Effect: "Allow",
                Action: "ssm:PutParameter",
                Resource: `${recordPathArn}/*`,
            },
        ],
    };
}

/** Who the key policy names: the account (to administer), the deployer and the host role (to use). */
export interface SecretsKeyPrincipals {
    partition: string;
    accountId: string;
    region: string;
    /** The IAM role or user that runs `pulumi up`: it writes the parameters and reads them back on refresh. */
    deployerArn: string;
    hostRoleArn: string;
    /** ARN of the service's parameter path; the host decrypts only parameters under it. */
    parameterPathArn: string;
}

/** Key management without any use of the key: what keeps the key administrable, and never decrypts. */
const keyAdministration = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
];

/**
 * The key policy of a service's secrets key. Account administrators manage the key but cannot use it; the deployer
 * uses it only through SSM; the host role only decrypts, only through SSM, and only its own service's parameters.
 * No other principal in the account can decrypt, whatever its IAM policies allow.
 */
export function secretsKeyPolicy(principals: SecretsKeyPrincipals): aws.iam.PolicyDocument {
    const viaSsm = { "kms:ViaService": `ssm.${principals.region}.amazonaws.com` };
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "AccountAdministersKey",
                Effect: "Allow",
                Principal: { AWS: `arn:${principals.partition}:iam::${principals.accountId}:root` },
                Action: keyAdministration,
                Resource: "*",
            },
            {
                Sid: "DeployerUsesKeyThroughSsm",
                Effect: "Allow",
                Principal: { AWS: principals.deployerArn },
                Action: ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"],
                Resource: "*",
                Condition: { StringEquals: viaSsm },
            },
            {
                Sid: "HostReadsOwnParameters",
                Effect: "Allow",
                Principal: { AWS: principals.hostRoleArn },
                Action: "kms:Decrypt",
                Resource: "*",
                Condition: {
                    StringEquals: viaSsm,
                    StringLike: { "kms:EncryptionContext:PARAMETER_ARN": `${principals.parameterPathArn}/*` },
                },
            },
        ],
    };
}
