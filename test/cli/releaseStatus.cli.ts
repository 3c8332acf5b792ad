// scripts/release-status.sh with the real Pulumi CLI (a stack imported with the outputs a deploy leaves) and the real
// AWS CLI against moto's SSM: it prints the host's record of its last release and asks the host for its live state.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { project, sentinelSecrets } from "../mocks";
import { ProjectCopy } from "../projectCopy";
import { Moto, startMotoServer } from "../tools";

const instance = "i-0123456789abcdef0";
const failedRecord =
    "release=1a2b3c4d5e6f\nstatus=failed\nimage=docker.io/octocat/tasks@sha256:" + "a".repeat(64) +
    "\nat=2026-11-29T10:00:00Z\nreason=GET /health did not answer 200 within 120 s (last: HTTP 503)\nlogs:\nMONGODB_URI_FILE: cannot read";

describe("scripts/release-status.sh with the real Pulumi and AWS CLIs", () => {
    let moto: Moto;
    let copy: ProjectCopy;

    before(async () => {
        moto = await startMotoServer();
        copy = new ProjectCopy();
        copy.addTool("aws");
        copy.initStack("dev");
        const secrets = Object.entries(sentinelSecrets).map(([key, value]) => `--secret=${key}=${value}`);
        expect(copy.pulumi(["config", "set-all", "--stack", "dev", ...secrets]).status).to.equal(0);
        // The outputs a deploy leaves, imported into the stack's state.
        const exported = JSON.parse(copy.pulumi(["stack", "export", "--stack", "dev"]).stdout);
        exported.deployment.resources = [
            {
                urn: `urn:pulumi:dev::${project}::pulumi:pulumi:Stack::${project}-dev`,
                custom: false,
                type: "pulumi:pulumi:Stack",
                outputs: { tasksInstanceId: instance },
            },
        ];
        const file = path.join(copy.dir, "state.json");
        fs.writeFileSync(file, JSON.stringify(exported));
        expect(copy.pulumi(["stack", "import", "--stack", "dev", "--file", file]).status).to.equal(0);
        moto.aws("ssm", "put-parameter", "--name", `/${project}/dev/tasks/releases/${instance}`, "--type", "String", "--value", failedRecord);
    });
    after(() => {
        copy?.remove();
        moto?.stop();
    });

    const status = (...args: string[]) =>
        copy.run("scripts/release-status.sh", args, { ...moto.env, AWS_DEFAULT_REGION: undefined, PULUMI_BACKEND_URL: copy.backend });

    it("prints the host's record of its last release, then asks the host for its live state through SSM", () => {
        const result = status("dev", "tasks");
        expect(result.status, result.stderr).to.equal(0);
        expect(result.stdout).to.include(`== tasks on ${instance} (dev, eu-west-1)\n`);
        expect(result.stdout).to.include(
            `-- last release, as the host recorded it (/${project}/dev/tasks/releases/${instance}):\n${failedRecord}\n`,
        );
        expect(result.stdout).to.include(`-- a shell on the host: aws ssm start-session --region eu-west-1 --target ${instance}\n`);
        const commands = JSON.parse(moto.aws("ssm", "list-commands")).Commands;
        expect(commands.map((command: { InstanceIds: string[]; DocumentName: string; Parameters: unknown }) => [
            command.InstanceIds,
            command.DocumentName,
            command.Parameters,
        ])).to.deep.equal([[[instance], "AWS-RunShellScript", { commands: ["/usr/local/bin/release-service status"] }]]);
    });

    it("says when the stack has no such service's host, and what a service name must look like", () => {
        const missing = status("dev", "billing");
        expect(missing.status).to.equal(1);
        expect(missing.stderr).to.equal("release-status: stack dev has no output billingInstanceId: has it been deployed?\n");
        const bad = status("dev", "Tasks;rm");
        expect(bad.status).to.equal(2);
        expect(bad.stderr).to.equal("usage: scripts/release-status.sh STACK SERVICE   (SERVICE: tasks or requests)\n");
    });
});
