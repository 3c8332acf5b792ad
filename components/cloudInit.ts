import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

/** The boot script every host carries; kept as a real file so shellcheck and the boot tests run it as is. */
export const startServiceScript = fs.readFileSync(path.join(__dirname, "boot", "start-service.sh"), "utf8");

/** The official AWS CLI image: the AMI has Docker but no AWS CLI. */
export const defaultAwsCliImage = "public.ecr.aws/aws-cli/aws-cli:2.31.23";

/** What a host needs to know to run its service. None of it is secret: user data is stored in clear text. */
export interface HostBootConfig {
    /** Names the container, the systemd unit and the config folders. */
    serviceName: string;
    /** The image pinned by digest: `repository@sha256:…`. */
    image: string;
    /** Port the container listens on and the host publishes. */
    port: number;
    /** Region of the SSM parameters. */
    region: string;
    /** SSM path that holds the service's secrets. */
    parameterPath: string;
    /** Environment variable names that must be found under `parameterPath`. */
    secretNames: string[];
    /** Plain (non-secret) environment of the container. */
    environment: Record<string, string>;
    /** Image that runs the AWS CLI at boot. */
    awsCliImage: string;
}

/** Where the boot path keeps its files on the host. Secrets live under /run, a tmpfs, so they never touch disk. */
export function hostPaths(serviceName: string) {
    return {
        script: "/usr/local/bin/start-service",
        unit: `/etc/systemd/system/${serviceName}.service`,
        configFile: `/etc/${serviceName}/config.env`,
        secretsFile: `/run/${serviceName}/secrets.env`,
    };
}

const envNamePattern = /^[A-Z_][A-Z0-9_]*$/;

function checkBootConfig(config: HostBootConfig): void {
    if (!/^[a-z][a-z0-9-]*$/.test(config.serviceName)) {
        throw new Error(`serviceName "${config.serviceName}" must be lowercase letters, digits and dashes`);
    }
    if (!/^[^@\s]+@sha256:[0-9a-f]{64}$/.test(config.image)) {
        throw new Error(`image "${config.image}" must be pinned by digest (repository@sha256:…)`);
    }
    for (const [name, value] of Object.entries(config.environment)) {
        if (!envNamePattern.test(name) || /[\r\n]/.test(value)) {
            throw new Error(`environment variable ${name} must have an upper-case name and a one-line value`);
        }
    }
    for (const name of config.secretNames) {
        if (!envNamePattern.test(name)) throw new Error(`secret name ${name} must be an upper-case variable name`);
    }
}

/** The docker `--env-file` text for the plain settings: one NAME=value per line, sorted for a stable user data. */
export function renderEnvFile(environment: Record<string, string>): string {
    return Object.keys(environment)
        .sort()
        .map((name) => `${name}=${environment[name]}\n`)
        .join("");
}

/**
 * The systemd unit: a oneshot that runs the boot script and stays "active" while the container runs under Docker's
 * own restart policy. A failed start (missing secret, failed pull) is retried every 15 s, forever.
 */
export function renderUnit(config: HostBootConfig): string {
    checkBootConfig(config);
    const paths = hostPaths(config.serviceName);
    const settings: Record<string, string> = {
        SERVICE_NAME: config.serviceName,
        IMAGE: config.image,
        PORT: String(config.port),
        AWS_REGION: config.region,
        AWS_CLI_IMAGE: config.awsCliImage,
        PARAMETER_PATH: config.parameterPath,
        REQUIRED_PARAMETERS: config.secretNames.join(" "),
        CONFIG_FILE: paths.configFile,
        SECRETS_FILE: paths.secretsFile,
    };
    return [
        "[Unit]",
        `Description=${config.serviceName} service (${config.image})`,
        "Requires=docker.service",
        "After=docker.service network-online.target",
        "Wants=network-online.target",
        "StartLimitIntervalSec=0",
        "",
        "[Service]",
        "Type=oneshot",
        "RemainAfterExit=yes",
        ...Object.entries(settings).map(([name, value]) => `Environment="${name}=${value}"`),
        `ExecStart=${paths.script}`,
        `ExecStop=/usr/bin/docker stop --time 15 ${config.serviceName}`,
        "Restart=on-failure",
        "RestartSec=15",
        "TimeoutStartSec=600",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ].join("\n");
}

/** The host's user data: a cloud-config document rendered from data with a YAML library. */
export function renderCloudConfig(config: HostBootConfig): string {
    const paths = hostPaths(config.serviceName);
    const document = {
        write_files: [
            { path: paths.script, owner: "root:root", permissions: "0755", content: startServiceScript },
            {
                path: paths.configFile,
                owner: "root:root",
                permissions: "0644",
                content: renderEnvFile({ ...config.environment, PORT: String(config.port) }),
            },
            { path: paths.unit, owner: "root:root", permissions: "0644", content: renderUnit(config) },
        ],
        runcmd: [
            // The AMI's ECS agent would try to join a cluster this host is not part of.
            ["systemctl", "disable", "--now", "ecs.service"],
            ["systemctl", "daemon-reload"],
            ["systemctl", "enable", "--now", "--no-block", `${config.serviceName}.service`],
        ],
    };
    return `#cloud-config\n${YAML.stringify(document, { lineWidth: 0 })}`;
}
