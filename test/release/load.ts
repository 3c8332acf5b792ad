// A steady, bounded load on loopback that records every answer: which version served it, and every failure.
import * as http from "http";

export interface LoadReport {
    ok: number;
    /** Requests that got no 200: a status or an error on a fresh connection, or after the one retry. */
    failed: number;
    /**
     * Requests retried once because a reused keep-alive connection was closed before any answer, as HTTP clients
     * do for idempotent requests (RFC 9112 §9.3.1): the proxy closes idle connections when it switches.
     */
    retried: number;
    /**
     * Requests retried once because their new connection was reset before any answer: the proxy's listener swap at a
     * switch can still do that, rarely (docs/releases.md, "The proxy switch and keep-alive connections").
     */
    resetNew: number;
    failures: Record<string, number>;
    /** Answers per version. */
    versions: Record<string, number>;
    /** The last version that answered. */
    last: string;
    /** Milliseconds from the last answer of the first version to the first answer of the next one (0 if they overlap). */
    switchMs?: number;
    /** The longest wait between two answers in a row, in milliseconds. */
    longestGapMs: number;
}

export interface LoadOptions {
    /** Concurrent clients. @default 4 */
    clients?: number;
    /** Keep connections alive between requests. @default true */
    keepAlive?: boolean;
    /** Pause between a client's requests. @default 5 */
    pauseMs?: number;
    /** The load stops by itself after this long. @default 120000 */
    maxMs?: number;
    /** The address to load. @default 127.0.0.1 */
    host?: string;
    /** The path each request gets; it answers the version that serves it. @default /version */
    path?: string;
    /** Headers of each request, asked for as it is sent (a client may switch keys under load). @default none */
    headers?: () => Record<string, string>;
}

/** Starts the load on `port` (GET /version); stop() ends it and reports. */
export function startLoad(port: number, options: LoadOptions = {}): { stop(): Promise<LoadReport> } {
    const { clients = 4, keepAlive = true, pauseMs = 5, maxMs = 120000, host = "127.0.0.1", path = "/version", headers = () => ({}) } =
        options;
    const agent = new http.Agent({ keepAlive, maxSockets: clients });
    const deadline = Date.now() + maxMs;
    let stopping = false;
    const report: LoadReport = { ok: 0, failed: 0, retried: 0, resetNew: 0, failures: {}, versions: {}, last: "", longestGapMs: 0 };
    const firstAt: Record<string, number> = {};
    const order: string[] = [];
    const lastAt: Record<string, number> = {};
    let previousAnswer = 0;

    const once = (useAgent: boolean) =>
        new Promise<{ version?: string; failure?: string; reused: boolean }>((resolve) => {
            const request = http.get({ host, port, path, headers: headers(), agent: useAgent ? agent : false, timeout: 10000 });
            request.on("response", (response) => {
                let body = "";
                response.on("data", (chunk) => (body += chunk));
                response.on("end", () =>
                    resolve(
                        response.statusCode === 200
                            ? { version: body.trim(), reused: request.reusedSocket }
                            : { failure: `HTTP ${response.statusCode}`, reused: request.reusedSocket },
                    ),
                );
            });
            request.on("timeout", () => request.destroy(Object.assign(new Error("timeout"), { code: "TIMEOUT" })));
            request.on("error", (error: NodeJS.ErrnoException) =>
                resolve({ failure: error.code ?? error.message, reused: request.reusedSocket }),
            );
        });

    const client = async () => {
        while (!stopping && Date.now() < deadline) {
            let answer = await once(keepAlive);
            if (answer.failure && ["ECONNRESET", "EPIPE"].includes(answer.failure)) {
                if (answer.reused) report.retried++;
                else report.resetNew++;
                answer = await once(false);
            }
            const now = Date.now();
            if (answer.version !== undefined) {
                report.ok++;
                report.versions[answer.version] = (report.versions[answer.version] ?? 0) + 1;
                if (!(answer.version in firstAt)) {
                    firstAt[answer.version] = now;
                    order.push(answer.version);
                }
                lastAt[answer.version] = now;
                report.last = answer.version;
                if (previousAnswer) report.longestGapMs = Math.max(report.longestGapMs, now - previousAnswer);
                previousAnswer = now;
            } else {
                report.failed++;
                report.failures[answer.failure!] = (report.failures[answer.failure!] ?? 0) + 1;
            }
            await new Promise((resolve) => setTimeout(resolve, pauseMs));
        }
    };
    const running = Promise.all(Array.from({ length: clients }, client));

    return {
        async stop() {
            stopping = true;
            await running;
            agent.destroy();
            const [first, second] = order;
            if (first !== undefined && second !== undefined) {
                report.switchMs = Math.max(0, firstAt[second] - lastAt[first]);
            }
            return report;
        },
    };
}
