// HTTPS on a host, for real: the release script and the proxy's units as the user data renders them, Caddy of the
// hosts' version in the tests' Docker engine, Pebble as Let's Encrypt, moto as SSM and KMS, and the Elastic IP as a
// forwarder that moves between hosts. What a client sees is checked the way a client checks it: the chain verified
// against the CA's root, the name against the certificate.
import { expect } from "chai";
import * as fs from "fs";
import * as net from "net";
import * as tls from "tls";
import { Moto } from "../tools";
import { pushServiceImage, ReleaseWorld } from "../release/engine";
import { get, TestHost, testProxyLimits } from "../release/host";
import { ElasticAddress, elasticIp, httpGet, httpsGet, HttpsAnswer, ipAddressProfile, makeFrontCertificate, TestCa } from "./acme";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Tries `attempt` until it resolves and `accept` agrees, or fails with the last answer or error after `timeoutMs`. */
async function eventually<T>(attempt: () => Promise<T>, accept: (value: T) => boolean, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown = "no attempt";
    while (Date.now() < deadline) {
        try {
            const value = await attempt();
            if (accept(value)) return value;
            last = value;
        } catch (error) {
            last = error;
        }
        await sleep(500);
    }
    throw new Error(`not within ${timeoutMs} ms; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
}

const lifetimeSeconds = (answer: HttpsAnswer) =>
    (Date.parse(answer.certificate.validTo) - Date.parse(answer.certificate.validFrom)) / 1000;

describe("HTTPS on the hosts, for real (Pebble as Let's Encrypt, Caddy, SSM)", function () {
    this.timeout(300000);
    const world = new ReleaseWorld();
    const { engine, registry, helpers } = world;
    const address = new ElasticAddress();
    const front = makeFrontCertificate();
    const images: Record<string, string> = {};
    const hosts: TestHost[] = [];
    const cas: TestCa[] = [];
    const storePath = "/microservices/test/tasks/certificates";
    let moto: Moto;
    let keyArn = "";

    before(async () => {
        await world.start({ trustedCa: front.caPem });
        moto = world.moto;
        for (const version of ["v1", "v2", "v3"]) images[version] = pushServiceImage(engine, registry, "healthy", version);
        keyArn = JSON.parse(moto.aws("kms", "create-key", "--description", "the tasks service's key")).KeyMetadata.Arn;
        await address.start();
    });

    after(async () => {
        for (const host of hosts) await host.destroy();
        for (const ca of cas) await ca.stop();
        address.stop();
        await world.stop();
        fs.rmSync(front.folder, { recursive: true, force: true });
    });

    /** A new CA; `shortlivedSeconds` is the validity of its shortlived profile (Let's Encrypt's: 160 hours). */
    const startCa = async (shortlivedSeconds = 160 * 3600): Promise<TestCa> => {
        const ca = new TestCa(front, { httpPort: address.httpPort, shortlivedSeconds });
        await ca.start();
        cas.push(ca);
        return ca;
    };

    /** A host of the service (`name` tells apart the containers of two hosts on one engine), not yet booted. */
    const newHost = async (
        name: string,
        ca: { directory: string },
        options: { siteName?: string; renewCheckSeconds?: number; storePath?: string } = {},
    ) => {
        const holder: { host?: TestHost } = {};
        const metadata = await address.metadataFor(() => holder.host !== undefined && address.holder === holder.host);
        const host = new TestHost(engine, moto, helpers, {
            service: name,
            tls: {
                siteName: options.siteName ?? elasticIp,
                publicIp: elasticIp,
                acmeDirectory: ca.directory,
                storePath: options.storePath ?? storePath,
                storeKeyArn: keyArn,
                renewCheckSeconds: options.renewCheckSeconds ?? 2,
            },
            env: { AWS_EC2_METADATA_SERVICE_ENDPOINT: metadata },
        });
        holder.host = host;
        hosts.push(host);
        return host;
    };

    const release = async (host: TestHost, version: string) => {
        const result = await host.deploy({
            image: images[version],
            settings: {},
            secrets: {},
            healthTimeoutSeconds: 20,
            // Signatures are test/release/signature.test.ts's.
            imageSigner: "none",
        });
        expect(result.status, result.stderr).to.equal(0);
    };

    /** Boots a host and returns its bootstrap's log; fails when the bootstrap does. */
    const boot = async (host: TestHost): Promise<string> => {
        await host.writeFiles();
        const bootstrap = await host.runBootstrap();
        expect(bootstrap.status, bootstrap.stderr).to.equal(0);
        return bootstrap.stderr;
    };

    /** The stored pointer's fields, and each stored parameter's version (a write makes a new one). */
    const store = () => {
        const pointer = moto.aws("ssm", "get-parameter", "--name", `${storePath}/current`, "--query", "Parameter.Value", "--output", "text");
        const fields = Object.fromEntries(pointer.trim().split("\n").map((line) => line.split(/=(.*)/s).slice(0, 2)));
        const parameters = JSON.parse(moto.aws("ssm", "get-parameters-by-path", "--path", storePath)).Parameters as {
            Name: string;
            Type: string;
            Version: number;
        }[];
        return { fields, versions: Object.fromEntries(parameters.map((parameter) => [parameter.Name, parameter.Version])), parameters };
    };

    const version = (answer: HttpsAnswer) => answer.body.trim();

    describe("a certificate for the Elastic IP", () => {
        let ca: TestCa;
        let first: TestHost;
        let served: HttpsAnswer;

        before(async () => {
            ca = await startCa();
            first = await newHost("tasks", ca);
        });

        it("is obtained by the host once it holds the address, under the shortlived profile, and verifies against the CA's root", async () => {
            await first.boot();
            await release(first, "v1");
            // As on a first `pulumi up`: the release first, then the address.
            const before = await first.certificates();
            expect(before.status, before.stderr).to.equal(0);
            expect(ca.certificates, "no certificate without the address").to.equal(0);

            address.holder = first;
            const nudge = await first.certificates();
            expect(nudge.status, nudge.stderr).to.equal(0);
            expect(nudge.stderr).to.include(`this host holds ${elasticIp} and has no certificate for ${elasticIp}; the proxy tries now`);
            served = await eventually(() => httpsGet(address.httpsPort, "/version", ca.root), (answer) => answer.status === 200, 45000);

            expect(version(served)).to.equal("v1");
            expect(served.certificate.subjectaltname).to.equal(`IP Address:${elasticIp}`);
            // The shortlived profile's validity; notAfter is the last second of it (RFC 5280: inclusive).
            expect(lifetimeSeconds(served)).to.equal(160 * 3600 - 1);
            expect(ca.certificates).to.equal(1);
            expect(ca.orders.length).to.be.above(0);
            for (const order of ca.orders) {
                expect(order).to.deep.equal({ identifiers: [{ type: "ip", value: elasticIp }], profile: ipAddressProfile, refused: false });
            }
        });

        it("redirects plain HTTP to HTTPS and sends HSTS; the service's port keeps serving peers in plain HTTP", async () => {
            const redirect = await httpGet(address.httpPort, "/tasks?done=true");
            expect(redirect.status).to.equal(308);
            expect(redirect.headers.location).to.equal(`https://${elasticIp}/tasks?done=true`);
            const secure = await httpsGet(address.httpsPort, "/health", ca.root);
            expect(secure.headers["strict-transport-security"]).to.equal("max-age=31536000");
            expect(secure.headers["alt-svc"], "no HTTP/3: the security group opens no UDP").to.equal(undefined);
            const protocol = await new Promise<string | false>((resolve, reject) => {
                const socket = tls.connect({ host: elasticIp, port: address.httpsPort, ca: ca.root, ALPNProtocols: ["h2", "http/1.1"] }, () => {
                    resolve(socket.alpnProtocol ?? false);
                    socket.end();
                });
                socket.on("error", reject);
            });
            expect(protocol, "HTTP/2 offered").to.equal("h2");
            expect(await get(first.port, "/version")).to.deep.equal({ status: 200, body: "v1\n" });
        });

        it("closes a connection that never starts its TLS handshake within the proxy's header timeout", async () => {
            const lived = await new Promise<number>((resolve, reject) => {
                const socket = net.connect(first.httpsPort, "127.0.0.1");
                socket.once("error", reject);
                socket.once("connect", () => {
                    const connected = Date.now();
                    const timer = setTimeout(() => socket.destroy(), 15000);
                    socket.on("close", () => {
                        clearTimeout(timer);
                        resolve((Date.now() - connected) / 1000);
                    });
                });
            });
            console.log(`      figure: a silent TLS connection closed after ${lived.toFixed(1)} s (timeout ${testProxyLimits.readHeaderTimeoutSeconds} s)`);
            expect(lived, "closed by the proxy, not by the test's 15 s").to.be.below(10);
        });

        it("is kept in the certificate store, encrypted with the service's key, and written again only when it changes", async () => {
            const run = await first.certificates();
            expect(run.status, run.stderr).to.equal(0);
            const stored = store();
            expect(stored.fields).to.deep.include({ site: elasticIp, ca: ca.directory, key: keyArn });
            const parts = stored.parameters.filter((parameter) => /\/part-\d+$/.test(parameter.Name));
            expect(parts.length).to.equal(Number(stored.fields.parts));
            for (const part of parts) {
                expect(part.Type).to.equal("SecureString");
                const described = JSON.parse(moto.aws("ssm", "describe-parameters", "--parameter-filters", `Key=Name,Values=${part.Name}`));
                expect(described.Parameters[0].KeyId).to.equal(keyArn);
            }
            const again = await first.certificates();
            expect(again.status, again.stderr).to.equal(0);
            expect(store().versions, "nothing changed, nothing written").to.deep.equal(stored.versions);
        });

        it("survives a release: nothing is issued", async () => {
            await release(first, "v2");
            const answer = await httpsGet(address.httpsPort, "/version", ca.root);
            expect(version(answer)).to.equal("v2");
            expect(answer.certificate.serialNumber).to.equal(served.certificate.serialNumber);
            expect(ca.certificates).to.equal(1);
        });

        it("survives a reboot (Docker restarted, the proxy's container gone): nothing is issued", async () => {
            await engine.restart();
            await first.startProxy();
            const resumed = await first.resume();
            expect(resumed.status, resumed.stderr).to.equal(0);
            const answer = await httpsGet(address.httpsPort, "/version", ca.root);
            expect(version(answer)).to.equal("v2");
            expect(answer.certificate.serialNumber).to.equal(served.certificate.serialNumber);
            expect(ca.certificates).to.equal(1);
        });

        it("serves a replacement host's first request in HTTPS with the stored certificate: nothing is issued", async () => {
            const replacement = await newHost("tasks-next", ca);
            expect(await boot(replacement)).to.include(`restored the proxy's certificates for ${elasticIp} from ${storePath}`);
            await release(replacement, "v3");
            const stored = store().versions;

            address.holder = replacement;
            const answer = await httpsGet(address.httpsPort, "/version", ca.root);
            expect(version(answer)).to.equal("v3");
            expect(answer.certificate.serialNumber).to.equal(served.certificate.serialNumber);
            expect(ca.certificates).to.equal(1);
            const run = await replacement.certificates();
            expect(run.status, run.stderr).to.equal(0);
            expect(store().versions, "the restored certificate is not written back").to.deep.equal(stored);
        });
    });

    describe("a certificate for a DNS name", () => {
        it("is obtained for the name under the CA's default profile, sent with SNI, and the redirect names it", async () => {
            const ca = await startCa();
            const host = await newHost("named", ca, { siteName: "tasks.example.test" });
            address.holder = host;
            // The store holds the Elastic IP's certificate from another CA: this host leaves it alone.
            expect(await boot(host)).to.include(
                `the stored certificate is for ${elasticIp} from ${store().fields.ca} under ${keyArn}; the proxy obtains its own`,
            );
            await release(host, "v1");
            const answer = await eventually(
                () => httpsGet(address.httpsPort, "/version", ca.root, "tasks.example.test"),
                (reply) => reply.status === 200,
                45000,
            );
            expect(version(answer)).to.equal("v1");
            expect(answer.certificate.subjectaltname).to.equal("DNS:tasks.example.test");
            expect(ca.orders.at(-1)).to.deep.equal({ identifiers: [{ type: "dns", value: "tasks.example.test" }], profile: undefined, refused: false });
            const redirect = await httpGet(address.httpPort, "/tasks", elasticIp);
            expect(redirect.headers.location).to.equal("https://tasks.example.test/tasks");
        });
    });

    describe("the store and the first try", () => {
        it("fails the bootstrap of a host whose store for its site cannot be read whole, and leaves the host unmarked", async () => {
            const brokenStore = "/microservices/test/broken/certificates";
            const ca = await startCa();
            const put = (name: string, type: string, value: string) =>
                moto.aws("ssm", "put-parameter", "--name", `${brokenStore}/${name}`, "--type", type, "--value", value, "--overwrite");
            put("part-0", "SecureString", "bm90IHRoZSBzdG9yZWQgY2VydGlmaWNhdGVz");
            put("current", "String", `site=${elasticIp}\nca=${ca.directory}\nkey=${keyArn}\nparts=1\nsha256=${"0".repeat(64)}`);
            const host = await newHost("broken", ca, { storePath: brokenStore });
            await host.writeFiles();
            const bootstrap = await host.runBootstrap();
            expect(bootstrap.status).to.equal(1);
            expect(bootstrap.stderr).to.include("the certificate store changed while it was read; reading it again");
            expect(bootstrap.stderr).to.include(
                "release-service[broken]: bootstrap failed: the certificate store's parts do not match its pointer (read 3 times)",
            );
            expect(fs.existsSync(`${host.paths.state}/bootstrapped`)).to.equal(false);
        });

        it("has the proxy try once, when the host holds the address and has no certificate", async () => {
            const host = await newHost("unanswered", { directory: "https://127.0.0.1:9/directory" }, { storePath: "/microservices/test/unanswered/certificates" });
            await boot(host);
            address.holder = host;
            const first = await host.certificates();
            expect(first.status, first.stderr).to.equal(0);
            expect(first.stderr).to.include("the proxy tries now");
            const second = await host.certificates();
            expect(second.status, second.stderr).to.equal(0);
            expect(second.stderr).to.equal("");
        });
    });

    describe("a renewal", () => {
        it("replaces a certificate in its renewal window with a new one, and stores the new one", async () => {
            // A shortlived profile of 60 s, so the proxy renews within the test: Pebble's renewal window (ARI) is the
            // whole lifetime, and Caddy renews at a random time in it.
            const ca = await startCa(60);
            const host = await newHost("renewing", ca);
            address.holder = host;
            await host.boot();
            await release(host, "v1");
            const first = await eventually(() => httpsGet(address.httpsPort, "/version", ca.root), (answer) => answer.status === 200, 45000);
            expect(lifetimeSeconds(first)).to.equal(59);
            const stored = await host.certificates();
            expect(stored.status, stored.stderr).to.equal(0);
            const storedFirst = store().fields.sha256;

            const renewed = await eventually(
                () => httpsGet(address.httpsPort, "/version", ca.root),
                (answer) => answer.certificate.serialNumber !== first.certificate.serialNumber,
                90000,
            );
            expect(renewed.status).to.equal(200);
            expect(ca.certificates).to.be.at.least(2);
            // The timer's next runs store the renewed certificate (whichever renewal came after the first store).
            await eventually(
                async () => {
                    const run = await host.certificates();
                    expect(run.status, run.stderr).to.equal(0);
                    return store().fields.sha256;
                },
                (sha256) => sha256 !== storedFirst,
                90000,
            );
        });
    });
});
