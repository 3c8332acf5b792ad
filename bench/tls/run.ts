// What HTTPS and API keys cost: issue 19's "throughput and p99 with TLS and a key against plain HTTP without one"
// (targets: under 10% of throughput lost, p99 under 1.2×). The services refuse protected routes without a key, so the
// bench measures the two costs apart and combines them:
// - TLS: the same load through the proxy, in HTTPS on its port 443 stand-in and in plain HTTP on the service's port,
//   turn by turn, every request with the bench's key. The proxy is Caddy of the hosts' version with the config the
//   release script renders, and its certificate is a real one: obtained over ACME from Pebble for the Elastic IP
//   stand-in (an ECDSA P-256 key, as Caddy makes by default). The load is GET /tasks/{id} of 200 seeded tasks on
//   FerretDB: from keep-alive clients (autocannon, as the other benches), then from clients that open a connection per
//   request, so a TLS handshake each, in full or resuming the client's last TLS session (a client of ours:
//   autocannon's latencies count its own reconnection waits then). Beside the clients' figures, the proxy's CPU time
//   per request.
// - The key: the check itself (the key's shape, SHA-256, a constant-time comparison with every stored digest), timed
//   on each service's own code in its own runtime, against that service's p50 and CPU time per request under a
//   keep-alive load of GET /{tasks,requests}/{id} sent to it directly.
// Figures only, not a test.
//   npx ts-node bench/tls/run.ts [--seconds S] [--connections N] [--rounds R] [--json]
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import { ElasticAddress, elasticIp, httpsGet, makeFrontCertificate, TestCa } from "../../test/https/acme";
import { lib, option, report, runBench } from "../shared/cli";
import { startHostProxy } from "../shared/proxy";
import { startBothServices } from "../shared/services";
import { CheckCost, keyCheckCost } from "./key-check";

interface Figures {
    rps: number;
    p50: number;
    p99: number;
    errors: number;
    /** The CPU time (user and system) per answered request, in milliseconds, of the proxy or the service. */
    cpuMs: number;
}

/** One kind of client, through the proxy in plain HTTP and in HTTPS. */
interface TlsRow {
    clients: string;
    plain: Figures;
    tls: Figures;
}

/** One service loaded directly, and its key check's cost by the number of stored digests. */
interface KeyRow {
    service: "tasks" | "requests";
    load: Figures;
    check: CheckCost;
}

/** Stored digests the check is timed with: a caller during a rotation (or two callers), and ten callers rotating. */
const DIGESTS = [2, 20];

