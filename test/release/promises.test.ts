// Promises of docs/hosts.md and docs/releases.md that release.test.ts leaves to this file, each held on the real
// engine: the record's log lines, the crash-loop and USER reasons, the 15 s drain, the slots, the secrets' mount and
// cleanup, no secret in a log, the pull's waits, a large body through the proxy, and `release-service proxy-config`.
import { expect } from "chai";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { ReleaseInputs } from "../../components/release/document";
import { root } from "../mocks";
import { Moto, toolPath } from "../tools";
import { pushImage, pushServiceImage, ReleaseWorld } from "./engine";
import { get, runAsync, RunResult, TestHost } from "./host";

const script = path.join(root, "components", "release", "release-service.sh");

/** One POST of `size` bytes on a new connection: the status and body. */
function post(port: number, urlPath: string, size: number): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
        const request = http.request(
            { host: "127.0.0.1", port, path: urlPath, method: "POST", agent: false, headers: { "Content-Length": size } },
            (response) => {
                let body = "";
                response.on("data", (chunk) => (body += chunk));
                response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
            },
        );
        request.on("error", reject);
        request.end(Buffer.alloc(size, "a"));
    });
}

/** A GET on the proxy's admin socket, parsed. */
function adminGet(host: TestHost, urlPath: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
        const socketPath = path.join(host.paths.run, "proxy", "admin.sock");
        http.get({ socketPath, path: urlPath, headers: { Host: "localhost" } }, (response) => {
            let body = "";
            response.on("data", (chunk) => (body += chunk));
            response.on("end", () => resolve(JSON.parse(body)));
        }).on("error", reject);
    });
}

