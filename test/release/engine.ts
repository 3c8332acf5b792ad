// The real servers the release tests drive: a Docker engine of their own (Debian's docker.io, on its own socket,
// data root, exec root and pidfile), a local registry standing in for Docker Hub (Debian's docker-registry), and the
// test images, built FROM scratch because no base image can be pulled here.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { defaultCosignImage, defaultProxyImage } from "../../components/host/bootstrap";
import { root } from "../mocks";
import { freePort, Moto, must, startMotoServer, tool, unmountUnder, waitForPort } from "../tools";

/** The absolute path of a program, or an error that says how to get it: a missing one fails the test. */
function program(name: string, debianPackage: string): string {
    for (const folder of ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
        if (fs.existsSync(path.join(folder, name))) return path.join(folder, name);
    }
    throw new Error(`${name} is not installed: apt-get install ${debianPackage} (scripts/install.sh does it)`);
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
        if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
}

export class DockerEngine {
    readonly folder = fs.mkdtempSync(path.join(os.tmpdir(), "release-dockerd-"));
    readonly host = `unix://${this.folder}/docker.sock`;
    /**
     * Its own bridge, on a subnet no other interface uses: engines of parallel runs on one machine would otherwise
     * share docker0 and give their containers the same addresses, so a published port could reach another run's.
     */
    private readonly bridge = `rel${this.folder.slice(-6)}`;
    private daemon?: ChildProcess;

    private createBridge(): void {
        if (fs.existsSync(`/sys/class/net/${this.bridge}`)) return;
        const used = must("ip", ["-o", "-4", "addr", "show"]);
        const free = Array.from({ length: 200 }, (_, index) => `10.${100 + (index % 100)}.${Math.floor(Math.random() * 256)}`).find(
            (prefix) => !used.includes(` ${prefix}.`),
        );
        if (!free) throw new Error("no free 10.x.y.0/24 subnet for the engine's bridge");
        must("ip", ["link", "add", "name", this.bridge, "type", "bridge"]);
        must("ip", ["addr", "add", `${free}.1/24`, "dev", this.bridge]);
        must("ip", ["link", "set", this.bridge, "up"]);
    }

    /** The environment that points the docker CLI at this engine. */
    env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
        return { ...process.env, DOCKER_HOST: this.host, ...extra };
    }

    docker(...args: string[]): string {
        return must("docker", args, this.env());
    }

    /** A container's output, stdout and stderr merged in their order, since a Unix time in seconds if given. */
    logs(container: string, since?: number): string {
        const options = since === undefined ? [] : ["--since", since.toFixed(3)];
        return must("sh", ["-c", 'docker logs "$@" 2>&1', "logs", ...options, container], this.env());
    }

    async start(): Promise<void> {
        this.createBridge();
        const log = fs.openSync(path.join(this.folder, "dockerd.log"), "a");
        this.daemon = spawn(
            program("dockerd", "docker.io"),
            [
                "--host", this.host,
                "--data-root", path.join(this.folder, "data"),
                "--exec-root", path.join(this.folder, "exec"),
                "--pidfile", path.join(this.folder, "docker.pid"),
                "--bridge", this.bridge,
            ],
            { stdio: ["ignore", log, log] },
        );
        await waitFor("dockerd answering", () => spawnSync("docker", ["info"], { env: this.env() }).status === 0, 60000);
    }

    /** Stops the engine as a host shutdown would; containers stop with it. */
    async stop(): Promise<void> {
        const daemon = this.daemon;
        if (!daemon || daemon.exitCode !== null) return;
        const exited = new Promise((resolve) => daemon.once("exit", resolve));
        daemon.kill("SIGTERM");
        await exited;
    }

    async restart(): Promise<void> {
        await this.stop();
        await this.start();
    }

    /** Stops the engine and deletes its data, containers and images included, with the mounts it left. */
    async destroy(): Promise<void> {
        if (this.daemon && this.daemon.exitCode === null) {
            spawnSync("sh", ["-c", "docker ps -aq | xargs -r docker rm -f"], { env: this.env() });
        }
        await this.stop();
        unmountUnder(this.folder);
        spawnSync("ip", ["link", "delete", this.bridge]);
        fs.rmSync(this.folder, { recursive: true, force: true });
    }
}

