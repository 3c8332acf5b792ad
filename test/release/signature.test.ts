// The host's signature check, for real: images in the local registry signed with throwaway cosign key pairs (no
// transparency log: nothing here reaches Sigstore), verified on the host by cosign from its image pinned by digest,
// before the release runs them. An unsigned image and one signed by another key are refused with cosign's reason,
// while the old release keeps serving.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { ReleaseInputs } from "../../components/release/document";
import { ImageSigner } from "../../components/release/imageSigner";
import { Moto, must, tool } from "../tools";
import { cosignVersion, pushServiceImage, ReleaseWorld } from "./engine";
import { get, TestHost } from "./host";
import { startLoad } from "./load";

/** cosign on this machine, with a home of its own and the throwaway keys' empty password. */
class Signer {
    readonly folder = fs.mkdtempSync(path.join(os.tmpdir(), "release-signer-"));
    private readonly cosign = tool(`cosign-${cosignVersion}`);

    private run(...args: string[]): string {
        return must(this.cosign, args, { ...process.env, HOME: this.folder, COSIGN_PASSWORD: "" });
    }

    /** A new key pair; returns its public key, PEM, as `cosign public-key` prints it. */
    keyPair(name: string): ImageSigner {
        this.run("generate-key-pair", "--output-key-prefix", path.join(this.folder, name));
        return fs.readFileSync(path.join(this.folder, `${name}.pub`), "utf8");
    }

    /**
     * Signs an image by digest with a key pair, then attaches a scan report as a signed vuln attestation, as CI's
     * sign-image.sh does; nothing is logged anywhere (no Rekor here, so no signing config from Sigstore either).
     */
    sign(image: string, keyPair: string): void {
        const key = ["--key", path.join(this.folder, `${keyPair}.key`), "--use-signing-config=false", "--tlog-upload=false"];
        const report = path.join(this.folder, "scan.json");
        // The shape of Trivy's cosign-vuln report (scan-image.sh writes one), with no finding.
        const scanner = { uri: "pkg:github/aquasecurity/trivy", version: "0.69.3", result: {} };
        fs.writeFileSync(report, JSON.stringify({ scanner, metadata: { scanStartedOn: new Date().toISOString() } }));
        this.run("sign", "--yes", ...key, image);
        this.run("attest", "--yes", ...key, "--type", "vuln", "--predicate", report, image);
    }

    remove(): void {
        fs.rmSync(this.folder, { recursive: true, force: true });
    }
}

