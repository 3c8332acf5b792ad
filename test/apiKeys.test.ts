// The callers of each service and the requests service's own key, from stack config to the hosts' secrets.
import { expect } from "chai";
import { createHash } from "crypto";
import { decodeUserData } from "./cloudConfig";
import { isSecretValue, minimalConfig, named, ofType, ProgramRun, runProgram, sentinelSecrets, valueOf } from "./mocks";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** The secret value of a service's SSM parameter, failing when it is not wrapped as a secret. */
function secretParameter(run: ProgramRun, name: string): { name: string; type: string; value: string } {
    const { inputs } = named(run.resources, name);
    if (!isSecretValue(inputs.value)) throw new Error(`${name}'s value is not secret`);
    return { name: String(inputs.name), type: String(inputs.type), value: String(inputs.value.value) };
}

describe("API keys (issue 19)", () => {
    let run: ProgramRun;
    before(async () => {
        run = await runProgram(minimalConfig);
    });

    it("gives tasks its callers and the caller requests, read-only, with the digest of the requests service's key", () => {
        const parameter = secretParameter(run, "tasks-api-keys");
        expect(parameter.name).to.equal("/microservices/dev/tasks/API_KEYS");
        expect(parameter.type).to.equal("SecureString");
        expect(JSON.parse(parameter.value)).to.deep.equal({
            callers: {
                ...JSON.parse(sentinelSecrets.tasksApiCallers).callers,
                requests: { access: "read", keys: [sha256(sentinelSecrets.requestsTasksApiKey)] },
            },
        });
    });

    it("gives requests its callers as set, and the key it sends to tasks", () => {
        const callers = secretParameter(run, "requests-api-keys");
        expect(callers.name).to.equal("/microservices/dev/requests/API_KEYS");
        expect(callers.type).to.equal("SecureString");
        expect(JSON.parse(callers.value)).to.deep.equal(JSON.parse(sentinelSecrets.requestsApiCallers));
        const key = secretParameter(run, "requests-tasks-api-key");
        expect(key.name).to.equal("/microservices/dev/requests/TASKS_API_KEY");
        expect(key.type).to.equal("SecureString");
        expect(key.value).to.equal(sentinelSecrets.requestsTasksApiKey);
    });

    it("gives the tasks service no key of its own, and each service only its own callers", () => {
        const names = ofType(run.resources, "aws:ssm/parameter:Parameter").map((p) => String(p.inputs.name));
        expect(names.filter((name) => name.includes("/tasks/"))).not.to.include("/microservices/dev/tasks/TASKS_API_KEY");
        expect(names.filter((name) => /API_KEY/.test(name)).sort()).to.deep.equal([
            "/microservices/dev/requests/API_KEYS",
            "/microservices/dev/requests/TASKS_API_KEY",
            "/microservices/dev/tasks/API_KEYS",
        ]);
    });

    it("never puts a key or a digest in user data, tags or outputs", async () => {
        const digests = [
            sha256(sentinelSecrets.requestsTasksApiKey),
            ...JSON.parse(sentinelSecrets.tasksApiCallers).callers.ci.keys,
            ...JSON.parse(sentinelSecrets.requestsApiCallers).callers.ci.keys,
        ];
        const userData = ["tasks", "requests"].map((service) => decodeUserData(named(run.resources, `${service}-host`).inputs.userDataBase64 as string));
        const plain = JSON.stringify({ userData, tags: run.resources.map((r) => r.inputs.tags) });
        const outputs = JSON.stringify(await Promise.all(Object.values(run.outputs).map(valueOf)));
        for (const text of [plain, outputs]) {
            for (const secret of [sentinelSecrets.requestsTasksApiKey, ...digests]) expect(text).not.to.include(secret);
        }
    });
});
