import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { gzipSync } from "zlib";
import { userDataSecretViolations } from "../rules/userDataSecrets";
import { analyze } from "./analyze";

/** A snapshot of the program's rendered user data (requests host); test/policy.test.ts checks the live one. */
const realUserData = fs.readFileSync(path.join(__dirname, "fixtures", "user-data.yaml"), "utf8");

const fix =
    "user data is stored and shown in clear text, so keep the secret in an SSM SecureString parameter and fetch it at boot.";
const kinds = {
    uri: "a URI with credentials (scheme://user:password@host)",
    dockerHub: "a Docker Hub access token (dckr_pat_…)",
    awsKey: "an AWS access key id (AKIA…)",
    privateKey: "a private key block (-----BEGIN … PRIVATE KEY-----)",
    assignment: "a password, token or secret assigned a value (password=…, token: …)",
};
const violation = (kind: string, where: string) => `userData holds what looks like ${kind} on ${where}: ${fix}`;

function check(text: string): string[] {
    return userDataSecretViolations([{ property: "userData", text }]);
}

describe("policy no-secrets-in-user-data", () => {
    describe("passes what the program's user data carries", () => {
        const cases: { title: string; text: string }[] = [
            { title: "the rendered cloud-config of a host", text: realUserData },
            { title: "a plain URL with a port", text: "TASKS_URL=http://10.0.1.5:8080\nLOG_LEVEL=debug\n" },
            {
                title: "names of secrets, not values",
                text: 'Environment="REQUIRED_PARAMETERS=LOGSENE_TOKEN MONGODB_URI"\n',
            },
            { title: "an SSM path", text: 'Environment="PARAMETER_PATH=/microservices/dev/tasks"\n' },
            { title: "a secrets file path", text: 'Environment="SECRETS_FILE=/run/tasks/secrets.env"\n' },
            {
                title: "a shell variable or command",
                text: 'token=$(curl -s -X PUT "$url")\nPASSWORD="${DB_PASSWORD}"\n',
            },
            {
                title: "a URI whose password is a variable",
                text: "DATABASE_URL=postgres://app:${DB_PASSWORD}@db/app\n",
            },
            { title: "an empty assignment", text: 'password=\ntoken: ""\n' },
            { title: "an image pinned by digest", text: `IMAGE=docker.io/octocat/tasks@sha256:${"ab".repeat(32)}\n` },
        ];
        for (const { title, text } of cases) it(title, () => expect(check(text)).to.deep.equal([]));
    });

    describe("fails secret-looking values", () => {
        const cases: { title: string; text: string; violations: string[] }[] = [
            {
                title: "a MongoDB URI with credentials",
                text: "LOG_LEVEL=info\nMONGODB_URI=mongodb+srv://tasks:s3cret@cluster0.example.net/tasks\n",
                violations: [violation(kinds.uri, "line 2")],
            },
            {
                title: "a Docker Hub token, even without a telling name",
                text: "echo dckr_pat_AbCdEf123456789 | docker login -u octocat --password-stdin\n",
                violations: [violation(kinds.dockerHub, "line 1")],
            },
            {
                title: "an AWS access key id",
                text: "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n",
                violations: [violation(kinds.awsKey, "line 1")],
            },
            {
                title: "a private key block",
                text: "write_files:\n  - content: |\n      -----BEGIN OPENSSH PRIVATE KEY-----\n      b3Blbn\n",
                violations: [violation(kinds.privateKey, "line 3")],
            },
            {
                title: "password= and token: assignments, on every line they occur",
                text: 'Environment="DB_PASSWORD=hunter2"\nname: app\nlogsene_token: 5e6f-7890\n',
                violations: [violation(kinds.assignment, "lines 1, 3")],
            },
            {
                title: "a secret in a URL's query string",
                text: "curl https://logs.example.com/bulk?token=5e6f7890\n",
                violations: [violation(kinds.assignment, "line 1")],
            },
        ];
        for (const { title, text, violations } of cases) it(title, () => expect(check(text)).to.deep.equal(violations));
    });

    it("reads userDataBase64, gzipped or not, and launch templates' base64 user data", async () => {
        const secret = "MONGODB_URI=mongodb://tasks:s3cret@db/tasks\n";
        const base64 = Buffer.from(secret).toString("base64");
        const gzipped = gzipSync(Buffer.from(secret)).toString("base64");
        const messages = async (type: string, inputs: Record<string, unknown>) =>
            (await analyze({ type, name: "x", inputs }))
                .filter((v) => v.policy === "no-secrets-in-user-data")
                .map((v) => v.message);
        expect(await messages("aws:ec2/instance:Instance", { userDataBase64: base64 })).to.deep.equal([
            `userDataBase64 holds what looks like ${kinds.uri} on line 1: ${fix}`,
        ]);
        expect(await messages("aws:ec2/instance:Instance", { userDataBase64: gzipped })).to.have.length(1);
        expect(await messages("aws:ec2/launchTemplate:LaunchTemplate", { userData: base64 })).to.deep.equal([
            violation(kinds.uri, "line 1"),
        ]);
    });
});
