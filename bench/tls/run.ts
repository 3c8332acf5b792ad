// What HTTPS costs a client of the tasks service, and the host's proxy: the same load through the proxy, in HTTPS on
// its port 443 stand-in and in plain HTTP on the service's port, turn by turn. The proxy is Caddy of the hosts'
// version with the config the release script renders, and its certificate is a real one: obtained over ACME from
// Pebble for the Elastic IP stand-in (an ECDSA P-256 key, as Caddy makes by default). The load is GET /tasks/{id} of
// 200 seeded tasks on FerretDB: from keep-alive clients (autocannon, as the other benches), then from clients that
// open a connection per request, so a TLS handshake each, in full or resuming the client's last TLS session (a client
// of ours: autocannon's latencies count its own reconnection waits then). Beside the clients' figures, the proxy's CPU
// time per request. Figures only, not a test.
//   npx ts-node bench/tls/run.ts [--seconds S] [--connections N] [--rounds R] [--json]
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import { ElasticAddress, elasticIp, httpsGet, makeFrontCertificate, TestCa } from "../../test/https/acme";
import { lib, option, report, runBench } from "../shared/cli";
import { startHostProxy } from "../shared/proxy";

interface Figures {
    rps: number;
    p50: number;
    p99: number;
    errors: number;
    /** The proxy's CPU time (user and system) per answered request, in milliseconds. */
    proxyCpuMs: number;
}

interface Row {
    clients: string;
    plain: Figures;
    tls: Figures;
}

const progress = (text: string) => process.stderr.write(`tls: ${text}\n`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/**
 * `connections` clients, each sending GET `paths()` one after the other on a new connection, for `seconds` after a
 * second of warm-up; with `resume`, an HTTPS client resumes its last TLS session (Node's agent keeps them) instead of
 * a full handshake. HTTPS verifies the chain against `root` (not the name: the bench goes straight to the proxy's
 * port on 127.0.0.1).
 */
async function connectionPerRequest(
    url: string,
    options: { connections: number; seconds: number; root: string; paths: () => string; resume: boolean },
) {
    const target = new URL(url);
    const client = target.protocol === "https:" ? https : http;
    const agent = options.resume ? new client.Agent({ keepAlive: false }) : false;
    const latencies: number[] = [];
    let errors = 0;
    const recordFrom = Date.now() + 1000;
    const end = recordFrom + options.seconds * 1000;
    const once = () =>
        new Promise<void>((resolve) => {
            const started = process.hrtime.bigint();
            const request = client.get(
                { host: target.hostname, port: target.port, path: options.paths(), agent, timeout: 10000, ca: options.root, checkServerIdentity: () => undefined },
                (response) => {
                    response.resume();
                    response.on("end", () => {
                        if (Date.now() >= recordFrom) {
                            if (response.statusCode === 200) latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
                            else errors++;
                        }
                        resolve();
                    });
                },
            );
            request.on("timeout", () => request.destroy(new Error("timeout")));
            request.on("error", () => {
                if (Date.now() >= recordFrom) errors++;
                resolve();
            });
        });
    await Promise.all(
        Array.from({ length: options.connections }, async () => {
            while (Date.now() < end) await once();
        }),
    );
    const sorted = latencies.sort((a, b) => a - b);
    const at = (share: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] ?? 0);
    return { rps: sorted.length / options.seconds, p50: at(0.5), p99: at(0.99), answered: sorted.length, errors };
}

async function main(): Promise<void> {
    const seconds = option("seconds", 15);
    const connections = option("connections", 8);
    const rounds = option("rounds", 3);
    const { cpuSecondsOf, freePort, teardown, onTeardown, waitFor } = await lib("processes.mjs");
    const { seedTasks, startFerretDb, startPostgres } = await lib("databases.mjs");
    const { buildTasksService, startLogReceivers, startTasksService } = await lib("services.mjs");
    const { runLoad } = await lib("load.mjs");
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-tls-"));
    const rows: Row[] = [];
    try {
        progress("starting PostgreSQL, FerretDB, the log receiver, the tasks service, Pebble and the proxy");
        const entry = await buildTasksService(workDir);
        const receivers = await startLogReceivers(workDir);
        const postgres = await startPostgres(path.join(workDir, "postgres"), await freePort());
        const ferretDb = await startFerretDb(path.join(workDir, "ferretdb"), await freePort(), postgres.url);
        const mongoUrl = `${ferretDb.url}tasks`;
        const seeded: string[] = await seedTasks(mongoUrl, 200);
        const tasks = await startTasksService({ workDir, name: "tasks", entry, mongoUrl, logseneUrl: receivers.logseneUrl });
        const paths = () => `/tasks/${seeded[Math.floor(Math.random() * seeded.length)]}`;

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
        const keepAlive = async (url: string) => {
            const read = { request: () => ({ method: "GET", path: paths() }), answered: () => undefined };
            return runLoad({ baseUrl: url, workload: { name: "reads", cycle: [read] }, connections, duration: seconds, warmup: 1 });
        };
        const perRequest = (resume: boolean) => (url: string) => connectionPerRequest(url, { connections, seconds, root: ca.root, paths, resume });
        const kinds = [
            ["keep-alive", keepAlive],
            ["a connection per request, resuming its TLS session", perRequest(true)],
            ["a connection per request, a full handshake each", perRequest(false)],
        ] as const;
        for (const [clients, measure] of kinds) {
            const runs: Record<"plain" | "tls", Figures[]> = { plain: [], tls: [] };
            for (let round = 1; round <= rounds; round++) {
                for (const kind of ["plain", "tls"] as const) {
                    progress(`${clients}, round ${round} of ${rounds}: ${kind}`);
                    const cpuBefore = await cpuSecondsOf(proxy.pid);
                    const figures = await measure(urls[kind]);
                    const cpu = (await cpuSecondsOf(proxy.pid)) - cpuBefore;
                    runs[kind].push({ ...figures, proxyCpuMs: (1000 * cpu) / Math.max(figures.answered, 1) });
                }
            }
            const summary = (list: Figures[]): Figures => ({
                rps: median(list.map((figures) => figures.rps)),
                p50: median(list.map((figures) => figures.p50)),
                p99: median(list.map((figures) => figures.p99)),
                errors: list.reduce((sum, figures) => sum + figures.errors, 0),
                proxyCpuMs: median(list.map((figures) => figures.proxyCpuMs)),
            });
            rows.push({ clients, plain: summary(runs.plain), tls: summary(runs.tls) });
        }
    } finally {
        await teardown();
        fs.rmSync(workDir, { recursive: true, force: true });
    }

    report(rows, (rows) => {
        const cell = (figures: Figures) =>
            `${figures.rps.toFixed(0)} | ${figures.p50} / ${figures.p99} | ${figures.proxyCpuMs.toFixed(2)} | ${figures.errors}`;
        return [
            `${connections} clients sending GET /tasks/{id}, ${seconds} s a run, median of ${rounds} rounds (plain HTTP and HTTPS in turn)`,
            "",
            "| clients | plain HTTP: req/s | p50 / p99 ms | proxy CPU ms a request | errors | HTTPS: req/s | p50 / p99 ms | proxy CPU ms a request | errors | throughput lost | p99 × |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            ...rows.map(
                (row) =>
                    `| ${row.clients} | ${cell(row.plain)} | ${cell(row.tls)} | ${(100 * (1 - row.tls.rps / row.plain.rps)).toFixed(1)} % | ` +
                    `${(row.tls.p99 / Math.max(row.plain.p99, 1)).toFixed(2)} |`,
            ),
        ];
    });
}

runBench("tls", main);
