// A service host laid out in scratch folders on this machine: the release script and the units exactly as the
// user data renders them, run against the tests' Docker engine, registry and moto's SSM, with systemd played by the
// test: a `systemctl` of its own runs the proxy unit's commands.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { HostBootstrap, HostPaths, HostTls, ProxyLimits, renderProxyUnit, renderReleaseConfig } from "../../components/host/bootstrap";
import { ReleaseInputs, releaseParameters, renderReleaseDocument } from "../../components/release/document";
import { parseReleaseRecord, ReleaseRecord } from "../../components/release/waiters";
import { root } from "../mocks";
import { freePort, Moto, toolPath } from "../tools";
import { DockerEngine } from "./engine";

const script = path.join(root, "components", "release", "release-service.sh");

/**
 * A port whose two release slots (port+10000, port+20000) are free too, all below the kernel's ephemeral range
 * (32768 and up), as on the hosts (8080 and 8000): a client socket never holds a slot's port as its own.
 */
async function freeServicePort(): Promise<number> {
    const free = (port: number) =>
        new Promise<boolean>((resolve) => {
            const server = net.createServer();
            server.once("error", () => resolve(false));
            server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
        });
    for (let attempt = 0; attempt < 50; attempt++) {
        const port = 2000 + Math.floor(Math.random() * 10000);
        if ((await free(port)) && (await free(port + 10000)) && (await free(port + 20000))) return port;
    }
    throw new Error("no free port with free release slots");
}

export interface RunResult {
    status: number | null;
    stdout: string;
    stderr: string;
    seconds: number;
}

/** Runs a command to its end without blocking the event loop, so load can flow meanwhile. */
export function runAsync(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
    const started = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { env });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk) => (stdout += chunk));
        child.stderr.on("data", (chunk) => (stderr += chunk));
        child.on("error", reject);
        child.on("close", (status) =>
            resolve({ status, stdout, stderr, seconds: Number(process.hrtime.bigint() - started) / 1e9 }),
        );
    });
}

