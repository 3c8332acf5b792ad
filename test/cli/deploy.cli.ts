// scripts/deploy.sh and scripts/stack-secrets.sh driven through the real Pulumi CLI (built by scripts/install.sh),
// on a file backend, as far as the CLI goes here: it stops at the nodejs language host, which is not installed. dev's
// secrets provider is its stack file's KMS key, and the AWS CLI tells who deploys: both answered by moto.
import { expect } from "chai";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { project, sentinelSecrets } from "../mocks";
import { languageHostMissing, passphrase, ProjectCopy, secretsEnvironment } from "../projectCopy";
import { Moto, startMotoServer } from "../tools";
import { answerTerminal } from "./terminal";

const digests = {
    [`${project}:tasksImage`]: `docker.io/octocat/tasks@sha256:${"1".repeat(64)}`,
    [`${project}:requestsImage`]: `docker.io/octocat/requests@sha256:${"2".repeat(64)}`,
};
const secretKeys = Object.keys(sentinelSecrets);
const deployerArn = "arn:aws:iam::123456789012:role/microservices-deployer";
const deployers = { [`${project}:deployerArns`]: [deployerArn] };

let moto: Moto;

/** The environment of a deploy with AWS credentials (moto's) and no passphrase: dev's secrets need none. */
const withAws = (extra: NodeJS.ProcessEnv = {}) => ({ ...moto.env, PULUMI_CONFIG_PASSPHRASE: undefined, ...extra });

function expectNoSecretIn(...texts: string[]): void {
    for (const text of texts) {
        for (const value of Object.values(secretsEnvironment).filter((v) => v.includes("SENTINEL"))) {
            expect(text).not.to.include(value);
        }
    }
}

