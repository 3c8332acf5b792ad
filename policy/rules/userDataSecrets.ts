import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy } from "@pulumi/policy";
import { reportViolationsOf } from "../report";
import { describeLines, findSecrets } from "../secretPatterns";
import { instanceUserData, launchTemplateUserData, UserDataText } from "../userData";

/**
 * Secret-looking values in user data. Messages give the kind and the line, never the value: they end up in CI logs
 * and pull-request comments.
 */
export function userDataSecretViolations(texts: UserDataText[]): string[] {
    return texts.flatMap(({ property, text }) =>
        findSecrets(text).map(
            ({ kind, lines }) =>
                `${property} holds what looks like ${kind} on ${describeLines(lines)}: user data is stored and ` +
                "shown in clear text, so keep the secret in an SSM SecureString parameter and fetch it at boot.",
        ),
    );
}

export const noSecretsInUserData: ResourceValidationPolicy = {
    name: "no-secrets-in-user-data",
    description:
        "User data of instances and launch templates holds no secret-looking value: URIs with credentials, " +
        "Docker Hub tokens, AWS access keys, password=/token=-style assignments with a value, private keys.",
    enforcementLevel: "mandatory",
    validateResource: [
        reportViolationsOf(aws.ec2.Instance, (instance) => userDataSecretViolations(instanceUserData(instance))),
        reportViolationsOf(aws.ec2.LaunchTemplate, (template) =>
            userDataSecretViolations(launchTemplateUserData(template)),
        ),
    ],
};
