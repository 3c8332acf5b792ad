// Let's Encrypt and the Elastic IP as the HTTPS tests meet them: Pebble (Let's Encrypt's ACME test CA) behind a front
// that records each new order and, as Let's Encrypt does, refuses an IP address outside the shortlived profile; its
// DNS server (pebble-challtestsrv), which resolves every name to the Elastic IP; the Elastic IP, a forwarder that
// sends the public address's ports to the host that holds it, as AWS's address translation does (the host sees its
// own address, not the public one); and each host's instance metadata, which says whether it holds the address.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import * as net from "net";
import * as os from "os";
import * as path from "path";
import { freePort, must, tool, waitForPort } from "../tools";

export const pebbleVersion = "v2.10.3";
/** The Elastic IP: a loopback address of its own, so that a host's proxy never sees it as its local address. */
export const elasticIp = "127.0.0.2";
/** Let's Encrypt's profiles as the front knows them: only shortlived allows an IP address. */
export const ipAddressProfile = "shortlived";

const pebble = (name: string) => tool(`${name}-${pebbleVersion}`);

/** The front's certificate (Pebble's own listeners use it too), from a throwaway CA the proxy image trusts. */
export interface FrontCertificate {
    folder: string;
    caPem: string;
    certFile: string;
    keyFile: string;
}

export function makeFrontCertificate(): FrontCertificate {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "acme-front-"));
    const file = (name: string) => path.join(folder, name);
    const openssl = (...args: string[]) => must("openssl", args);
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl("req", "-x509", ...ec, "-keyout", file("ca.key"), "-out", file("ca.pem"), "-days", "2", "-subj", "/CN=acme front test CA");
    openssl("req", ...ec, "-keyout", file("front.key"), "-out", file("front.csr"), "-subj", "/CN=127.0.0.1");
    fs.writeFileSync(file("front.ext"), "subjectAltName=IP:127.0.0.1\n");
    openssl("x509", "-req", "-in", file("front.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-CAcreateserial",
        "-out", file("front.pem"), "-days", "2", "-extfile", file("front.ext"));
    return { folder, caPem: fs.readFileSync(file("ca.pem"), "utf8"), certFile: file("front.pem"), keyFile: file("front.key") };
}

/** A new order as the CA received it. */
export interface Order {
    identifiers: { type: string; value: string }[];
    profile?: string;
    /** Refused by the front: an IP address outside the shortlived profile. */
    refused: boolean;
}

async function started(process: ChildProcess, port: number, what: string): Promise<void> {
    let output = "";
    process.stdout?.on("data", (chunk) => (output += chunk));
    process.stderr?.on("data", (chunk) => (output += chunk));
    try {
        await waitForPort(port, 15000);
    } catch (error) {
        throw new Error(`${what} did not start: ${(error as Error).message}\n${output}`);
    }
}

function listen(server: net.Server, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port));
    });
}

/** Pebble, its DNS server and the front, for one test: each start is a new CA with a new root. */
export class TestCa {
    /** The ACME directory the hosts are given: the front's. */
    directory = "";
    /** Pebble's root, against which a client verifies the chains it issues. */
    root = "";
    readonly orders: Order[] = [];
    /** How many orders the CA finalized: the certificates it issued. */
    certificates = 0;
    private readonly processes: ChildProcess[] = [];
    private front?: https.Server;
    private pebblePort = 0;
    private readonly folder = fs.mkdtempSync(path.join(os.tmpdir(), "pebble-"));

    /** `httpPort`: where Pebble's validations reach the Elastic IP; `shortlivedSeconds`: that profile's validity. */
    constructor(
        private readonly certificate: FrontCertificate,
        private readonly settings: { httpPort: number; shortlivedSeconds: number },
    ) {}

