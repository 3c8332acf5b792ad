// How releases and host replacements play out in the program, under the mocks: what replaces what, what waits for
// what, and what never changes.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import {
    fakeAmis,
    fakeCloud,
    minimalConfig,
    named,
    ProgramRun,
    recorded,
    root,
    runProgram,
    stackFileConfig,
    valueOf,
} from "./mocks";

type Inputs = Record<string, any>;
const inputsOf = (run: ProgramRun, name: string): Inputs => named(run.resources, name).inputs;
const digest = (service: string, hex: string) => `docker.io/octocat/${service}@sha256:${hex.repeat(64)}`;
const withImages = (tasks: string, requests: string) => ({
    ...stackFileConfig("dev"),
    tasksImage: digest("tasks", tasks),
    requestsImage: digest("requests", requests),
});

/** Waits until the mocks have recorded `name`, or fails after a while. */
async function recordedSoon(name: string): Promise<void> {
    for (let attempt = 0; attempt < 200; attempt++) {
        if (recorded.some((resource) => resource.name === name)) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`${name} was never registered`);
}

describe("releases (under the mocks)", () => {
    afterEach(() => fakeCloud.reset());

    it("releases a new digest without touching the hosts: identical instance inputs, a new release", async () => {
        const first = await runProgram(withImages("a", "c"));
        const second = await runProgram(withImages("b", "c"));
        for (const service of ["tasks", "requests"]) {
            expect(inputsOf(second, `${service}-host`), service).to.deep.equal(inputsOf(first, `${service}-host`));
        }
        expect(inputsOf(first, "tasks-release").parameters.image).to.equal(digest("tasks", "a"));
        expect(inputsOf(second, "tasks-release").parameters.image).to.equal(digest("tasks", "b"));
        expect(inputsOf(second, "tasks-release").parameters.releaseId).not.to.equal(
            inputsOf(first, "tasks-release").parameters.releaseId,
        );
        expect(inputsOf(second, "requests-release"), "a tasks release changes nothing for requests").to.deep.equal(
            inputsOf(first, "requests-release"),
        );
    });

    it("replaces the association on every release, after the host is an online managed node, and awaits it", async () => {
        const run = await runProgram(withImages("a", "c"));
        for (const service of ["tasks", "requests"]) {
            const association = named(run.resources, `${service}-release`);
            expect(association.options.replaceOnChanges).to.deep.equal(["parameters", "documentVersion", "targets"]);
            expect(association.options.deleteBeforeReplace).to.equal(true);
            expect(association.inputs).to.deep.include({
                name: `${service}-release-document-7g8h9i`,
                documentVersion: "1",
                targets: [{ key: "InstanceIds", values: [`${service}-host-id`] }],
                maxConcurrency: "1",
                maxErrors: "0",
            });
            expect(association.inputs).not.to.have.property("waitForSuccessTimeoutSeconds");
            expect(inputsOf(run, `${service}-managed-node`)).to.deep.include({
                instanceIds: [`${service}-host-id`],
                recordPath: `/microservices/dev/${service}/releases`,
                region: "eu-west-1",
                timeoutSeconds: 600,
            });

            const gate = named(run.resources, `${service}-release-gate`);
            expect(gate.inputs).to.deep.include({
                serviceName: service,
                associationName: `${service}-release-${(association.inputs as Inputs).parameters.releaseId}`,
                instanceIds: [`${service}-host-id`],
                recordPath: `/microservices/dev/${service}/releases`,
                releaseId: (association.inputs as Inputs).parameters.releaseId,
                region: "eu-west-1",
                startTimeoutSeconds: 300,
                timeoutSeconds: 420,
                statusCommand: `scripts/release-status.sh dev ${service}`,
            });
            expect(association.inputs.associationName).to.equal(gate.inputs.associationName);
            // Ordered after the association without a value from it: a replaced association replaces no gate.
            expect(gate.options.dependsOn).to.deep.equal([`${service}-release`]);
            // The host writes its record itself: a parameter of Pulumi's own would show as drift after every release.
            expect(run.resources.filter((resource) => String(resource.inputs.name).includes("/releases"))).to.deep.equal([]);
        }
    });

    it("sends each release the plain settings and the secrets' parameter versions, and a rotated secret is a release", async () => {
        const first = await runProgram(withImages("a", "c"));
        expect(inputsOf(first, "tasks-release").parameters).to.deep.include({
            settings: "LOG_LEVEL=debug\nPORT=8080",
            secrets:
                "API_KEYS=/microservices/dev/tasks/API_KEYS:1\nLOGSENE_TOKEN=/microservices/dev/tasks/LOGSENE_TOKEN:1\n" +
                "MONGODB_URI=/microservices/dev/tasks/MONGODB_URI:1",
            healthTimeoutSeconds: "120",
        });
        fakeCloud.parameterVersions["tasks-mongodb-uri"] = 2;
        const rotated = await runProgram(withImages("a", "c"));
        expect(inputsOf(rotated, "tasks-release").parameters.secrets).to.equal(
            "API_KEYS=/microservices/dev/tasks/API_KEYS:1\nLOGSENE_TOKEN=/microservices/dev/tasks/LOGSENE_TOKEN:1\n" +
                "MONGODB_URI=/microservices/dev/tasks/MONGODB_URI:2",
        );
        expect(inputsOf(rotated, "tasks-host")).to.deep.equal(inputsOf(first, "tasks-host"));
    });

    it("waits, at worst, well within the deploy jobs' timeout, even on a first up where requests waits for tasks", async () => {
        const run = await runProgram(withImages("a", "c"));
        const waits = (service: string) =>
            Number(inputsOf(run, `${service}-managed-node`).timeoutSeconds) +
            Number(inputsOf(run, `${service}-release-gate`).startTimeoutSeconds) +
            Number(inputsOf(run, `${service}-release-gate`).timeoutSeconds);
        const worstCase = waits("tasks") + waits("requests");
        const workflow = YAML.parse(fs.readFileSync(path.join(root, ".github", "workflows", "deploy.yml"), "utf8"));
        for (const job of ["dev", "prod"]) {
            // Ten minutes for the checkout, the install, the preview and the policy pack.
            expect(worstCase + 600, job).to.be.at.most(workflow.jobs[job]["timeout-minutes"] * 60);
        }
        expect(worstCase).to.equal(2640);
    });

    it("creates the association only once the host is an online managed node, and the gate only after it", async () => {
        fakeCloud.hold("tasks-managed-node");
        const running = runProgram(withImages("a", "c"));
        await recordedSoon("tasks-managed-node");
        await recordedSoon("requests-managed-node");
        expect(recorded.map((resource) => resource.name)).not.to.include.members(["tasks-release", "tasks-release-gate"]);
        fakeCloud.release("tasks-managed-node");
        await running;
        fakeCloud.hold("tasks-release");
        const again = runProgram(withImages("a", "c"));
        await recordedSoon("tasks-release");
        await recordedSoon("requests-managed-node");
        expect(recorded.map((resource) => resource.name)).not.to.include("tasks-release-gate");
        fakeCloud.release("tasks-release");
        await again;
    });

    it("moves the address only after the release: the address association waits for the gate", async () => {
        fakeCloud.hold("tasks-release-gate");
        const running = runProgram(withImages("a", "c"));
        await recordedSoon("tasks-release-gate");
        await recordedSoon("requests-managed-node");
        expect(recorded.map((resource) => resource.name)).not.to.include("tasks-address");
        fakeCloud.release("tasks-release-gate");
        const run = await running;
        const address = named(run.resources, "tasks-address");
        expect(address.options.dependsOn).to.deep.equal(["tasks-release-gate"]);
        expect(address.inputs).to.deep.equal({
            allocationId: "eipalloc-tasks-eip",
            instanceId: "tasks-host-id",
            allowReassociation: true,
        });
    });

    it("releases requests against tasks only once the tasks host serves", async () => {
        fakeCloud.hold("tasks-release-gate");
        const running = runProgram(withImages("a", "c"));
        await recordedSoon("tasks-release-gate");
        await recordedSoon("requests-managed-node");
        expect(recorded.map((resource) => resource.name)).not.to.include("requests-release");
        fakeCloud.release("tasks-release-gate");
        const run = await running;
        expect(inputsOf(run, "requests-release").parameters.settings).to.match(/^TASKS_URL=http:\/\/10\.0\.1\.\d+:8080$/m);
    });

    it("turns a tasks host replacement into a requests release, never a requests host replacement", async () => {
        fakeCloud.privateIps["tasks-host"] = "10.0.1.10";
        const before = await runProgram(withImages("a", "c"));
        fakeCloud.privateIps["tasks-host"] = "10.0.2.20";
        const after = await runProgram(withImages("a", "c"));
        expect(inputsOf(after, "requests-host")).to.deep.equal(inputsOf(before, "requests-host"));
        expect(inputsOf(before, "requests-release").parameters.settings).to.include("TASKS_URL=http://10.0.1.10:8080");
        expect(inputsOf(after, "requests-release").parameters.settings).to.include("TASKS_URL=http://10.0.2.20:8080");
        expect(inputsOf(after, "requests-release").parameters.releaseId).not.to.equal(
            inputsOf(before, "requests-release").parameters.releaseId,
        );
    });

    it("keeps the AMI a host was created with, and moves hosts only to an AMI the stack names", async () => {
        const resolved = await runProgram(minimalConfig);
        const recommended = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id";
        const original = fakeAmis[recommended];
        fakeAmis[recommended] = "ami-0ffffffffffffffff";
        try {
            const newAmi = await runProgram(minimalConfig);
            for (const service of ["tasks", "requests"]) {
                const host = named(newAmi.resources, `${service}-host`);
                expect(host.options.ignoreChanges, "AWS's new AMI replaces no host").to.deep.equal(["ami"]);
                const { ami: _, ...rest } = host.inputs;
                const { ami: __, ...restBefore } = named(resolved.resources, `${service}-host`).inputs;
                expect(rest).to.deep.equal(restBefore);
            }
        } finally {
            fakeAmis[recommended] = original;
        }
        const pinned = await runProgram({ ...minimalConfig, hostAmi: "ami-0123456789abcdef0" });
        for (const service of ["tasks", "requests"]) {
            const host = named(pinned.resources, `${service}-host`);
            expect(host.inputs.ami).to.equal("ami-0123456789abcdef0");
            expect(host.options.ignoreChanges, "a pinned AMI is followed").to.deep.equal([]);
        }
    });

    it("replaces a host to change its size, rather than stopping it, and then its user data", async () => {
        const run = await runProgram(minimalConfig);
        for (const service of ["tasks", "requests"]) {
            const host = named(run.resources, `${service}-host`);
            expect(host.options.replaceOnChanges).to.deep.equal(["instanceType"]);
            expect(host.options.deleteBeforeReplace, "the new host comes up before the old one goes").to.equal(false);
            expect(host.inputs.userDataReplaceOnChange).to.equal(true);
        }
    });

    it("exports the release the hosts serve", async () => {
        const run = await runProgram(withImages("a", "c"));
        expect(await valueOf(run.outputs.tasksReleaseId)).to.equal(inputsOf(run, "tasks-release").parameters.releaseId);
        expect(await valueOf(run.outputs.tasksImageDigest)).to.equal(digest("tasks", "a"));
    });
});

describe("the mock harness", () => {
    it("rejects with the cause when an apply throws inside the program, instead of hanging", async () => {
        const started = Date.now();
        let message = "";
        try {
            await runProgram({}, "dev", "./fixtures/programs/tagPinnedImage");
        } catch (error) {
            message = (error as Error).message;
        }
        expect(message).to.equal(
            'error serializing property "associationName": error serializing property "associationName": image ' +
                '"docker.io/octocat/tasks:latest" must be pinned by digest (repository@sha256:…)',
        );
        expect(Date.now() - started).to.be.below(10000);
    });
});
