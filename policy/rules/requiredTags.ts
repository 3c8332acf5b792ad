import * as aws from "@pulumi/aws";
import { ResourceValidationArgs, ResourceValidationPolicy } from "@pulumi/policy";
import { CustomResource } from "@pulumi/pulumi";

export const requiredTagKeys = ["project", "stack", "service"];

/**
 * Resource types that take `tags`: everything the program creates that does, and the usual neighbours. Listed as
 * classes, so a typo fails to compile instead of silently exempting a type.
 */
export const taggableResources: { new (...rest: any[]): CustomResource }[] = [
    aws.ec2.Instance,
    aws.ec2.Eip,
    aws.ec2.SecurityGroup,
    aws.vpc.SecurityGroupIngressRule,
    aws.vpc.SecurityGroupEgressRule,
    aws.ssm.Parameter,
    aws.iam.Role,
    aws.iam.InstanceProfile,
    aws.iam.Policy,
    aws.iam.User,
    aws.ec2.LaunchTemplate,
    aws.ec2.KeyPair,
    aws.ebs.Volume,
    aws.ec2.Vpc,
    aws.ec2.Subnet,
    aws.ec2.InternetGateway,
    aws.ec2.NatGateway,
    aws.ec2.RouteTable,
    aws.lb.LoadBalancer,
    aws.lb.TargetGroup,
    aws.s3.Bucket,
    aws.kms.Key,
    aws.secretsmanager.Secret,
    aws.cloudwatch.LogGroup,
    aws.ecr.Repository,
];

/** The required tags that are missing or empty; a missing `tags` property misses them all. */
export function missingTagViolations(tags: Record<string, string> | undefined): string[] {
    const missing = requiredTagKeys.filter((key) => !tags?.[key]);
    if (missing.length === 0) return [];
    return [
        `tags lacks ${missing.map((key) => `"${key}"`).join(", ")}: tag every resource with project, stack and ` +
            "service (the ServiceHost component sets them with serviceTags()) so owners and costs can be traced.",
    ];
}

export const requiredTags: ResourceValidationPolicy = {
    name: "required-tags",
    description: `Every taggable AWS resource carries the tags ${requiredTagKeys.join(", ")}.`,
    enforcementLevel: "mandatory",
    validateResource: (args: ResourceValidationArgs, reportViolation) => {
        if (!taggableResources.some((resourceClass) => args.isType(resourceClass))) return;
        for (const message of missingTagViolations(args.props.tags)) reportViolation(message);
    },
};
