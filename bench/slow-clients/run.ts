// Slow clients against each service, directly and through the hosts' proxy: 100 slowloris sockets (a header line a
// second, never the end of the headers) and 20 slow bodies (a byte a second), reopened whenever the server closes
// them, while other clients send GET /health. It prints those clients' latency (p50, p99) next to their latency
// without the slow clients, and how long the server let a slow socket live. The proxy is Caddy of the hosts' version
// (scripts/install.sh builds it) with the config the release script gives it. Figures only, not a test.
//   npx ts-node bench/slow-clients/run.ts [--seconds S] [--json]
import * as fs from "fs";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { lib, option, report, runBench } from "../shared/cli";
import { noCertificateAuthority, startHostProxy } from "../shared/proxy";
import { startBothServices } from "../shared/services";

const slowloris = 100;
const slowBodies = 20;
const clients = 8;

interface Figures {
    p50: number;
    p99: number;
    answered: number;
    errors: number;
    timeouts: number;
}

/** How long the server let one kind of slow socket live before it closed it (median), and how many it closed. */
interface Closed {
    medianSeconds: number | null;
    count: number;
}

interface Row {
    service: string;
    path: "direct" | "through the proxy";
    normal: Figures;
    attacked: Figures;
    slowHeaders: Closed;
    slowBodies: Closed;
}

const progress = (text: string) => process.stderr.write(`slow-clients: ${text}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Keeps `count` sockets open against `port`, each sending `head` and then `drip` every second, and opens a new one
 * whenever the server closes one. stop() ends them and says how long the server let them live.
 */
function slowSockets(port: number, count: number, head: string, drip: string) {
    let stopping = false;
    const lifetimes: number[] = [];
    const sockets = new Set<net.Socket>();
    const open = () => {
        if (stopping) return;
        const started = Date.now();
        const socket = net.connect(port, "127.0.0.1", () => socket.write(head));
        const timer = setInterval(() => socket.writable && socket.write(drip), 1000);
        sockets.add(socket);
        socket.on("data", () => undefined);
        socket.on("error", () => undefined);
        socket.on("close", () => {
            clearInterval(timer);
            sockets.delete(socket);
            if (stopping) return;
            lifetimes.push((Date.now() - started) / 1000);
            setTimeout(open, 100);
        });
    };
    for (let index = 0; index < count; index++) open();
    return {
        stop(): number[] {
            stopping = true;
            for (const socket of sockets) socket.destroy();
            return lifetimes;
        },
    };
}

function closed(lifetimes: number[]): Closed {
    const sorted = [...lifetimes].sort((a, b) => a - b);
    return { medianSeconds: sorted.length ? sorted[Math.floor(sorted.length / 2)] : null, count: sorted.length };
}

async function main(): Promise<void> {
    const seconds = option("seconds", 10);
    const { teardown } = await lib("processes.mjs");
    const { AUTHORIZATION } = await lib("services.mjs");
    const { runLoad } = await lib("load.mjs");
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-slow-clients-"));
    const health = { name: "health", cycle: [{ request: () => ({ method: "GET", path: "/health" }), answered: () => undefined }] };

    const load = async (url: string): Promise<Figures> => {
        const figures = await runLoad({ baseUrl: url, workload: health, connections: clients, duration: seconds, warmup: 1 });
        return { p50: figures.p50, p99: figures.p99, answered: figures.answered, errors: figures.errors, timeouts: figures.timeouts };
    };

    /** Caddy in front of `upstream`, with the config the release script renders for the hosts: its service port. */
    const startProxy = async (service: string, upstream: string): Promise<string> => {
        const proxy = await startHostProxy({ workDir, service, upstream, tls: noCertificateAuthority });
        return `http://127.0.0.1:${proxy.port}`;
    };

    const attack = async (service: string, route: Row["path"], url: string, bodyPath: string, normal: Figures): Promise<Row> => {
        progress(`${service} ${route}: ${slowloris} slowloris sockets and ${slowBodies} slow bodies, with the same load`);
        const port = Number(new URL(url).port);
        const headers = slowSockets(port, slowloris, "GET /health HTTP/1.1\r\nHost: bench\r\n", "X-Slow: 1\r\n");
        const bodies = slowSockets(
            port,
            slowBodies,
            `POST ${bodyPath} HTTP/1.1\r\nHost: bench\r\nAuthorization: ${AUTHORIZATION}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`,
            " ",
        );
        await sleep(3000);
        const attacked = await load(url);
        const row = { service, path: route, normal, attacked, slowHeaders: closed(headers.stop()), slowBodies: closed(bodies.stop()) };
        // Let the server see the slow sockets go before the next run.
        await sleep(2000);
        return row;
    };

    const rows: Row[] = [];
    try {
        progress("starting FerretDB, PostgreSQL, the log receivers and both services");
        const { tasks, requests } = await startBothServices(workDir, { seededTasks: 20 });
        // The runs without slow clients first, and the one that may starve the service last.
        for (const [service, started, bodyPath] of [
            ["tasks", tasks, "/tasks"],
            ["requests", requests, "/requests"],
        ] as const) {
            const proxied = await startProxy(service, `127.0.0.1:${started.port}`);
            progress(`${service}: normal load, direct and through the proxy`);
            const direct = await load(started.url);
            const throughProxy = await load(proxied);
            rows.push(await attack(service, "through the proxy", proxied, bodyPath, throughProxy));
            rows.push(await attack(service, "direct", started.url, bodyPath, direct));
        }
    } finally {
        await teardown();
        fs.rmSync(workDir, { recursive: true, force: true });
    }

    report(rows, (rows) => {
        const cell = (figures: Figures) => `${figures.p50} / ${figures.p99} | ${figures.answered} | ${figures.errors} (${figures.timeouts})`;
        const lives = (kind: Closed) => (kind.medianSeconds === null ? "none closed" : `${kind.count}, after ${kind.medianSeconds.toFixed(1)} s`);
        return [
            `${clients} keep-alive clients sending GET /health for ${seconds} s each time; the slow clients start 3 s before`,
            "",
            "| service | path | p50 / p99 ms | answered | errors (timeouts) | with slow clients: p50 / p99 ms | answered | errors (timeouts) | p99 × | slow headers closed (median life) | slow bodies closed (median life) |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            ...rows.map((row) =>
                [
                    row.service,
                    row.path,
                    cell(row.normal),
                    cell(row.attacked),
                    row.attacked.answered === 0 ? "no answer" : (row.attacked.p99 / Math.max(row.normal.p99, 1)).toFixed(1),
                    lives(row.slowHeaders),
                    lives(row.slowBodies),
                ].join(" | "),
            ).map((line) => `| ${line} |`),
        ];
    });
}

runBench("slow-clients", main);
