import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy } from "@pulumi/policy";
import { reportViolationsOf } from "../report";

const why =
    "The AWS managed key alias/aws/ssm lets every principal of the account that SSM allows decrypt; set keyId to the " +
    "ARN of a customer-managed key whose policy lets only the hosts' roles decrypt.";

/** An AWS managed key, by alias or alias ARN: alias/aws/ssm and its kind. */
function isAwsManagedAlias(keyId: string): boolean {
    return /(^|:)alias\/aws\//.test(keyId);
}

/** A SecureString parameter is encrypted with a customer-managed key, named in keyId. Other types have no key. */
export function secureStringKeyViolations(parameter: { type?: string; keyId?: string }): string[] {
    if (parameter.type !== "SecureString") return [];
    if (parameter.keyId === undefined || parameter.keyId === "") {
        return [`keyId is not set, so SSM encrypts the value with alias/aws/ssm. ${why}`];
    }
    if (isAwsManagedAlias(parameter.keyId)) {
        return [`keyId is "${parameter.keyId}", an AWS managed key. ${why}`];
    }
    return [];
}

export const ssmSecureStringCustomerKey: ResourceValidationPolicy = {
    name: "ssm-securestring-customer-key",
    description:
        "SecureString SSM parameters are encrypted with a customer-managed KMS key: keyId is set, and is not an AWS " +
        "managed key such as alias/aws/ssm.",
    enforcementLevel: "mandatory",
    validateResource: reportViolationsOf(aws.ssm.Parameter, secureStringKeyViolations),
};
