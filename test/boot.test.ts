// The boot path of the hosts, verified for real: the rendered cloud-config against cloud-init's own schema, its
// script against shellcheck, and the script run against moto's SSM with the real AWS CLI and a recording docker.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { named, root, runProgram, stackFileConfig } from "./mocks";
import { run, startMotoServer, tool, toolPath } from "./tools";
import { parseUserData } from "./cloudConfig";

const services = ["tasks", "requests"] as const;
type Service = (typeof services)[number];

async function userDataOf(stack: string): Promise<Record<Service, string>> {
    const program = await runProgram(stackFileConfig(stack), stack);
    const result = {} as Record<Service, string>;
    for (const service of services) result[service] = named(program.resources, `${service}-host`).inputs.userData as string;
    return result;
}

describe("boot path: cloud-init and shellcheck", () => {
    for (const stack of ["dev", "prod"]) {
        it(`the ${stack} hosts' user data passes cloud-init's schema check`, async () => {
            const folder = fs.mkdtempSync(path.join(os.tmpdir(), "cloud-config-"));
            for (const [service, userData] of Object.entries(await userDataOf(stack))) {
                const file = path.join(folder, `${service}.yaml`);
                fs.writeFileSync(file, userData);
                const check = run(tool("cloud-init"), ["schema", "--config-file", file]);
                expect(check.status, `${service}: ${check.stdout}${check.stderr}`).to.equal(0);
                expect(check.stdout).to.include(`Valid cloud-config: ${file}`);
            }
        });
    }

    it("the schema check does fail on a broken cloud-config", () => {
        const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cloud-config-")), "broken.yaml");
        fs.writeFileSync(file, "#cloud-config\nwrite_files: /etc/motd\n");
        const check = run(tool("cloud-init"), ["schema", "--config-file", file]);
        expect(check.status).not.to.equal(0);
        expect(check.stdout + check.stderr).to.include("write_files: '/etc/motd' is not of type 'array'");
    });

    it("the script the user data carries passes shellcheck", async () => {
        const scripts = Object.values(await userDataOf("dev")).map(
            (userData) => parseUserData(userData).write_files.find((file) => file.permissions === "0755")!.content,
        );
        expect(scripts[0]).to.equal(scripts[1]);
        const check = run(tool("shellcheck"), ["--shell=bash", "-"], process.env, scripts[0]);
        expect(check.status, check.stdout).to.equal(0);
    });
});