const progress = (text: string) => process.stderr.write(`tls: ${text}\n`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The median of each figure over rounds; errors are summed. */
const summary = (list: Figures[]): Figures => ({
    rps: median(list.map((figures) => figures.rps)),
    p50: median(list.map((figures) => figures.p50)),
    p99: median(list.map((figures) => figures.p99)),
    errors: list.reduce((sum, figures) => sum + figures.errors, 0),
    cpuMs: median(list.map((figures) => figures.cpuMs)),
});

/**
 * `connections` clients, each sending GET `paths()` with `authorization` one after the other on a new connection,
 * for `seconds` after a second of warm-up; with `resume`, an HTTPS client resumes its last TLS session (Node's agent
 * keeps them) instead of a full handshake. HTTPS verifies the chain against `root` (not the name: the bench goes
 * straight to the proxy's port on 127.0.0.1).
 */
async function connectionPerRequest(
    url: string,
    options: { connections: number; seconds: number; root: string; paths: () => string; authorization: string; resume: boolean },
) {
    const target = new URL(url);
    const client = target.protocol === "https:" ? https : http;
    const agent = options.resume ? new client.Agent({ keepAlive: false }) : false;
    const latencies: number[] = [];
    const statusCodes: Record<number, number> = {};
    let errors = 0;
    const recordFrom = Date.now() + 1000;
    const end = recordFrom + options.seconds * 1000;
    const once = () =>
        new Promise<void>((resolve) => {
            const started = process.hrtime.bigint();
            const request = client.get(
                {
                    host: target.hostname,
                    port: target.port,
                    path: options.paths(),
                    headers: { authorization: options.authorization },
                    agent,
                    timeout: 10000,
                    ca: options.root,
                    checkServerIdentity: () => undefined,
                },
                (response) => {
                    response.resume();
                    response.on("end", () => {
                        if (Date.now() >= recordFrom) {
                            const status = response.statusCode ?? 0;
                            statusCodes[status] = (statusCodes[status] ?? 0) + 1;
                            if (status === 200) latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
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
    return { rps: sorted.length / options.seconds, p50: at(0.5), p99: at(0.99), answered: sorted.length, errors, statusCodes };
}

/** Figures that measured refusals are no figures: a run whose key the service refused stops the bench. */
function refusedKey(figures: { statusCodes: Record<string, number> }): boolean {
    return Boolean(figures.statusCodes[401] || figures.statusCodes[403]);
}

async function main(): Promise<void> {
    const seconds = option("seconds", 15);
    const connections = option("connections", 8);
    const rounds = option("rounds", 3);
    const { cpuSecondsOfGroup, teardown, onTeardown, waitFor } = await lib("processes.mjs");
    const { seedRequests } = await lib("databases.mjs");
    const { AUTHORIZATION } = await lib("services.mjs");
    const { runLoad } = await lib("load.mjs");
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-tls-"));
    const tlsRows: TlsRow[] = [];
    const keyRows: KeyRow[] = [];
    try {
        progress("starting PostgreSQL, FerretDB, the log receivers, both services, Pebble and the proxy");
        const started = await startBothServices(workDir, { seededTasks: 200, ferretDbOnPostgres: true });
        const { tasks, requests, tasksEntry: entry, seededTasks: seeded } = started;
        const seededRequests: number[] = await seedRequests(started.postgresUrl, 2000, seeded);
        const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)];
        const paths = () => `/tasks/${pick(seeded)}`;

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

        /** Keep-alive load of GET `readPath()` on `url`, each request with the bench's key (workloads.mjs headersFor). */
        const keepAlive = (readPath: () => string) => async (url: string) => {
            const read = { request: () => ({ method: "GET", path: readPath() }), answered: () => undefined };
            return runLoad({ baseUrl: url, workload: { name: "reads", cycle: [read] }, connections, duration: seconds, warmup: 1 });
        };
        /** `measure`'s figures with the CPU time per request of the process group `pid` leads. */
        const withCpu = async (pid: number, measure: () => Promise<{ answered: number; statusCodes: Record<string, number> } & Omit<Figures, "cpuMs">>) => {
            const cpuBefore = await cpuSecondsOfGroup(pid);
            const figures = await measure();
            const cpu = (await cpuSecondsOfGroup(pid)) - cpuBefore;
            if (refusedKey(figures)) throw new Error(`the service refused the bench's key: answers ${JSON.stringify(figures.statusCodes)}`);
            return { ...figures, cpuMs: (1000 * cpu) / Math.max(figures.answered, 1) };
        };

        // Straight to the proxy's ports, not through the address's forwarder, which would weigh on HTTPS alone.
        const urls = { plain: `http://127.0.0.1:${proxy.port}`, tls: `https://127.0.0.1:${proxy.httpsPort}` };
        const perRequest = (resume: boolean) => (url: string) =>
            connectionPerRequest(url, { connections, seconds, root: ca.root, paths, authorization: AUTHORIZATION, resume });
        const kinds = [
            ["keep-alive", keepAlive(paths)],
            ["a connection per request, resuming its TLS session", perRequest(true)],
            ["a connection per request, a full handshake each", perRequest(false)],
        ] as const;
        for (const [clients, measure] of kinds) {
            const runs: Record<"plain" | "tls", Figures[]> = { plain: [], tls: [] };
            for (let round = 1; round <= rounds; round++) {
                for (const kind of ["plain", "tls"] as const) {
                    progress(`${clients}, round ${round} of ${rounds}: ${kind}`);
                    runs[kind].push(await withCpu(proxy.pid, () => measure(urls[kind])));
                }
            }
            tlsRows.push({ clients, plain: summary(runs.plain), tls: summary(runs.tls) });
        }

        const services = [
            { service: "tasks", server: tasks, readPath: paths },
            { service: "requests", server: requests, readPath: () => `/requests/${pick(seededRequests)}` },
        ] as const;
        for (const { service, server, readPath } of services) {
            const runs: Figures[] = [];
            for (let round = 1; round <= rounds; round++) {
                progress(`${service} directly, round ${round} of ${rounds}`);
                runs.push(await withCpu(server.process.pid, () => keepAlive(readPath)(server.url)));
            }
            progress(`${service}: the key check alone`);
            keyRows.push({ service, load: summary(runs), check: await keyCheckCost(service, entry, DIGESTS) });
        }
    } finally {
        await teardown();
        fs.rmSync(workDir, { recursive: true, force: true });
    }

    const verdict = verdictOf(tlsRows, keyRows[0]);
    report({ tls: tlsRows, key: keyRows, verdict }, () => tables({ seconds, connections, rounds, tlsRows, keyRows, verdict }));
}

/**
 * TLS and a key against plain HTTP without one, for each kind of client: the TLS rows (both sides with the key) with
 * the plain side's key check taken away, the check's cost with the most digests timed. Throughput: the check's share
 * of the service's CPU time per request (the machine is CPU-bound under this load); p99: its time off the plain p99.
 */
function verdictOf(tlsRows: TlsRow[], tasksKey: KeyRow) {
    const checkUs = Math.max(...tasksKey.check.map((cost) => cost.microseconds));
    const checkShare = checkUs / 1000 / tasksKey.load.cpuMs;
    return tlsRows.map(({ clients, plain, tls }) => {
        const throughputLost = 1 - (tls.rps / plain.rps) * (1 - checkShare);
        const p99Ratio = tls.p99 / Math.max(plain.p99 - checkUs / 1000, 1);
        return { clients, throughputLost, p99Ratio, met: throughputLost < 0.1 && p99Ratio < 1.2 };
    });
}

function tables(figures: {
    seconds: number;
    connections: number;
    rounds: number;
    tlsRows: TlsRow[];
    keyRows: KeyRow[];
    verdict: ReturnType<typeof verdictOf>;
}): string[] {
    const { seconds, connections, rounds, tlsRows, keyRows, verdict } = figures;
    const percent = (share: number, digits = 1) => `${(100 * share).toFixed(digits)} %`;
    const cell = (figures: Figures) => `${figures.rps.toFixed(0)} | ${figures.p50} / ${figures.p99} | ${figures.cpuMs.toFixed(2)} | ${figures.errors}`;
    const checkCell = (row: KeyRow) => row.check.map((cost) => `${cost.microseconds.toFixed(1)} (${cost.digests})`).join(", ");
    const largest = (row: KeyRow) => Math.max(...row.check.map((cost) => cost.microseconds));
    return [
        `TLS: ${connections} clients sending GET /tasks/{id} with the key, ${seconds} s a run, median of ${rounds} rounds (plain HTTP and HTTPS in turn)`,
        "",
        "| clients | plain HTTP: req/s | p50 / p99 ms | proxy CPU ms a request | errors | HTTPS: req/s | p50 / p99 ms | proxy CPU ms a request | errors | throughput lost | p99 × |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        ...tlsRows.map(
            (row) =>
                `| ${row.clients} | ${cell(row.plain)} | ${cell(row.tls)} | ${percent(1 - row.tls.rps / row.plain.rps)} | ` +
                `${(row.tls.p99 / Math.max(row.plain.p99, 1)).toFixed(2)} |`,
        ),
        "",
        `The key: the check alone (µs, with N stored digests), against ${connections} keep-alive clients sending GET /{service}/{id} with the key straight to the service, median of ${rounds} rounds`,
        "",
        "| service | check µs (N digests) | req/s | p50 / p99 ms | service CPU ms a request | errors | check / p50 | check / CPU a request |",
        "|---|---|---|---|---|---|---|---|",
        ...keyRows.map(
            (row) =>
                `| ${row.service} | ${checkCell(row)} | ${cell(row.load)} | ${percent(largest(row) / 1000 / Math.max(row.load.p50, 1), 2)} | ` +
                `${percent(largest(row) / 1000 / row.load.cpuMs, 2)} |`,
        ),
        "",
        "TLS and a key against plain HTTP without one (targets: throughput lost under 10 %, p99 under 1.2×)",
        "",
        "| clients | throughput lost | p99 × | targets met |",
        "|---|---|---|---|",
        ...verdict.map((row) => `| ${row.clients} | ${percent(row.throughputLost)} | ${row.p99Ratio.toFixed(2)} | ${row.met ? "yes" : "no"} |`),
    ];
}

runBench("tls", main);
