import { gzipSync } from "fflate";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import * as YAML from "yaml";
import { releaseScriptPath } from "../release/document";

/**
 * The release script every host carries: a real file, so shellcheck and the release tests run it as it ships. Its
 * comment lines are left out of the user data (a third of its gzipped size); the shebang and shellcheck's directives
 * stay.
 */
export const releaseScript = fs
    .readFileSync(path.join(__dirname, "..", "release", "release-service.sh"), "utf8")
    .replace(/^[ \t]*#(?!!| shellcheck ).*\n/gm, "");

/**
 * The official AWS CLI image: the AMI has Docker but no AWS CLI. Pinned by digest (a tag can be moved); the tag in
 * front only says which version the digest is. The digest is a public project's pin of this tag (docs/hosts.md).
 */
export const defaultAwsCliImage =
    "public.ecr.aws/aws-cli/aws-cli:2.31.23@sha256:668ffb01408e03e1002b36886797c1a97b09f7d0f02fba3123f9fcd68a081dc5";

/**
 * The official Caddy image, the reverse proxy on the service's public port: the multi-platform index of
 * caddy:2.11.4-alpine from the official image's tag list (docker-library/repo-info), pinned by digest. The release
 * tests run Caddy of the same version (scripts/install.sh builds it).
 */
export const defaultProxyImage =
    "caddy:2.11.4-alpine@sha256:de23def33b17fb5d1290b0f6c2add1d70780e52341896c00a4c8a2a2fe9d355e";

/**
 * Let's Encrypt's ACME directories. Staging issues certificates no browser trusts, under rate limits far above
 * production's (docs/configuration.md says when to use it).
 */
export const acmeDirectories = {
    letsencrypt: "https://acme-v02.api.letsencrypt.org/directory",
    "letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
} as const;
export type AcmeCa = keyof typeof acmeDirectories;
export const acmeCas = Object.keys(acmeDirectories) as AcmeCa[];

/** The Let's Encrypt profile that allows IP address identifiers (https://letsencrypt.org/docs/profiles/). */
export const ipAddressProfile = "shortlived";

/**
 * Sigstore's cosign, which checks an image's signature before the host runs it: the official image of the version CI
 * signs with (.github/tools/cosign/go.mod), its multi-platform index pinned by digest. The digest is public projects'
 * pin of this tag (docs/hosts.md).
 */
export const defaultCosignImage =
    "ghcr.io/sigstore/cosign/cosign:v3.1.3@sha256:9e5c2f2edc34351160407ca3416c61855bdf9403c3c5936e0f0be7fc261611b8";

/** EC2 takes at most 16 KB of user data, counted before base64 (EC2 User Guide, "instancedata-add-user-data"). */
export const userDataLimitBytes = 16384;

/**
 * What the proxy allows a client, so slow clients are cut off at the proxy and never hold the service's workers. Caddy
 * has no cap on concurrent connections of its own (its listener wrappers are http_redirect, proxy_protocol and tls),
 * so the proxy container's open-file limit caps its sockets.
 */
export interface ProxyLimits {
    /** Time to send the request line and headers. @default 10 */
    readHeaderTimeoutSeconds: number;
    /** Time to send the whole request, body included. @default 30 */
    readTimeoutSeconds: number;
    /** Time a kept-alive connection may sit idle between requests. @default 60 */
    idleTimeoutSeconds: number;
    /**
     * Largest request line and headers; the services' own limit (16 KiB) is below it, so they answer 431 in JSON.
     * @default 65536
     */
    maxHeaderBytes: number;
    /**
     * Bytes of a body the proxy reads in full before it opens a request to the service, so a slow body never holds
     * a worker; one byte over the services' 64 KiB limit, so a larger body still gets their 413. @default 65537
     */
    requestBufferBytes: number;
    /** Open files of the proxy container: client and upstream sockets together. @default 4096 */
    maxOpenFiles: number;
}

export const defaultProxyLimits: ProxyLimits = {
    readHeaderTimeoutSeconds: 10,
    readTimeoutSeconds: 30,
    idleTimeoutSeconds: 60,
    maxHeaderBytes: 65536,
    requestBufferBytes: 65537,
    maxOpenFiles: 4096,
};

/** How the host's proxy serves HTTPS, with a certificate it obtains and renews itself over ACME. */
export interface HostTls {
    /** The name clients use and the certificate names: a DNS name, or the Elastic IP itself. */
    siteName: string;
    /** The Elastic IP. Only the host that holds it can answer an ACME challenge, so only it obtains or renews. */
    publicIp: string;
    acmeDirectory: string;
    /** Contact address the CA may write to. @default none */
    acmeEmail?: string;
    /** SSM path of the service's certificate store, which a new host reads before it starts its proxy. */
    storePath: string;
    /** The KMS key (ARN) that encrypts the store: the service's own. */
    storeKeyArn: string;
    /** The proxy's HTTPS port. @default 443 */
    httpsPort?: number;
    /** The port that redirects to HTTPS and answers ACME's HTTP challenges. @default 80 */
    httpPort?: number;
    /** How often the proxy checks whether its certificate needs renewing. @default 600 */
    renewCheckSeconds?: number;
}

const defaultTlsPorts = { httpsPort: 443, httpPort: 80, renewCheckSeconds: 600 };

/** What a host needs to know before any release. None of it is secret, and none of it changes with a release. */
export interface HostBootstrap {
    /** Names the units, the proxy's container and the release containers. */
    serviceName: string;
    /** The service's port: the container listens on it inside, and the proxy serves it in plain HTTP to peers. */
    port: number;
    /** The path that answers 200 once the service is ready. */
    healthPath: string;
    /** Region of the SSM parameters. */
    region: string;
    /** SSM path under which the host records each release's outcome, one parameter per instance. */
    recordPath: string;
    /** Pinned by digest. */
    proxyImage: string;
    /** Pinned by digest. */
    awsCliImage: string;
    /** Pinned by digest; pulled by the first release that checks a signature. @default defaultCosignImage */
    cosignImage?: string;
    /** What the proxy allows a client. @default defaultProxyLimits */
    proxyLimits?: Partial<ProxyLimits>;
    tls: HostTls;
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

const unitNames = (serviceName: string) => ({
    proxy: `${serviceName}-proxy`,
    release: `${serviceName}-release`,
    certificates: `${serviceName}-certificates`,
});
const proxyLimitsOf = (host: HostBootstrap): ProxyLimits => ({ ...defaultProxyLimits, ...host.proxyLimits });
const tlsOf = (host: HostBootstrap) => ({ ...defaultTlsPorts, ...host.tls });

function checkBootstrap(host: HostBootstrap): void {
    if (!/^[a-z][a-z0-9-]*$/.test(host.serviceName)) {
        throw new Error(`serviceName "${host.serviceName}" must be lowercase letters, digits and dashes`);
    }
    if (!Number.isInteger(host.port) || host.port < 1 || host.port > 45535) {
        throw new Error(`port ${host.port} must be 1-45535: the release slots are port+10000 and port+20000`);
    }
    if (!/^\/[\x21-\x7e]*$/.test(host.healthPath)) throw new Error(`healthPath "${host.healthPath}" must start with /`);
    for (const [name, image] of [
        ["proxyImage", host.proxyImage],
        ["awsCliImage", host.awsCliImage],
        ["cosignImage", host.cosignImage ?? defaultCosignImage],
    ]) {
        if (!/^[^\s@]+@sha256:[0-9a-f]{64}$/.test(image)) {
            throw new Error(`${name} "${image}" must be pinned by digest (repository[:tag]@sha256:<digest>)`);
        }
    }
    const tls = tlsOf(host);
    if (!net.isIPv4(tls.publicIp)) throw new Error(`tls.publicIp "${tls.publicIp}" must be an IPv4 address`);
    if (tls.siteName !== tls.publicIp && !/^[a-z0-9.-]+\.[a-z][a-z0-9-]*$/.test(tls.siteName)) {
        throw new Error(`tls.siteName "${tls.siteName}" must be a lowercase DNS name or the public IP`);
    }
    if (!/^https:\/\/[^\s"]+$/.test(tls.acmeDirectory)) throw new Error(`tls.acmeDirectory "${tls.acmeDirectory}" must be an https URL`);
    if (tls.acmeEmail !== undefined && !/^[^@\s"]+@[^@\s"]+$/.test(tls.acmeEmail)) {
        throw new Error(`tls.acmeEmail "${tls.acmeEmail}" must be an email address`);
    }
    const taken = [host.port, host.port + 10000, host.port + 20000];
    for (const [name, port] of [["httpsPort", tls.httpsPort], ["httpPort", tls.httpPort]] as const) {
        if (!Number.isInteger(port) || port < 1 || port > 65535 || taken.includes(port)) {
            throw new Error(`tls.${name} ${port} must be 1-65535 and none of the service's port and release slots (${taken.join(", ")})`);
        }
        taken.push(port);
    }
}

/** The release script's settings on this host (`/etc/release-service.env`). */
export function renderReleaseConfig(host: HostBootstrap, paths: HostPaths = hostPaths): string {
    const limits = proxyLimitsOf(host);
    const tls = tlsOf(host);
    const units = unitNames(host.serviceName);
    const settings: Record<string, string> = {
        SERVICE_NAME: host.serviceName,
        PORT: String(host.port),
        HEALTH_PATH: host.healthPath,
        AWS_REGION: host.region,
        AWS_CLI_IMAGE: host.awsCliImage,
        COSIGN_IMAGE: host.cosignImage ?? defaultCosignImage,
        RECORD_PATH: host.recordPath,
        PROXY_NAME: units.proxy,
        PROXY_IMAGE: host.proxyImage,
        RELEASE_UNIT: `${units.release}.service`,
        PROXY_READ_HEADER_TIMEOUT: `${limits.readHeaderTimeoutSeconds}s`,
        PROXY_READ_TIMEOUT: `${limits.readTimeoutSeconds}s`,
        PROXY_IDLE_TIMEOUT: `${limits.idleTimeoutSeconds}s`,
        PROXY_MAX_HEADER_BYTES: String(limits.maxHeaderBytes),
        PROXY_REQUEST_BUFFER_BYTES: String(limits.requestBufferBytes),
        SITE_NAME: tls.siteName,
        PUBLIC_IP: tls.publicIp,
        HTTPS_PORT: String(tls.httpsPort),
        HTTP_PORT: String(tls.httpPort),
        ACME_CA: tls.acmeDirectory,
        // Let's Encrypt issues for an IP address only under this profile; a DNS name takes the CA's default.
        ACME_PROFILE: net.isIP(tls.siteName) ? ipAddressProfile : "",
        ACME_EMAIL: tls.acmeEmail ?? "",
        CERTIFICATE_RENEW_INTERVAL: `${tls.renewCheckSeconds}s`,
        CERTIFICATE_STORE: tls.storePath,
        CERTIFICATE_STORE_KEY: tls.storeKeyArn,
        CERTIFICATES_TIMER: `${units.certificates}.timer`,
        STATE_DIR: paths.state,
        RUN_DIR: paths.run,
    };
    return Object.entries(settings)
        .map(([name, value]) => `${name}=${value}\n`)
        .join("");
}

/**
 * The proxy's unit: Caddy in a container on the host's network, serving HTTPS, the redirect from HTTP, and the
 * service's port to peers. Its config file, admin socket and data (certificates, ACME account) live on the host, so
 * the release script can switch its upstream, a restart keeps the last one, and certificates outlive the container.
 */
export function renderProxyUnit(host: HostBootstrap, paths: HostPaths = hostPaths): string {
    const { proxy } = unitNames(host.serviceName);
    const configFolder = `${paths.state}/proxy`;
    const dataFolder = `${paths.state}/proxy-data`;
    const socketFolder = `${paths.run}/proxy`;
    const run = [
        "/usr/bin/docker run --rm",
        `--name ${proxy}`,
        "--network host",
        `--ulimit nofile=${proxyLimitsOf(host).maxOpenFiles}`,
        `--volume ${configFolder}:${configFolder}:ro`,
        `--volume ${dataFolder}:${dataFolder}`,
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
 * The certificates' units: every minute, a host that holds the Elastic IP keeps the certificate store up to date with
 * its proxy's certificates (and nudges its proxy once to obtain its first one). A host without the address does
 * nothing.
 */
export function renderCertificatesUnits(host: HostBootstrap): { service: string; timer: string } {
    const { certificates } = unitNames(host.serviceName);
    const service = [
        "[Unit]",
        `Description=Keeps the ${host.serviceName} proxy's certificates in the service's certificate store`,
        "",
        "[Service]",
        "Type=oneshot",
        `ExecStart=${releaseScriptPath} certificates`,
        "",
    ].join("\n");
    const timer = [
        "[Unit]",
        `Description=Runs ${certificates}.service every minute`,
        "",
        "[Timer]",
        "OnBootSec=60",
        "OnUnitActiveSec=60",
        "",
        "[Install]",
        "WantedBy=timers.target",
        "",
    ].join("\n");
    return { service, timer };
}

/**
 * The host's bootstrap: cloud-config that installs nothing and holds no secret and nothing that changes with a
 * release (the only digests are the two helper images'). It writes the release script, its settings and the units,
 * then `release-service bootstrap` pulls the helper images, restores the service's certificates, starts the proxy
 * and marks the host bootstrapped, or records why it could not.
 */
export function renderBootstrap(host: HostBootstrap): string {
    checkBootstrap(host);
    const units = unitNames(host.serviceName);
    const certificateUnits = renderCertificatesUnits(host);
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
            {
                path: `/etc/systemd/system/${units.certificates}.service`,
                owner: "root:root",
                permissions: "0644",
                content: certificateUnits.service,
            },
            {
                path: `/etc/systemd/system/${units.certificates}.timer`,
                owner: "root:root",
                permissions: "0644",
                content: certificateUnits.timer,
            },
        ],
        runcmd: [
            // The AMI's ECS agent would try to join a cluster this host is not part of.
            ["systemctl", "disable", "--now", "ecs.service"],
            ["systemctl", "daemon-reload"],
            // Releases wait for its mark (or its recorded failure), so the first one never races the bootstrap.
            [releaseScriptPath, "bootstrap"],
        ],
    };
    return `#cloud-config\n${YAML.stringify(document, { lineWidth: 0 })}`;
}

/**
 * The user data as EC2 takes it (`userDataBase64`): the bootstrap gzipped, which cloud-init unpacks, so it fits EC2's
 * 16 KB. The gzip is pure JavaScript with no timestamp, so the same bootstrap gives the same bytes on every machine
 * and Node version: the hosts are replaced on a change of their user data, so any other byte would replace them.
 */
export function renderUserData(host: HostBootstrap): string {
    const gzipped = gzipSync(Buffer.from(renderBootstrap(host), "utf8"), { level: 9, mtime: 0 });
    if (gzipped.length > userDataLimitBytes) {
        throw new Error(`the ${host.serviceName} host's user data is ${gzipped.length} bytes gzipped; EC2 takes ${userDataLimitBytes}`);
    }
    return Buffer.from(gzipped).toString("base64");
}
