// scripts/deploy.sh and scripts/stack-secrets.sh driven through the real Pulumi CLI (built by scripts/install.sh),
// on a file backend, as far as the CLI goes here: it stops at the nodejs language host, which is not installed.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { project, sentinelSecrets } from "../mocks";
import { languageHostMissing, passphrase, ProjectCopy, secretsEnvironment } from "../projectCopy";
import { answerTerminal } from "./terminal";

const digests = {
    [`${project}:tasksImage`]: `docker.io/octocat/tasks@sha256:${"1".repeat(64)}`,
    [`${project}:requestsImage`]: `docker.io/octocat/requests@sha256:${"2".repeat(64)}`,
};
const secretKeys = Object.keys(sentinelSecrets);

function expectNoSecretIn(...texts: string[]): void {
    for (const text of texts) {
        for (const value of Object.values(secretsEnvironment).filter((v) => v.includes("SENTINEL"))) {
            expect(text).not.to.include(value);
        }
    }
}

describe("scripts/deploy.sh with the real Pulumi CLI", () => {
    let copies: ProjectCopy[] = [];
    const freshCopy = () => {
        const created = new ProjectCopy();
        copies.push(created);
        return created;
    };
    afterEach(() => {
        copies.forEach((c) => c.remove());
        copies = [];
    });

    describe("a first deploy of dev, secrets from the environment", () => {
        let deployed: ProjectCopy;
        let result: ReturnType<ProjectCopy["deploy"]>;
        let docker: { calls(): string[] };
        let committed: string;
        before(() => {
            deployed = new ProjectCopy();
            docker = deployed.addDocker();
            committed = deployed.stackFileText("dev");
            result = deployed.deploy("dev", secretsEnvironment, "--yes");
        });
        after(() => deployed.remove());

        it("runs through login, the new stack and its secrets, and stops exactly at the missing language host", () => {
            expect(result.stderr).to.equal(`Created stack 'dev'\n${languageHostMissing}`);
            expect(result.stdout).to.equal(
                `deploy: stack dev, state in file://${deployed.dir}/.pulumi-state\nPreviewing update (dev):\n`,
            );
            expect(result.status).to.equal(1);
        });

        it("keeps the state in a local file backend by default, with no Pulumi account", () => {
            expect(deployed.exists(`.pulumi-state/.pulumi/stacks/${project}/dev.json`)).to.equal(true);
            expect(fs.readdirSync(deployed.home)).to.deep.equal([]);
        });

        it("asks Docker, since this stack builds its images", () => {
            expect(docker.calls()).to.deep.equal(["info"]);
        });

        it("writes each secret encrypted into the stack file, beside the committed settings, with the salt", () => {
            const written = deployed.stackFile("dev");
            const committedConfig: Record<string, unknown> = YAML.parse(committed).config;
            const added = Object.fromEntries(Object.entries(written.config).filter(([key]) => !(key in committedConfig)));
            expect(written.config).to.deep.include(committedConfig);
            expect(Object.keys(added).sort()).to.deep.equal(
                [...secretKeys, "dockerHubUsername"].map((key) => `${project}:${key}`).sort(),
            );
            expect(added[`${project}:dockerHubUsername`]).to.equal("octocat");
            for (const key of secretKeys) {
                expect(added[`${project}:${key}`], key).to.have.all.keys("secure");
                expect((added[`${project}:${key}`] as { secure: string }).secure).to.match(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
            }
            expect(written.encryptionsalt).to.match(/^v1:[A-Za-z0-9+/=]+:v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
            // The header comment of the committed file survives the CLI's rewrite.
            const header = committed.slice(0, committed.indexOf("config:"));
            expect(deployed.stackFileText("dev").startsWith(`${header}config:`)).to.equal(true);
            expectNoSecretIn(deployed.stackFileText("dev"), result.stdout, result.stderr);
        });

        it("encrypts the values it was given, which the CLI decrypts back with the passphrase", () => {
            const read = deployed.run("pulumi", ["config", "--stack", "dev", "--json", "--show-secrets"], {
                PULUMI_BACKEND_URL: `file://${deployed.dir}/.pulumi-state`,
            });
            const values = JSON.parse(read.stdout) as Record<string, { value: string; secret: boolean }>;
            for (const [key, value] of Object.entries(sentinelSecrets)) {
                expect(values[`${project}:${key}`], key).to.deep.equal({ value, secret: true });
            }
            expect(values[`${project}:dockerHubUsername`]).to.deep.equal({ value: "octocat", secret: false });
        });

        it("leaves the stack file as it was when run again with the same values", () => {
            const first = deployed.stackFileText("dev");
            const again = deployed.deploy("dev", secretsEnvironment, "--yes");
            expect(again.stderr).to.equal(languageHostMissing);
            expect(deployed.stackFileText("dev")).to.equal(first);
        });

        it("re-encrypts only the value that changed", () => {
            const first = deployed.stackFileText("dev").split("\n");
            const changed = { ...secretsEnvironment, LOGSENE_TOKEN: "SENTINELlogsene-rotated" };
            expect(deployed.deploy("dev", changed, "--yes").stderr).to.equal(languageHostMissing);
            const second = deployed.stackFileText("dev").split("\n");
            const differing = first.map((line, i) => (line === second[i] ? undefined : i)).filter((i) => i !== undefined);
            expect(differing).to.have.length(1);
            expect(first[(differing[0] as number) - 1]).to.equal(`  ${project}:logseneToken:`);
        });

        it("takes the salt back from the state when the stack file has lost it, as in a fresh clone", () => {
            const state = JSON.parse(
                fs.readFileSync(path.join(deployed.dir, `.pulumi-state/.pulumi/stacks/${project}/dev.json`), "utf8"),
            );
            deployed.writeStackFile("dev", committed);
            expect(deployed.deploy("dev", secretsEnvironment, "--yes").stderr).to.equal(languageHostMissing);
            expect(deployed.stackFile("dev").encryptionsalt).to.equal(state.checkpoint.latest.secrets_providers.state.salt);
        });
    });

    describe("a secret in plain text in the stack file", () => {
        it("is what `pulumi config set` without --secret writes, even for a key declared secret", () => {
            const p = freshCopy();
            p.initStack("dev");
            const set = p.pulumi(["config", "set", "--stack", "dev", "mongodbUri"], secretsEnvironment.MONGODB_URI);
            expect(set.status).to.equal(0);
            expect(p.stackFile("dev").config[`${project}:mongodbUri`]).to.equal(secretsEnvironment.MONGODB_URI);
        });

        it("stops deploy.sh before anything else, naming each key and its fix, never the value", () => {
            const p = freshCopy();
            p.initStack("dev");
            p.pulumi(["config", "set", "--stack", "dev", "mongodbUri"], secretsEnvironment.MONGODB_URI);
            // A hand edit without the project's namespace, which the CLI reads the same way.
            p.editStackConfig("dev", { postgresUrl: secretsEnvironment.POSTGRES_URL });
            const before = p.stackFileText("dev");
            const docker = p.addDocker();

            const result = p.deploy("dev", secretsEnvironment, "--yes");

            expect(result.stderr).to.equal(
                "Pulumi.dev.yaml holds secrets in plain text: mongodbUri, postgresUrl.\n" +
                    "Encrypt each one; the command asks for the value and replaces the plain one:\n" +
                    "  pulumi config set --secret --stack dev mongodbUri\n" +
                    "  pulumi config set --secret --stack dev postgresUrl\n" +
                    "If the file was ever committed or shared, change those secrets too: git history keeps the plain values.\n",
            );
            expect(result.stdout).to.equal("");
            expect(result.status).to.equal(1);
            expect(docker.calls()).to.deep.equal([]);
            expect(p.exists(".pulumi-state")).to.equal(false);
            expect(p.stackFileText("dev")).to.equal(before);
        });
    });

    describe("Docker", () => {
        it("is required when the stack builds its images, before any Pulumi command", () => {
            const p = freshCopy();
            const result = p.deploy("dev", secretsEnvironment, "--yes");
            expect(result.stderr).to.equal(
                "deploy: Docker is not running; it builds the images (or set tasksImage and requestsImage to release given digests)\n",
            );
            expect(result.status).to.equal(1);
            expect(p.exists(".pulumi-state")).to.equal(false);
        });

        it("is required while only one image is given", () => {
            const p = freshCopy();
            p.editStackConfig("dev", { [`${project}:tasksImage`]: digests[`${project}:tasksImage`] });
            expect(p.deploy("dev", secretsEnvironment, "--yes").stderr).to.match(/^deploy: Docker is not running/);
        });

        it("is not needed when both images are given by digest", () => {
            const p = freshCopy();
            p.editStackConfig("dev", digests);
            const result = p.deploy("dev", secretsEnvironment, "--yes");
            expect(result.stderr).to.equal(`Created stack 'dev'\n${languageHostMissing}`);
        });
    });

    describe("scripts/stack-secrets.sh without a terminal (CI)", () => {
        it("names every missing key with its environment variable, and sets none", () => {
            const p = freshCopy();
            p.initStack("dev");
            const before = p.stackFileText("dev");
            const partial = { DOCKERHUB_USERNAME: "octocat", MONGODB_URI: secretsEnvironment.MONGODB_URI };
            const result = p.run("scripts/stack-secrets.sh", ["dev"], { PULUMI_BACKEND_URL: p.backend, ...partial });
            expect(result.stderr).to.equal(
                "Stack dev is missing:\n" +
                    "  - dockerHubToken (environment variable DOCKERHUB_TOKEN)\n" +
                    "  - postgresUrl (environment variable POSTGRES_URL)\n" +
                    "  - logseneToken (environment variable LOGSENE_TOKEN)\n" +
                    "  - papertrailDestination (environment variable PAPERTRAIL_DESTINATION)\n",
            );
            expect(result.status).to.equal(1);
            expect(p.stackFileText("dev")).to.equal(before);
        });
    });

    describe("at a terminal", () => {
        it("asks for the passphrase once for every command, and twice for a new salt", async () => {
            const p = freshCopy();
            p.editStackConfig("dev", digests);
            const environment = { ...secretsEnvironment, PULUMI_CONFIG_PASSPHRASE: undefined };
            const first = await answerTerminal(p, "scripts/deploy.sh dev --yes", environment, [
                ["Passphrase of stack dev's secrets: ", passphrase],
                ["Once more: ", passphrase],
            ]);
            expect(first.prompts).to.deep.equal(["Passphrase of stack dev's secrets: ", "Once more: "]);
            expect(first.output).to.include("failed to load language plugin nodejs");
            const second = await answerTerminal(p, "scripts/deploy.sh dev --yes", environment, [
                ["Passphrase of stack dev's secrets: ", passphrase],
            ]);
            expect(second.prompts).to.deep.equal(["Passphrase of stack dev's secrets: "]);
            expect(second.output).to.include("failed to load language plugin nodejs");
        });
    });
});
