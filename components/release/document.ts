import { createHash } from "crypto";
import { ImageSigner, imageSignerProblem } from "./imageSigner";

/** Where the host keeps the release script; the document runs it, the bootstrap writes it. */
export const releaseScriptPath = "/usr/local/bin/release-service";

/** What one release of a service is: everything that, when it changes, must reach the host as a new container. */
export interface ReleaseInputs {
    /** The image, pinned by digest: `repository@sha256:…`. */
    image: string;
    /** The container's plain environment. */
    settings: Record<string, string>;
    /** Each secret variable's SSM parameter and the version to read, so that a rotated secret is a new release. */
    secrets: Record<string, { parameter: string; version: number }>;
    /** How long the new container has to answer its health check with 200. */
    healthTimeoutSeconds: number;
    /** Who must have signed the image; the host verifies it before it runs it (see imageSigner.ts). */
    imageSigner: ImageSigner;
}

const digestPattern = "^[^\\s@]+@sha256:[0-9a-f]{64}$";

/**
 * The SSM Command document (schema 2.2) that releases a service: it runs the host's release script, which reads its
 * inputs from SSM_* environment variables (interpolationType ENV_VAR), so no value is ever pasted into a command line.
 */
export function renderReleaseDocument(serviceName: string): string {
    const parameter = (description: string, extra: Record<string, string> = {}) => ({
        type: "String",
        description,
        interpolationType: "ENV_VAR",
        ...extra,
    });
    const document = {
        schemaVersion: "2.2",
        description:
            `Releases the ${serviceName} service on its host without downtime: starts the image beside the current ` +
            "container, waits for its health, switches the proxy, then stops the old container.",
        parameters: {
            image: parameter("The image to run, pinned by digest.", { allowedPattern: digestPattern }),
            releaseId: parameter("Names this release; the host records its outcome under it.", {
                allowedPattern: "^[0-9a-f]{12}$",
            }),
            settings: parameter("The container's plain environment, one NAME=value per line.", { default: "" }),
            secrets: parameter("One NAME=/parameter/name:version per line; each becomes a file in /run/secrets.", {
                default: "",
            }),
            healthTimeoutSeconds: parameter("Seconds the new container has to answer its health check.", {
                default: "120",
                allowedPattern: "^[1-9][0-9]{0,3}$",
            }),
            imageSigner: parameter(
                "Who must have signed the image: a GitHub workflow's URL (keyless), a PEM public key, or none.",
            ),
        },
        mainSteps: [
            {
                action: "aws:runShellScript",
                name: "release",
                precondition: { StringEquals: ["platformType", "Linux"] },
                inputs: { timeoutSeconds: "1800", runCommand: [`${releaseScriptPath} deploy`] },
            },
        ],
    };
    return JSON.stringify(document, null, 2);
}

/** `NAME=value` lines, sorted by name, so that the same inputs always give the same text. */
function lines(entries: Record<string, string>): string {
    return Object.keys(entries)
        .sort()
        .map((name) => `${name}=${entries[name]}`)
        .join("\n");
}

const variableName = /^[A-Z_][A-Z0-9_]*$/;

/** Refuses inputs the host would refuse, before anything is created. */
function checkReleaseInputs(inputs: ReleaseInputs): void {
    if (!new RegExp(digestPattern).test(inputs.image)) {
        throw new Error(`image "${inputs.image}" must be pinned by digest (repository@sha256:…)`);
    }
    for (const [name, value] of Object.entries(inputs.settings)) {
        if (!variableName.test(name) || /[\r\n]/.test(value)) {
            throw new Error(`setting ${name} must have an upper-case name and a one-line value`);
        }
    }
    for (const name of Object.keys(inputs.secrets)) {
        if (!variableName.test(name)) throw new Error(`secret ${name} must be an upper-case variable name`);
        if (name in inputs.settings) throw new Error(`${name} is both a setting and a secret`);
    }
    const signerProblem = imageSignerProblem(inputs.imageSigner);
    if (signerProblem) throw new Error(`imageSigner ${signerProblem}`);
}

/**
 * The association's parameters for one release. `releaseId` hashes the document and every input, so it changes
 * exactly when the host has something new to run.
 */
export function releaseParameters(document: string, inputs: ReleaseInputs): Record<string, string> {
    checkReleaseInputs(inputs);
    const parameters = {
        image: inputs.image,
        settings: lines(inputs.settings),
        secrets: lines(
            Object.fromEntries(
                Object.entries(inputs.secrets).map(([name, { parameter, version }]) => [name, `${parameter}:${version}`]),
            ),
        ),
        healthTimeoutSeconds: String(inputs.healthTimeoutSeconds),
        imageSigner: inputs.imageSigner,
    };
    const releaseId = createHash("sha256")
        .update(JSON.stringify([document, parameters]))
        .digest("hex")
        .slice(0, 12);
    return { ...parameters, releaseId };
}
