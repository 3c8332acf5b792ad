import { expect } from "chai";
import { documentParameterViolations } from "../rules/ssmDocumentParameters";
import { analyze } from "./analyze";

/** A Command document with the given parameters and one shell step running `command`. */
function document(parameters: Record<string, unknown>, command: string): string {
    return JSON.stringify({
        schemaVersion: "2.2",
        parameters,
        mainSteps: [{ action: "aws:runShellScript", name: "run", inputs: { runCommand: [command] } }],
    });
}

const pasted = (name: string) =>
    `content pastes the parameter ${name} into its steps ({{ ${name} }}) without allowedPattern or allowedValues: ` +
    'constrain it, or hand it to the script as an environment variable (interpolationType: "ENV_VAR") and read ' +
    `$SSM_${name} instead, so that no value can inject a command.`;

describe("policy ssm-document-parameters-safe", () => {
    const cases: { title: string; props: Parameters<typeof documentParameterViolations>[0]; violations: string[] }[] = [
        {
            title: "passes parameters handed over as environment variables and never pasted",
            props: {
                documentType: "Command",
                content: document({ image: { type: "String", interpolationType: "ENV_VAR" } }, "/usr/local/bin/release-service deploy"),
            },
            violations: [],
        },
        {
            title: "passes a pasted parameter constrained by a pattern, or by a list of values",
            props: {
                documentType: "Command",
                content: document(
                    { id: { type: "String", allowedPattern: "^[0-9a-f]{12}$" }, mode: { type: "String", allowedValues: ["a", "b"] } },
                    "run {{ id }} {{mode}}",
                ),
            },
            violations: [],
        },
        {
            title: "fails an unconstrained string pasted into a command, once however often it appears",
            props: {
                documentType: "Command",
                content: document({ image: { type: "String" } }, "docker pull {{ image }} && docker run {{image}}"),
            },
            violations: [pasted("image")],
        },
        {
            title: "reads YAML documents too",
            props: {
                documentType: "Command",
                documentFormat: "YAML",
                content:
                    "schemaVersion: '2.2'\nparameters:\n  note:\n    type: String\nmainSteps:\n" +
                    "  - action: aws:runShellScript\n    name: run\n    inputs:\n      runCommand: ['echo {{ note }}']\n",
            },
            violations: [pasted("note")],
        },
        {
            title: "fails content that SSM could not parse",
            props: { documentType: "Command", content: "{ not json" },
            violations: ["content is not valid JSON: SSM would refuse the document."],
        },
        {
            title: "leaves other document types alone",
            props: { documentType: "Session", content: document({ x: { type: "String" } }, "{{ x }}") },
            violations: [],
        },
    ];
    for (const { title, props, violations } of cases) {
        it(title, () => expect(documentParameterViolations(props)).to.deep.equal(violations));
    }

    it("checks SSM documents through the pack", async () => {
        const violations = (await analyze({
            type: "aws:ssm/document:Document",
            name: "x",
            inputs: { documentType: "Command", content: document({ cmd: { type: "String" } }, "{{ cmd }}") },
        })).filter((violation) => violation.policy === "ssm-document-parameters-safe");
        expect(violations.map((violation) => violation.message)).to.deep.equal([pasted("cmd")]);
    });
});
