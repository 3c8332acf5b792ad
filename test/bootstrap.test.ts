// The hosts' user data: a gzipped bootstrap within EC2's 16 KB that holds no secret and nothing that changes with a
// release, checked by cloud-init's own schema check, with the release script it carries checked by shellcheck.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    defaultAwsCliImage,
    defaultCosignImage,
    defaultProxyImage,
    HostBootstrap,
    releaseScript,
    renderBootstrap,
    renderUserData,
    userDataLimitBytes,
} from "../components/host/bootstrap";
import { CloudConfig, decodeUserData, parseUserData } from "./cloudConfig";
import { named, root, runProgram, sentinels, stackFileConfig } from "./mocks";
import { run, tool } from "./tools";

const services = ["tasks", "requests"] as const;
const ports = { tasks: 8080, requests: 8000 };

/** Each host's `userDataBase64` as the program gives it to EC2. */
async function encodedUserDataOf(stack: string): Promise<Record<string, string>> {
    const program = await runProgram(stackFileConfig(stack), stack);
    return Object.fromEntries(
        services.map((service) => [service, named(program.resources, `${service}-host`).inputs.userDataBase64 as string]),
    );
}

/** Each host's user data as cloud-init reads it, unpacked. */
async function userDataOf(stack: string): Promise<Record<string, string>> {
    const encoded = await encodedUserDataOf(stack);
    return Object.fromEntries(services.map((service) => [service, decodeUserData(encoded[service])]));
}

const digests = (text: string) => [...new Set(text.match(/sha256:[0-9a-f]{64}/g))].sort();

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
                    `COSIGN_IMAGE=${defaultCosignImage}`,
                    `RECORD_PATH=/microservices/dev/${service}/releases`,
                    `PROXY_NAME=${service}-proxy`,
                    `PROXY_IMAGE=${defaultProxyImage}`,
                    `RELEASE_UNIT=${service}-release.service`,
                    "PROXY_READ_HEADER_TIMEOUT=10s",
                    "PROXY_READ_TIMEOUT=30s",
                    "PROXY_IDLE_TIMEOUT=60s",
                    "PROXY_MAX_HEADER_BYTES=65536",
                    "PROXY_REQUEST_BUFFER_BYTES=65537",
                    "STATE_DIR=/var/lib/release-service",
                    "RUN_DIR=/run/release-service",
                    "",
                ].join("\n"),
            );
        }
    });

    it("runs the proxy on the public port from its image pinned by digest, with its config and admin socket on the host", () => {
        const unit = file(parseUserData(userData.tasks), "/etc/systemd/system/tasks-proxy.service").content;
        expect(unit).to.include(
            "ExecStart=/usr/bin/docker run --rm --name tasks-proxy --network host --ulimit nofile=4096 " +
                "--volume /var/lib/release-service/proxy:/var/lib/release-service/proxy:ro " +
                "--volume /run/release-service/proxy:/run/release-service/proxy " +
                `--log-driver json-file --log-opt max-size=10m --log-opt max-file=3 ${defaultProxyImage} ` +
                "caddy run --config /var/lib/release-service/proxy/caddy.json\n",
        );
        expect(unit).to.include("ExecStartPre=/usr/local/bin/release-service proxy-init\n");
        expect(unit).to.include("Restart=always\n");
        expect(defaultProxyImage).to.match(/^caddy:\d+\.\d+\.\d+-alpine@sha256:[0-9a-f]{64}$/);
        expect(defaultAwsCliImage).to.match(/^public\.ecr\.aws\/aws-cli\/aws-cli:\d+\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
    });

    it("brings the current release back at every boot, after the proxy", () => {
        const unit = file(parseUserData(userData.requests), "/etc/systemd/system/requests-release.service").content;
        expect(unit).to.include("Requires=docker.service requests-proxy.service\n");
        expect(unit).to.include("After=docker.service requests-proxy.service\n");
        expect(unit).to.include("ExecStart=/usr/local/bin/release-service resume\n");
        expect(unit).to.include("Restart=on-failure\n");
    });

    it("leaves the pulls, the proxy and the bootstrap mark to the release script (the release tests run it)", () => {
        expect(parseUserData(userData.tasks).runcmd).to.deep.equal([
            ["systemctl", "disable", "--now", "ecs.service"],
            ["systemctl", "daemon-reload"],
            ["/usr/local/bin/release-service", "bootstrap"],
        ]);
    });

    it("holds no secret, and no digest but the three helper images'", () => {
        for (const service of services) {
            expect(digests(userData[service])).to.deep.equal(
                digests(`${defaultProxyImage} ${defaultAwsCliImage} ${defaultCosignImage}`),
            );
            for (const sentinel of sentinels) expect(userData[service]).not.to.include(sentinel);
        }
    });

    it("refuses helper images that are not pinned by digest", () => {
        const host: HostBootstrap = {
            serviceName: "tasks",
            port: 8080,
            healthPath: "/health",
            region: "eu-west-1",
            recordPath: "/microservices/dev/tasks/releases",
            proxyImage: "caddy:2.11.4-alpine",
            awsCliImage: defaultAwsCliImage,
        };
        expect(() => renderBootstrap(host)).to.throw(
            'proxyImage "caddy:2.11.4-alpine" must be pinned by digest (repository[:tag]@sha256:<digest>)',
        );
        const cosignByTag = { ...host, proxyImage: defaultProxyImage, cosignImage: "ghcr.io/sigstore/cosign/cosign:v3.1.3" };
        expect(() => renderBootstrap(cosignByTag)).to.throw('cosignImage "ghcr.io/sigstore/cosign/cosign:v3.1.3" must be pinned by digest');
    });
});

describe("host user data within EC2's limit", () => {
    // A quarter of EC2's 16 KB stays free, for the release script to grow.
    const margin = userDataLimitBytes / 4;

    for (const stack of ["dev", "prod"]) {
        it(`the ${stack} hosts' user data is gzip, at most ${userDataLimitBytes - margin} of EC2's ${userDataLimitBytes} bytes`, async () => {
            const encoded = await encodedUserDataOf(stack);
            for (const service of services) {
                const raw = Buffer.from(encoded[service], "base64");
                const text = decodeUserData(encoded[service]);
                console.log(`      figure: ${stack} ${service}: ${raw.length} bytes gzipped (${text.length} unpacked)`);
                expect(raw.length, service).to.be.at.most(userDataLimitBytes - margin);
                expect(text.length, `${service}: unpacked, it would not fit`).to.be.above(userDataLimitBytes);
            }
        });
    }

    it("is the same bytes on every render, whatever the clock says (a change would replace the hosts)", async () => {
        const encoded = await encodedUserDataOf("dev");
        const tasks: HostBootstrap = {
            serviceName: "tasks",
            port: 8080,
            healthPath: "/health",
            region: "eu-west-1",
            recordPath: "/microservices/dev/tasks/releases",
            proxyImage: defaultProxyImage,
            awsCliImage: defaultAwsCliImage,
        };
        const now = Date.now;
        try {
            Date.now = () => Date.parse("2031-01-01T00:00:00Z");
            const later = renderUserData(tasks);
            Date.now = () => Date.parse("2027-06-01T12:34:56Z");
            expect(renderUserData(tasks)).to.equal(later);
            expect(later).to.equal(encoded.tasks);
        } finally {
            Date.now = now;
        }
    });
});

describe("host bootstrap: cloud-init and shellcheck", () => {
    for (const stack of ["dev", "prod"]) {
        it(`the ${stack} hosts' user data, unpacked as cloud-init does, passes cloud-init's schema check`, async () => {
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
