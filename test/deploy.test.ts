import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { project, root, sentinelSecrets } from "./mocks";
import { ProjectCopy } from "./projectCopy";
import { run } from "./tools";

// The deploy scripts' checks that need no Pulumi CLI; test/cli/ drives them through the real one.
describe("scripts/deploy.sh", () => {
    it("stops with a clear message when the Pulumi CLI is missing", () => {
        // A PATH with only what the script needs before its first check, and no pulumi.
        const bin = fs.mkdtempSync(path.join(os.tmpdir(), "bin-"));
        for (const command of ["bash", "dirname"]) fs.symlinkSync(`/usr/bin/${command}`, path.join(bin, command));
        const result = run("/usr/bin/bash", [path.join(root, "scripts", "deploy.sh"), "dev"], { PATH: bin, HOME: bin });
        expect(result.status).to.equal(1);
        expect(result.stderr).to.equal("deploy: the Pulumi CLI is not installed: https://www.pulumi.com/docs/install/\n");
    });
});

describe("scripts/stack-secrets.sh --check", () => {
    let copy: ProjectCopy;
    beforeEach(() => {
        copy = new ProjectCopy({ cli: false });
    });
    afterEach(() => copy.remove());
    const check = (stack: string) => copy.run("scripts/stack-secrets.sh", ["--check", stack]);

    for (const stack of ["dev", "prod"]) {
        it(`finds no secret in plain text in the committed Pulumi.${stack}.yaml`, () => {
            const result = check(stack);
            expect([result.status, result.stdout, result.stderr]).to.deep.equal([0, "", ""]);
        });
    }

    it("accepts encrypted secrets", () => {
        copy.editStackConfig("dev", { [`${project}:mongodbUri`]: { secure: "v1:bm9uY2U=:Y2lwaGVy" } });
        expect(check("dev").status).to.equal(0);
    });

    it("names each secret in plain text, with or without the project's namespace, and never its value", () => {
        copy.editStackConfig("dev", {
            [`${project}:logseneToken`]: sentinelSecrets.logseneToken,
            dockerHubToken: sentinelSecrets.dockerHubToken,
            [`${project}:dockerHubUsername`]: "octocat",
        });
        const result = check("dev");
        expect(result.stderr).to.equal(
            "Pulumi.dev.yaml holds secrets in plain text: dockerHubToken, logseneToken.\n" +
                "Encrypt each one; the command asks for the value and replaces the plain one:\n" +
                "  pulumi config set --secret --stack dev dockerHubToken\n" +
                "  pulumi config set --secret --stack dev logseneToken\n" +
                "If the file was ever committed or shared, change those secrets too: git history keeps the plain values.\n",
        );
        expect(result.status).to.equal(1);
    });

    it("says where a stack file is not YAML, without quoting the line, which may hold a secret", () => {
        const committed = copy.stackFileText("dev");
        const line = committed.split("\n").length;
        copy.writeStackFile("dev", `${committed}encryptionsalt: v1:x\n  mongodbUri: ${sentinelSecrets.mongodbUri}\n`);
        const result = check("dev");
        expect(result.stderr).to.equal(
            `Pulumi.dev.yaml is not valid YAML: Nested mappings are not allowed in compact mappings at line ${line}, column 17.\n`,
        );
        expect(result.status).to.equal(1);
    });
});
