// The release script run for real: a Docker engine, a registry standing in for Docker Hub, Caddy as the proxy and
// moto as SSM, with a steady load on the proxy's public port while releases happen.
import { expect } from "chai";
import { createHash } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { ReleaseInputs } from "../../components/release/document";
import { ReleaseRecord } from "../../components/release/waiters";
import { Moto, must } from "../tools";
import { pushServiceImage, ReleaseWorld } from "./engine";
import { get, TestHost, testProxyLimits } from "./host";
import { LoadReport, startLoad } from "./load";

/** Prints a measured figure beside the test's name; figures are reported, never asserted on time. */
function figure(text: string): void {
    console.log(`      figure: ${text}`);
}

function describeLoad(report: LoadReport): string {
    return (
        `${report.ok} answered, ${report.failed} failed${report.failed ? ` ${JSON.stringify(report.failures)}` : ""}, ` +
        `${report.retried} retried on a closed keep-alive connection, ${report.resetNew} on a new one reset, versions ${JSON.stringify(report.versions)}, ` +
        `longest gap ${report.longestGapMs} ms`
    );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the stand-in's /cgi-bin/secrets answers for these secret files: each name and the sha256 of its value. */
function secretsAnswer(values: Record<string, string>): string {
    return Object.entries(values)
        .map(([name, value]) => `${name} ${createHash("sha256").update(value).digest("hex")}\n`)
        .join("");
}

/** The records of one release, oldest first, as status words. */
const statusesOf = (history: ReleaseRecord[], release: string) =>
    history.filter((record) => record.release === release).map((record) => record.status);

/**
 * A raw client that sends `head` (and never the rest), then waits for the server to close the connection. Resolves
 * with the seconds until it did, or the timeout.
 */
function stalledClient(port: number, head: string, timeoutMs: number): Promise<number | "still open"> {
    return new Promise((resolve) => {
        const started = Date.now();
        const socket = net.connect(port, "127.0.0.1", () => socket.write(head));
        const timer = setTimeout(() => {
            socket.destroy();
            resolve("still open");
        }, timeoutMs);
        socket.on("data", () => undefined);
        socket.on("error", () => undefined);
        socket.on("close", () => {
            clearTimeout(timer);
            resolve((Date.now() - started) / 1000);
        });
    });
}

describe("releases on a host, for real (Docker, registry, Caddy, SSM)", function () {
    this.timeout(180000);
    const world = new ReleaseWorld();
    const { engine, registry, helpers } = world;
    let moto: Moto;
    let host: TestHost;
    const images: Record<string, string> = {};
    const parameterPath = "/microservices/test/tasks";
    const secretValues = { MONGODB_URI: "mongodb://tasks:first-S3cret@db.example.com/tasks" };

    /** Stores a secret in SSM and returns the version it got. */
    const putSecret = (name: string, value: string): number => moto.putSecureString(`${parameterPath}/${name}`, value);

    let mongoVersion = 0;
    const inputs = (image: string, extra: Partial<ReleaseInputs> = {}) => ({
        image,
        settings: { LOG_LEVEL: "info" },
        secrets: { MONGODB_URI: { parameter: `${parameterPath}/MONGODB_URI`, version: mongoVersion } },
        healthTimeoutSeconds: 20,
        // Signatures are test/release/signature.test.ts's.
        imageSigner: "none",
        ...extra,
    });

    /** The loopback port of the container the host's current release runs in. */
    const currentSlotPort = () => {
        const slot = /^slot=(\d)$/m.exec(fs.readFileSync(path.join(host.paths.state, "current"), "utf8"))![1];
        return host.port + (slot === "0" ? 10000 : 20000);
    };
    const currentContainer = () => /^container=(.*)$/m.exec(fs.readFileSync(path.join(host.paths.state, "current"), "utf8"))![1];

    before(async () => {
        await world.start();
        moto = world.moto;
        for (const [name, mode] of [
            ["v1", "healthy"],
            ["v2", "healthy"],
            ["v3", "slow"],
            ["never", "never"],
            ["crash", "crash"],
            ["v4", "healthy"],
            ["v5", "healthy"],
            ["v6", "healthy"],
            ["v7", "healthy"],
        ]) {
            images[name] = pushServiceImage(engine, registry, mode, name);
        }
        mongoVersion = putSecret("MONGODB_URI", secretValues.MONGODB_URI);
        host = new TestHost(engine, moto, helpers);
        await host.boot();
    });

    after(async () => {
        await host?.destroy();
        await world.stop();
    });

    it("bootstraps the host from images pinned by digest, pulled from the registry", () => {
        for (const image of [helpers.proxy, helpers.awsCli]) {
            expect(image).to.match(/@sha256:[0-9a-f]{64}$/);
            expect(engine.docker("image", "inspect", "--format", "{{.Id}}", image).trim()).to.match(/^sha256:/);
        }
        expect(fs.existsSync(path.join(host.paths.state, "bootstrapped"))).to.equal(true);
        expect(engine.docker("inspect", "--format", "{{.Config.Image}}", "tasks-proxy").trim()).to.equal(helpers.proxy);
    });

    it("runs the proxy with its limits on slow clients on each of its ports (HTTPS, redirect, peers), and its sockets capped", async () => {
        const socket = path.join(host.paths.run, "proxy", "admin.sock");
        const servers = await new Promise<Record<string, Record<string, unknown>>>((resolve, reject) => {
            http.get({ socketPath: socket, path: "/config/apps/http/servers", headers: { Host: "localhost" } }, (response) => {
                let body = "";
                response.on("data", (chunk) => (body += chunk));
                response.on("end", () => resolve(JSON.parse(body)));
            }).on("error", reject);
        });
        expect(Object.keys(servers).sort()).to.deep.equal(["https", "private", "redirect"]);
        for (const server of Object.values(servers)) {
            expect(server).to.include({
                read_header_timeout: `${testProxyLimits.readHeaderTimeoutSeconds}s`,
                read_timeout: `${testProxyLimits.readTimeoutSeconds}s`,
                idle_timeout: "60s",
                max_header_bytes: 65536,
            });
        }
        const ulimits = JSON.parse(engine.docker("inspect", "--format", "{{json .HostConfig.Ulimits}}", "tasks-proxy"));
        expect(ulimits).to.deep.equal([{ Name: "nofile", Hard: 4096, Soft: 4096 }]);
    });

    it("answers 503 in JSON before the first release, then serves the first release", async () => {
        expect(await get(host.port, "/version")).to.deep.equal({
            status: 503,
            body: '{"error": "no release yet", "details": []}',
        });
        const first = await host.deploy(inputs(images.v1));
        expect(first.status, first.stderr).to.equal(0);
        expect(await get(host.port, "/version")).to.deep.equal({ status: 200, body: "v1\n" });
        expect(host.record()).to.include({ release: first.releaseId, status: "succeeded", image: images.v1 });
        figure(`first release on a fresh host (pull included): ${first.seconds.toFixed(1)} s`);
    });

    it("swaps to a good release under load with no failed request", async () => {
        const load = startLoad(host.port);
        await sleep(500);
        const release = await host.deploy(inputs(images.v2));
        await sleep(500);
        const report = await load.stop();
        expect(release.status, release.stderr).to.equal(0);
        expect(report.failed, describeLoad(report)).to.equal(0);
        expect(Object.keys(report.versions).sort()).to.deep.equal(["v1", "v2"]);
        expect(report.last).to.equal("v2");
        expect(host.containers()).to.deep.include.members([
            { name: `tasks-${release.releaseId}`, state: "running" },
        ]);
        expect(host.containers().filter((container) => container.state === "running")).to.have.length(1);
        figure(`release with pull, under load: ${release.seconds.toFixed(1)} s; switch ${report.switchMs} ms; ${describeLoad(report)}`);
    });

    // The slow starter answers /version only once healthy: without the health wait, the switch would fail requests.
    it("waits for a slow starter's health before the switch, for clients that open a connection per request too", async () => {
        const load = startLoad(host.port, { keepAlive: false });
        const release = await host.deploy(inputs(images.v3));
        const report = await load.stop();
        expect(release.status, release.stderr).to.equal(0);
        expect(report.failed, describeLoad(report)).to.equal(0);
        expect(report.retried).to.equal(0);
        // A new connection reset in the proxy's listener swap is rare: 1 in 2,601 in one run (docs/releases.md).
        expect(report.resetNew, describeLoad(report)).to.be.at.most(Math.ceil(report.ok / 200));
        expect(report.last).to.equal("v3");
        expect(statusesOf(host.recordHistory(), release.releaseId)).to.deep.equal(["started", "succeeded"]);
        figure(`release of a slow starter (healthy after 3 s): ${release.seconds.toFixed(1)} s; ${describeLoad(report)}`);
    });

    for (const [title, image, reason, logLine] of [
        ["a never-healthy release", "never", "GET /health did not answer 200 within 8 s (last: HTTP 404)", "version never: never healthy"],
        ["a crashing release", "crash", "the container exited with code 3 before it was healthy", "version crash: crashing on purpose"],
    ] as const) {
        it(`keeps the old release serving through ${title}, fails with the reason, records no success, and leaves no new container`, async () => {
            const before = host.containers();
            const load = startLoad(host.port);
            const release = await host.deploy(inputs(images[image], { healthTimeoutSeconds: 8 }));
            const report = await load.stop();
            expect(release.status).to.equal(1);
            expect(release.stderr).to.include(`release-service[tasks]: deploy ${release.releaseId} failed: ${reason}\n`);
            expect(report.failed, describeLoad(report)).to.equal(0);
            expect(report.versions).to.have.keys(["v3"]);
            expect(host.containers(), "no container of the failed release is left").to.deep.equal(before);
            const record = host.record();
            expect(record).to.include({ release: release.releaseId, status: "failed", reason });
            expect(record.logs).to.include(logLine);
            // Every record the gate could have read: never a success.
            expect(statusesOf(host.recordHistory(), release.releaseId)).to.deep.equal(["started", "failed"]);
            figure(`${title}: failed after ${release.seconds.toFixed(1)} s; ${describeLoad(report)}`);
        });
    }

    it("fails a release whose secret parameter is missing, with the reason, and the old release keeps serving", async () => {
        const before = host.containers();
        const missing = `${parameterPath}/NOT_THERE`;
        const release = await host.deploy(
            inputs(images.v4, { secrets: { MONGODB_URI: { parameter: missing, version: 1 } } }),
        );
        expect(release.status).to.equal(1);
        const record = host.record();
        expect(record).to.include({ release: release.releaseId, status: "failed" });
        expect(record.reason).to.match(new RegExp(`^could not read the SSM parameter ${missing}:1: .*ParameterNotFound`));
        expect(host.containers()).to.deep.equal(before);
        expect(await get(host.port, "/version")).to.deep.equal({ status: 200, body: "v3\n" });
    });

    // The program refuses such images before any release; these reach the script all the same, as a hand-run would.
    it("fails a release whose image reference is bad, with the reason", async () => {
        const unpinned = await host.deploy(inputs(images.v4), { SSM_image: `${registry.address}/tasks:v4` });
        expect(unpinned.status).to.equal(1);
        expect(host.record()).to.include({
            status: "failed",
            reason: `image "${registry.address}/tasks:v4" must be pinned by digest`,
        });
        const unknown = `${registry.address}/tasks@sha256:${"0".repeat(64)}`;
        const missing = await host.deploy(inputs(images.v4), { SSM_image: unknown, PULL_ATTEMPTS: "2" });
        expect(missing.status).to.equal(1);
        expect(host.record().reason).to.match(
            new RegExp(`^could not pull ${unknown.replace(/[.]/g, "\\.")} \\(2 attempts\\): .*(not found|unknown)`),
        );
        expect(missing.stderr).to.include(`pull 1 of ${unknown} failed`);
        expect(await get(host.port, "/version")).to.deep.equal({ status: 200, body: "v3\n" });
    });

    it("keeps the proxy's config file when the proxy refuses a switch, so its next start serves the old release", async () => {
        const configFile = path.join(host.paths.state, "proxy", "caddy.json");
        const before = fs.readFileSync(configFile, "utf8");
        const containers = host.containers();
        // The proxy's admin API, answering as Caddy does when it refuses a config.
        host.stopProxy();
        const socket = path.join(host.paths.run, "proxy", "admin.sock");
        fs.rmSync(socket, { force: true });
        const refusing = http.createServer((request, response) => {
            response.writeHead(request.url === "/load" ? 400 : 200, { "Content-Type": "application/json" });
            response.end(request.url === "/load" ? '{"error":"loading config: refused for the test"}' : "{}");
        });
        await new Promise<void>((resolve) => refusing.listen(socket, resolve));
        try {
            const release = await host.deploy(inputs(images.v4));
            expect(release.status).to.equal(1);
            expect(host.record().reason).to.match(
                /^could not switch the proxy to 127\.0\.0\.1:\d+: .*loading config: refused for the test/,
            );
        } finally {
            await new Promise((resolve) => refusing.close(resolve));
        }
        expect(fs.readFileSync(configFile, "utf8")).to.equal(before);
        expect(host.containers()).to.deep.equal(containers);
        await host.startProxy();
        expect(await get(host.port, "/version")).to.deep.equal({ status: 200, body: "v3\n" });
    });

    it("rolls back to the previous digest without a pull, with the registry stopped", async () => {
        await registry.stop();
        try {
            const load = startLoad(host.port);
            const release = await host.deploy(inputs(images.v2));
            const report = await load.stop();
            expect(release.status, release.stderr).to.equal(0);
            expect(release.stderr).to.include(`${images.v2} is on the host already; no pull`);
            expect(report.failed, describeLoad(report)).to.equal(0);
            expect(report.last).to.equal("v2");
            figure(`rollback: ${release.seconds.toFixed(1)} s; switch ${report.switchMs} ms; ${describeLoad(report)}`);
        } finally {
            await registry.start();
        }
    });

    it("runs the same release again without touching it, and its container reads its secret files throughout", async () => {
        const id = currentContainer();
        const expected = { status: 200, body: secretsAnswer(secretValues) };
        expect(await get(host.port, "/cgi-bin/secrets")).to.deep.equal(expected);
        let reading = true;
        const answers: unknown[] = [];
        const reader = (async () => {
            while (reading) {
                answers.push(await get(host.port, "/cgi-bin/secrets"));
                await sleep(20);
            }
        })();
        const again = await host.deploy(inputs(images.v2));
        reading = false;
        await reader;
        expect(again.status, again.stderr).to.equal(0);
        expect(again.stderr).to.include(`release ${again.releaseId} is the current one; making sure it runs`);
        expect(currentContainer()).to.equal(id);
        expect(host.containers().filter((container) => container.state === "running")).to.deep.equal([
            { name: id, state: "running" },
        ]);
        expect(answers.length).to.be.above(5);
        expect(answers.filter((answer) => JSON.stringify(answer) !== JSON.stringify(expected))).to.deep.equal([]);
        expect(await get(host.port, "/cgi-bin/secrets")).to.deep.equal(expected);
        expect(host.record()).to.include({ release: again.releaseId, status: "succeeded" });
    });

    it("brings the current release back after a reboot (every container stopped, the tmpfs emptied), secrets read again", async () => {
        engine.docker("stop", "--time", "2", ...engine.docker("ps", "--quiet").trim().split("\n"));
        fs.rmSync(host.paths.run, { recursive: true, force: true });
        fs.mkdirSync(host.paths.run);
        expect(await get(host.port, "/version")).to.have.property("error");
        await host.startProxy();
        const resumed = await host.resume();
        expect(resumed.status, resumed.stderr).to.equal(0);
        expect(await get(host.port, "/version")).to.deep.equal({ status: 200, body: "v2\n" });
        expect(await get(host.port, "/cgi-bin/secrets")).to.deep.equal({ status: 200, body: secretsAnswer(secretValues) });
    });

    it("brings the current release back after Docker itself restarts", async () => {
        await engine.restart();
        await host.startProxy();
        const resumed = await host.resume();
        expect(resumed.status, resumed.stderr).to.equal(0);
        expect(await get(host.port, "/version")).to.deep.equal({ status: 200, body: "v2\n" });
    });

    it("delivers a rotated secret as a file on a tmpfs, 0600, owned by the image's user, and never in docker inspect", async () => {
        const oldValue = "first-S3cret";
        secretValues.MONGODB_URI = "mongodb://tasks:rotated-S3cret@db.example.com/tasks";
        mongoVersion = putSecret("MONGODB_URI", secretValues.MONGODB_URI);
        const release = await host.deploy(inputs(images.v2));
        expect(release.status, release.stderr).to.equal(0);
        const container = `tasks-${release.releaseId}`;
        expect(engine.docker("exec", container, "cat", "/run/secrets/MONGODB_URI")).to.equal(secretValues.MONGODB_URI);
        expect(await get(host.port, "/cgi-bin/secrets")).to.deep.equal({ status: 200, body: secretsAnswer(secretValues) });
        expect(engine.docker("exec", container, "sh", "-c", "echo $MONGODB_URI_FILE").trim()).to.equal("/run/secrets/MONGODB_URI");
        const file = path.join(host.paths.run, release.releaseId, "MONGODB_URI");
        const stat = fs.statSync(file);
        expect(stat.mode & 0o777).to.equal(0o600);
        expect([stat.uid, stat.gid]).to.deep.equal([10001, 10001]);
        expect(must("stat", ["-f", "-c", "%T", file]).trim()).to.equal("tmpfs");
        const inspect = engine.docker("inspect", container);
        for (const value of ["rotated-S3cret", oldValue]) {
            expect(inspect).not.to.include(value);
            const found = spawnSync("grep", ["-rlas", "--devices=skip", value, path.join(engine.folder, "data")], {
                encoding: "utf8",
            });
            expect(found.stdout, "nothing under Docker's data root").to.equal("");
        }
    });

    it("stops the old container only after it answered its requests in flight, through the proxy and directly", async () => {
        const oldPort = currentSlotPort();
        const oldContainer = currentContainer();
        // Long enough to be in flight when the release stops the old container.
        const throughProxy = get(host.port, "/cgi-bin/slow?8", 15000);
        const direct = get(oldPort, "/cgi-bin/slow?8", 15000);
        await sleep(500);
        const release = await host.deploy(inputs(images.v6));
        expect(release.status, release.stderr).to.equal(0);
        expect(await throughProxy).to.deep.equal({ status: 200, body: "v2\n" });
        expect(await direct).to.deep.equal({ status: 200, body: "v2\n" });
        const logs = engine.logs(oldContainer);
        expect(logs).to.match(/version v2: stopping with 2 requests in flight\n(.*\n)*version v2: drained\n/);
        expect(engine.docker("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", oldContainer).trim()).to.equal("exited 0");
        expect(await get(host.port, "/version")).to.deep.equal({ status: 200, body: "v6\n" });
    });

    it("gives a healthy container its restart policy, so Docker brings it back when it crashes", async () => {
        const container = currentContainer();
        expect(engine.docker("inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", container).trim()).to.equal("unless-stopped");
        expect(await get(host.port, "/cgi-bin/crash")).to.have.property("status", 200);
        const deadline = Date.now() + 20000;
        while (engine.docker("inspect", "--format", "{{.RestartCount}}", container).trim() === "0") {
            expect(Date.now(), "the crashed container was never restarted").to.be.below(deadline);
            await sleep(200);
        }
        let answer = await get(host.port, "/version");
        while (!("status" in answer && answer.status === 200) && Date.now() < deadline) {
            await sleep(200);
            answer = await get(host.port, "/version");
        }
        expect(answer).to.deep.equal({ status: 200, body: "v6\n" });
        expect(engine.logs(container)).to.include("version v6: crashing on request");
    });

    it("runs one release at a time", async () => {
        const [first, second] = await Promise.all([host.deploy(inputs(images.v4)), host.deploy(inputs(images.v5))]);
        expect([first.status, second.status]).to.deep.equal([0, 0]);
        expect(host.containers().filter((container) => container.state === "running")).to.have.length(1);
        const serving = (await get(host.port, "/version")) as { body: string };
        expect(["v4\n", "v5\n"]).to.include(serving.body);
    });

    it("keeps the last three releases' containers and images for rollbacks, and removes older ones", () => {
        const containers = host.containers();
        expect(containers.filter((container) => container.state === "running")).to.have.length(1);
        expect(containers.filter((container) => container.state !== "running")).to.have.length(3);
        const ids = (text: string) => [...new Set(text.trim().split("\n"))].sort();
        const used = ids(engine.docker("inspect", "--format", "{{.Image}}", ...containers.map((container) => container.name)));
        const present = ids(engine.docker("image", "ls", "--no-trunc", "--format", "{{.ID}}", `${registry.address}/tasks`));
        expect(present).to.deep.equal(used);
        const gone = Object.entries(images).filter(
            ([, image]) => spawnSync("docker", ["image", "inspect", image], { env: engine.env() }).status !== 0,
        );
        expect(gone.map(([name]) => name)).to.include.members(["v1", "v3", "never", "crash"]);
    });

    it("runs the AWS CLI from its image, on the host's network, when the host has no CLI", async () => {
        const noAws = host.env({ PATH: "/usr/sbin:/usr/bin:/sbin:/bin" });
        const release = await host.deploy(inputs(images.v1), { PATH: noAws.PATH });
        expect(release.status, release.stderr).to.equal(0);
        const value = engine.docker("exec", `tasks-${release.releaseId}`, "cat", "/run/secrets/MONGODB_URI");
        expect(value).to.equal(
            `hostname=${os.hostname()} endpoint=${moto.endpoint} args=--region eu-west-1 ssm get-parameter ` +
                `--name ${parameterPath}/MONGODB_URI:${mongoVersion} --with-decryption --query Parameter.Value --output text`,
        );
    });

    it("answers 431 itself to request headers over the proxy's 64 KiB", async () => {
        const answer = await new Promise<number>((resolve, reject) => {
            const headers = Object.fromEntries(Array.from({ length: 18 }, (_, index) => [`x-filler-${index}`, "a".repeat(4096)]));
            http.get({ host: "127.0.0.1", port: host.port, path: "/version", headers, agent: false }, (response) => {
                response.resume();
                resolve(response.statusCode ?? 0);
            }).on("error", reject);
        });
        expect(answer).to.equal(431);
    });

    describe("the proxy against slow clients", () => {
        const slowHeader = "GET /version HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        const slowBody = "POST /slow-body-probe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{";

        for (const [kind, head, timeout] of [
            ["slow-header", slowHeader, testProxyLimits.readHeaderTimeoutSeconds!],
            ["slow-body", slowBody, testProxyLimits.readTimeoutSeconds!],
        ] as const) {
            it(`closes ${kind} sockets within its ${timeout} s timeout while other clients are served`, async () => {
                const since = Date.now() / 1000;
                const load = startLoad(host.port);
                const closed = await Promise.all(Array.from({ length: 20 }, () => stalledClient(host.port, head, (timeout + 5) * 1000)));
                const report = await load.stop();
                for (const seconds of closed) {
                    expect(seconds, "closed by the proxy").to.be.a("number");
                    expect(seconds as number).to.be.within(timeout - 0.5, timeout + 2);
                }
                expect(report.failed, describeLoad(report)).to.equal(0);
                expect(report.ok).to.be.above(50);
                // A body the proxy had not read in full never reached the service.
                const logs = engine.logs(currentContainer(), since);
                expect(logs, "the service logs the requests it gets").to.include("url:/version");
                expect(logs).not.to.include("url:/slow-body-probe");
                figure(`20 ${kind} sockets closed after ${Math.min(...(closed as number[])).toFixed(1)}-${Math.max(...(closed as number[])).toFixed(1)} s; ${describeLoad(report)}`);
            });
        }
    });

    describe("the host's bootstrap", () => {
        const hosts: TestHost[] = [];
        const newHost = (service: string, images = helpers) => {
            const created = new TestHost(engine, moto, images, { service });
            hosts.push(created);
            return created;
        };
        afterEach(async () => {
            for (const created of hosts.splice(0)) await created.destroy();
        });

        it("makes a release that arrives before the bootstrap finished wait for it", async () => {
            const early = newHost("early");
            await early.writeFiles();
            const release = early.deploy(inputs(images.v1));
            let finished = false;
            void release.then(() => (finished = true));
            await sleep(3000);
            expect(finished, "the release went on without the bootstrap").to.equal(false);
            expect(early.containers()).to.deep.equal([]);
            const bootstrap = await early.runBootstrap();
            expect(bootstrap.status, bootstrap.stderr).to.equal(0);
            const done = await release;
            expect(done.status, done.stderr).to.equal(0);
            expect(done.seconds).to.be.above(3);
            expect(await get(early.port, "/version")).to.deep.equal({ status: 200, body: "v1\n" });
        });

        it("retries a failed pull with growing waits, and succeeds once the registry is back", async () => {
            // An image this engine does not have yet, so the bootstrap must pull it.
            const retrying = newHost("retrying", { proxy: helpers.proxy, awsCli: images.v7 });
            await retrying.writeFiles();
            await registry.stop();
            const bootstrap = retrying.runBootstrap();
            await sleep(2000);
            await registry.start();
            const done = await bootstrap;
            expect(done.status, done.stderr).to.equal(0);
            expect(done.stderr).to.include(`pull 1 of ${images.v7} failed`);
            expect(done.stderr).to.include("trying again in 1 s");
            expect(fs.existsSync(path.join(retrying.paths.state, "bootstrapped"))).to.equal(true);
        });

        it("marks a host whose bootstrap failed, and fails its first release at once with the reason", async () => {
            const missing = `${registry.address}/caddy@sha256:${"0".repeat(64)}`;
            const broken = newHost("broken", { proxy: missing, awsCli: helpers.awsCli });
            await broken.writeFiles();
            const bootstrap = await broken.runBootstrap();
            expect(bootstrap.status).to.equal(1);
            for (const wait of [1, 2, 4]) expect(bootstrap.stderr).to.include(`trying again in ${wait} s`);
            const state = broken.paths.state;
            expect(fs.existsSync(path.join(state, "bootstrapped"))).to.equal(false);
            const reason = fs.readFileSync(path.join(state, "bootstrap-failed"), "utf8").trim();
            expect(reason).to.match(new RegExp(`^could not pull ${missing.replace(/[.]/g, "\\.")} \\(4 attempts\\): `));
            // A release that waited for the bootstrap mark would fail after this timeout, and with another reason.
            const release = await broken.deploy(inputs(images.v1), { BOOTSTRAP_TIMEOUT_SECONDS: "20" });
            expect(release.status).to.equal(1);
            expect(release.seconds, "it fails at once, not after the bootstrap timeout").to.be.below(15);
            expect(broken.record()).to.include({ status: "failed", reason: `the host's bootstrap failed: ${reason}` });
        });

        it("refuses to write secrets anywhere but on a tmpfs", async () => {
            const misconfigured = new TestHost(engine, moto, helpers, { service: "misconfigured", runOnDisk: true });
            hosts.push(misconfigured);
            await misconfigured.boot();
            const release = await misconfigured.deploy(inputs(images.v1));
            expect(release.status).to.equal(1);
            expect(misconfigured.record()).to.include({
                status: "failed",
                reason: `${misconfigured.paths.run} is not a tmpfs; secrets must not touch the disk`,
            });
            expect(fs.readdirSync(misconfigured.paths.run).filter((entry) => entry !== "proxy")).to.deep.equal([]);
        });
    });
});
