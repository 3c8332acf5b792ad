import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy } from "@pulumi/policy";
import * as YAML from "yaml";
import { reportViolationsOf } from "../report";

interface DocumentParameter {
    type?: string;
    allowedPattern?: string;
    allowedValues?: unknown[];
    interpolationType?: string;
}

/** The `{{ name }}` references in a document's steps, outside `{{ssm:…}}` parameter-store lookups. */
function referencedParameters(steps: unknown): string[] {
    const text = JSON.stringify(steps ?? []);
    return [...text.matchAll(/\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g)].map((match) => match[1]);
}

/**
 * A Command document's string parameters that SSM pastes into its steps (`{{ name }}`) must be constrained by
 * `allowedPattern` or `allowedValues`; otherwise a value can close the command and start another. Parameters handed
 * over as environment variables (`interpolationType: ENV_VAR`) and never pasted are safe as they are.
 */
export function documentParameterViolations(props: { content?: string; documentType?: string; documentFormat?: string }): string[] {
    if (props.documentType !== "Command" || !props.content) return [];
    let document: { parameters?: Record<string, DocumentParameter>; mainSteps?: unknown; runtimeConfig?: unknown };
    try {
        document = props.documentFormat === "YAML" ? YAML.parse(props.content) : JSON.parse(props.content);
    } catch {
        return [`content is not valid ${props.documentFormat ?? "JSON"}: SSM would refuse the document.`];
    }
    const parameters = document.parameters ?? {};
    return [...new Set(referencedParameters(document.mainSteps ?? document.runtimeConfig))]
        .filter((name) => {
            const parameter = parameters[name];
            if (!parameter || (parameter.type ?? "String") !== "String") return false;
            return !parameter.allowedPattern && !parameter.allowedValues;
        })
        .map(
            (name) =>
                `content pastes the parameter ${name} into its steps ({{ ${name} }}) without allowedPattern or ` +
                "allowedValues: constrain it, or hand it to the script as an environment variable " +
                '(interpolationType: "ENV_VAR") and read $SSM_' +
                `${name} instead, so that no value can inject a command.`,
        );
}

export const ssmDocumentParametersSafe: ResourceValidationPolicy = {
    name: "ssm-document-parameters-safe",
    description:
        "SSM Command documents paste no unconstrained string parameter into their commands: each {{ parameter }} " +
        "has an allowedPattern or allowedValues, or the parameter goes in as an environment variable.",
    enforcementLevel: "mandatory",
    validateResource: reportViolationsOf(aws.ssm.Document, documentParameterViolations),
};