describe("scripts/deploy.sh with the real Pulumi CLI", () => {
    before(async () => {
        moto = await startMotoServer();
        // dev's stack file names this alias (Pulumi.dev.yaml's secretsprovider).
        const key = JSON.parse(moto.aws("kms", "create-key")).KeyMetadata.KeyId;
        moto.aws("kms", "create-alias", "--alias-name", "alias/pulumi/microservices-dev", "--target-key-id", key);
    });
    after(() => moto?.stop());
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
            deployed.editStackConfig("dev", deployers);
            committed = deployed.stackFileText("dev");
            result = deployed.deploy("dev", withAws(secretsEnvironment), "--yes");
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

        it("creates the stack with its stack file's KMS key, never a passphrase over it", () => {
            const written = deployed.stackFile("dev");
            expect(written.secretsprovider).to.equal(YAML.parse(committed).secretsprovider);
            expect(written.secretsprovider).to.match(/^awskms:\/\/alias\/pulumi\/microservices-dev\?region=eu-west-1$/);
            expect(written.encryptedkey, "the stack's data key, encrypted with the KMS key").to.match(/^[A-Za-z0-9+/=]{40,}$/);
            expect(written).not.to.have.property("encryptionsalt");
            const state = JSON.parse(
                fs.readFileSync(path.join(deployed.dir, `.pulumi-state/.pulumi/stacks/${project}/dev.json`), "utf8"),
            );
            expect(state.checkpoint.latest.secrets_providers.state.url).to.equal(written.secretsprovider);
        });

        it("writes each secret encrypted into the stack file, beside the committed settings", () => {
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
            // The header comment of the committed file survives the CLI's rewrite.
            const header = committed.slice(0, committed.indexOf("config:"));
            expect(deployed.stackFileText("dev").startsWith(`${header}config:`)).to.equal(true);
            expectNoSecretIn(deployed.stackFileText("dev"), result.stdout, result.stderr);
        });

        it("encrypts the values it was given, which the CLI decrypts back through the KMS key", () => {
            const read = deployed.run("pulumi", ["config", "--stack", "dev", "--json", "--show-secrets"], withAws({
                PULUMI_BACKEND_URL: `file://${deployed.dir}/.pulumi-state`,
            }));
            const values = JSON.parse(read.stdout) as Record<string, { value: string; secret: boolean }>;
            for (const [key, value] of Object.entries(sentinelSecrets)) {
                expect(values[`${project}:${key}`], key).to.deep.equal({ value, secret: true });
            }
            expect(values[`${project}:dockerHubUsername`]).to.deep.equal({ value: "octocat", secret: false });
        });

        it("leaves the stack file as it was when run again with the same values", () => {
            const first = deployed.stackFileText("dev");
            const again = deployed.deploy("dev", withAws(secretsEnvironment), "--yes");
            expect(again.stderr).to.equal(languageHostMissing);
            expect(deployed.stackFileText("dev")).to.equal(first);
        });

        it("re-encrypts only the value that changed", () => {
            const first = deployed.stackFileText("dev").split("\n");
            const changed = { ...secretsEnvironment, LOGSENE_TOKEN: "SENTINELlogsene-rotated" };
            expect(deployed.deploy("dev", withAws(changed), "--yes").stderr).to.equal(languageHostMissing);
            const second = deployed.stackFileText("dev").split("\n");
            const differing = first.map((line, i) => (line === second[i] ? undefined : i)).filter((i) => i !== undefined);
            expect(differing).to.have.length(1);
            expect(first[(differing[0] as number) - 1]).to.equal(`  ${project}:logseneToken:`);
        });

        it("still deploys when the stack file has lost its encrypted data key, as in a fresh clone, under the same KMS key", () => {
            deployed.writeStackFile("dev", committed);
            expect(deployed.deploy("dev", withAws(secretsEnvironment), "--yes").stderr).to.equal(languageHostMissing);
            const written = deployed.stackFile("dev");
            expect(written.secretsprovider).to.equal(YAML.parse(committed).secretsprovider);
            expect(written.encryptedkey).to.match(/^[A-Za-z0-9+/=]{40,}$/);
            const read = deployed.run("pulumi", ["config", "get", "--stack", "dev", "mongodbUri"], withAws({
                PULUMI_BACKEND_URL: `file://${deployed.dir}/.pulumi-state`,
            }));
            expect(read.stdout.trim()).to.equal(sentinelSecrets.mongodbUri);
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
            p.editStackConfig("dev", { ...digests, ...deployers });
            const result = p.deploy("dev", withAws(secretsEnvironment), "--yes");
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
                    "  - papertrailDestination (environment variable PAPERTRAIL_DESTINATION)\n" +
                    "  - tasksApiCallers (environment variable TASKS_API_CALLERS)\n" +
                    "  - requestsApiCallers (environment variable REQUESTS_API_CALLERS)\n" +
                    "  - requestsTasksApiKey (environment variable REQUESTS_TASKS_API_KEY)\n",
            );
            expect(result.status).to.equal(1);
            expect(p.stackFileText("dev")).to.equal(before);
        });
    });

    describe("a first-time user: who deploys, and the KMS key (the AWS CLI against moto)", () => {
        const aliceArn = "arn:aws:iam::123456789012:user/alice";
        const roleArn = "arn:aws:iam::123456789012:role/team/deployer";
        let alice: NodeJS.ProcessEnv;
        let role: NodeJS.ProcessEnv;
        before(() => {
            moto.aws("iam", "create-user", "--user-name", "alice");
            const key = JSON.parse(moto.aws("iam", "create-access-key", "--user-name", "alice")).AccessKey;
            alice = { AWS_ACCESS_KEY_ID: key.AccessKeyId, AWS_SECRET_ACCESS_KEY: key.SecretAccessKey };
            const trust = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: aliceArn }, Action: "sts:AssumeRole" }] };
            moto.aws("iam", "create-role", "--role-name", "deployer", "--path", "/team/", "--assume-role-policy-document", JSON.stringify(trust));
            const session = JSON.parse(
                moto.aws("sts", "assume-role", "--role-arn", roleArn, "--role-session-name", "bob"),
            ).Credentials;
            role = {
                AWS_ACCESS_KEY_ID: session.AccessKeyId,
                AWS_SECRET_ACCESS_KEY: session.SecretAccessKey,
                AWS_SESSION_TOKEN: session.SessionToken,
            };
        });
        /** A copy that releases given digests (no Docker), with the AWS CLI, and dev's committed settings otherwise. */
        const copyWithAws = () => {
            const p = freshCopy();
            p.addTool("aws");
            p.editStackConfig("dev", digests);
            return p;
        };
        const question = (arn: string) =>
            `Stack dev has no deployerArns, the IAM users or roles that deploy it. Set it to you, ${arn}? [Y/n] `;
        const created = (p: ProjectCopy) => p.exists(`.pulumi-state/.pulumi/stacks/${project}/dev.json`);

        it("asks an IAM user whether they deploy the stack, and sets deployerArns to them", async () => {
            const p = copyWithAws();
            const run = await answerTerminal(p, "scripts/deploy.sh dev --yes", withAws({ ...secretsEnvironment, ...alice }), [
                [question(aliceArn), "y"],
            ]);
            expect(run.prompts).to.deep.equal([question(aliceArn)]);
            expect(run.output).to.include("failed to load language plugin nodejs");
            expect(p.stackFile("dev").config[`${project}:deployerArns`]).to.deep.equal([aliceArn]);
        });

        it("names an assumed role by its role's ARN, with its path, when the answer is Enter", async () => {
            const p = copyWithAws();
            const run = await answerTerminal(p, "scripts/deploy.sh dev --yes", withAws({ ...secretsEnvironment, ...role }), [
                [question(roleArn), ""],
            ]);
            expect(run.prompts).to.deep.equal([question(roleArn)]);
            expect(p.stackFile("dev").config[`${project}:deployerArns`]).to.deep.equal([roleArn]);
        });

        it("sets nothing and creates no stack when the answer is no", async () => {
            const p = copyWithAws();
            const before = p.stackFileText("dev");
            const run = await answerTerminal(p, "scripts/deploy.sh dev --yes", withAws({ ...secretsEnvironment, ...alice }), [
                [question(aliceArn), "n"],
            ]);
            expect(run.output).to.include(
                "deploy: deployerArns not set; set it yourself: pulumi config set --stack dev --path 'deployerArns[0]' ARN",
            );
            expect(run.status).to.equal(1);
            expect(p.stackFileText("dev")).to.equal(before);
            expect(created(p)).to.equal(false);
        });

        it("without a terminal, names the caller and the command that makes them the deployer, and creates nothing", () => {
            const p = copyWithAws();
            const result = p.deploy("dev", withAws({ ...secretsEnvironment, ...alice }), "--yes");
            expect(result.stderr).to.equal(
                "deploy: stack dev has no deployerArns, the IAM users or roles that deploy it; to make it you: " +
                    `pulumi config set --stack dev --path 'deployerArns[0]' ${aliceArn}\n`,
            );
            expect(result.status).to.equal(1);
            expect(created(p)).to.equal(false);
        });

        it("without the AWS CLI, says how to set it", () => {
            const p = freshCopy();
            p.editStackConfig("dev", digests);
            const result = p.deploy("dev", withAws(secretsEnvironment), "--yes");
            expect(result.stderr).to.equal(
                "deploy: stack dev has no deployerArns, the IAM users or roles that deploy it; set yours: " +
                    "pulumi config set --stack dev --path 'deployerArns[0]' ARN\n",
            );
            expect(created(p)).to.equal(false);
        });

        it("says which KMS key to create when the stack file's is not there, and creates no stack", () => {
            const p = copyWithAws();
            p.editStackConfig("dev", deployers);
            p.writeStackFile("dev", p.stackFileText("dev").replace("microservices-dev?", "microservices-missing?"));
            const result = p.deploy("dev", withAws(secretsEnvironment), "--yes");
            expect(result.stderr).to.match(/alias\/pulumi\/microservices-missing/);
            expect(result.stderr).to.include(
                "deploy: could not select or create stack dev with the secrets provider " +
                    "awskms://alias/pulumi/microservices-missing?region=eu-west-1 (a KMS key must exist first: " +
                    'docs/ci-cd.md, "Secrets provider"; or drop the line from Pulumi.dev.yaml for a passphrase)\n',
            );
            expect(result.status).to.equal(1);
            expect(created(p)).to.equal(false);
        });

        it("leaves a stack that names its deployers as it is, and asks nothing", () => {
            const p = copyWithAws();
            p.editStackConfig("dev", deployers);
            const result = p.deploy("dev", withAws({ ...secretsEnvironment, ...alice }), "--yes");
            expect(result.stderr).to.equal(`Created stack 'dev'\n${languageHostMissing}`);
            expect(p.stackFile("dev").config[`${project}:deployerArns`]).to.deep.equal([deployerArn]);
        });
    });

    describe("a first deploy with no callers (issue 19)", () => {
        const { TASKS_API_CALLERS, REQUESTS_API_CALLERS, REQUESTS_TASKS_API_KEY, ...otherSecrets } = secretsEnvironment;
        /** A copy of dev with a passphrase instead of dev's KMS key, releasing given digests, its deployers named. */
        const trialCopy = () => {
            const p = freshCopy();
            p.writeStackFile("trial", p.stackFileText("dev").replace(/^secretsprovider: .*\n/m, ""));
            p.editStackConfig("trial", { ...digests, ...deployers });
            return p;
        };
        const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

        it("at a terminal, makes the caller admin of each service, shows each key once, and the requests service's key", async () => {
            const p = trialCopy();
            const run = await answerTerminal(p, "scripts/deploy.sh trial --yes", otherSecrets, []);
            expect(run.output).to.include("failed to load language plugin nodejs");
            const printed = run.output.match(/msk_[A-Za-z0-9_-]{43}/g) ?? [];
            expect(printed, "two keys, each shown once").to.have.length(2);
            expect(run.output).to.include("deploy: tasks has no callers yet; making the caller admin, which may write:");
            const read = p.run("pulumi", ["config", "--stack", "trial", "--json", "--show-secrets"], {
                PULUMI_BACKEND_URL: `file://${p.dir}/.pulumi-state`,
            });
            const values = JSON.parse(read.stdout) as Record<string, { value: string; secret: boolean }>;
            for (const [index, service] of ["tasks", "requests"].entries()) {
                const stored = values[`${project}:${service}ApiCallers`];
                expect(stored.secret, service).to.equal(true);
                expect(JSON.parse(stored.value)).to.deep.equal({ callers: { admin: { access: "write", keys: [sha256(printed[index])] } } });
            }
            const requestsKey = values[`${project}:requestsTasksApiKey`];
            expect(requestsKey.secret).to.equal(true);
            expect(requestsKey.value).to.match(/^msk_[A-Za-z0-9_-]{43}$/);
            expect(run.output).not.to.include(requestsKey.value);
            const stackFile = p.stackFileText("trial");
            for (const value of [...printed, requestsKey.value, ...printed.map(sha256)]) expect(stackFile).not.to.include(value);
        });

        it("without a terminal, names scripts/api-keys.sh and creates nothing", () => {
            const p = trialCopy();
            const before = p.stackFileText("trial");
            const result = p.deploy("trial", otherSecrets, "--yes");
            expect(result.stderr).to.equal(
                "deploy: stack trial has no callers of tasks requests, which would refuse to start; " +
                    "make one at a terminal: scripts/api-keys.sh trial tasks add CALLER --write\n",
            );
            expect(result.status).to.equal(1);
            expect(p.stackFileText("trial")).to.equal(before);
            expect(p.exists(`.pulumi-state/.pulumi/stacks/${project}/trial.json`)).to.equal(false);
        });

        it("takes callers and the requests service's key from the environment in CI, and makes none", () => {
            const p = trialCopy();
            const result = p.deploy("trial", secretsEnvironment, "--yes");
            expect(result.stderr).to.equal(`Created stack 'trial'\n${languageHostMissing}`);
            expect(result.stdout).not.to.match(/msk_/);
        });
    });

    describe("at a terminal", () => {
        it("asks for the passphrase once for every command, and twice for a new salt, of a stack with no provider", async () => {
            const p = freshCopy();
            // A stack of one's own, from dev's settings but with no secrets provider: Pulumi's default, a passphrase.
            p.writeStackFile("trial", p.stackFileText("dev").replace(/^secretsprovider: .*\n/m, ""));
            p.editStackConfig("trial", { ...digests, ...deployers });
            const environment = { ...secretsEnvironment, PULUMI_CONFIG_PASSPHRASE: undefined };
            const first = await answerTerminal(p, "scripts/deploy.sh trial --yes", environment, [
                ["Passphrase of stack trial's secrets: ", passphrase],
                ["Once more: ", passphrase],
            ]);
            expect(first.prompts).to.deep.equal(["Passphrase of stack trial's secrets: ", "Once more: "]);
            expect(first.output).to.include("failed to load language plugin nodejs");
            expect(p.stackFile("trial").encryptionsalt).to.match(/^v1:[A-Za-z0-9+/=]+:v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
            const second = await answerTerminal(p, "scripts/deploy.sh trial --yes", environment, [
                ["Passphrase of stack trial's secrets: ", passphrase],
            ]);
            expect(second.prompts).to.deep.equal(["Passphrase of stack trial's secrets: "]);
            expect(second.output).to.include("failed to load language plugin nodejs");
        });
    });
});