describe("what the docs promise of a host's releases, for real (Docker, registry, Caddy, SSM)", function () {
    this.timeout(180000);
    const world = new ReleaseWorld();
    const { engine, registry, helpers } = world;
    let moto: Moto;
    let host: TestHost;
    const images: Record<string, string> = {};
    const secretName = "/microservices/test/tasks/MONGODB_URI";
    const secretValue = "mongodb://tasks:Pr0mised-S3cret@db.example.com/tasks";
    let secretVersion = 0;
    /** Every release script's stderr in this file: none may hold the secret. */
    const scriptLogs: string[] = [];

    const inputs = (image: string, extra: Partial<ReleaseInputs> = {}) => ({
        image,
        settings: { LOG_LEVEL: "info" },
        secrets: { MONGODB_URI: { parameter: secretName, version: secretVersion } },
        healthTimeoutSeconds: 20,
        imageSigner: "none",
        ...extra,
    });

    const deploy = async (image: string, extraEnv: NodeJS.ProcessEnv = {}) => {
        const release = await host.deploy(inputs(image), extraEnv);
        scriptLogs.push(release.stderr);
        return release;
    };
    const container = (release: { releaseId: string }) => `tasks-${release.releaseId}`;

    before(async () => {
        await world.start();
        moto = world.moto;
        for (const [name, mode] of [
            ["v1", "healthy"],
            ["v2", "healthy"],
            ["bodies", "bodies"],
            ["chatty", "chatty"],
            ["restarts", "restart-crash"],
        ]) {
            images[name] = pushServiceImage(engine, registry, mode, name);
        }
        // The stand-in with a named USER, as a Dockerfile's `USER app` gives.
        engine.docker("pull", "--quiet", images.v1);
        const named = engine.docker("create", images.v1).trim();
        engine.docker("commit", "--change", "USER app", named, "named-user:test");
        engine.docker("rm", named);
        images.namedUser = pushImage(engine, registry, "named-user:test", "tasks", "named-user");
        engine.docker("image", "rm", images.v1);
        secretVersion = moto.putSecureString(secretName, secretValue);
        host = new TestHost(engine, moto, helpers);
        await host.boot();
    });

    after(async () => {
        await host?.destroy();
        await world.stop();
    });

    // Caddy reloads with SO_REUSEPORT; a connection queued on the old listener would be reset at a switch without it.
    it("lets connections queued on the proxy's old listener move to the new one at a switch (tcp_migrate_req)", async () => {
        const setting = "/proc/sys/net/ipv4/tcp_migrate_req";
        fs.writeFileSync(setting, "0\n");
        host.stopProxy();
        await host.startProxy();
        expect(fs.readFileSync(setting, "utf8")).to.equal("1\n");
    });

    it("runs releases on the slots port + 10000 and port + 20000, secrets mounted read-only, the old one's deleted", async () => {
        const binding = (name: string) => JSON.parse(engine.docker("inspect", "--format", "{{json .HostConfig.PortBindings}}", name));
        const first = await deploy(images.v1);
        expect(first.status, first.stderr).to.equal(0);
        expect(binding(container(first))).to.deep.equal({ [`${host.port}/tcp`]: [{ HostIp: "127.0.0.1", HostPort: `${host.port + 10000}` }] });
        expect(await get(host.port + 10000, "/version")).to.deep.equal({ status: 200, body: "v1\n" });

        const mounts = JSON.parse(engine.docker("inspect", "--format", "{{json .Mounts}}", container(first)));
        expect(mounts.map((mount: { Destination: string; RW: boolean }) => [mount.Destination, mount.RW])).to.deep.equal([
            ["/run/secrets", false],
        ]);
        // The container's user owns the folder: only the mount keeps it from writing there.
        const write = await runAsync("docker", ["exec", container(first), "sh", "-c", "echo x >/run/secrets/MONGODB_URI"], engine.env());
        expect(write.status).not.to.equal(0);
        expect(write.stderr).to.include("Read-only file system");
        expect(engine.docker("exec", container(first), "cat", "/run/secrets/MONGODB_URI")).to.equal(secretValue);

        const second = await deploy(images.v2);
        expect(second.status, second.stderr).to.equal(0);
        expect(binding(container(second))).to.deep.equal({ [`${host.port}/tcp`]: [{ HostIp: "127.0.0.1", HostPort: `${host.port + 20000}` }] });
        expect(await get(host.port + 20000, "/version")).to.deep.equal({ status: 200, body: "v2\n" });
        expect(fs.existsSync(path.join(host.paths.run, first.releaseId)), "the old release's secrets are deleted").to.equal(false);
        expect(fs.readdirSync(path.join(host.paths.run, second.releaseId))).to.deep.equal(["MONGODB_URI"]);
    });

    // The old container is told to stop about a second after the switch (the record comes first); a request sent to
    // it right at the switch takes 12 s: longer than release.test.ts's 8 s, shorter than the script's default 15 s.
    it("gives the old container 15 s to answer a request in flight", async () => {
        const oldPort = host.port + 20000;
        const oldContainer = /^container=(.*)$/m.exec(fs.readFileSync(path.join(host.paths.state, "current"), "utf8"))![1];
        const release = deploy(images.bodies, { STOP_TIMEOUT_SECONDS: undefined });
        const deadline = Date.now() + 60000;
        while (JSON.stringify(await get(host.port, "/version")) !== JSON.stringify({ status: 200, body: "bodies\n" })) {
            expect(Date.now(), "the proxy never switched to the new release").to.be.below(deadline);
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const inFlight = get(oldPort, "/cgi-bin/slow?12", 20000);
        const done = await release;
        expect(done.status, done.stderr).to.equal(0);
        expect(await inFlight).to.deep.equal({ status: 200, body: "v2\n" });
        expect(engine.logs(oldContainer)).to.include("version v2: stopping with 1 requests in flight");
    });

    it("streams a body over 64 KiB + 1 byte on to the service, whose 413 the client gets", async () => {
        expect(await post(host.port, "/cgi-bin/body", 1000)).to.deep.equal({ status: 200, body: '{"received": 1000}\n' });
        const size = 200 * 1024;
        expect(await post(host.port, "/cgi-bin/body", size)).to.deep.equal({ status: 413, body: `{"received": ${size}}\n` });
    });

    it("prints with `release-service proxy-config` the config the proxy runs", async () => {
        const upstream = `127.0.0.1:${host.port + 10000}`;
        const printed: RunResult = await runAsync("bash", [script, "proxy-config", upstream], host.env());
        expect(printed.status, printed.stderr).to.equal(0);
        const config = JSON.parse(printed.stdout);
        expect(config).to.deep.equal(await adminGet(host, "/config/"));
        // The service's plain port (for the hosts of the VPC) and HTTPS, after its HSTS header, send to the upstream.
        const proxied = { handler: "reverse_proxy", request_buffers: 65537, upstreams: [{ dial: upstream }] };
        expect(config.apps.http.servers.private.routes).to.deep.equal([{ handle: [proxied] }]);
        expect(config.apps.http.servers.https.routes[0].handle[1]).to.deep.equal(proxied);
        const none = await runAsync("bash", [script, "proxy-config"], host.env());
        expect(JSON.parse(none.stdout).apps.http.servers.private.routes[0].handle[0]).to.include({
            handler: "static_response",
            status_code: 503,
        });
    });

    it("records a failed container's first and last 10 log lines", async () => {
        const release = await deploy(images.chatty);
        expect(release.status).to.equal(1);
        const line = (n: number) => `version chatty: line ${n}`;
        const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => line(from + index));
        const record = host.record();
        expect(record).to.include({ status: "failed", reason: "the container exited with code 3 before it was healthy" });
        expect(record.logs.split("\n")).to.deep.equal([...range(1, 10), "[10 lines left out]", ...range(21, 30)]);
    });

    it("fails a release whose image's USER is a name, with the reason, and the old release keeps serving", async () => {
        const release = await deploy(images.namedUser);
        expect(release.status).to.equal(1);
        expect(host.record()).to.include({ status: "failed", reason: 'the image\'s USER "app" must be a numeric uid or uid:gid' });
        expect(await get(host.port, "/version")).to.deep.equal({ status: 200, body: "bodies\n" });
    });

    it("waits 5, 10 and 20 s between the 4 tries of a pull, by default", async () => {
        // A `sleep` that notes how long the script asked for and returns at once: the 35 s are the script's numbers.
        const folder = fs.mkdtempSync(path.join(os.tmpdir(), "release-sleep-"));
        const noted = path.join(folder, "waits");
        fs.writeFileSync(path.join(folder, "sleep"), `#!/bin/sh\necho "$*" >>"${noted}"\n`, { mode: 0o755 });
        const missing = `${registry.address}/tasks@sha256:${"0".repeat(64)}`;
        try {
            const release = await host.deploy(inputs(images.v1), {
                SSM_image: missing,
                PULL_RETRY_SECONDS: undefined,
                PATH: toolPath(folder),
            });
            scriptLogs.push(release.stderr);
            expect(release.status).to.equal(1);
            expect(fs.readFileSync(noted, "utf8").split("\n").filter(Boolean)).to.deep.equal(["5", "10", "20"]);
            for (const wait of [5, 10, 20]) expect(release.stderr).to.include(`trying again in ${wait} s`);
            expect(host.record().reason).to.match(/ \(4 attempts\): /);
        } finally {
            fs.rmSync(folder, { recursive: true, force: true });
        }
    });

    it("fails `resume` of a release that crashes when restarted, naming the crash loop", async () => {
        const release = await deploy(images.restarts);
        expect(release.status, release.stderr).to.equal(0);
        engine.docker("stop", "--time", "5", container(release));
        const resumed = await host.resume();
        scriptLogs.push(resumed.stderr);
        expect(resumed.status).to.equal(1);
        expect(resumed.stderr).to.include(
            `resume ${release.releaseId} failed: the container crashed and was restarted before it was healthy (a crash loop)\n`,
        );
        expect(engine.logs(container(release))).to.include("version restarts: crashing at a restart");
    });

    it("writes no secret value to a log: the script's, the records, the proxy's and the containers'", () => {
        expect(scriptLogs.length).to.be.above(5);
        const history = JSON.parse(moto.aws("ssm", "get-parameter-history", "--name", `${host.bootstrap.recordPath}/${host.instanceId}`));
        const containers = engine.docker("ps", "--all", "--format", "{{.Names}}").trim().split("\n");
        expect(containers).to.include.members(["tasks-proxy", ...host.containers().map((entry) => entry.name)]);
        const logs = [...scriptLogs, JSON.stringify(history), ...containers.map((name) => engine.logs(name))];
        for (const log of logs) expect(log).not.to.include("Pr0mised-S3cret");
    });
});
