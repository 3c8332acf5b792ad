// What HTTPS costs a client of the tasks service: the same load through the hosts' proxy, in HTTPS on its port 443
// stand-in and in plain HTTP on the service's port, turn by turn. The proxy is Caddy of the hosts' version with the
// config the release script renders, and its certificate is a real one: obtained over ACME from Pebble for the
// Elastic IP stand-in (an ECDSA P-256 key, as Caddy makes by default). The load is the tasks workload (7 reads, 3
// writes in 10 requests) on FerretDB, from keep-alive clients, then from clients that open a connection per request
// (a TLS handshake each). Figures only, not a test.
//   npx ts-node bench/tls/run.ts [--seconds S] [--connections N] [--rounds R] [--json]
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ElasticAddress, elasticIp, httpsGet, makeFrontCertificate, TestCa } from "../../test/https/acme";
import { startHostProxy } from "../proxy/caddy";

interface Figures {
    rps: number;
    p50: number;
    p99: number;
    answered: number;
    errors: number;
}

interface Row {
    clients: string;
    plain: Figures;
    tls: Figures;
}

function option(name: string, fallback: number): number {
    const index = process.argv.indexOf(`--${name}`);
    return index > 0 ? Number(process.argv[index + 1]) : fallback;
}

const progress = (text: string) => process.stderr.write(`tls: ${text}\n`);
const lib = (name: string) => import(path.join(__dirname, "..", "lib", name));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
    const seconds = option("seconds", 15);
    const connections = option("connections", 8);
    const rounds = option("rounds", 3);
    const { freePort, teardown, onTeardown, waitFor } = await lib("processes.mjs");
    const { seedTasks, startFerretDb, startPostgres } = await lib("databases.mjs");
    const { buildTasksService, startLogReceivers, startTasksService } = await lib("services.mjs");
    const { runLoad } = await lib("load.mjs");
    const { tasksWorkload } = await lib("workloads.mjs");
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-tls-"));
    const rows: Row[] = [];
    try {
        progress("starting FerretDB, the log receiver, the tasks service, Pebble and the proxy");
        const entry = await buildTasksService(workDir);
        const receivers = await startLogReceivers(workDir);
        const postgres = await startPostgres(path.join(workDir, "postgres"), await freePort());
        const ferretDb = await startFerretDb(path.join(workDir, "ferretdb"), await freePort(), postgres.url);
        const mongoUrl = `${ferretDb.url}tasks`;
        const seeded = await seedTasks(mongoUrl, 200);
        const tasks = await startTasksService({ workDir, name: "tasks", entry, mongoUrl, logseneUrl: receivers.logseneUrl });

        const front = makeFrontCertificate();
        const address = new ElasticAddress();
        await address.start();
        const ca = new TestCa(front, { httpPort: address.httpPort, shortlivedSeconds: 160 * 3600 });
        await ca.start();
        onTeardown(async () => {
            await ca.stop();
            address.stop();
            fs.rmSync(front.folder, { recursive: true, force: true });
        });
        const caFile = path.join(workDir, "front-ca.pem");
        fs.writeFileSync(caFile, front.caPem);
        const proxy = await startHostProxy({
            workDir,
            service: "tasks",
            upstream: `127.0.0.1:${tasks.port}`,
            tls: { siteName: elasticIp, publicIp: elasticIp, acmeDirectory: ca.directory },
            env: { SSL_CERT_FILE: caFile },
        });
        address.holder = proxy;
        const verified = () => httpsGet(address.httpsPort, "/health", ca.root).then((answer) => answer.status === 200, () => false);
        await waitFor("the proxy's certificate", verified, 60000);

        // Straight to the proxy's ports, not through the address's forwarder, which would weigh on HTTPS alone.
        const urls = { plain: `http://127.0.0.1:${proxy.port}`, tls: `https://127.0.0.1:${proxy.httpsPort}` };
        for (const [clients, close] of [["keep-alive", false], ["a connection per request", true]] as const) {
            const runs: Record<"plain" | "tls", Figures[]> = { plain: [], tls: [] };
            for (let round = 1; round <= rounds; round++) {
                for (const kind of ["plain", "tls"] as const) {
                    progress(`${clients}, round ${round} of ${rounds}: ${kind}`);
                    const figures = await runLoad({
                        baseUrl: urls[kind],
                        workload: tasksWorkload(seeded),
                        connections,
                        duration: seconds,
                        warmup: 2,
                        headers: close ? { connection: "close" } : {},
                    });
                    runs[kind].push(figures);
                }
            }
            const summary = (list: Figures[]): Figures => ({
                rps: median(list.map((figures) => figures.rps)),
                p50: median(list.map((figures) => figures.p50)),
                p99: median(list.map((figures) => figures.p99)),
                answered: list.reduce((sum, figures) => sum + figures.answered, 0),
                errors: list.reduce((sum, figures) => sum + figures.errors, 0),
            });
            rows.push({ clients, plain: summary(runs.plain), tls: summary(runs.tls) });
        }
    } finally {
        await teardown();
        fs.rmSync(workDir, { recursive: true, force: true });
    }

    if (process.argv.includes("--json")) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
    }
    const cell = (figures: Figures) => `${figures.rps.toFixed(0)} | ${figures.p50} / ${figures.p99} | ${figures.errors}`;
    const lines = [
        `${connections} clients, the tasks workload, ${seconds} s a run, median of ${rounds} rounds (plain and HTTPS in turn)`,
        "",
        "| clients | plain HTTP: req/s | p50 / p99 ms | errors | HTTPS: req/s | p50 / p99 ms | errors | throughput lost | p99 × |",
        "|---|---|---|---|---|---|---|---|---|",
        ...rows.map(
            (row) =>
                `| ${row.clients} | ${cell(row.plain)} | ${cell(row.tls)} | ${(100 * (1 - row.tls.rps / row.plain.rps)).toFixed(1)} % | ` +
                `${(row.tls.p99 / Math.max(row.plain.p99, 1)).toFixed(2)} |`,
        ),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
}

main().then(
    () => process.exit(0),
    (error) => {
        process.stderr.write(`tls: ${error.stack}\n`);
        process.exit(1);
    },
);