    async start(): Promise<void> {
        const [dnsPort, dnsManagement, managementPort, tlsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
        this.pebblePort = await freePort();
        const dns = spawn(pebble("pebble-challtestsrv"), [
            "-dnsserver", `127.0.0.1:${dnsPort}`, "-management", `127.0.0.1:${dnsManagement}`, "-defaultIPv4", elasticIp,
            "-defaultIPv6", "", "-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "",
        ]);
        this.processes.push(dns);
        await started(dns, dnsManagement, "pebble-challtestsrv");
        const config = path.join(this.folder, "pebble.json");
        fs.writeFileSync(
            config,
            JSON.stringify({
                pebble: {
                    listenAddress: `127.0.0.1:${this.pebblePort}`,
                    managementListenAddress: `127.0.0.1:${managementPort}`,
                    certificate: this.certificate.certFile,
                    privateKey: this.certificate.keyFile,
                    httpPort: this.settings.httpPort,
                    tlsPort,
                    ocspResponderURL: "",
                    externalAccountBindingRequired: false,
                    profiles: {
                        default: { description: "90 days, DNS names", validityPeriod: 90 * 86400 },
                        [ipAddressProfile]: { description: "short-lived, DNS names and IP addresses", validityPeriod: this.settings.shortlivedSeconds },
                    },
                },
            }),
        );
        // Every validation at once and every nonce good: the tests wait on Caddy, not on Pebble's chaos.
        const env = { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" };
        const ca = spawn(pebble("pebble"), ["-config", config, "-dnsserver", `127.0.0.1:${dnsPort}`], { env });
        this.processes.push(ca);
        await started(ca, this.pebblePort, "Pebble");
        this.root = await this.pebbleGet(`https://127.0.0.1:${managementPort}/roots/0`);
        this.front = https.createServer(
            { cert: fs.readFileSync(this.certificate.certFile), key: fs.readFileSync(this.certificate.keyFile) },
            (request, response) => void this.relay(request, response),
        );
        this.directory = `https://127.0.0.1:${await listen(this.front, "127.0.0.1")}/dir`;
    }

    async stop(): Promise<void> {
        this.front?.close();
        this.front?.closeAllConnections();
        for (const child of this.processes) child.kill();
        fs.rmSync(this.folder, { recursive: true, force: true });
    }

    private pebbleGet(url: string): Promise<string> {
        return new Promise((resolve, reject) => {
            https
                .get(url, { ca: this.certificate.caPem }, (response) => {
                    let body = "";
                    response.on("data", (chunk) => (body += chunk));
                    response.on("end", () => resolve(body));
                })
                .on("error", reject);
        });
    }

    /** Passes a request on to Pebble (which builds its URLs from the Host header, so they name the front). */
    private async relay(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
        const chunks: Buffer[] = [];
        for await (const chunk of request) chunks.push(chunk as Buffer);
        const body = Buffer.concat(chunks);
        if (request.method === "POST" && request.url === "/order-plz") {
            const payload = JSON.parse(Buffer.from(JSON.parse(body.toString()).payload, "base64url").toString());
            const order: Order = { identifiers: payload.identifiers, profile: payload.profile, refused: false };
            order.refused = order.identifiers.some((identifier) => identifier.type === "ip") && order.profile !== ipAddressProfile;
            this.orders.push(order);
            if (order.refused) {
                // Boulder's answer; a fresh nonce lets the client go on with its next request.
                const nonce = await this.pebbleNonce();
                response.writeHead(400, { "Content-Type": "application/problem+json", "Replay-Nonce": nonce });
                response.end(JSON.stringify({
                    type: "urn:ietf:params:acme:error:rejectedIdentifier",
                    detail: "Default profile does not permit IP address identifiers. See available profiles at https://letsencrypt.org/docs/profiles/.",
                    status: 400,
                }));
                return;
            }
        }
        const upstream = https.request(
            { host: "127.0.0.1", port: this.pebblePort, method: request.method, path: request.url, headers: request.headers, ca: this.certificate.caPem },
            (answer) => {
                if (request.url?.startsWith("/finalize-order/") && answer.statusCode === 200) this.certificates++;
                response.writeHead(answer.statusCode ?? 502, answer.headers);
                answer.pipe(response);
            },
        );
        upstream.on("error", () => response.destroy());
        upstream.end(body);
    }

    private pebbleNonce(): Promise<string> {
        return new Promise((resolve, reject) => {
            https
                .request({ host: "127.0.0.1", port: this.pebblePort, method: "HEAD", path: "/nonce-plz", ca: this.certificate.caPem }, (answer) => {
                    answer.resume();
                    resolve(String(answer.headers["replay-nonce"]));
                })
                .on("error", reject)
                .end();
        });
    }
}

/** Where a host listens for the address's traffic: its own HTTP and HTTPS ports on loopback. */
export interface AddressTarget {
    httpPort: number;
    httpsPort: number;
}

/**
 * The Elastic IP: its HTTP and HTTPS ports on 127.0.0.2, forwarded to the ports of the host that holds it (a
 * connection opened before a move stays with the host it reached, as with AWS). Without a holder, nobody answers.
 */
export class ElasticAddress {
    httpPort = 0;
    httpsPort = 0;
    holder?: AddressTarget;
    private readonly servers: net.Server[] = [];

    async start(): Promise<void> {
        this.httpPort = await this.forward((target) => target.httpPort);
        this.httpsPort = await this.forward((target) => target.httpsPort);
    }

    /** An instance metadata service for one host: its public IP is the Elastic IP while it holds it. */
    async metadataFor(isHolder: () => boolean): Promise<string> {
        const server = http.createServer((request, response) => {
            if (request.method === "PUT" && request.url === "/latest/api/token") return void response.end("token");
            if (request.url === "/latest/meta-data/public-ipv4") return void response.end(isHolder() ? elasticIp : "127.0.0.9");
            response.writeHead(404).end();
        });
        this.servers.push(server);
        return `http://127.0.0.1:${await listen(server, "127.0.0.1")}`;
    }

    stop(): void {
        for (const server of this.servers) server.close();
    }

    private async forward(portOf: (target: AddressTarget) => number): Promise<number> {
        const server = net.createServer((client) => {
            if (!this.holder) return void client.destroy();
            const upstream = net.connect(portOf(this.holder), "127.0.0.1");
            client.pipe(upstream).pipe(client);
            client.on("error", () => upstream.destroy());
            upstream.on("error", () => client.destroy());
        });
        this.servers.push(server);
        return listen(server, elasticIp);
    }
}

/** What a client verifying against the CA's root sees of an HTTPS request to the Elastic IP. */
export interface HttpsAnswer {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: string;
    /** The certificate the proxy presented. */
    certificate: { subjectaltname?: string; serialNumber: string; validFrom: string; validTo: string };
}

/**
 * GET over HTTPS to the Elastic IP, verifying the chain against `root` and the name against `serverName` (a domain,
 * sent as SNI and Host) or the address itself (no SNI, as clients of an IP address send none).
 */
export function httpsGet(port: number, urlPath: string, root: string, serverName?: string): Promise<HttpsAnswer> {
    return new Promise((resolve, reject) => {
        const request = https.get(
            {
                host: elasticIp,
                port,
                path: urlPath,
                ca: root,
                agent: false,
                timeout: 5000,
                ...(serverName ? { servername: serverName, headers: { host: serverName } } : {}),
            },
            (response) => {
                const peer = (response.socket as import("tls").TLSSocket).getPeerCertificate();
                let body = "";
                response.on("data", (chunk) => (body += chunk));
                response.on("end", () =>
                    resolve({
                        status: response.statusCode ?? 0,
                        headers: response.headers,
                        body,
                        certificate: { subjectaltname: peer.subjectaltname, serialNumber: peer.serialNumber, validFrom: peer.valid_from, validTo: peer.valid_to },
                    }),
                );
            },
        );
        request.on("timeout", () => request.destroy(new Error("timeout")));
        request.on("error", reject);
    });
}

/** Plain HTTP GET to the Elastic IP's port 80. */
export function httpGet(port: number, urlPath: string, host?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
    return new Promise((resolve, reject) => {
        http.get({ host: elasticIp, port, path: urlPath, agent: false, timeout: 5000, headers: host ? { host } : {} }, (response) => {
            response.resume();
            resolve({ status: response.statusCode ?? 0, headers: response.headers });
        }).on("error", reject);
    });
}
