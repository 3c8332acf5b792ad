// The two awaited steps of a release, run the way Pulumi runs a dynamic provider: deserialized from the text the
// program registered, then called against an SSM endpoint. moto serves the parameters; the two calls moto lacks
// (DescribeInstanceInformation, StartAssociationsOnce) are answered by a small front that forwards the rest to moto.
import { expect } from "chai";
import * as http from "http";
import { AddressInfo } from "net";
import { minimalConfig, named, runProgram } from "./mocks";
import { Moto, startMotoServer } from "./tools";

const requireFromString: (code: string) => { handler(): DynamicProvider } = require("require-from-string");

interface DynamicProvider {
    create(inputs: Record<string, unknown>): Promise<{ id: string; outs: Record<string, unknown> }>;
    diff(id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<{ replaces: string[] }>;
}

/** The SSM front: what the fake cloud says about managed nodes, and the associations it was asked to run again. */
class SsmFront {
    pingStatuses: string[] = [];
    agentVersion = "3.3.3050.0";
    /** Association names and ids, as ListAssociations finds them. */
    associations: Record<string, string> = {};
    startedAssociations: string[][] = [];
    onStartAssociation: () => void = () => undefined;
    endpoint = "";
    private server?: http.Server;

    constructor(private readonly moto: string) {}

    async start(): Promise<void> {
        this.server = http.createServer((request, response) => {
            const chunks: Buffer[] = [];
            request.on("data", (chunk) => chunks.push(chunk));
            request.on("end", () => {
                const body = Buffer.concat(chunks);
                const action = String(request.headers["x-amz-target"] ?? "").replace("AmazonSSM.", "");
                const answer = (payload: unknown) => {
                    response.writeHead(200, { "Content-Type": "application/x-amz-json-1.1" });
                    response.end(JSON.stringify(payload));
                };
                if (action === "DescribeInstanceInformation") {
                    const ids: string[] = JSON.parse(body.toString()).Filters[0].Values;
                    const status = this.pingStatuses.length > 1 ? this.pingStatuses.shift()! : this.pingStatuses[0];
                    return answer({
                        InstanceInformationList: status
                            ? ids.map((id) => ({ InstanceId: id, PingStatus: status, AgentVersion: this.agentVersion }))
                            : [],
                    });
                }
                if (action === "ListAssociations") {
                    const name: string = JSON.parse(body.toString()).AssociationFilterList[0].value;
                    const id = this.associations[name];
                    return answer({ Associations: id ? [{ AssociationId: id, AssociationName: name }] : [] });
                }
                if (action === "StartAssociationsOnce") {
                    this.startedAssociations.push(JSON.parse(body.toString()).AssociationIds);
                    this.onStartAssociation();
                    return answer({});
                }
                const upstream = http.request(this.moto, { method: request.method, path: request.url, headers: request.headers }, (reply) => {
                    response.writeHead(reply.statusCode ?? 500, reply.headers);
                    reply.pipe(response);
                });
                upstream.end(body);
            });
        });
        await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
        this.endpoint = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
    }