/** A local registry on loopback, standing in for Docker Hub; it can be stopped to prove a release pulls nothing. */
export class Registry {
    readonly folder = fs.mkdtempSync(path.join(os.tmpdir(), "release-registry-"));
    address = "";
    private server?: ChildProcess;

    /** `listenAll`: also serve other network namespaces (the engine rig's hosts), not only loopback. */
    constructor(private readonly listenAll = false) {}

    async start(): Promise<void> {
        if (!this.address) this.address = `127.0.0.1:${await freePort()}`;
        const config = path.join(this.folder, "config.yml");
        fs.writeFileSync(
            config,
            [
                "version: 0.1",
                "storage:",
                "  filesystem:",
                `    rootdirectory: ${path.join(this.folder, "data")}`,
                "http:",
                `  addr: ${this.listenAll ? this.address.replace("127.0.0.1", "0.0.0.0") : this.address}`,
                "",
            ].join("\n"),
        );
        this.server = spawn(program("docker-registry", "docker-registry"), ["serve", config], { stdio: "ignore" });
        await waitForPort(Number(this.address.split(":")[1]), 15000);
    }

    async stop(): Promise<void> {
        const server = this.server;
        if (!server || server.exitCode !== null) return;
        const exited = new Promise((resolve) => server.once("exit", resolve));
        server.kill();
        await exited;
    }
}

const fixtures = path.join(root, "test", "fixtures", "release-images");

/** A build context in a scratch folder: the fixture files, Debian's static busybox, and any extra files. */
function context(files: string[], extra: (folder: string) => void = () => undefined): string {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "release-image-"));
    for (const file of files) fs.copyFileSync(path.join(fixtures, file), path.join(folder, file));
    fs.chmodSync(folder, 0o755);
    for (const file of files.filter((name) => name.endsWith(".sh"))) fs.chmodSync(path.join(folder, file), 0o755);
    fs.copyFileSync(program("busybox", "busybox-static"), path.join(folder, "busybox"));
    extra(folder);
    return folder;
}

/**
 * Pushes a local image to the registry as `repository:tag`, removes both names from the engine (so that whoever
 * needs it must pull it), and returns it pinned by digest.
 */
export function pushImage(engine: DockerEngine, registry: Registry, local: string, repository: string, tag: string): string {
    const remote = `${registry.address}/${repository}:${tag}`;
    engine.docker("tag", local, remote);
    engine.docker("push", "--quiet", remote);
    const digest = engine.docker("image", "inspect", "--format", "{{index .RepoDigests 0}}", remote).trim();
    engine.docker("image", "rm", remote, local);
    return digest;
}

/** Builds a variant of the service stand-in (service.sh), pushes it, and returns it pinned by digest. */
export function pushServiceImage(engine: DockerEngine, registry: Registry, mode: string, version: string): string {
    const local = `service-stand-in:${version}`;
    const folder = context(["service.Dockerfile", "service.sh"]);
    engine.docker("build", "--quiet", "--file", path.join(folder, "service.Dockerfile"),
        "--build-arg", `MODE=${mode}`, "--build-arg", `VERSION=${version}`, "--tag", local, folder);
    return pushImage(engine, registry, local, "tasks", version);
}

/** The Caddy version of the hosts' pinned proxy image, e.g. v2.11.4. */
export const proxyVersion = `v${/^caddy:(\d+\.\d+\.\d+)-alpine@/.exec(defaultProxyImage)![1]}`;