describe("boot path: the boot script against moto's SSM, with the real AWS CLI", function () {
    this.timeout(60000);
    let moto: { endpoint: string; stop(): void };
    let userData: Record<Service, string>;
    before(async () => {
        moto = await startMotoServer();
        userData = await userDataOf("dev");
    });
    after(() => moto?.stop());

    const awsEnvironment = () => ({
        ...process.env,
        PATH: toolPath(),
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_ACCESS_KEY_ID: "testing",
        AWS_SECRET_ACCESS_KEY: "testing",
        AWS_DEFAULT_REGION: "eu-west-1",
    });
    const aws = (...args: string[]) => {
        const result = run(tool("aws"), args, awsEnvironment());
        expect(result.status, result.stderr).to.equal(0);
        return result.stdout;
    };

    /** Lays out the host's files from the real user data in a scratch folder and returns how to run its unit. */
    function host(service: Service) {
        const cloudConfig = parseUserData(userData[service]);
        const unit = cloudConfig.write_files.find((file) => file.path.endsWith(".service"))!.content;
        const settings: Record<string, string> = {};
        for (const match of unit.matchAll(/^Environment="([A-Z_]+)=(.*)"$/gm)) settings[match[1]] = match[2];

        const folder = fs.mkdtempSync(path.join(os.tmpdir(), `${service}-host-`));
        const script = path.join(folder, "start-service");
        fs.writeFileSync(script, cloudConfig.write_files.find((file) => file.path === "/usr/local/bin/start-service")!.content, {
            mode: 0o755,
        });
        const configFile = path.join(folder, "config.env");
        fs.writeFileSync(configFile, cloudConfig.write_files.find((file) => file.path === settings.CONFIG_FILE)!.content);
        const secretsFile = path.join(folder, "run", service, "secrets.env");
        const dockerCalls = path.join(folder, "docker-calls.jsonl");

        return {
            settings,
            secretsFile,
            configFile,
            /** Runs the unit's ExecStart as systemd would, with its Environment= lines; host paths move to the scratch folder. */
            start() {
                fs.rmSync(dockerCalls, { force: true });
                const result = run("bash", [script], {
                    ...awsEnvironment(),
                    ...settings,
                    CONFIG_FILE: configFile,
                    SECRETS_FILE: secretsFile,
                    PATH: toolPath(path.join(root, "test", "fixtures")),
                    DOCKER_CALLS: dockerCalls,
                });
                const calls: string[][] = fs.existsSync(dockerCalls)
                    ? fs.readFileSync(dockerCalls, "utf8").trim().split("\n").map((line) => JSON.parse(line))
                    : [];
                return { ...result, calls };
            },
        };
    }

    const secretValues: Record<Service, Record<string, string>> = {
        tasks: {
            MONGODB_URI: "mongodb+srv://tasks:p%40ss=w0rd@cluster0.example.mongodb.net/tasks?retryWrites=true&w=majority",
            LOGSENE_TOKEN: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        },
        requests: {
            DATABASE_URL: "postgresql://requests:s3cr3t&more@db.example.com:5432/requests?sslmode=require",
            PAPERTRAIL_DESTINATION: "logs3.papertrailapp.com:51234",
        },
    };
    const ports: Record<Service, string> = { tasks: "8080", requests: "8000" };

    function putSecrets(service: Service, path: string) {
        for (const [name, value] of Object.entries(secretValues[service])) {
            aws("ssm", "put-parameter", "--name", `${path}/${name}`, "--type", "SecureString", "--value", value, "--overwrite");
        }
    }

    for (const service of services) {
        it(`${service}: writes the decrypted secrets to a root-only env file and runs the image by digest`, () => {
            const boot = host(service);
            putSecrets(service, boot.settings.PARAMETER_PATH);
            const result = boot.start();
            expect(result.status, result.stderr).to.equal(0);

            const expected = Object.entries(secretValues[service])
                .map(([name, value]) => `${name}=${value}\n`)
                .sort();
            expect(fs.readFileSync(boot.secretsFile, "utf8").split(/(?<=\n)/).sort()).to.deep.equal(expected);
            const file = fs.statSync(boot.secretsFile);
            expect(file.mode & 0o777).to.equal(0o600);
            expect(file.uid, "owned by the user that ran it: root, under systemd").to.equal(process.getuid!());
            expect(fs.statSync(path.dirname(boot.secretsFile)).mode & 0o777).to.equal(0o700);

            expect(result.calls).to.deep.equal([
                [
                    "run", "--rm", "--network", "host", boot.settings.AWS_CLI_IMAGE, "--region", "eu-west-1",
                    "ssm", "get-parameters-by-path", "--path", `/microservices/dev/${service}`, "--with-decryption",
                    "--query", "Parameters[].[Name,Value]", "--output", "text",
                ],
                ["rm", "--force", service],
                [
                    "run", "--detach", "--name", service, "--restart", "unless-stopped",
                    "--env-file", boot.configFile, "--env-file", boot.secretsFile,
                    "--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=5",
                    "--publish", `${ports[service]}:${ports[service]}`,
                    boot.settings.IMAGE,
                ],
            ]);
            expect(boot.settings.IMAGE).to.match(new RegExp(`^docker\\.io/octocat/${service}@sha256:[0-9a-f]{64}$`));

            const logs = result.stdout + result.stderr;
            for (const value of Object.values(secretValues[service])) expect(logs).not.to.include(value);
        });
    }

    it("fails visibly while a parameter is missing, writes nothing, and succeeds on the retry once it exists", () => {
        const boot = host("tasks");
        putSecrets("tasks", boot.settings.PARAMETER_PATH);
        aws("ssm", "delete-parameter", "--name", `${boot.settings.PARAMETER_PATH}/MONGODB_URI`);

        const failed = boot.start();
        expect(failed.status).to.equal(1);
        expect(failed.stderr).to.include(
            "start-service[tasks]: SSM parameter /microservices/dev/tasks/MONGODB_URI is missing; " +
                "the unit fails and systemd retries it",
        );
        expect(failed.calls.map((call) => call.slice(0, 2))).to.deep.equal([["run", "--rm"]]);
        expect(fs.readdirSync(path.dirname(boot.secretsFile)), "no env file, not even a partial one").to.deep.equal([]);

        putSecrets("tasks", boot.settings.PARAMETER_PATH);
        const retried = boot.start();
        expect(retried.status, retried.stderr).to.equal(0);
        expect(retried.calls.map((call) => call.slice(0, 2))).to.deep.equal([
            ["run", "--rm"],
            ["rm", "--force"],
            ["run", "--detach"],
        ]);
    });

    it("reads only its own service's path", () => {
        const boot = host("requests");
        putSecrets("tasks", "/microservices/dev/tasks");
        putSecrets("requests", boot.settings.PARAMETER_PATH);
        expect(boot.start().status).to.equal(0);
        const written = fs.readFileSync(boot.secretsFile, "utf8");
        expect(written).not.to.include("MONGODB_URI");
        expect(written.trim().split("\n").map((line) => line.split("=")[0]).sort()).to.deep.equal([
            "DATABASE_URL",
            "PAPERTRAIL_DESTINATION",
        ]);
    });
});
