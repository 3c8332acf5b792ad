import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy } from "@pulumi/policy";
import { reportViolationsOf } from "../report";

/** IMDSv2 only, for anything with `metadataOptions`: instances and launch templates. */
export function imdsv2Violations(props: { metadataOptions?: { httpTokens?: string } }): string[] {
    const httpTokens = props.metadataOptions?.httpTokens;
    if (httpTokens === "required") return [];
    const actual = httpTokens === undefined ? "is not set, so IMDSv1 stays on" : `is "${httpTokens}"`;
    return [
        `metadataOptions.httpTokens ${actual}: set it to "required" so the metadata service answers only IMDSv2 ` +
            "session-token requests, and a forged request (SSRF) cannot read the host role's credentials.",
    ];
}

export const imdsv2Required: ResourceValidationPolicy = {
    name: "ec2-imdsv2-required",
    description: 'EC2 instances and launch templates require IMDSv2: metadataOptions.httpTokens must be "required".',
    enforcementLevel: "mandatory",
    validateResource: [
        reportViolationsOf(aws.ec2.Instance, imdsv2Violations),
        reportViolationsOf(aws.ec2.LaunchTemplate, imdsv2Violations),
    ],
};
