import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { releaseScriptPath } from "../release/document";

/** The release script every host carries; a real file, so shellcheck and the release tests run it as it ships. */
export const releaseScript = fs.readFileSync(path.join(__dirname, "..", "release", "release-service.sh"), "utf8");

/** The official AWS CLI image: the AMI has Docker but no AWS CLI. Pinned by an exact version. */
export const defaultAwsCliImage = "public.ecr.aws/aws-cli/aws-cli:2.31.23";

/** The official Caddy image, the reverse proxy on the service's public port. Pinned by an exact version. */
export const defaultProxyImage = "caddy:2.11.7-alpine";

/** What a host needs to know before any release. None of it is secret, and none of it changes with a release. */
export interface HostBootstrap {
    /** Names the units, the proxy's container and the release containers. */
    serviceName: string;
    /** The public port: the proxy listens on it, and the container listens on it inside. */
    port: number;
    /** The path that answers 200 once the service is ready. */
    healthPath: string;
    /** Region of the SSM parameters. */
    region: string;
    /** SSM path under which the host records each release's outcome, one parameter per instance. */
    recordPath: string;
    proxyImage: string;
    awsCliImage: string;
}

/** Where the host keeps its release files. State survives a reboot; the run folder (a tmpfs) does not. */
export interface HostPaths {
    config: string;
    state: string;
    run: string;
}

export const hostPaths: HostPaths = {
    config: "/etc/release-service.env",
    state: "/var/lib/release-service",
    run: "/run/release-service",
};

const unitNames = (serviceName: string) => ({ proxy: `${serviceName}-proxy`, release: `${serviceName}-release` });

function checkBootstrap(host: HostBootstrap): void {
    if (!/^[a-z][a-z0-9-]*$/.test(host.serviceName)) {
        throw new Error(`serviceName "${host.serviceName}" must be lowercase letters, digits and dashes`);
    }
    if (!Number.isInteger(host.port) || host.port < 1 || host.port > 45535) {
        throw new Error(`port ${host.port} must be 1-45535: the release slots are port+10000 and port+20000`);
    }
    if (!/^\/[\x21-\x7e]*$/.test(host.healthPath)) throw new Error(`healthPath "${host.healthPath}" must start with /`);
}

/** The release script's settings on this host (`/etc/release-service.env`). */
export function renderReleaseConfig(host: HostBootstrap, paths: HostPaths = hostPaths): string {
    const settings: Record<string, string> = {
        SERVICE_NAME: host.serviceName,
        PORT: String(host.port),
        HEALTH_PATH: host.healthPath,
        AWS_REGION: host.region,
        AWS_CLI_IMAGE: host.awsCliImage,
        RECORD_PATH: host.recordPath,
        PROXY_NAME: unitNames(host.serviceName).proxy,
        STATE_DIR: paths.state,
        RUN_DIR: paths.run,
    };
    return Object.entries(settings)
        .map(([name, value]) => `${name}=${value}\n`)
        .join("");
}

/**
 * The proxy's unit: Caddy in a container on the host's network, listening on the public port. Its config file and
 * admin socket live on the host, so the release script can switch its upstream and a restart keeps the last one.
 */
export function renderProxyUnit(host: HostBootstrap, paths: HostPaths = hostPaths): string {
    const { proxy } = unitNames(host.serviceName);
    const configFolder = `${paths.state}/proxy`;
    const socketFolder = `${paths.run}/proxy`;
    const run = [
        "/usr/bin/docker run --rm",
        `--name ${proxy}`,
        "--network host",
        `--volume ${configFolder}:${configFolder}:ro`,
        `--volume ${socketFolder}:${socketFolder}`,
        "--log-driver json-file --log-opt max-size=10m --log-opt max-file=3",
        host.proxyImage,
        `caddy run --config ${configFolder}/caddy.json`,
    ].join(" ");
    return [
        "[Unit]",
        `Description=Reverse proxy in front of the ${host.serviceName} service (${host.proxyImage})`,
        "Requires=docker.service",
        "After=docker.service network-online.target",
        "Wants=network-online.target",
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        `ExecStartPre=-/usr/bin/docker rm --force ${proxy}`,
        `ExecStartPre=${releaseScriptPath} proxy-init`,
        `ExecStart=${run}`,
        `ExecStop=/usr/bin/docker stop ${proxy}`,
        "Restart=always",
        "RestartSec=5",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ].join("\n");
}

/**
 * The release unit: at every boot it brings the current release back (its secrets lived on a tmpfs). Releases
 * themselves come from SSM, not from this unit.
 */
export function renderReleaseUnit(host: HostBootstrap): string {
    const { proxy } = unitNames(host.serviceName);
    return [
        "[Unit]",
        `Description=Brings the current ${host.serviceName} release back at boot`,
        `Requires=docker.service ${proxy}.service`,
        `After=docker.service ${proxy}.service`,
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        `ExecStart=${releaseScriptPath} resume`,
        "Restart=on-failure",
        "RestartSec=15",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ].join("\n");
}

/**
 * The host's user data: cloud-config that installs nothing and holds no image digest and no secret. It writes the
 * release script and its settings, pulls the two helper images, starts the proxy and marks the host bootstrapped.
 */
export function renderBootstrap(host: HostBootstrap): string {
    checkBootstrap(host);
    const units = unitNames(host.serviceName);
    const document = {
        write_files: [
            { path: releaseScriptPath, owner: "root:root", permissions: "0755", content: releaseScript },
            { path: hostPaths.config, owner: "root:root", permissions: "0644", content: renderReleaseConfig(host) },
            {
                path: `/etc/systemd/system/${units.proxy}.service`,
                owner: "root:root",
                permissions: "0644",
                content: renderProxyUnit(host),
            },
            {
                path: `/etc/systemd/system/${units.release}.service`,
                owner: "root:root",
                permissions: "0644",
                content: renderReleaseUnit(host),
            },
        ],
        runcmd: [
            // The AMI's ECS agent would try to join a cluster this host is not part of.
            ["systemctl", "disable", "--now", "ecs.service"],
            ["docker", "pull", "--quiet", host.proxyImage],
            ["docker", "pull", "--quiet", host.awsCliImage],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", `${units.proxy}.service`],
            ["systemctl", "enable", `${units.release}.service`],
            // Releases wait for this mark, so the first one never races the bootstrap.
            ["mkdir", "-p", hostPaths.state],
            ["touch", `${hostPaths.state}/bootstrapped`],
        ],
    };
    return `#cloud-config\n${YAML.stringify(document, { lineWidth: 0 })}`;
}
