// The hosts' user data: a bootstrap that holds no image digest and no secret, checked by cloud-init's own schema
// check, with the release script it carries checked by shellcheck.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { defaultAwsCliImage, defaultProxyImage, releaseScript } from "../components/host/bootstrap";
import { CloudConfig, parseUserData } from "./cloudConfig";
import { named, root, runProgram, sentinels, stackFileConfig } from "./mocks";
import { run, tool } from "./tools";

const services = ["tasks", "requests"] as const;
const ports = { tasks: 8080, requests: 8000 };

async function userDataOf(stack: string): Promise<Record<string, string>> {
    const program = await runProgram(stackFileConfig(stack), stack);
    return Object.fromEntries(
        services.map((service) => [service, named(program.resources, `${service}-host`).inputs.userData as string]),
    );
}

function file(config: CloudConfig, filePath: string) {
    const found = config.write_files.find((entry) => entry.path === filePath);
    if (!found) throw new Error(`user data writes no ${filePath}`);
    return found;
}

describe("host bootstrap (user data)", () => {
    let userData: Record<string, string>;
    before(async () => {
        userData = await userDataOf("dev");
    });

    it("writes the release script, its settings and two units, root-owned", () => {
        for (const service of services) {
            const files = parseUserData(userData[service]).write_files;
            expect(files.map((entry) => [entry.path, entry.owner, entry.permissions])).to.deep.equal([
                ["/usr/local/bin/release-service", "root:root", "0755"],
                ["/etc/release-service.env", "root:root", "0644"],
                [`/etc/systemd/system/${service}-proxy.service`, "root:root", "0644"],
                [`/etc/systemd/system/${service}-release.service`, "root:root", "0644"],
            ]);
            expect(files[0].content).to.equal(
                fs.readFileSync(path.join(root, "components/release/release-service.sh"), "utf8"),
            );
        }
    });

    it("gives the release script the service's settings, and nothing that changes with a release", () => {
        for (const service of services) {
            const config = file(parseUserData(userData[service]), "/etc/release-service.env").content;
            expect(config).to.equal(
                [
                    `SERVICE_NAME=${service}`,
                    `PORT=${ports[service]}`,
                    "HEALTH_PATH=/health",
                    "AWS_REGION=eu-west-1",
                    `AWS_CLI_IMAGE=${defaultAwsCliImage}`,
                    `RECORD_PATH=/microservices/dev/${service}/releases`,
                    `PROXY_NAME=${service}-proxy`,
                    "STATE_DIR=/var/lib/release-service",
                    "RUN_DIR=/run/release-service",
                    "",
                ].join("\n"),
            );
        }
    });

    it("runs the proxy on the public port from its pinned image, with its config and admin socket on the host", () => {
        const unit = file(parseUserData(userData.tasks), "/etc/systemd/system/tasks-proxy.service").content;
        expect(unit).to.include(
            "ExecStart=/usr/bin/docker run --rm --name tasks-proxy --network host " +
                "--volume /var/lib/release-service/proxy:/var/lib/release-service/proxy:ro " +
                "--volume /run/release-service/proxy:/run/release-service/proxy " +
                `--log-driver json-file --log-opt max-size=10m --log-opt max-file=3 ${defaultProxyImage} ` +
                "caddy run --config /var/lib/release-service/proxy/caddy.json\n",
        );
        expect(unit).to.include("ExecStartPre=/usr/local/bin/release-service proxy-init\n");
        expect(unit).to.include("Restart=always\n");
        expect(defaultProxyImage).to.match(/^caddy:\d+\.\d+\.\d+-alpine$/);
    });

    it("brings the current release back at every boot, after the proxy", () => {
        const unit = file(parseUserData(userData.requests), "/etc/systemd/system/requests-release.service").content;
        expect(unit).to.include("Requires=docker.service requests-proxy.service\n");
        expect(unit).to.include("After=docker.service requests-proxy.service\n");
        expect(unit).to.include("ExecStart=/usr/local/bin/release-service resume\n");
        expect(unit).to.include("Restart=on-failure\n");
    });

    it("pulls the helper images, starts the proxy, and marks the host bootstrapped last", () => {
        expect(parseUserData(userData.tasks).runcmd).to.deep.equal([
            ["systemctl", "disable", "--now", "ecs.service"],
            ["docker", "pull", "--quiet", defaultProxyImage],
            ["docker", "pull", "--quiet", defaultAwsCliImage],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "tasks-proxy.service"],
            ["systemctl", "enable", "tasks-release.service"],
            ["mkdir", "-p", "/var/lib/release-service"],
            ["touch", "/var/lib/release-service/bootstrapped"],
        ]);
    });

    it("holds no image digest and no secret", () => {
        for (const service of services) {
            expect(userData[service]).not.to.match(/sha256:[0-9a-f]{64}/);
            for (const sentinel of sentinels) expect(userData[service]).not.to.include(sentinel);
        }
    });
});

describe("host bootstrap: cloud-init and shellcheck", () => {
    for (const stack of ["dev", "prod"]) {
        it(`the ${stack} hosts' user data passes cloud-init's schema check`, async () => {
            const folder = fs.mkdtempSync(path.join(os.tmpdir(), "cloud-config-"));
            for (const [service, text] of Object.entries(await userDataOf(stack))) {
                const configFile = path.join(folder, `${service}.yaml`);
                fs.writeFileSync(configFile, text);
                const check = run(tool("cloud-init"), ["schema", "--config-file", configFile]);
                expect(check.status, `${service}: ${check.stdout}${check.stderr}`).to.equal(0);
                expect(check.stdout).to.include(`Valid cloud-config: ${configFile}`);
            }
        });
    }

    it("the schema check does fail on a broken cloud-config", () => {
        const configFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cloud-config-")), "broken.yaml");
        fs.writeFileSync(configFile, "#cloud-config\nwrite_files: /etc/motd\n");
        const check = run(tool("cloud-init"), ["schema", "--config-file", configFile]);
        expect(check.status).not.to.equal(0);
        expect(check.stdout + check.stderr).to.include("write_files: '/etc/motd' is not of type 'array'");
    });

    it("the release script the user data carries passes shellcheck", () => {
        const check = run(tool("shellcheck"), ["--shell=bash", "-"], process.env, releaseScript);
        expect(check.status, check.stdout).to.equal(0);
    });
});