/**
 * The proxy image: Caddy of the hosts' version, built statically from source by scripts/install.sh (the official
 * image cannot be pulled here), under the given name. `trustedCa` becomes its system trust store (the official
 * image's holds the public CAs): the HTTPS tests' CA front.
 */
export function buildProxyImage(engine: DockerEngine, name: string, trustedCa = ""): void {
    const caddy = tool(`caddy-${proxyVersion}`);
    const folder = context(["caddy.Dockerfile"], (folder) => {
        fs.mkdirSync(path.join(folder, "rootfs", "usr", "bin"), { recursive: true });
        fs.mkdirSync(path.join(folder, "rootfs", "tmp"), { recursive: true });
        fs.mkdirSync(path.join(folder, "rootfs", "etc", "ssl", "certs"), { recursive: true });
        fs.copyFileSync(caddy, path.join(folder, "rootfs", "usr", "bin", "caddy"));
        fs.writeFileSync(path.join(folder, "rootfs", "etc", "ssl", "certs", "ca-certificates.crt"), trustedCa);
    });
    engine.docker("build", "--quiet", "--file", path.join(folder, "caddy.Dockerfile"), "--tag", name, folder);
}

/** The AWS CLI probe image, under the given name. */
export function buildAwsCliProbe(engine: DockerEngine, name: string): void {
    const folder = context(["aws-cli-probe.Dockerfile", "aws-cli-probe.sh"]);
    engine.docker("build", "--quiet", "--file", path.join(folder, "aws-cli-probe.Dockerfile"), "--tag", name, folder);
}

/** The cosign version of the hosts' pinned image, e.g. v3.1.3. */
export const cosignVersion = /^ghcr\.io\/sigstore\/cosign\/cosign:(v[\d.]+)@/.exec(defaultCosignImage)![1];

/** The cosign image: cosign of the hosts' version, built statically by scripts/install.sh, under the given name. */
export function buildCosignImage(engine: DockerEngine, name: string): void {
    const cosign = tool(`cosign-${cosignVersion}`);
    const folder = context(["cosign.Dockerfile"], (folder) => {
        fs.mkdirSync(path.join(folder, "rootfs", "ko-app"), { recursive: true });
        fs.mkdirSync(path.join(folder, "home", "nonroot"), { recursive: true });
        fs.copyFileSync(cosign, path.join(folder, "rootfs", "ko-app", "cosign"));
    });
    engine.docker("build", "--quiet", "--file", path.join(folder, "cosign.Dockerfile"), "--tag", name, folder);
}

/**
 * What a release test's hosts run on: an engine of its own, a registry standing in for Docker Hub, moto as SSM, and the
 * hosts' helper images in the registry, pinned by digest (cosign only when asked: it is a build of its own).
 */
export class ReleaseWorld {
    readonly engine = new DockerEngine();
    readonly registry = new Registry();
    moto!: Moto;
    readonly helpers: { proxy: string; awsCli: string; cosign?: string } = { proxy: "", awsCli: "" };

    /** `trustedCa`: the proxy image's trust store (buildProxyImage). */
    async start({ cosign = false, trustedCa = "" } = {}): Promise<void> {
        await this.engine.start();
        await this.registry.start();
        this.moto = await startMotoServer();
        buildProxyImage(this.engine, "caddy-stand-in:test", trustedCa);
        this.helpers.proxy = pushImage(this.engine, this.registry, "caddy-stand-in:test", "caddy", "test");
        buildAwsCliProbe(this.engine, "aws-cli-probe:test");
        this.helpers.awsCli = pushImage(this.engine, this.registry, "aws-cli-probe:test", "aws-cli", "test");
        if (cosign) {
            buildCosignImage(this.engine, "cosign-stand-in:test");
            this.helpers.cosign = pushImage(this.engine, this.registry, "cosign-stand-in:test", "cosign", "test");
        }
    }

    async stop(): Promise<void> {
        this.moto?.stop();
        await this.registry.stop();
        await this.engine.destroy();
    }
}
