// A key rotation as releases, for real (Docker, registry, Caddy, SSM as moto): the callers file is the secret API_KEYS,
// and the stand-in service checks each request's key against it (test/fixtures/release-images/service.sh, /cgi-bin/keyed).
// Under load: a release with the old and the new key's digests, the clients switch, a release with the new one only.
import { expect } from "chai";
import { createHash, randomBytes } from "crypto";
import * as http from "http";
import { Moto } from "../tools";
import { pushServiceImage, ReleaseWorld } from "./engine";
import { TestHost } from "./host";
import { LoadReport, startLoad } from "./load";

const sha256 = (text: string) => createHash("sha256").update(text, "ascii").digest("hex");
const newKey = () => `msk_${randomBytes(32).toString("base64url")}`;
const callersFile = (...keys: string[]) => JSON.stringify({ callers: { ci: { access: "read", keys: keys.map(sha256) } } });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The status of one GET of the keyed route with this key, on a new connection. */
function statusWith(port: number, key: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const headers = { Authorization: `Bearer ${key}` };
        http.get({ host: "127.0.0.1", port, path: "/cgi-bin/keyed", headers, agent: false, timeout: 5000 }, (response) => {
            response.resume();
            response.on("end", () => resolve(response.statusCode ?? 0));
        }).on("error", reject);
    });
}

function describeLoad(report: LoadReport): string {
    return `${report.ok} answered, ${report.failed} failed ${JSON.stringify(report.failures)}, ${report.retried} retried`;
}

describe("a key rotation under load, released for real", function () {
    this.timeout(180000);
    const world = new ReleaseWorld();
    const parameter = "/microservices/test/tasks/API_KEYS";
    const oldKey = newKey();
    const rotatedKey = newKey();
    let moto: Moto;
    let host: TestHost;
    let image: string;

    /** Stores the callers file in SSM and releases the image with it. */
    const release = async (callers: string) => {
        const stored = moto.aws("ssm", "put-parameter", "--name", parameter, "--type", "SecureString", "--value", callers, "--overwrite");
        const version = Number(JSON.parse(stored).Version);
        const result = await host.deploy({
            image,
            secrets: { API_KEYS: { parameter, version } },
            healthTimeoutSeconds: 20,
            imageSigner: "none",
        });
        expect(result.status, result.stderr).to.equal(0);
    };

    before(async () => {
        await world.start();
        moto = world.moto;
        image = pushServiceImage(world.engine, world.registry, "keyed", "v1");
        host = new TestHost(world.engine, moto, world.helpers);
        await host.boot();
        await release(callersFile(oldKey));
    });

    after(async () => {
        await host?.destroy();
        await world.stop();
    });

    it("refuses a request without a key or with an unknown one, and takes the caller's key", async () => {
        expect(await statusWith(host.port, oldKey)).to.equal(200);
        expect(await statusWith(host.port, rotatedKey)).to.equal(401);
        expect(await statusWith(host.port, "")).to.equal(401);
    });

    it("fails no request with a valid key, and refuses the old key as soon as the release without it is live", async () => {
        let clientKey = oldKey;
        const load = startLoad(host.port, { path: "/cgi-bin/keyed", headers: () => ({ Authorization: `Bearer ${clientKey}` }) });
        await sleep(500);

        await release(callersFile(oldKey, rotatedKey));
        expect(await statusWith(host.port, oldKey), "the old key, during the rotation").to.equal(200);
        expect(await statusWith(host.port, rotatedKey), "the new key, during the rotation").to.equal(200);

        clientKey = rotatedKey;
        await sleep(500);
        await release(callersFile(rotatedKey));
        expect(await statusWith(host.port, oldKey), "the old key, once revoked").to.equal(401);
        expect(await statusWith(host.port, rotatedKey)).to.equal(200);

        await sleep(500);
        const report = await load.stop();
        expect(report.failed, describeLoad(report)).to.equal(0);
        expect(report.ok).to.be.greaterThan(0);
        console.log(`      figure: rotation under load: ${describeLoad(report)}, longest gap ${report.longestGapMs} ms`);
    });
});
