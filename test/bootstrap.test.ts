// The hosts' user data: a gzipped bootstrap within EC2's 16 KB that holds no secret and nothing that changes with a
// release, checked by cloud-init's own schema check, with the release script it carries checked by shellcheck.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    acmeDirectories,
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
import { ConfigValues, fakeAccountId, minimalConfig, named, root, runProgram, sentinels, stackFileConfig, valueOf } from "./mocks";
import { run, tool } from "./tools";

const services = ["tasks", "requests"] as const;
const ports = { tasks: 8080, requests: 8000 };
const keyArn = (service: string) => `arn:aws:kms:eu-west-1:${fakeAccountId}:key/${service}-secrets-key-key-id`;

/** Each host's `userDataBase64` as the program gives it to EC2, and its Elastic IP. */
async function encodedUserDataOf(stack: string, config: ConfigValues = stackFileConfig(stack)) {
    const program = await runProgram(config, stack);
    const userData: Record<string, string> = {};
    const publicIps: Record<string, string> = {};
    for (const service of services) {
        userData[service] = named(program.resources, `${service}-host`).inputs.userDataBase64 as string;
        publicIps[service] = await valueOf(program.outputs[`${service}PublicIp`]);
    }
    return { userData, publicIps };
}

/** Each host's user data as cloud-init reads it, unpacked, and its Elastic IP. */
async function userDataOf(stack: string, config?: ConfigValues) {
    const { userData, publicIps } = await encodedUserDataOf(stack, config);
    return {
        userData: Object.fromEntries(services.map((service) => [service, decodeUserData(userData[service])])),
        publicIps,
    };
}

/** A valid bootstrap of the tasks host of the dev stack. */
const tasksBootstrap = (publicIp: string): HostBootstrap => ({
    serviceName: "tasks",
    port: 8080,
    healthPath: "/health",
    region: "eu-west-1",
    recordPath: "/microservices/dev/tasks/releases",
    proxyImage: defaultProxyImage,
    awsCliImage: defaultAwsCliImage,
    tls: {
        siteName: publicIp,
        publicIp,
        acmeDirectory: acmeDirectories.letsencrypt,
        storePath: "/microservices/dev/tasks/certificates",
        storeKeyArn: keyArn("tasks"),
    },
});

const digests = (text: string) => [...new Set(text.match(/sha256:[0-9a-f]{64}/g))].sort();

function file(config: CloudConfig, filePath: string) {
    const found = config.write_files.find((entry) => entry.path === filePath);
    if (!found) throw new Error(`user data writes no ${filePath}`);
    return found;
}

