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
 * Read access to one parameter path and the parameters under it, nothing else. SecureString values decrypt with the
 * account's AWS managed key (aws/ssm), whose key policy already admits callers that SSM authorizes.
 */
export function parameterReadPolicy(pathArn: string): aws.iam.PolicyDocument {
    return {
        Version: "2012-10-17",
        Statement: [
            {
                Sid: "ReadOwnServiceParameters",
                Effect: "Allow",
                Action: ["ssm:GetParametersByPath", "ssm:GetParameters", "ssm:GetParameter"],
                Resource: [pathArn, `${pathArn}/*`],
            },
        ],
    };
}
