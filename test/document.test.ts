// The release document and the inputs of a release: checked against a JSON schema of SSM Command documents 2.2
// written from AWS's documentation, and against the release script that reads them.
import Ajv2020 from "ajv/dist/2020";
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { releaseScript } from "../components/host/bootstrap";
import { ReleaseInputs, releaseParameters, releaseScriptPath, renderReleaseDocument } from "../components/release/document";
import { root } from "./mocks";

const schema = JSON.parse(fs.readFileSync(path.join(root, "test/fixtures/ssm-command-document-2.2.schema.json"), "utf8"));
const validate = new Ajv2020({ allErrors: true, strict: true }).compile(schema);

/** The schema's complaints about a document, as `path: message` lines. */
function schemaErrors(document: unknown): string[] {
    validate(document);
    return (validate.errors ?? []).map((error) => `${error.instancePath || "/"}: ${error.message}`);
}

const digest = `docker.io/octocat/tasks@sha256:${"a".repeat(64)}`;
const inputs: ReleaseInputs = {
    image: digest,
    settings: { PORT: "8080", LOG_LEVEL: "info" },
    secrets: { MONGODB_URI: { parameter: "/microservices/dev/tasks/MONGODB_URI", version: 3 } },
    healthTimeoutSeconds: 120,
    imageSigner: "none",
};

describe("the release document", () => {
    const document = JSON.parse(renderReleaseDocument("tasks"));

    it("is a valid SSM Command document, schema 2.2", () => {
        expect(schemaErrors(document)).to.deep.equal([]);
    });

    it("fails the schema when broken (the check bites)", () => {
        const broken = (change: (copy: any) => void) => {
            const copy = structuredClone(document);
            change(copy);
            return schemaErrors(copy);
        };
        expect(broken((copy) => (copy.schemaVersion = "2.0"))).to.include("/schemaVersion: must be equal to constant");
        expect(broken((copy) => delete copy.mainSteps)).to.include("/: must have required property 'mainSteps'");
        expect(broken((copy) => (copy.mainSteps[0].inputs.commands = ["x"]))).to.include(
            "/mainSteps/0/inputs: must NOT have additional properties",
        );
        expect(broken((copy) => (copy.parameters.image.type = "StringList"))).to.include(
            "/parameters/image/type: must be equal to constant",
        );
    });

    it("runs the release script and pastes no parameter into its command line", () => {
        expect(document.mainSteps).to.have.length(1);
        expect(document.mainSteps[0].inputs.runCommand).to.deep.equal([`${releaseScriptPath} deploy`]);
        expect(JSON.stringify(document.mainSteps)).not.to.include("{{");
    });

    it("hands every parameter to the script as an SSM_ variable, and the script reads exactly those", () => {
        const declared = Object.keys(document.parameters).sort();
        for (const name of declared) expect(document.parameters[name].interpolationType, name).to.equal("ENV_VAR");
        const read = [...new Set([...releaseScript.matchAll(/\$\{?SSM_([A-Za-z]+)/g)].map((match) => match[1]))].sort();
        expect(read).to.deep.equal(declared);
        expect(Object.keys(releaseParameters(renderReleaseDocument("tasks"), inputs)).sort()).to.deep.equal(declared);
    });

    it("accepts, by its own patterns, the values the program sends, and refuses a tag for the image", () => {
        const parameters = releaseParameters(renderReleaseDocument("tasks"), inputs);
        for (const [name, declaration] of Object.entries<{ allowedPattern?: string }>(document.parameters)) {
            if (declaration.allowedPattern) expect(parameters[name], name).to.match(new RegExp(declaration.allowedPattern));
        }
        expect("docker.io/octocat/tasks:latest").not.to.match(new RegExp(document.parameters.image.allowedPattern));
    });
});

describe("a release's parameters", () => {
    const document = renderReleaseDocument("tasks");

    it("writes the settings and the secrets' versions as sorted NAME=value lines", () => {
        expect(releaseParameters(document, inputs)).to.deep.include({
            image: digest,
            settings: "LOG_LEVEL=info\nPORT=8080",
            secrets: "MONGODB_URI=/microservices/dev/tasks/MONGODB_URI:3",
            healthTimeoutSeconds: "120",
        });
    });

    it("names the release by everything the host runs: the same inputs give the same id, any change a new one", () => {
        const id = releaseParameters(document, inputs).releaseId;
        expect(id).to.match(/^[0-9a-f]{12}$/);
        expect(releaseParameters(document, { ...inputs, settings: { LOG_LEVEL: "info", PORT: "8080" } }).releaseId).to.equal(id);
        const changes: ReleaseInputs[] = [
            { ...inputs, image: `docker.io/octocat/tasks@sha256:${"b".repeat(64)}` },
            { ...inputs, settings: { ...inputs.settings, LOG_LEVEL: "debug" } },
            { ...inputs, secrets: { MONGODB_URI: { parameter: "/microservices/dev/tasks/MONGODB_URI", version: 4 } } },
            { ...inputs, healthTimeoutSeconds: 60 },
        ];
        const ids = changes.map((changed) => releaseParameters(document, changed).releaseId);
        expect(new Set([id, ...ids]).size).to.equal(5);
        expect(releaseParameters(renderReleaseDocument("requests"), inputs).releaseId, "a new document").not.to.equal(id);
    });

    it("refuses what the host would refuse, before anything is created", () => {
        expect(() => releaseParameters(document, { ...inputs, image: "docker.io/octocat/tasks:latest" })).to.throw(
            'image "docker.io/octocat/tasks:latest" must be pinned by digest (repository@sha256:…)',
        );
        expect(() => releaseParameters(document, { ...inputs, settings: { "log-level": "info" } })).to.throw(
            "setting log-level must have an upper-case name and a one-line value",
        );
        expect(() => releaseParameters(document, { ...inputs, settings: { NOTE: "two\nlines" } })).to.throw(
            "setting NOTE must have an upper-case name and a one-line value",
        );
        expect(() =>
            releaseParameters(document, {
                ...inputs,
                settings: { MONGODB_URI: "x" },
            }),
        ).to.throw("MONGODB_URI is both a setting and a secret");
    });
});
