import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy } from "@pulumi/policy";
import { reportViolationsOf } from "../report";
import { findSecrets } from "../secretPatterns";

/** Words that make a parameter name a secret's, e.g. MONGODB_URI, logseneToken, PAPERTRAIL_DESTINATION. */
const secretNameWords = [
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "SECRET",
    "KEY",
    "URI",
    "URL",
    "DSN",
    "DESTINATION",
    "CREDENTIAL",
];

/** The words of a name: split at non-alphanumerics and camelCase humps (APIKey: API, Key), upper-cased, plural "s" dropped. */
function nameWords(name: string): string[] {
    return name
        .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
        .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
        .split(/[^A-Za-z0-9]+/)
        .filter(Boolean)
        .map((word) => word.toUpperCase().replace(/(.)S$/, "$1"));
}

/** Whether the last segment of a parameter name says it holds a secret. */
export function namesSecret(parameterName: string): boolean {
    const lastSegment = parameterName.split("/").pop() ?? "";
    return nameWords(lastSegment).some((word) => secretNameWords.includes(word));
}

/**
 * A parameter that holds a secret, by its name or its value, must be a SecureString. `resourceName` stands in for an
 * unset `name`, which the provider derives from it. Messages never echo a value.
 */
export function ssmParameterViolations(
    parameter: { name?: string; type?: string; value?: string; insecureValue?: string },
    resourceName: string,
): string[] {
    const violations: string[] = [];
    const name = parameter.name ?? resourceName;
    const valueFinding = findSecrets(parameter.value ?? "")[0];
    const reason = namesSecret(name)
        ? `the name's last segment "${name.split("/").pop()}" says it holds a secret`
        : valueFinding && `value holds what looks like ${valueFinding.kind}`;
    if (reason && parameter.type !== "SecureString") {
        const type = parameter.type === undefined ? "type is not set" : `type is "${parameter.type}"`;
        violations.push(`${type} but ${reason}: set type to "SecureString" so SSM encrypts the value with KMS.`);
    }
    const insecureFinding = findSecrets(parameter.insecureValue ?? "")[0];
    if (insecureFinding) {
        violations.push(
            `insecureValue holds what looks like ${insecureFinding.kind}: insecureValue is kept in clear text in the ` +
                'Pulumi state; pass the secret as value, wrapped in pulumi.secret(), with type "SecureString".',
        );
    }
    return violations;
}

export const ssmSecretsAreSecureString: ResourceValidationPolicy = {
    name: "ssm-secrets-are-securestring",
    description:
        "SSM parameters that hold secrets are SecureString: a parameter whose name ends in a secret word (TOKEN, " +
        "PASSWORD, SECRET, KEY, URI, URL, DSN, DESTINATION, CREDENTIAL…) or whose value looks like a credential.",
    enforcementLevel: "mandatory",
    validateResource: reportViolationsOf(aws.ssm.Parameter, (parameter, args) =>
        ssmParameterViolations(parameter, args.name),
    ),
};
