// Release figures: how long a release takes, how long the switch leaves clients without an answer, and how many
// requests fail, for good releases, a never-healthy one and rollbacks, under a steady load on loopback. It runs the
// real release script with the release tests' harness (its own Docker engine, registry, Caddy and moto).
//   npx ts-node bench/release/run.ts [--releases N] [--clients C] [--json]
import { ReleaseInputs } from "../../components/release/document";
import { buildAwsCliProbe, buildProxyImage, DockerEngine, pushServiceImage, Registry } from "../../test/release/engine";
import { TestHost } from "../../test/release/host";
import { LoadReport, startLoad } from "../../test/release/load";
import { startMotoServer } from "../../test/tools";
import { option } from "../shared/cli";

interface Row {
    kind: string;
    seconds: number;
    ok: number;
    failed: number;
    retried: number;
    switchMs?: number;
    longestGapMs: number;
}

function summary(rows: Row[], key: "seconds" | "switchMs" | "longestGapMs"): string {
    const values = rows.map((row) => row[key]).filter((value): value is number => value !== undefined).sort((a, b) => a - b);
    if (values.length === 0) return "-";
    const format = (value: number) => (key === "seconds" ? value.toFixed(1) : String(value));
    return `${format(values[0])} / ${format(values[Math.floor(values.length / 2)])} / ${format(values[values.length - 1])}`;
}

async function main(): Promise<void> {
    const releases = option("releases", 5);
    const clients = option("clients", 8);
    const engine = new DockerEngine();
    const registry = new Registry();
    await engine.start();
    await registry.start();
    const moto = await startMotoServer();
    let host: TestHost | undefined;
    try {
        buildProxyImage(engine, "caddy-stand-in:bench");
        buildAwsCliProbe(engine, "aws-cli-probe:bench");
        const versions = Array.from({ length: 2 * releases + 1 }, (_, index) => `v${index}`);
        const images = Object.fromEntries(versions.map((version) => [version, pushServiceImage(engine, registry, "healthy", version)]));
        const never = pushServiceImage(engine, registry, "never", "never");
        moto.aws("ssm", "put-parameter", "--name", "/microservices/bench/tasks/MONGODB_URI", "--type", "SecureString", "--value", "mongodb://bench");
        host = new TestHost(engine, moto, { proxy: "caddy-stand-in:bench", awsCli: "aws-cli-probe:bench" });
        await host.boot();
        const inputs = (image: string, healthTimeoutSeconds = 30): ReleaseInputs => ({
            image,
            settings: {},
            secrets: { MONGODB_URI: { parameter: "/microservices/bench/tasks/MONGODB_URI", version: 1 } },
            healthTimeoutSeconds,
            imageSigner: "none",
        });
        await host.deploy(inputs(images.v0));

        const rows: Row[] = [];
        const measure = async (kind: string, release: () => Promise<{ status: number | null; seconds: number }>, keepAlive = true) => {
            const load = startLoad(host!.port, { clients, keepAlive });
            await new Promise((resolve) => setTimeout(resolve, 1000));
            const result = await release();
            await new Promise((resolve) => setTimeout(resolve, 1000));
            const report: LoadReport = await load.stop();
            rows.push({ kind, seconds: result.seconds, ...report });
            process.stderr.write(`${kind}: exit ${result.status}, ${result.seconds.toFixed(1)} s, ${report.failed} failed\n`);
        };

        for (let index = 1; index <= releases; index++) {
            await measure("good release, keep-alive clients", () => host!.deploy(inputs(images[`v${index}`])));
        }
        for (let index = releases + 1; index <= 2 * releases; index++) {
            await measure("good release, a connection per request", () => host!.deploy(inputs(images[`v${index}`])), false);
        }
        await measure("never-healthy release (10 s timeout)", () => host!.deploy(inputs(never, 10)));
        await registry.stop();
        for (let index = 2 * releases - 1; index >= 2 * releases - 2; index--) {
            await measure("rollback, registry stopped", () => host!.deploy(inputs(images[`v${index}`])));
        }

        if (process.argv.includes("--json")) {
            console.log(JSON.stringify(rows, null, 2));
            return;
        }
        console.log(`\nReleases under ${clients} clients sending GET /version through the proxy (min / median / max):\n`);
        console.log("| release | runs | release s | switch ms | longest gap ms | answered | failed | retried on a closed keep-alive connection |");
        console.log("|---|---|---|---|---|---|---|---|");
        for (const kind of [...new Set(rows.map((row) => row.kind))]) {
            const group = rows.filter((row) => row.kind === kind);
            const total = (key: "ok" | "failed" | "retried") => group.reduce((sum, row) => sum + row[key], 0);
            console.log(
                `| ${kind} | ${group.length} | ${summary(group, "seconds")} | ${summary(group, "switchMs")} | ` +
                    `${summary(group, "longestGapMs")} | ${total("ok")} | ${total("failed")} | ${total("retried")} |`,
            );
        }
    } finally {
        await host?.destroy();
        moto.stop();
        await registry.stop();
        await engine.destroy();
    }
}

main().catch((error) => {
    console.error(error);
    process.exit(1);
});