/** One HTTP GET on a new connection: the status and body, or the error code (a timeout after `timeoutMs` idle). */
export function get(
    port: number,
    urlPath: string,
    timeoutMs = 5000,
): Promise<{ status: number; body: string } | { error: string }> {
    return new Promise((resolve) => {
        const request = http.get({ host: "127.0.0.1", port, path: urlPath, agent: false, timeout: timeoutMs }, (response) => {
            let body = "";
            response.on("data", (chunk) => (body += chunk));
            response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
        });
        request.on("timeout", () => request.destroy(new Error("timeout")));
        request.on("error", (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    });
}

/** Shorter proxy timeouts than the hosts' (10 s and 30 s), so the tests of slow clients take seconds. */
export const testProxyLimits: Partial<ProxyLimits> = { readHeaderTimeoutSeconds: 2, readTimeoutSeconds: 4 };

/** A host's HTTPS settings in a test; its ports come from the host. */
export type TestTls = Omit<HostTls, "httpsPort" | "httpPort">;

/**
 * The HTTPS of a host whose test is about releases, not certificates: an address nobody forwards to it and a CA that
 * refuses connections, so its proxy tries for a certificate in vain and serves its port in plain HTTP meanwhile.
 */
const noCertificateAuthority = (service: string): TestTls => ({
    siteName: "127.0.0.2",
    publicIp: "127.0.0.2",
    acmeDirectory: "https://127.0.0.1:9/directory",
    storePath: `/microservices/test/${service}/certificates`,
    storeKeyArn: `alias/microservices/test/${service}`,
});

export class TestHost {
    readonly folder = fs.mkdtempSync(path.join(os.tmpdir(), "release-host-"));
    /** State on disk; the run folder on a tmpfs, as /run is on the hosts. */
    readonly paths: HostPaths;
    readonly instanceId = `i-0${Math.random().toString(16).slice(2, 18).padEnd(16, "0")}`;
    readonly service: string;
    port = 0;
    httpsPort = 0;
    httpPort = 0;
    bootstrap!: HostBootstrap;
    private readonly tls: TestTls;
    private readonly extraEnv: NodeJS.ProcessEnv;
    /** The test's `systemctl`: it starts the proxy unit's commands, and ignores the rest. */
    private readonly systemctlFolder = path.join(this.folder, "systemd");
    private proxy?: ChildProcess;

    /**
     * `service` names the host's containers (two hosts on one engine need two names); `runOnDisk` puts the run folder
     * on a disk instead of a tmpfs, as a misconfigured host would; `tls` is its HTTPS; `env` is added to its commands'
     * environment (the HTTPS tests point the instance metadata there).
     */
    constructor(
        private readonly engine: DockerEngine,
        private readonly moto: Moto,
        private readonly images: { proxy: string; awsCli: string; cosign?: string },
        {
            service = "tasks",
            runOnDisk = false,
            tls = undefined as TestTls | undefined,
            env = {} as NodeJS.ProcessEnv,
        } = {},
    ) {
        this.service = service;
        this.tls = tls ?? noCertificateAuthority(service);
        this.extraEnv = env;
        this.paths = {
            config: path.join(this.folder, "release-service.env"),
            state: path.join(this.folder, "state"),
            run: runOnDisk ? fs.mkdtempSync(path.join(this.folder, "run-")) : fs.mkdtempSync("/dev/shm/release-run-"),
        };
    }

    /** The whole first boot: the files cloud-init writes, then the bootstrap; fails when the bootstrap does. */
    async boot(): Promise<void> {
        await this.writeFiles();
        const bootstrap = await this.runBootstrap();
        if (bootstrap.status !== 0) throw new Error(`release-service bootstrap failed:\n${bootstrap.stderr}`);
    }

    /** What cloud-init writes before its commands: the script's settings (the units are read from their renderer). */
    async writeFiles(): Promise<void> {
        this.port = await freeServicePort();
        this.httpsPort = await freePort();
        this.httpPort = await freePort();
        this.bootstrap = {
            serviceName: this.service,
            port: this.port,
            healthPath: "/health",
            region: "eu-west-1",
            recordPath: `/microservices/test/${this.service}/releases`,
            proxyImage: this.images.proxy,
            awsCliImage: this.images.awsCli,
            cosignImage: this.images.cosign,
            proxyLimits: testProxyLimits,
            tls: { ...this.tls, httpsPort: this.httpsPort, httpPort: this.httpPort },
        };
        fs.writeFileSync(this.paths.config, renderReleaseConfig(this.bootstrap, this.paths));
        fs.mkdirSync(this.systemctlFolder, { recursive: true });
        const systemctl = path.join(this.systemctlFolder, "systemctl");
        fs.writeFileSync(
            systemctl,
            `#!/bin/sh\n# systemd played by the test: enabling the proxy unit with --now starts it.\n` +
                `[ "$*" = "enable --now ${this.service}-proxy.service" ] && echo start >"${this.systemctlFolder}/requests"\n` +
                "exit 0\n",
        );
        fs.chmodSync(systemctl, 0o755);
    }

    /**
     * The bootstrap's command, as cloud-init runs it (`release-service bootstrap`), with the test playing systemd: when
     * the script enables the proxy unit, the test starts it.
     */
    async runBootstrap(extraEnv: NodeJS.ProcessEnv = {}): Promise<RunResult> {
        const requests = path.join(this.systemctlFolder, "requests");
        fs.rmSync(requests, { force: true });
        const bootstrap = runAsync("bash", [script, "bootstrap"], this.env({ PATH: toolPath(this.systemctlFolder), ...extraEnv }));
        let finished = false;
        void bootstrap.then(() => (finished = true));
        while (!finished && !fs.existsSync(requests)) await new Promise((resolve) => setTimeout(resolve, 100));
        if (fs.existsSync(requests)) await this.startProxy();
        return bootstrap;
    }

    /** The host's releases read the pull waits from here; the tests shorten them (1, 2, 4 s instead of 5, 10, 20 s). */
    env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
        return this.engine.env({
            PATH: toolPath(),
            RELEASE_CONFIG: this.paths.config,
            ...this.moto.env,
            AWS_SSM_INSTANCE_ID: this.instanceId,
            PULL_RETRY_SECONDS: "1",
            ...this.extraEnv,
            ...extra,
        });
    }

    /** The proxy unit's commands, as systemd would run them: the two ExecStartPre, then ExecStart in the foreground. */
    async startProxy(): Promise<void> {
        const unit = renderProxyUnit(this.bootstrap, this.paths);
        const commands = (key: string) =>
            [...unit.matchAll(new RegExp(`^${key}=-?(.*)$`, "gm"))].map((match) =>
                match[1].replace("/usr/local/bin/release-service", `bash ${script}`).split(" "),
            );
        for (const [command, ...args] of commands("ExecStartPre")) {
            await runAsync(command, args, this.env());
        }
        const [command, ...args] = commands("ExecStart")[0];
        this.proxy = spawn(command, args, { env: this.env(), stdio: "ignore" });
        const deadline = Date.now() + 20000;
        while (!("status" in (await get(this.port, "/")))) {
            if (Date.now() > deadline) throw new Error(`the proxy never answered on ${this.port}`);
            await new Promise((resolve) => setTimeout(resolve, 100));
        }
    }

    /** Stops the proxy as systemd would (`docker stop` of its container). */
    stopProxy(): void {
        this.engine.docker("stop", `${this.service}-proxy`);
    }

    /** The parameters SSM hands the release document for these inputs, as SSM_* variables. */
    releaseEnvironment(inputs: Omit<ReleaseInputs, "settings"> & { settings?: Record<string, string> }) {
        const parameters = releaseParameters(renderReleaseDocument(this.service), {
            ...inputs,
            settings: { ...inputs.settings, PORT: String(this.port) },
        });
        const env: Record<string, string> = {};
        for (const [name, value] of Object.entries(parameters)) env[`SSM_${name}`] = value;
        return { env, releaseId: parameters.releaseId };
    }

    /** Runs the release document's command with these inputs, as the SSM agent would. */
    async deploy(
        inputs: Omit<ReleaseInputs, "settings"> & { settings?: Record<string, string> },
        extraEnv: NodeJS.ProcessEnv = {},
    ): Promise<RunResult & { releaseId: string }> {
        const { env, releaseId } = this.releaseEnvironment(inputs);
        const result = await runAsync("bash", [script, "deploy"], this.env({ ...env, ...extraEnv }));
        return { ...result, releaseId };
    }

    /** The certificates timer's command, as systemd runs it every minute. */
    certificates(): Promise<RunResult> {
        return runAsync("bash", [script, "certificates"], this.env());
    }

    /** The release unit's command, as systemd runs it at boot. */
    resume(): Promise<RunResult> {
        return runAsync("bash", [script, "resume"], this.env());
    }

    /** The outcome the host recorded for its last release. */
    record(): ReleaseRecord {
        const name = `${this.bootstrap.recordPath}/${this.instanceId}`;
        const value = this.moto.aws("ssm", "get-parameter", "--name", name, "--query", "Parameter.Value", "--output", "text");
        return parseReleaseRecord(value.replace(/\n$/, ""));
    }

    /** Every record the host wrote, oldest first: what a gate polling the parameter could have seen. */
    recordHistory(): ReleaseRecord[] {
        const name = `${this.bootstrap.recordPath}/${this.instanceId}`;
        const history = JSON.parse(this.moto.aws("ssm", "get-parameter-history", "--name", name));
        return (history.Parameters as { Value: string }[]).map((entry) => parseReleaseRecord(entry.Value));
    }

    /** The service's containers, newest first: name and state. */
    containers(): { name: string; state: string }[] {
        return this.engine
            .docker("ps", "--all", "--filter", `label=release-service.service=${this.service}`, "--format", "{{.Names}} {{.State}}")
            .trim()
            .split("\n")
            .filter(Boolean)
            .map((line) => {
                const [name, state] = line.split(" ");
                return { name, state };
            });
    }

    async destroy(): Promise<void> {
        this.proxy?.kill();
        spawnSync("docker", ["rm", "--force", `${this.service}-proxy`], { env: this.engine.env() });
        fs.rmSync(this.folder, { recursive: true, force: true });
        fs.rmSync(this.paths.run, { recursive: true, force: true });
    }
}
