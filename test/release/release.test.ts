// The release script run for real: a Docker engine, a registry standing in for Docker Hub, Caddy as the proxy and
// moto as SSM, with a steady load on the proxy's public port while releases happen.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { ReleaseInputs } from "../../components/release/document";
import { Moto, must, startMotoServer } from "../tools";
import { buildAwsCliProbe, buildProxyImage, DockerEngine, pushServiceImage, Registry } from "./engine";
import { get, TestHost } from "./host";
import { LoadReport, startLoad } from "./load";

const proxyImage = "caddy-from-debian:test";
const awsCliProbe = "aws-cli-probe:test";

/** Prints a measured figure beside the test's name; figures are reported, never asserted on time. */
function figure(text: string): void {
    console.log(`      figure: ${text}`);
}

function describeLoad(report: LoadReport): string {
    return (
        `${report.ok} answered, ${report.failed} failed, ${report.retried} retried on a closed keep-alive connection, ` +
        `versions ${JSON.stringify(report.versions)}, longest gap ${report.longestGapMs} ms`
    );
}

describe("releases on a host, for real (Docker, registry, Caddy, SSM)", function () {
    this.timeout(180000);
    const engine = new DockerEngine();
    const registry = new Registry();
    let moto: Moto;
    let host: TestHost;
    const images: Record<string, string> = {};
    const parameterPath = "/microservices/test/tasks";

    /** Stores a secret in SSM and returns the version it got. */
    const putSecret = (name: string, value: string): number =>
        Number(
            JSON.parse(
                moto.aws("ssm", "put-parameter", "--name", `${parameterPath}/${name}`, "--type", "SecureString", "--value", value, "--overwrite"),
            ).Version,
        );

    let mongoVersion = 0;
    const inputs = (image: string, extra: Partial<ReleaseInputs> = {}) => ({
        image,
        settings: { LOG_LEVEL: "info" },
        secrets: { MONGODB_URI: { parameter: `${parameterPath}/MONGODB_URI`, version: mongoVersion } },
        healthTimeoutSeconds: 20,
        ...extra,
    });

    before(async () => {
        await engine.start();
        await registry.start();
        moto = await startMotoServer();
        buildProxyImage(engine, proxyImage);
        buildAwsCliProbe(engine, awsCliProbe);
        for (const [name, mode] of [
            ["v1", "healthy"],
            ["v2", "healthy"],
            ["v3", "slow"],
            ["never", "never"],
            ["crash", "crash"],
            ["v4", "healthy"],
            ["v5", "healthy"],
        ]) {
            images[name] = pushServiceImage(engine, registry, mode, name);
        }
        mongoVersion = putSecret("MONGODB_URI", "mongodb://tasks:first-S3cret@db.example.com/tasks");
        host = new TestHost(engine, moto, { proxy: proxyImage, awsCli: awsCliProbe });
        await host.boot();
    });

    after(async () => {
        await host?.destroy();
        moto?.stop();
        await registry.stop();
        await engine.destroy();
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
        await new Promise((resolve) => setTimeout(resolve, 500));
        const release = await host.deploy(inputs(images.v2));
        await new Promise((resolve) => setTimeout(resolve, 500));
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

    it("swaps without failures for clients that open a connection per request too", async () => {
        const load = startLoad(host.port, { keepAlive: false });
        const release = await host.deploy(inputs(images.v3));
        const report = await load.stop();
        expect(release.status, release.stderr).to.equal(0);
        expect(report.failed, describeLoad(report)).to.equal(0);
        expect(report.retried).to.equal(0);
        expect(report.last).to.equal("v3");
        figure(`release of a slow starter (healthy after 3 s): ${release.seconds.toFixed(1)} s; ${describeLoad(report)}`);
    });

    // A crash-looping container is caught between two restarts, or restarting: either reason is the documented one.
    for (const [title, image, reason] of [
        ["a never-healthy release", "never", /^GET \/health did not answer 200 within 8 s \(last: HTTP 404\)$/],
        [
            "a crash-looping release",
            "crash",
            /^the container (exited with code 3 before it was healthy|crashed and was restarted before it was healthy \(a crash loop\))$/,
        ],
    ] as const) {
        it(`keeps the old release serving through ${title}, fails with the reason, and leaves no new container`, async () => {
            const before = host.containers();
            const load = startLoad(host.port);
            const release = await host.deploy(inputs(images[image], { healthTimeoutSeconds: 8 }));
            const report = await load.stop();
            expect(release.status).to.equal(1);
            const logged = release.stderr.match(new RegExp(`^release-service\\[tasks\\]: deploy ${release.releaseId} failed: (.*)$`, "m"));
            expect(logged?.[1], release.stderr).to.match(reason);
            expect(report.failed, describeLoad(report)).to.equal(0);
            expect(report.versions).to.have.keys(["v3"]);
            expect(host.containers(), "no container of the failed release is left").to.deep.equal(before);
            const record = host.record();
            expect(record).to.include({ release: release.releaseId, status: "failed", reason: logged?.[1] });
            expect(record.logs).to.include(image === "never" ? "version never: never healthy" : "version crash: crashing on purpose");
            figure(`${title}: failed after ${release.seconds.toFixed(1)} s; ${describeLoad(report)}`);
        });
    }

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

    it("runs the same release again without touching it: SSM may rerun an association", async () => {
        const id = engine.docker("ps", "--quiet", "--filter", "status=running", "--filter", "label=release-service.service=tasks").trim();
        const again = await host.deploy(inputs(images.v2));
        expect(again.status, again.stderr).to.equal(0);
        expect(again.stderr).to.include(`release ${again.releaseId} is the current one; making sure it runs`);
        expect(engine.docker("ps", "--quiet", "--filter", "status=running", "--filter", "label=release-service.service=tasks").trim()).to.equal(id);
        expect(host.record()).to.include({ release: again.releaseId, status: "succeeded" });
    });

    it("brings the current release back after a reboot (every container stopped, the tmpfs emptied)", async () => {
        engine.docker("stop", "--time", "2", ...engine.docker("ps", "--quiet").trim().split("\n"));
        fs.rmSync(host.paths.run, { recursive: true, force: true });
        fs.mkdirSync(host.paths.run);
        expect(await get(host.port, "/version")).to.have.property("error");
        await host.startProxy();
        const resumed = await host.resume();
        expect(resumed.status, resumed.stderr).to.equal(0);
        expect(await get(host.port, "/version")).to.deep.equal({ status: 200, body: "v2\n" });
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
        mongoVersion = putSecret("MONGODB_URI", "mongodb://tasks:rotated-S3cret@db.example.com/tasks");
        const release = await host.deploy(inputs(images.v2));
        expect(release.status, release.stderr).to.equal(0);
        const container = `tasks-${release.releaseId}`;
        expect(engine.docker("exec", container, "cat", "/run/secrets/MONGODB_URI")).to.equal(
            "mongodb://tasks:rotated-S3cret@db.example.com/tasks",
        );
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
        for (const gone of ["v1", "v3", "never", "crash"]) {
            expect(spawnSync("docker", ["image", "inspect", images[gone]], { env: engine.env() }).status, gone).to.equal(1);
        }
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

    it("refuses to write secrets anywhere but on a tmpfs", async () => {
        const misconfigured = new TestHost(engine, moto, { proxy: proxyImage, awsCli: awsCliProbe }, {
            service: "misconfigured",
            runOnDisk: true,
        });
        try {
            await misconfigured.boot();
            const release = await misconfigured.deploy(inputs(images.v1));
            expect(release.status).to.equal(1);
            expect(misconfigured.record()).to.include({
                status: "failed",
                reason: `${misconfigured.paths.run} is not a tmpfs; secrets must not touch the disk`,
            });
            expect(fs.readdirSync(misconfigured.paths.run).filter((entry) => entry !== "proxy")).to.deep.equal([]);
        } finally {
            await misconfigured.destroy();
        }
    });
});