describe("releases on a host check the image's signature first (cosign, local keys, local registry)", function () {
    this.timeout(180000);
    const world = new ReleaseWorld();
    const { engine, registry, helpers } = world;
    const signer = new Signer();
    let moto: Moto;
    let host: TestHost;
    const images: Record<string, string> = {};
    const keys: Record<string, ImageSigner> = {};
    const parameterPath = "/microservices/test/tasks";
    let secretVersion = 0;

    const inputs = (image: string, imageSigner: ImageSigner): ReleaseInputs => ({
        image,
        settings: {},
        secrets: { MONGODB_URI: { parameter: `${parameterPath}/MONGODB_URI`, version: secretVersion } },
        healthTimeoutSeconds: 20,
        imageSigner,
    });
    const onHost = (image: string) => spawnSync("docker", ["image", "inspect", image], { env: engine.env() }).status === 0;

    before(async () => {
        await world.start({ cosign: true });
        moto = world.moto;
        for (const name of ["signed", "unsigned", "foreign", "next"]) {
            images[name] = pushServiceImage(engine, registry, "healthy", name);
        }
        keys.ours = signer.keyPair("ours");
        keys.theirs = signer.keyPair("theirs");
        signer.sign(images.signed, "ours");
        signer.sign(images.next, "ours");
        signer.sign(images.foreign, "theirs");
        secretVersion = moto.putSecureString(`${parameterPath}/MONGODB_URI`, "mongodb://signature");
        host = new TestHost(engine, moto, helpers);
        await host.boot();
    });

    after(async () => {
        await host?.destroy();
        await world.stop();
        signer.remove();
    });

    it("releases an image signed by the key the release names, checked by cosign from its image pinned by digest", async () => {
        expect(onHost(helpers.cosign!), "the bootstrap leaves cosign to the first check").to.equal(false);
        const release = await host.deploy(inputs(images.signed, keys.ours));
        expect(release.status, release.stderr).to.equal(0);
        expect(release.stderr).to.include(`${images.signed} is signed by the public key of imageSigner`);
        expect(await get(host.port, "/version")).to.deep.equal({ status: 200, body: "signed\n" });
        expect(host.record()).to.include({ release: release.releaseId, status: "succeeded", image: images.signed });
        expect(onHost(helpers.cosign!)).to.equal(true);
        console.log(`      figure: a release with its signature check (cosign pulled): ${release.seconds.toFixed(1)} s`);
    });

    for (const [what, image, reason] of [
        ["an unsigned image", "unsigned", "no signatures found"],
        ["an image signed by another key", "foreign", "no matching attestations: failed to verify signature"],
    ] as const) {
        it(`refuses ${what} with cosign's reason, removes it, and the old release keeps serving`, async () => {
            const before = host.containers();
            const load = startLoad(host.port);
            const release = await host.deploy(inputs(images[image], keys.ours));
            const report = await load.stop();
            expect(release.status).to.equal(1);
            const record = host.record();
            expect(record).to.include({ release: release.releaseId, status: "failed" });
            expect(record.reason).to.satisfy((text: string) =>
                text.startsWith(`no valid signature by the public key of imageSigner: ${reason}`),
            );
            expect(release.stderr).to.include(`deploy ${release.releaseId} failed: ${record.reason}\n`);
            expect(report.failed).to.equal(0);
            expect(report.versions).to.have.keys(["signed"]);
            expect(host.containers(), "no container of the refused image").to.deep.equal(before);
            expect(onHost(images[image]), "the refused image is gone from the host").to.equal(false);
            expect(await get(host.port, "/version")).to.deep.equal({ status: 200, body: "signed\n" });
        });
    }

    it("checks an image the host already has against a new signer: a change of signer is a release that verifies", async () => {
        const release = await host.deploy(inputs(images.signed, keys.theirs));
        expect(release.status).to.equal(1);
        expect(host.record().reason).to.match(/^no valid signature by the public key of imageSigner: no matching attestations: /);
        expect(await get(host.port, "/version")).to.deep.equal({ status: 200, body: "signed\n" });
    });

    it("rolls back to an image it verified before with the registry stopped: the check is remembered", async () => {
        const next = await host.deploy(inputs(images.next, keys.ours));
        expect(next.status, next.stderr).to.equal(0);
        await registry.stop();
        try {
            const back = await host.deploy(inputs(images.signed, keys.ours));
            expect(back.status, back.stderr).to.equal(0);
            expect(back.stderr).to.include(`${images.signed} was verified against this signer before; no check`);
            expect(await get(host.port, "/version")).to.deep.equal({ status: 200, body: "signed\n" });
        } finally {
            await registry.start();
        }
    });

    it("runs an image unchecked only when the release says none, and says so", async () => {
        const release = await host.deploy(inputs(images.next, "none"));
        expect(release.status, release.stderr).to.equal(0);
        expect(release.stderr).to.include(`imageSigner is none: ${images.next} runs without a signature check`);
    });

    // Offline (here) cosign cannot fetch Sigstore's trust root; online, the key's signature names no workflow. Refused
    // either way: the check never lets an image through for want of an answer.
    it("refuses an image no workflow signed when the signer is a GitHub workflow (keyless), whatever Sigstore answers", async () => {
        const workflow = "https://github.com/acme/microservices/.github/workflows/deploy.yml@refs/heads/main";
        const serving = await get(host.port, "/version");
        const release = await host.deploy(inputs(images.signed, workflow));
        expect(release.status).to.equal(1);
        const prefix = `no valid signature by ${workflow}: `;
        const reason = host.record().reason ?? "";
        expect(reason.startsWith(prefix), reason).to.equal(true);
        console.log(`      note: the keyless check here: ${reason.slice(prefix.length, prefix.length + 160)}`);
        expect(await get(host.port, "/version")).to.deep.equal(serving);
    });

    it("refuses a signer it cannot read", async () => {
        const release = await host.deploy(inputs(images.next, keys.ours), { SSM_imageSigner: "anyone" });
        expect(release.status).to.equal(1);
        expect(host.record().reason).to.equal(
            "imageSigner must be none, a GitHub workflow's URL or a PEM public key; the release gives \"anyone\"",
        );
    });
});
