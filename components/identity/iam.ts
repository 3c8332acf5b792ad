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
 * What the SSM agent needs to run a host's releases and Session Manager, and no more: the actions of AWS's
 * AmazonSSMManagedInstanceCore without its ssm:GetParameter and ssm:GetParameters on every parameter (which would
 * let a host read any other service's parameters) and without Patch Manager's and Distributor's.
 */
const agentActions = [
    "ssm:UpdateInstanceInformation",
    "ssm:ListAssociations",
    "ssm:ListInstanceAssociations",
    "ssm:DescribeAssociation",
    "ssm:UpdateAssociationStatus",
    "ssm:UpdateInstanceAssociationStatus",
    "ssm:PutComplianceItems",
    "ssm:PutInventory",
    "ssm:GetDocument",
    "ssm:DescribeDocument",
    "ec2messages:AcknowledgeMessage",
    "ec2messages:DeleteMessage",
    "ec2messages:FailMessage",
    "ec2messages:GetEndpoint",
    "ec2messages:GetMessages",
    "ec2messages:SendReply",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
];

/**
 * What a host may do, and nothing more: run the SSM agent (releases, Session Manager), read its own service's
 * parameters (the secrets decrypt only through the service's own KMS key, whose key policy names this role), record
 * the outcome of its releases, and write its proxy's certificates to the service's certificate store.
 */
export function hostPolicy(pathArn: string, recordPathArn: string, certificateStoreArn: string): aws.iam.PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            { Sid: "RunSsmAgent", Effect: "Allow", Action: agentActions, Resource: "*" },
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
            {
                Sid: "StoreOwnCertificates",
                Effect: "Allow",
                Action: "ssm:PutParameter",
                Resource: `${certificateStoreArn}/*`,
            },
        ],
    };
}

/** Who the key policy names: the account (to see the key), the deployers (to administer and use it), the host role. */
export interface SecretsKeyPrincipals {
    partition: string;
    accountId: string;
    region: string;
    /** The IAM roles or users that run `pulumi up`: they write the parameters and read them back on refresh. */
    deployerArns: string[];
    /** Roles that may decrypt through SSM too, without administering the key (a read-only drift check). */
    readerArns: string[];
    hostRoleArn: string;
    /** ARN of the service's parameter path; the host decrypts only parameters under it. */
    parameterPathArn: string;
    /** ARN of the service's certificate store, under that path; the host encrypts only parameters under it. */
    certificateStoreArn: string;
}

/** What lets anyone in the account see the key: nothing here changes it or grants a use of it. */
const keyInspection = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags", "kms:ListKeyPolicies"];

/**
 * What administers the key. No kms:CreateGrant and no kms:Put* for the account: whoever may change the key policy or
 * grant may give itself Decrypt, so only the deployers may.
 */
const keyAdministration = [
    ...keyInspection,
    "kms:PutKeyPolicy",
    "kms:EnableKeyRotation",
    "kms:DisableKeyRotation",
    "kms:UpdateKeyDescription",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:CreateAlias",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
];

/**
 * The key policy of a service's secrets key. The account can only see the key (its IAM policies cannot widen that:
 * a key policy that does not delegate an action to the account decides it alone). The deployers administer it and use
 * it only through SSM; readers decrypt only through SSM; the host role decrypts only through SSM and only its own
 * service's parameters, and encrypts only through SSM and only into its certificate store (SSM encrypts a standard
 * SecureString parameter with kms:Encrypt). No other principal can decrypt, whatever its IAM policies allow.
 */
export function secretsKeyPolicy(principals: SecretsKeyPrincipals): aws.iam.PolicyDocument {
    const viaSsm = { "kms:ViaService": `ssm.${principals.region}.amazonaws.com` };
    const ownParameters = { "kms:EncryptionContext:PARAMETER_ARN": `${principals.parameterPathArn}/*` };
    const statements: aws.iam.PolicyStatement[] = [
        {
            Sid: "AccountSeesKey",
            Effect: "Allow",
            Principal: { AWS: `arn:${principals.partition}:iam::${principals.accountId}:root` },
            Action: keyInspection,
            Resource: "*",
        },
        {
            Sid: "DeployersAdministerKey",
            Effect: "Allow",
            Principal: { AWS: principals.deployerArns },
            Action: keyAdministration,
            Resource: "*",
        },
        {
            Sid: "DeployersUseKeyThroughSsm",
            Effect: "Allow",
            Principal: { AWS: principals.deployerArns },
            Action: ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"],
            Resource: "*",
            Condition: { StringEquals: viaSsm },
        },
        {
            Sid: "HostReadsOwnParameters",
            Effect: "Allow",
            Principal: { AWS: principals.hostRoleArn },
            Action: "kms:Decrypt",
            Resource: "*",
            Condition: { StringEquals: viaSsm, StringLike: ownParameters },
        },
        {
            Sid: "HostStoresCertificates",
            Effect: "Allow",
            Principal: { AWS: principals.hostRoleArn },
            Action: "kms:Encrypt",
            Resource: "*",
            Condition: {
                StringEquals: viaSsm,
                StringLike: { "kms:EncryptionContext:PARAMETER_ARN": `${principals.certificateStoreArn}/*` },
            },
        },
    ];
    if (principals.readerArns.length > 0) {
        statements.push({
            Sid: "ReadersDecryptThroughSsm",
            Effect: "Allow",
            Principal: { AWS: principals.readerArns },
            Action: "kms:Decrypt",
            Resource: "*",
            Condition: { StringEquals: viaSsm, StringLike: ownParameters },
        });
    }
    return { Version: "2012-10-17", Statement: statements };
}
