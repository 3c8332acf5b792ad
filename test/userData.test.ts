import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { HostBootConfig, renderCloudConfig, renderEnvFile, renderUnit } from "../components/cloudInit";
import { CloudConfig, parseUserData } from "./cloudConfig";
import { named, ProgramRun, root, runProgram, stackFileConfig, valueOf } from "./mocks";

function file(config: CloudConfig, filePath: string) {
    const found = config.write_files.find((entry) => entry.path === filePath);
    if (!found) throw new Error(`user data writes no ${filePath}`);
    return found;
}

/** The Environment= settings of a systemd unit. */
function unitEnvironment(unit: string): Record<string, string> {
    const settings: Record<string, string> = {};
    for (const match of unit.matchAll(/^Environment="([A-Z_]+)=(.*)"$/gm)) settings[match[1]] = match[2];
    return settings;
}

/** The arguments of the script's `docker run --detach` command, joined across its continuation lines. */
function dockerRunArguments(script: string): string {
    const start = script.indexOf("docker run --detach");
    const end = script.indexOf('"$IMAGE"', start) + '"$IMAGE"'.length;
    return script.slice(start, end).replace(/\\\n\s*/g, "");
}

const bootScript = fs.readFileSync(path.join(root, "components/boot/start-service.sh"), "utf8");

describe("user data of the hosts (dev stack)", () => {
    let run: ProgramRun;
    const userData: Record<string, CloudConfig> = {};
    before(async () => {
        run = await runProgram(stackFileConfig("dev"));
        for (const service of ["tasks", "requests"]) {
            userData[service] = parseUserData(named(run.resources, `${service}-host`).inputs.userData as string);
        }
    });

    it("writes the boot script, the plain settings and the unit, root-owned", () => {
        for (const service of ["tasks", "requests"]) {
            const files = userData[service].write_files;
            expect(files.map((entry) => [entry.path, entry.owner, entry.permissions])).to.deep.equal([
                ["/usr/local/bin/start-service", "root:root", "0755"],
                [`/etc/${service}/config.env`, "root:root", "0644"],
                [`/etc/systemd/system/${service}.service`, "root:root", "0644"],
            ]);
            expect(file(userData[service], "/usr/local/bin/start-service").content).to.equal(bootScript);
        }
    });

    it("runs the image pinned by the digest that was pushed", async () => {
        for (const service of ["tasks", "requests"]) {
            const unit = file(userData[service], `/etc/systemd/system/${service}.service`).content;
            const digest = await valueOf(run.outputs[`${service}ImageDigest`]);
            expect(unitEnvironment(unit).IMAGE).to.equal(digest);
            expect(digest).to.match(new RegExp(`^docker\\.io/octocat/${service}@sha256:[0-9a-f]{64}$`));
        }
    });

    it("tells the boot script where the secrets are and which must be there", () => {
        const expected = {
            tasks: { PORT: "8080", REQUIRED_PARAMETERS: "LOGSENE_TOKEN MONGODB_URI" },
            requests: { PORT: "8000", REQUIRED_PARAMETERS: "DATABASE_URL PAPERTRAIL_DESTINATION" },
        };
        for (const service of ["tasks", "requests"] as const) {
            const unit = file(userData[service], `/etc/systemd/system/${service}.service`).content;
            const environment = unitEnvironment(unit);
            delete environment.IMAGE;
            expect(environment).to.deep.equal({
                SERVICE_NAME: service,
                PORT: expected[service].PORT,
                AWS_REGION: "eu-west-1",
                AWS_CLI_IMAGE: "public.ecr.aws/aws-cli/aws-cli:2.31.23",
                PARAMETER_PATH: `/microservices/dev/${service}`,
                REQUIRED_PARAMETERS: expected[service].REQUIRED_PARAMETERS,
                CONFIG_FILE: `/etc/${service}/config.env`,
                SECRETS_FILE: `/run/${service}/secrets.env`,
            });
            expect(unit).to.include("ExecStart=/usr/local/bin/start-service\n");
            expect(unit).to.include(`ExecStop=/usr/bin/docker stop --time 15 ${service}\n`);
            expect(unit).to.include("Requires=docker.service\n");
        }
    });

    it("retries a failed start forever, every 15 seconds", () => {
        for (const service of ["tasks", "requests"]) {
            const unit = file(userData[service], `/etc/systemd/system/${service}.service`).content;
            expect(unit).to.include("Restart=on-failure\n");
            expect(unit).to.include("RestartSec=15\n");
            expect(unit).to.include("StartLimitIntervalSec=0\n");
        }
    });

    it("passes the plain settings, with TASKS_URL pointing requests at the tasks host's private address", () => {
        expect(file(userData.tasks, "/etc/tasks/config.env").content).to.equal("LOG_LEVEL=debug\nPORT=8080\n");
        const requestsSettings = file(userData.requests, "/etc/requests/config.env").content;
        const tasksHostIp = /^TASKS_URL=http:\/\/(10\.0\.1\.\d+):8080$/m.exec(requestsSettings);
        expect(tasksHostIp, requestsSettings).not.to.equal(null);
        expect(requestsSettings).to.equal(`LOG_LEVEL=debug\nPORT=8000\nTASKS_URL=http://${tasksHostIp![1]}:8080\n`);
    });

    it("runs the container with both env files, a restart policy, log rotation and the port", () => {
        expect(dockerRunArguments(bootScript)).to.equal(
            'docker run --detach --name "$SERVICE_NAME" --restart unless-stopped ' +
                '--env-file "$CONFIG_FILE" --env-file "$SECRETS_FILE" ' +
                "--log-driver json-file --log-opt max-size=10m --log-opt max-file=5 " +
                '--publish "$PORT:$PORT" "$IMAGE"',
        );
    });

    it("turns off the AMI's ECS agent, then enables the unit without waiting on the image pull", () => {
        for (const service of ["tasks", "requests"]) {
            expect(userData[service].runcmd).to.deep.equal([
                ["systemctl", "disable", "--now", "ecs.service"],
                ["systemctl", "daemon-reload"],
                ["systemctl", "enable", "--now", "--no-block", `${service}.service`],
            ]);
        }
    });
});

