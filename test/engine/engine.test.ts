// The program, unchanged, through whole `pulumi up`, `preview`, `refresh` and `destroy` runs on the real Pulumi
// engine, against the rig's AWS with real hosts behind it, while a steady load runs through both public addresses.
// One story, in order: each step starts from where the previous one left the stack.
import { expect } from "chai";
import { createHash } from "crypto";
import * as http from "http";
import { LoadReport, startLoad } from "../release/load";
import { currentAgentVersion } from "./cloud/cloud";
import { account, callsOf, policyFile, refused, requestsOf } from "./policies";
import { Rig, RunResult, Step } from "./rig";

const stack = "dev";

/** Each service's own port, on which its host's proxy serves it in plain HTTP. */
const servicePorts: Record<string, number> = { tasks: 8080, requests: 8000 };

/**
 * Where the rig reaches a service: its Elastic IP (the stack's output) on the proxy's plain listener of the service's
 * port, which the security group opens to peers only (the rig does not enforce security groups). Its HTTPS listener
 * needs a certificate from Let's Encrypt, which the rig does not stand in for: the https suite proves HTTPS with
 * Pebble. Both listeners hand requests to the same upstream, which a release switches.
 */
function endpoint(outputs: Record<string, unknown>, service: string, port = servicePorts[service]): { host: string; port: number } {
    return { host: String(outputs[`${service}PublicIp`]), port };
}

/** GET a path on a service's public address (its own port unless `port`): status and body, or the error. */
function get(
    outputs: Record<string, unknown>,
    service: string,
    path: string,
    port?: number,
): Promise<{ status: number; body: string } | { error: string }> {
    const { host, port: to } = endpoint(outputs, service, port);
    return new Promise((resolve) => {
        const request = http.get({ host, port: to, path, agent: false, timeout: 5000 }, (response) => {
            let body = "";
            response.on("data", (chunk) => (body += chunk));
            response.on("end", () => resolve({ status: response.statusCode ?? 0, body: body.trim() }));
        });
        request.on("timeout", () => request.destroy(new Error("timeout")));
        request.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    });
}

/** The steps that changed something, as "op name". */
function changes(run: RunResult): string[] {
    return run.steps.filter((step: Step) => step.op !== "same").map((step) => `${step.op} ${step.name}`);
}

const addressing = ["aws:ec2/instance:Instance", "aws:ec2/eip:Eip", "aws:ec2/eipAssociation:EipAssociation"];