    stop(): void {
        this.server?.close();
    }
}

describe("release waiters, deserialized and run against SSM", function () {
    this.timeout(60000);
    let moto: Moto;
    let front: SsmFront;
    let managedNode: { provider: DynamicProvider; inputs: Record<string, unknown> };
    let gate: { provider: DynamicProvider; inputs: Record<string, unknown> };
    const savedEnv = { ...process.env };

    const writeRecord = (value: string) =>
        moto.aws("ssm", "put-parameter", "--name", "/microservices/dev/tasks/releases/tasks-host-id", "--type", "String", "--overwrite", "--value", value);

    before(async () => {
        moto = await startMotoServer();
        front = new SsmFront(moto.endpoint);
        await front.start();
        Object.assign(process.env, {
            AWS_ENDPOINT_URL: front.endpoint,
            AWS_ACCESS_KEY_ID: "testing",
            AWS_SECRET_ACCESS_KEY: "testing",
        });
        const program = await runProgram(minimalConfig);
        // Short timeouts everywhere: a wait that does not end as a test expects fails with its own message, quickly,
        // never by mocha's timeout.
        const deserialized = (name: string) => {
            const { __provider, ...inputs } = named(program.resources, name).inputs;
            const timeouts = name.endsWith("gate") ? { startTimeoutSeconds: 5, timeoutSeconds: 5 } : { timeoutSeconds: 5 };
            return { provider: requireFromString(__provider as string).handler(), inputs: { ...inputs, ...timeouts, pollSeconds: 0.1 } };
        };
        managedNode = deserialized("tasks-managed-node");
        gate = deserialized("tasks-release-gate");
        front.associations[gate.inputs.associationName as string] = "tasks-release-association-id";
    });

    after(() => {
        process.env = savedEnv;
        front?.stop();
        moto?.stop();
    });

    it("waits until the host is an online managed node", async () => {
        front.pingStatuses = ["", "ConnectionLost", "Online"];
        const created = await managedNode.provider.create(managedNode.inputs);
        expect(created.id).to.equal("tasks-host-id");
        expect(front.pingStatuses).to.deep.equal(["Online"]);
    });

    it("fails, saying where to look, when the host never comes online", async () => {
        front.pingStatuses = ["ConnectionLost"];
        let message = "";
        await managedNode.provider.create({ ...managedNode.inputs, timeoutSeconds: 1 }).catch((error) => (message = error.message));
        expect(message).to.equal(
            "tasks-host-id did not come online in Systems Manager within 1 s. Check the instance's system log " +
                "(aws ec2 get-console-output), that it has a public address or a route to the SSM endpoints, and that " +
                "its role allows ssm:UpdateInstanceInformation.",
        );
    });

    it("fails at once on a host whose SSM agent cannot pass the release's parameters as variables", async () => {
        front.pingStatuses = ["Online"];
        front.agentVersion = "3.3.2299.0";
        let message = "";
        const started = Date.now();
        await managedNode.provider.create(managedNode.inputs).catch((error) => (message = error.message));
        front.agentVersion = "3.3.3050.0";
        expect(message).to.equal(
            "tasks-host-id runs SSM Agent 3.3.2299.0; releases need 3.3.2746.0 or later, which passes the release's " +
                "parameters as environment variables. Update the agent (the AWS-UpdateSSMAgent document) or move the " +
                "host to a current AMI (hostAmi).",
        );
        expect(Date.now() - started).to.be.below(2000);
        front.agentVersion = "3.3.2746.0";
        await managedNode.provider.create(managedNode.inputs);
        front.agentVersion = "3.3.3050.0";
    });

    it("passes once the host records this release as succeeded, and not before", async () => {
        writeRecord("release=000000000000\nstatus=succeeded\nat=2026-11-29T10:00:00Z");
        setTimeout(() => writeRecord(`release=${gate.inputs.releaseId}\nstatus=succeeded\nat=2026-11-29T10:05:00Z`), 1000);
        const started = Date.now();
        const created = await gate.provider.create(gate.inputs);
        expect(Date.now() - started).to.be.at.least(900);
        expect(created.outs.at).to.equal("2026-11-29T10:05:00Z");
        expect(created.id).to.equal(`tasks-release-${gate.inputs.releaseId}`);
    });

    it("fails with the host's reason and the new container's last log lines", async () => {
        writeRecord("release=000000000000\nstatus=succeeded\nat=2026-11-29T10:00:00Z");
        setTimeout(
            () =>
                writeRecord(
                    `release=${gate.inputs.releaseId}\nstatus=failed\nat=2026-11-29T10:06:00Z\n` +
                        "reason=GET /health did not answer 200 within 120 s (last: HTTP 503)\nlogs:\n" +
                        "MONGODB_URI_FILE: cannot read /run/secrets/MONGODB_URI\nexited",
                ),
            300,
        );
        let message = "";
        await gate.provider.create(gate.inputs).catch((error) => (message = error.message));
        expect(message).to.equal(
            [
                `The tasks release ${gate.inputs.releaseId} failed on tasks-host-id: GET /health did not answer 200 within 120 s (last: HTTP 503).`,
                "The previous release keeps serving; nothing was switched.",
                "Last log lines of the new container:",
                "    MONGODB_URI_FILE: cannot read /run/secrets/MONGODB_URI",
                "    exited",
                "See the release's state: scripts/release-status.sh dev tasks",
            ].join("\n"),
        );
    });

    it("runs the association once more when retried after a failure of the same release", async () => {
        writeRecord(`release=${gate.inputs.releaseId}\nstatus=failed\nat=2026-11-29T10:06:00Z\nreason=pull failed`);
        front.startedAssociations = [];
        front.onStartAssociation = () =>
            setTimeout(() => writeRecord(`release=${gate.inputs.releaseId}\nstatus=succeeded\nat=2026-11-29T10:09:00Z`), 300);
        const created = await gate.provider.create(gate.inputs);
        expect(front.startedAssociations).to.deep.equal([["tasks-release-association-id"]]);
        expect(created.outs.at).to.equal("2026-11-29T10:09:00Z");
    });

    it("fails when the host never starts the release, naming the association", async () => {
        writeRecord("release=none\nstatus=pending");
        let message = "";
        await gate.provider.create({ ...gate.inputs, startTimeoutSeconds: 1 }).catch((error) => (message = error.message));
        expect(message).to.equal(
            `The tasks release ${gate.inputs.releaseId} did not start within 1 s (association ` +
                `tasks-release-${gate.inputs.releaseId}): the host did not run it. See the release's state: ` +
                "scripts/release-status.sh dev tasks",
        );
    });

    it("gives a started release its own timeout, apart from the host's start", async () => {
        writeRecord(`release=${gate.inputs.releaseId}\nstatus=started\nat=2026-11-29T10:10:00Z`);
        let message = "";
        await gate.provider
            .create({ ...gate.inputs, startTimeoutSeconds: 600, timeoutSeconds: 1 })
            .catch((error) => (message = error.message));
        expect(message).to.equal(
            `The tasks release ${gate.inputs.releaseId} started but recorded no outcome within 1 s (association ` +
                `tasks-release-${gate.inputs.releaseId}). See the release's state: scripts/release-status.sh dev tasks`,
        );
    });

    it("replaces (so waits again) on any change of its inputs, and changes nothing otherwise", async () => {
        // The engine diffs the old state, which holds the gate's output `at`, against new inputs, which never do.
        const state = { ...gate.inputs, at: "2026-11-29T10:05:00Z" };
        expect(await gate.provider.diff("x", state, gate.inputs)).to.deep.include({ changes: false, replaces: [] });
        const changed = { ...gate.inputs, releaseId: "ffffffffffff", associationName: "other" };
        expect((await gate.provider.diff("x", state, changed)).replaces.sort()).to.deep.equal(["associationName", "releaseId"]);
    });

    it("removes the host's release record when the host goes, and does not mind one already gone", async () => {
        writeRecord("release=none\nstatus=pending");
        const provider = managedNode.provider as DynamicProvider & { delete(id: string, olds: Record<string, unknown>): Promise<void> };
        await provider.delete("tasks-host-id", managedNode.inputs);
        expect(() => moto.aws("ssm", "get-parameter", "--name", "/microservices/dev/tasks/releases/tasks-host-id")).to.throw(
            "ParameterNotFound",
        );
        await provider.delete("tasks-host-id", managedNode.inputs);
    });

    it("waits again only for another host, not for a new timeout", async () => {
        const diff = (news: Record<string, unknown>) => managedNode.provider.diff("x", managedNode.inputs, news);
        expect(await diff({ ...managedNode.inputs, timeoutSeconds: 60 })).to.deep.include({ changes: true, replaces: [] });
        expect((await diff({ ...managedNode.inputs, instanceIds: ["i-0ther"] })).replaces).to.deep.equal(["instanceIds"]);
    });
});