describe("cloud-config rendering", () => {
    const config: HostBootConfig = {
        serviceName: "tasks",
        image: `docker.io/octocat/tasks@sha256:${"a".repeat(64)}`,
        port: 8080,
        region: "eu-west-1",
        parameterPath: "/microservices/dev/tasks",
        secretNames: ["MONGODB_URI"],
        environment: { LOG_LEVEL: "info" },
        awsCliImage: "public.ecr.aws/aws-cli/aws-cli:2.31.23",
    };

    it("refuses an image that is not pinned by digest", () => {
        expect(() => renderCloudConfig({ ...config, image: "docker.io/octocat/tasks:dev" })).to.throw(
            'image "docker.io/octocat/tasks:dev" must be pinned by digest (repository@sha256:…)',
        );
    });

    it("refuses a setting that would break the env file", () => {
        expect(() => renderUnit({ ...config, environment: { LOG_LEVEL: "info\nEVIL=1" } })).to.throw(
            "environment variable LOG_LEVEL must have an upper-case name and a one-line value",
        );
        expect(() => renderUnit({ ...config, environment: { "log-level": "info" } })).to.throw(
            "environment variable log-level must have an upper-case name and a one-line value",
        );
    });

    it("refuses a service name that cannot name a unit", () => {
        expect(() => renderUnit({ ...config, serviceName: "Tasks Service" })).to.throw(
            'serviceName "Tasks Service" must be lowercase letters, digits and dashes',
        );
    });

    it("writes the env file sorted, one variable a line", () => {
        expect(renderEnvFile({ TASKS_URL: "http://10.0.0.5:8080", LOG_LEVEL: "info" })).to.equal(
            "LOG_LEVEL=info\nTASKS_URL=http://10.0.0.5:8080\n",
        );
    });

    it("renders the same text for the same input, so a host is replaced only when something changed", () => {
        const reordered = renderCloudConfig({ ...config, environment: { TASKS_URL: "http://x:1", LOG_LEVEL: "info" } });
        expect(reordered).to.equal(renderCloudConfig({ ...config, environment: { LOG_LEVEL: "info", TASKS_URL: "http://x:1" } }));
        expect(renderCloudConfig(config)).not.to.equal(
            renderCloudConfig({ ...config, image: `docker.io/octocat/tasks@sha256:${"b".repeat(64)}` }),
        );
    });
});