describe("the program on the real Pulumi engine", function () {
    const rig = new Rig();
    const images: Record<string, string> = {};
    let hostImages: { proxyImage: string; awsCliImage: string };
    let outputs: Record<string, unknown> = {};

    /** A stack's config: the rig's images and deployer, the stand-in secrets, and `extra`. */
    function stackConfig(extra: Record<string, string> = {}) {
        const config: Record<string, { value: string; secret?: boolean }> = {
            "aws:region": { value: "eu-west-1" },
            "microservices:deployerArns[0]": { value: rig.cloud.deployerRoleArn },
            // The read-only drift role refreshes the stack, which reads the secrets.
            "microservices:secretReaderArns[0]": { value: `arn:aws:iam::${account}:role/microservices-drift` },
            "microservices:tasksImage": { value: images["tasks-1"] },
            "microservices:requestsImage": { value: images["requests-1"] },
            "microservices:proxyImage": { value: hostImages.proxyImage },
            "microservices:awsCliImage": { value: hostImages.awsCliImage },
            "microservices:healthTimeoutSeconds": { value: "10" },
            // Signature checks are proven in the release suite, with cosign against a registry on loopback; the rig's
            // registry speaks plain HTTP on the VPC, which cosign refuses.
            "microservices:imageSigner": { value: "none" },
            "microservices:mongodbUri": { value: "mongodb://tasks:sentinel-mongo-1@db.example:27017/tasks", secret: true },
            "microservices:postgresUrl": { value: "postgresql://requests:sentinel-pg@db.example:5432/requests", secret: true },
            "microservices:logseneToken": { value: "sentinel-logsene", secret: true },
            "microservices:papertrailDestination": { value: "logs.example.com:12345", secret: true },
        };
        for (const [key, value] of Object.entries(extra)) config[key] = { value };
        return config;
    }

    /** Runs `up` while both public addresses take a steady load; returns the run and each service's load report. */
    async function upUnderLoad(): Promise<RunResult & { failed: boolean; load: Record<string, LoadReport> }> {
        const loads = Object.fromEntries(
            ["tasks", "requests"].map((service) => {
                const { host, port } = endpoint(outputs, service);
                return [service, startLoad(port, { host, clients: 2, pauseMs: 20, maxMs: 600000 })];
            }),
        );
        const run = await rig.up();
        await rig.cloud.ssm.settle();
        const load: Record<string, LoadReport> = {};
        for (const [service, running] of Object.entries(loads)) load[service] = await running.stop();
        if (!run.failed) outputs = run.outputs;
        return { ...run, load };
    }

    before(async function () {
        this.timeout(300000);
        await rig.start();
        hostImages = rig.cloud.pushHostImages();
        for (const [name, service, version, mode] of [
            ["tasks-1", "tasks", "1", "healthy"],
            ["tasks-2", "tasks", "2", "healthy"],
            ["tasks-never", "tasks", "3", "never"],
            ["tasks-4", "tasks", "4", "healthy"],
            ["requests-1", "requests", "1", "healthy"],
        ]) {
            images[name] = rig.cloud.pushService(service, version, mode);
        }
    });

    after(async function () {
        this.timeout(300000);
        await rig.stop();
    });

    describe("a stack's life: create, release, fail, rotate, roll back, replace a host, destroy", () => {
        before(async () => {
            await rig.createStack(stack, stackConfig());
        });

        it("1. creates everything from an empty stack; both services answer on their public addresses", async () => {
            const run = await rig.up();
            expect(run.failed, run.output).to.equal(false);
            outputs = run.outputs;
            expect(await get(outputs, "tasks", "/version")).to.deep.equal({ status: 200, body: "tasks-1" });
            expect(await get(outputs, "requests", "/version")).to.deep.equal({ status: 200, body: "requests-1" });
            // The stack's URLs are HTTPS; plain HTTP on port 80 is redirected there.
            for (const service of ["tasks", "requests"]) {
                expect(outputs[`${service}Url`]).to.equal(`https://${outputs[`${service}PublicIp`]}`);
                expect(await get(outputs, service, "/version", 80)).to.deep.include({ status: 308 });
            }
            // requests reaches tasks on the tasks host's private address, over the VPC.
            expect(await get(outputs, "requests", "/cgi-bin/tasks")).to.deep.equal({ status: 200, body: "tasks-1" });
            console.log(`      up from empty: ${run.seconds.toFixed(1)} s`);
        });

        it("2. plans no step when nothing changed, before and after a refresh", async () => {
            await rig.preview({ expectNoChanges: true });
            const refresh = await rig.refresh();
            expect(Object.keys(refresh.changes), refresh.output).to.deep.equal(["same"]);
            await rig.preview({ expectNoChanges: true });
        });

        it("3. releases a new tasks digest without touching an instance, an address or anything of requests", async () => {
            await rig.setConfig("microservices:tasksImage", images["tasks-2"]);
            const run = await upUnderLoad();
            expect(run.failed, run.output).to.equal(false);
            expect(changes(run).sort()).to.deep.equal(
                [
                    "delete-replaced tasks-release",
                    "replace tasks-release",
                    "create-replacement tasks-release",
                    "create-replacement tasks-release-gate",
                    "replace tasks-release-gate",
                    "delete-replaced tasks-release-gate",
                ].sort(),
            );
            expect(run.steps.filter((step) => step.op !== "same" && addressing.includes(step.type))).to.deep.equal([]);
            for (const service of ["tasks", "requests"]) {
                expect(run.load[service].failed, `${service}: ${JSON.stringify(run.load[service].failures)}`).to.equal(0);
            }
            expect(run.load.tasks.last).to.equal("tasks-2");
            expect(await get(outputs, "requests", "/cgi-bin/tasks")).to.deep.equal({ status: 200, body: "tasks-2" });
        });

        it("4. fails an up whose image never gets healthy, with the host's reason, while the old release serves", async () => {
            await rig.setConfig("microservices:tasksImage", images["tasks-never"]);
            const failed = await upUnderLoad();
            expect(failed.failed).to.equal(true);
            const tasksHost = String(outputs.tasksInstanceId);
            expect(failed.output).to.match(
                new RegExp(`The tasks release [0-9a-f]{12} failed on ${tasksHost}: GET /health did not answer 200 within 10 s \\(last: HTTP 404\\)`),
            );
            expect(failed.output).to.include("The previous release keeps serving; nothing was switched.");
            expect(failed.load.tasks.failed, JSON.stringify(failed.load.tasks.failures)).to.equal(0);
            expect(Object.keys(failed.load.tasks.versions)).to.deep.equal(["tasks-2"]);
            expect(failed.steps.filter((step) => step.op !== "same" && addressing.includes(step.type))).to.deep.equal([]);

            await rig.setConfig("microservices:tasksImage", images["tasks-4"]);
            const fixed = await upUnderLoad();
            expect(fixed.failed, fixed.output).to.equal(false);
            expect(fixed.load.tasks.failed).to.equal(0);
            expect(fixed.load.tasks.last).to.equal("tasks-4");
        });

        it("5. releases a rotated secret: the container reads the new value", async () => {
            const rotated = "mongodb://tasks:sentinel-mongo-2@db.example:27017/tasks";
            await rig.setConfig("microservices:mongodbUri", rotated, true);
            const run = await upUnderLoad();
            expect(run.failed, run.output).to.equal(false);
            expect(changes(run).filter((change) => !change.includes("tasks-release"))).to.deep.equal(["update tasks-mongodb-uri"]);
            expect(run.load.tasks.failed).to.equal(0);
            const digest = createHash("sha256").update(rotated).digest("hex").slice(0, 16);
            const secrets = await get(outputs, "tasks", "/cgi-bin/secrets");
            expect(secrets).to.have.property("body").that.includes(`MONGODB_URI ${digest}`);
        });

        it("7. rolls back to the previous digest with no pull (and prints how long the host took)", async () => {
            await rig.setConfig("microservices:tasksImage", images["tasks-2"]);
            // With the registry stopped, a pull would fail the release.
            await rig.cloud.registry.stop();
            const run = await upUnderLoad().finally(() => rig.cloud.registry.start());
            expect(run.failed, run.output).to.equal(false);
            expect(run.load.tasks.failed).to.equal(0);
            expect(run.load.tasks.last).to.equal("tasks-2");
            const releaseId = String(outputs.tasksReleaseId);
            const records = rig.hostRecords("tasks").filter((record) => record.release === releaseId);
            const at = (status: string) => Date.parse(records.find((record) => record.status === status)!.at);
            const seconds = (at("succeeded") - at("started")) / 1000;
            // A figure, not a bound: it is mostly the AWS CLI's start, which depends on the machine's load.
            console.log(`      rollback: ${seconds} s from the host's start to its success`);
        });

        it("6. replaces a host: the new one serves before the address moves, and requests follows it", async () => {
            const oldTasksHost = outputs.tasksInstanceId;
            const oldRequestsHost = outputs.requestsInstanceId;
            await rig.setConfig("microservices:tasksInstanceType", "t3.small");

            // A replacement whose release fails keeps the address, and the old host keeps serving.
            await rig.setConfig("microservices:tasksImage", images["tasks-never"]);
            const failed = await upUnderLoad();
            expect(failed.failed).to.equal(true);
            expect(failed.output).to.include("The previous release keeps serving; nothing was switched.");
            expect(failed.load.tasks.failed, JSON.stringify(failed.load.tasks.failures)).to.equal(0);
            expect(Object.keys(failed.load.tasks.versions)).to.deep.equal(["tasks-2"]);
            expect(changes(failed)).to.include("create-replacement tasks-host");
            expect(changes(failed).filter((change) => /tasks-address|delete-replaced tasks-host|requests/.test(change))).to.deep.equal([]);
            expect((await rig.cloud.leftovers()).instances).to.include(String(oldTasksHost));

            await rig.setConfig("microservices:tasksImage", images["tasks-2"]);
            const run = await upUnderLoad();
            expect(run.failed, run.output).to.equal(false);
            expect(outputs.tasksInstanceId).not.to.equal(oldTasksHost);
            expect(outputs.requestsInstanceId).to.equal(oldRequestsHost);
            const gateDone = run.timeline.indexOf("done create-replacement tasks-release-gate");
            const addressMoves = run.timeline.indexOf("start create-replacement tasks-address");
            expect(gateDone, run.timeline.join("\n")).to.be.greaterThan(-1);
            expect(addressMoves, run.timeline.join("\n")).to.be.greaterThan(gateDone);
            // requests gets a release with the new TASKS_URL, and nothing of its host or address moves.
            expect(changes(run).filter((change) => change.includes("requests")).sort()).to.deep.equal(
                [
                    "create-replacement requests-release",
                    "create-replacement requests-release-gate",
                    "delete-replaced requests-release",
                    "delete-replaced requests-release-gate",
                    "replace requests-release",
                    "replace requests-release-gate",
                ].sort(),
            );
            expect(await get(outputs, "requests", "/cgi-bin/tasks")).to.deep.equal({ status: 200, body: "tasks-2" });
            console.log(
                `      host replacement: ${run.seconds.toFixed(1)} s; the address move cost tasks ${run.load.tasks.failed} failed ` +
                    `and ${run.load.tasks.retried} retried requests of ${run.load.tasks.ok + run.load.tasks.failed}`,
            );
            expect(run.load.tasks.failed, JSON.stringify(run.load.tasks.failures)).to.equal(0);
            expect(run.load.requests.failed).to.equal(0);
        });

        it("8. destroys everything: nothing is left in AWS or on the hosts", async () => {
            await rig.destroy();
            expect([...rig.cloud.hosts.keys()]).to.deep.equal([]);
            expect(await rig.cloud.leftovers()).to.deep.equal({});
        });

        it("needed nothing the deploy role's policy refuses, and its refresh and previews nothing the drift role's refuses", async () => {
            const keyPolicies = await rig.cloud.keyPolicies();
            const runs = rig.runs.filter((run) => run.stack === stack);
            const changing = runs.filter((run) => run.command !== "preview");
            expect(requestsOf(changing).length).to.be.greaterThan(100);
            const deployer = { arn: rig.cloud.deployerRoleArn, policies: [policyFile("deploy-policy")], keyPolicies };
            expect(refused(requestsOf(changing), deployer)).to.deep.equal([]);
            const reading = runs.filter((run) => run.command === "refresh" || run.command === "preview");
            const drift = { arn: `arn:aws:iam::${account}:role/microservices-drift`, policies: [policyFile("drift-policy")], keyPolicies };
            expect(refused(requestsOf(reading), drift)).to.deep.equal([]);
        });

        it("could not have been changed by the review role: every change these runs made is refused to it", async () => {
            const changes = callsOf(rig.runs.filter((run) => run.stack === stack && run.command !== "preview")).filter(
                (call) => !/^[a-z0-9]+:(Describe|Get|List)/.test(call[0].call),
            );
            expect(changes.length).to.be.greaterThan(50);
            const review = {
                arn: `arn:aws:iam::${account}:role/microservices-review`,
                policies: [policyFile("review-policy")],
                boundary: policyFile("review-boundary"),
                keyPolicies: await rig.cloud.keyPolicies(),
            };
            const allowed = changes.filter((call) => refused(call, review).length === 0);
            expect(allowed.map((call) => `${call[0].call} on ${call.flatMap((request) => request.resources).join(", ")}`)).to.deep.equal([]);
        });
    });

    describe("what real AWS would do that mocks cannot show", () => {
        it("gives hosts in a subnet of the user's own a public address, so they reach Systems Manager (issue 16, finding 4)", async () => {
            // A subnet of a VPC of the user's: AWS maps no public address at launch in it.
            const network = await rig.cloud.createNetwork("172.31.64.0/20");
            await rig.createStack("pr-41", stackConfig({ "microservices:vpcId": network.vpcId, "microservices:subnetId": network.subnetId }));
            const up = await rig.up();
            expect(up.failed, up.output).to.equal(false);
            expect(await get(up.outputs, "tasks", "/version")).to.deep.equal({ status: 200, body: "tasks-1" });
            await rig.destroy();
        });

        it("fails at once, naming the agent, on a host whose SSM agent cannot pass parameters as variables (finding 7)", async () => {
            rig.cloud.agentVersion = "3.3.2299.0";
            try {
                await rig.createStack("pr-42", stackConfig());
                const up = await rig.up();
                expect(up.failed).to.equal(true);
                expect(up.output).to.match(
                    /i-[0-9a-f]+ runs SSM Agent 3\.3\.2299\.0; releases need 3\.3\.2746\.0 or later, which passes the release's parameters as environment variables/,
                );
                expect(up.seconds).to.be.below(120);
            } finally {
                rig.cloud.agentVersion = currentAgentVersion;
                await rig.destroy();
            }
        });

        it("confines a review stack to what the review role and its boundary allow", async () => {
            const runs = rig.runs.filter((run) => run.stack.startsWith("pr-"));
            expect(requestsOf(runs).length).to.be.greaterThan(100);
            const review = {
                arn: rig.cloud.deployerRoleArn,
                policies: [policyFile("review-policy")],
                boundary: policyFile("review-boundary"),
                keyPolicies: await rig.cloud.keyPolicies(),
            };
            expect(refused(requestsOf(runs), review)).to.deep.equal([]);
        });

        it("previews a stack from an empty state with nothing but what the preview role allows", async () => {
            await rig.createStack("preview", stackConfig());
            const preview = await rig.preview();
            expect(preview.changes.create).to.be.greaterThan(30);
            const runs = rig.runs.filter((run) => run.stack === "preview");
            expect(refused(requestsOf(runs), { arn: `arn:aws:iam::${account}:role/microservices-preview`, policies: [policyFile("preview-policy")] })).to.deep.equal([]);
        });
    });
});
