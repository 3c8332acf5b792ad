import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { readStackConfig } from "../config";
import { decodeUserData } from "./cloudConfig";
import { isSecretValue, minimalConfig, named, ProgramRun, runProgram, sentinels, stackFileConfig, valueOf } from "./mocks";

/** Paths inside `value` where a sentinel shows in plain text, outside any secret wrapper. */
function plainSentinels(value: unknown, where: string): string[] {
    if (isSecretValue(value)) return [];
    if (typeof value === "string") {
        return sentinels.filter((sentinel) => value.includes(sentinel)).map((sentinel) => `${sentinel} at ${where}`);
    }
    if (Array.isArray(value)) return value.flatMap((item, index) => plainSentinels(item, `${where}[${index}]`));
    if (typeof value === "object" && value !== null) {
        return Object.entries(value).flatMap(([key, item]) => plainSentinels(item, `${where}.${key}`));
    }
    return [];
}

/** Every sentinel found anywhere in `value`, wrapped or not. */
function allSentinels(value: unknown): string[] {
    const text = JSON.stringify(value);
    return sentinels.filter((sentinel) => text.includes(sentinel));
}

describe("secrets (sentinel test)", () => {
    let run: ProgramRun;
    before(async () => {
        run = await runProgram(stackFileConfig("dev"));
    });

    it("reaches the resources that need each secret", () => {
        const everywhere = allSentinels(run.resources.map((resource) => resource.inputs));
        expect(everywhere).to.have.members(sentinels);
    });

    it("shows no secret in plain text in any resource input", () => {
        const leaks = run.resources.flatMap((resource) => plainSentinels(resource.inputs, resource.name));
        expect(leaks).to.deep.equal([]);
    });

    it("keeps user data plain and free of secrets", () => {
        for (const service of ["tasks", "requests"]) {
            const userData = named(run.resources, `${service}-host`).inputs.userDataBase64;
            expect(typeof userData, "user data must not be secret-tainted").to.equal("string");
            expect(allSentinels(decodeUserData(userData as string))).to.deep.equal([]);
        }
    });

    it("keeps tags free of secrets", () => {
        const tags = run.resources.map((resource) => resource.inputs.tags).filter(Boolean);
        expect(tags).not.to.be.empty;
        expect(allSentinels(tags)).to.deep.equal([]);
    });

    it("exports only plain outputs, none of which holds a secret", async () => {
        for (const [name, output] of Object.entries(run.outputs)) {
            expect(await pulumi.isSecret(output), `${name} should not be secret`).to.equal(false);
            expect(allSentinels(await valueOf(output)), name).to.deep.equal([]);
        }
    });

    it("hands the secrets to the program as secret Outputs", async () => {
        await runProgram(minimalConfig);
        const config = readStackConfig(new pulumi.Config(), "dev");
        if (!("build" in config.tasks.image)) throw new Error("the minimal config builds the images");
        const secrets = [
            config.tasks.image.build.registry.token,
            config.tasks.mongodbUri,
            config.tasks.logseneToken,
            config.requests.postgresUrl,
            config.requests.papertrailDestination,
            config.requests.tasksApiKey,
            config.requests.apiCallers,
            config.tasks.apiCallers,
        ];
        for (const secret of secrets) expect(await pulumi.isSecret(secret)).to.equal(true);
        expect(allSentinels(await Promise.all(secrets.map(valueOf)))).to.have.members(sentinels);
    });
});
