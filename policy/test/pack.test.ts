// The pack as the Pulumi CLI runs it: started through @pulumi/pulumi's run-policy-pack (which compiles index.ts with
// ts-node, type checks included), asked over gRPC what it holds, and fed resources in the engine's wire form. This
// also checks the in-process harness (./analyze) against the real @pulumi/policy server.
import { expect } from "chai";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as grpc from "@grpc/grpc-js";
import * as pulumi from "@pulumi/pulumi";
import { AnalyzerClient } from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import {
    AnalyzeRequest,
    AnalyzerResourceOptions,
    AnalyzerInfo,
    EnforcementLevel,
} from "@pulumi/pulumi/proto/analyzer_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { policies } from "../policies";
import { analyze, AnalyzedResource } from "./analyze";

const packDir = path.join(__dirname, "..");
const packName = "microservices-guardrails";

/** Starts the pack the way the nodejs language host does, and resolves with the port it prints. */
function startPack(): Promise<{ child: ChildProcess; port: number }> {
    const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [packDir] });
    // The first argument is the engine's address, which the runner drops; the pack serves without it.
    const child = spawn(process.execPath, [runner, "127.0.0.1:0", "."], { cwd: packDir });
    return new Promise((resolve, reject) => {
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => {
            stdout += chunk;
            const port = /^(\d+)$/m.exec(stdout);
            if (port) resolve({ child, port: Number(port[1]) });
        });
        child.stderr.on("data", (chunk) => (stderr += chunk));
        child.on("exit", (code) =>
            reject(new Error(`the pack exited with ${code} before serving:\n${stdout}${stderr}`)),
        );
    });
}

function analyzerInfo(client: AnalyzerClient): Promise<AnalyzerInfo> {
    return new Promise((resolve, reject) =>
        client.getAnalyzerInfo(new Empty(), (error, info) => (error ? reject(error) : resolve(info))),
    );
}

/** The server's violations for one resource, as policy name and message. */
function analyzeOverGrpc(
    client: AnalyzerClient,
    resource: AnalyzedResource,
): Promise<{ policy: string; message: string }[]> {
    const request = new AnalyzeRequest()
        .setType(resource.type)
        .setName(resource.name)
        .setUrn(`urn:pulumi:test::microservices::${resource.type}::${resource.name}`)
        .setProperties(Struct.fromJavaScript(resource.inputs as Parameters<typeof Struct.fromJavaScript>[0]))
        .setOptions(new AnalyzerResourceOptions());
    return new Promise((resolve, reject) =>
        client.analyze(request, (error, response) => {
            if (error) return reject(error);
            resolve(response.getDiagnosticsList().map((d) => ({ policy: d.getPolicyname(), message: d.getMessage() })));
        }),
    );
}

const secret = (value: unknown) => ({ [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value });

/** Resources that break rules, some through secret-wrapped inputs, as the engine sends them. */
const samples: AnalyzedResource[] = [
    {
        type: "aws:ec2/instance:Instance",
        name: "web",
        inputs: {
            metadataOptions: { httpTokens: "optional" },
            rootBlockDevice: { encrypted: true },
            userData: secret("#!/bin/sh\nDB_PASSWORD=hunter2\ndocker run -d nginx:1.27\n"),
            tags: { project: "microservices", stack: "dev" },
        },
    },
    {
        type: "aws:ssm/parameter:Parameter",
        name: "settings",
        inputs: { name: "/app/dev/settings", type: "String", value: secret("mongodb://app:s3cret@db/app"), tags: {} },
    },
    {
        type: "aws:ec2/securityGroup:SecurityGroup",
        name: "open",
        inputs: { ingress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }] },
    },
];

describe("the pack as the Pulumi CLI runs it", function () {
    this.timeout(120000);
    let child: ChildProcess | undefined;
    let client: AnalyzerClient;

    before(async () => {
        const started = await startPack();
        child = started.child;
        client = new AnalyzerClient(`127.0.0.1:${started.port}`, grpc.credentials.createInsecure());
    });
    after(() => {
        client?.close();
        child?.kill();
    });

    it("is a nodejs pack with a version, as the CLI requires", () => {
        expect(fs.readFileSync(path.join(packDir, "PulumiPolicy.yaml"), "utf8")).to.match(/^runtime: nodejs$/m);
        expect(JSON.parse(fs.readFileSync(path.join(packDir, "package.json"), "utf8")).version).to.match(
            /^\d+\.\d+\.\d+$/,
        );
    });

    it("serves every policy, each mandatory and described", async () => {
        const info = await analyzerInfo(client);
        expect(info.getName()).to.equal(packName);
        const served = info.getPoliciesList().map((policy) => ({
            name: policy.getName(),
            mandatory: policy.getEnforcementlevel() === EnforcementLevel.MANDATORY,
            described: policy.getDescription().length > 0,
        }));
        expect(served).to.deep.equal(policies.map(({ name }) => ({ name, mandatory: true, described: true })));
        expect(new Set(policies.map(({ name }) => name)).size).to.equal(policies.length);
    });

    for (const resource of samples) {
        it(`reports on ${resource.name} (${resource.type}) exactly what the in-process harness reports`, async () => {
            const descriptions = new Map(policies.map((policy) => [policy.name, policy.description]));
            // The server prefixes each message with its policy's description.
            const expected = (await analyze(resource)).map(({ policy, message }) => ({
                policy,
                message: `${descriptions.get(policy)}\n${message}`,
            }));
            expect(expected).not.to.be.empty;
            expect(await analyzeOverGrpc(client, resource)).to.deep.equal(expected);
        });
    }
});