describe("host bootstrap (user data)", () => {
    let userData: Record<string, string>;
    let publicIps: Record<string, string>;
    before(async () => {
        ({ userData, publicIps } = await userDataOf("dev"));
    });

    it("writes the release script, its settings and four units, root-owned", () => {
        for (const service of services) {
            const files = parseUserData(userData[service]).write_files;
            expect(files.map((entry) => [entry.path, entry.owner, entry.permissions])).to.deep.equal([
                ["/usr/local/bin/release-service", "root:root", "0755"],
                ["/etc/release-service.env", "root:root", "0644"],
                [`/etc/systemd/system/${service}-proxy.service`, "root:root", "0644"],
                [`/etc/systemd/system/${service}-release.service`, "root:root", "0644"],
                [`/etc/systemd/system/${service}-certificates.service`, "root:root", "0644"],
                [`/etc/systemd/system/${service}-certificates.timer`, "root:root", "0644"],
            ]);
            // The script's every line but its comments: the shebang and shellcheck's directive stay.
            const script = fs.readFileSync(path.join(root, "components/release/release-service.sh"), "utf8").split("\n");
            const kept = script.filter((line) => !/^\s*#/.test(line) || line.startsWith("#!") || line.startsWith("# shellcheck "));
            expect(kept.length).to.be.below(script.length - 100);
            expect(files[0].content).to.equal(kept.join("\n"));
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
                    `SITE_NAME=${publicIps[service]}`,
                    `PUBLIC_IP=${publicIps[service]}`,
                    "HTTPS_PORT=443",
                    "HTTP_PORT=80",
                    "ACME_CA=https://acme-v02.api.letsencrypt.org/directory",
                    "ACME_PROFILE=shortlived",
                    "ACME_EMAIL=",
                    "CERTIFICATE_RENEW_INTERVAL=600s",
                    `CERTIFICATE_STORE=/microservices/dev/${service}/certificates`,
                    `CERTIFICATE_STORE_KEY=${keyArn(service)}`,
                    `CERTIFICATES_TIMER=${service}-certificates.timer`,
                    "STATE_DIR=/var/lib/release-service",
                    "RUN_DIR=/run/release-service",
                    "",
                ].join("\n"),
            );
        }
    });

    it("gives a host with a domain a certificate for that name under the CA's default profile, and the contact address", async () => {
        const { userData: withDomains, publicIps: addresses } = await userDataOf("dev", {
            ...minimalConfig,
            tasksDomain: "tasks.example.com",
            acmeEmail: "ops@example.com",
        });
        const config = file(parseUserData(withDomains.tasks), "/etc/release-service.env").content;
        expect(config).to.include(
            `SITE_NAME=tasks.example.com\nPUBLIC_IP=${addresses.tasks}\nHTTPS_PORT=443\nHTTP_PORT=80\n` +
                "ACME_CA=https://acme-v02.api.letsencrypt.org/directory\nACME_PROFILE=\nACME_EMAIL=ops@example.com\n",
        );
        const requests = file(parseUserData(withDomains.requests), "/etc/release-service.env").content;
        expect(requests).to.include(`SITE_NAME=${addresses.requests}\n`);
        expect(requests).to.include("ACME_PROFILE=shortlived\n");
    });

    it("runs the proxy on the host's network from its image pinned by digest, with its config, data and admin socket on the host", () => {
        const unit = file(parseUserData(userData.tasks), "/etc/systemd/system/tasks-proxy.service").content;
        expect(unit).to.include(
            "ExecStart=/usr/bin/docker run --rm --name tasks-proxy --network host --ulimit nofile=4096 " +
                "--volume /var/lib/release-service/proxy:/var/lib/release-service/proxy:ro " +
                "--volume /var/lib/release-service/proxy-data:/var/lib/release-service/proxy-data " +
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

    it("keeps the certificate store up to date every minute, from boot on", () => {
        const files = parseUserData(userData.tasks);
        expect(file(files, "/etc/systemd/system/tasks-certificates.service").content).to.equal(
            "[Unit]\nDescription=Keeps the tasks proxy's certificates in the service's certificate store\n\n" +
                "[Service]\nType=oneshot\nExecStart=/usr/local/bin/release-service certificates\n",
        );
        expect(file(files, "/etc/systemd/system/tasks-certificates.timer").content).to.equal(
            "[Unit]\nDescription=Runs tasks-certificates.service every minute\n\n" +
                "[Timer]\nOnBootSec=60\nOnUnitActiveSec=60\n\n[Install]\nWantedBy=timers.target\n",
        );
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
        const host = { ...tasksBootstrap("198.51.100.7"), proxyImage: "caddy:2.11.4-alpine" };
        expect(() => renderBootstrap(host)).to.throw(
            'proxyImage "caddy:2.11.4-alpine" must be pinned by digest (repository[:tag]@sha256:<digest>)',
        );
        const cosignByTag = { ...host, proxyImage: defaultProxyImage, cosignImage: "ghcr.io/sigstore/cosign/cosign:v3.1.3" };
        expect(() => renderBootstrap(cosignByTag)).to.throw('cosignImage "ghcr.io/sigstore/cosign/cosign:v3.1.3" must be pinned by digest');
    });

    it("refuses HTTPS settings a host could not serve", () => {
        const tls = tasksBootstrap("198.51.100.7").tls;
        const refused = (change: Partial<HostBootstrap["tls"]>) => () =>
            renderBootstrap({ ...tasksBootstrap("198.51.100.7"), tls: { ...tls, ...change } });
        expect(refused({ publicIp: "2001:db8::1" })).to.throw('tls.publicIp "2001:db8::1" must be an IPv4 address');
        expect(refused({ siteName: "Tasks.Example.com" })).to.throw(
            'tls.siteName "Tasks.Example.com" must be a lowercase DNS name or the public IP',
        );
        expect(refused({ acmeDirectory: "http://ca.example/dir" })).to.throw(
            'tls.acmeDirectory "http://ca.example/dir" must be an https URL',
        );
        expect(refused({ httpPort: 18080 })).to.throw(
            "tls.httpPort 18080 must be 1-65535 and none of the service's port and release slots (8080, 18080, 28080, 443)",
        );
        expect(refused({ httpsPort: 80 })).to.throw(
            "tls.httpPort 80 must be 1-65535 and none of the service's port and release slots (8080, 18080, 28080, 80)",
        );
    });
});

describe("host user data within EC2's limit", () => {
    // A quarter of EC2's 16 KB stays free, for the release script to grow.
    const margin = userDataLimitBytes / 4;

    for (const stack of ["dev", "prod"]) {
        it(`the ${stack} hosts' user data is gzip, at most ${userDataLimitBytes - margin} of EC2's ${userDataLimitBytes} bytes`, async () => {
            const { userData: encoded } = await encodedUserDataOf(stack);
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
        const { userData: encoded, publicIps } = await encodedUserDataOf("dev");
        const tasks = tasksBootstrap(publicIps.tasks);
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
            for (const [service, text] of Object.entries((await userDataOf(stack)).userData)) {
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
