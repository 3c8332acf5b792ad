// What the program asks of the hosts about an image's signature (the check itself runs for real in
// test/release/signature.test.ts): the signer reaches every release, a new signer is a new release, the outputs say
// what is checked, a stack that checks nothing is warned about, and the hosts run the cosign CI signs with.
import { expect } from "chai";
import { createHash, createPublicKey, generateKeyPairSync } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { defaultCosignImage } from "../components/host/bootstrap";
import { releaseParameters, renderReleaseDocument } from "../components/release/document";
import { describeImageSigner, imageSignerKind } from "../components/release/imageSigner";
import { decodeUserData, parseUserData } from "./cloudConfig";
import { ConfigValues, minimalConfig, named, ProgramRun, root, runProgram, valueOf } from "./mocks";

const workflow = "https://github.com/acme/microservices/.github/workflows/deploy.yml@refs/heads/main";
const publicKey = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ type: "spki", format: "pem" }).toString();
const digests: ConfigValues = {
    tasksImage: `docker.io/acme/tasks@sha256:${"1".repeat(64)}`,
    requestsImage: `docker.io/acme/requests@sha256:${"2".repeat(64)}`,
};
const releaseOf = (run: ProgramRun, service: string) =>
    named(run.resources, `${service}-release`).inputs.parameters as Record<string, string>;

/** Runs the program and returns it with what it printed as warnings (the mocks have no engine to send them to). */
async function runCapturingWarnings(config: ConfigValues): Promise<{ run: ProgramRun; warnings: string[] }> {
    const warnings: string[] = [];
    const original = console.warn;
    console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
    try {
        return { run: await runProgram(config), warnings };
    } finally {
        console.warn = original;
    }
}

describe("image signatures: what the program asks of the hosts", () => {
    it("sends the stack's signer with every release, and a change of signer is a new release of each service", async () => {
        const keyless = await runProgram({ ...minimalConfig, ...digests, imageSigner: workflow });
        const keyed = await runProgram({ ...minimalConfig, ...digests, imageSigner: publicKey });
        for (const service of ["tasks", "requests"]) {
            expect(releaseOf(keyless, service).imageSigner).to.equal(workflow);
            expect(releaseOf(keyed, service).imageSigner).to.equal(publicKey);
            expect(releaseOf(keyed, service).releaseId).not.to.equal(releaseOf(keyless, service).releaseId);
        }
    });

    it("names the release by its signer too, and refuses a signer the host would refuse", () => {
        const document = renderReleaseDocument("tasks");
        const inputs = { image: digests.tasksImage as string, settings: {}, secrets: {}, healthTimeoutSeconds: 120 };
        const ids = ["none", workflow, publicKey].map((imageSigner) => releaseParameters(document, { ...inputs, imageSigner }).releaseId);
        expect(new Set(ids).size).to.equal(3);
        expect(() => releaseParameters(document, { ...inputs, imageSigner: "anyone" })).to.throw(
            "imageSigner must be a GitHub workflow's URL",
        );
    });

    it("says in the outputs what the hosts check, and warns loudly when they check nothing", async () => {
        const unchecked = await runCapturingWarnings(minimalConfig);
        const none = await valueOf(unchecked.run.outputs.imageVerification);
        expect(none).to.match(/^NONE: imageSigner is none, so the hosts run any image, signed or not\./);
        expect(unchecked.warnings).to.deep.equal([`warning: [runtime] ${none}`]);

        const keyless = await runCapturingWarnings({ ...minimalConfig, ...digests, imageSigner: workflow });
        expect(await valueOf(keyless.run.outputs.imageVerification)).to.equal(
            `keyless: signed by ${workflow} (issuer https://token.actions.githubusercontent.com, a push)`,
        );
        expect(keyless.warnings).to.deep.equal([]);

        const der = createPublicKey(publicKey).export({ type: "spki", format: "der" });
        const keyed = await runProgram({ ...minimalConfig, ...digests, imageSigner: publicKey });
        expect(await valueOf(keyed.outputs.imageVerification)).to.equal(
            `key: signed by the public key sha256:${createHash("sha256").update(der).digest("hex")}`,
        );
    });

    it("reads a public key as cosign prints it, with or without its last newline", () => {
        expect(imageSignerKind(publicKey)).to.equal("key");
        expect(imageSignerKind(publicKey.trimEnd())).to.equal("key");
        expect(imageSignerKind(publicKey.replace(/\n/g, "\r\n"))).to.equal(undefined);
        expect(() => describeImageSigner("anyone")).to.throw("imageSigner must be");
    });

    it("runs cosign of the version CI signs with, from its official image pinned by digest", () => {
        const ci = fs.readFileSync(path.join(root, ".github/tools/cosign/go.mod"), "utf8");
        const version = /^\s*github\.com\/sigstore\/cosign\/v\d+ (v[\d.]+)/m.exec(ci)?.[1];
        expect(defaultCosignImage).to.equal(`ghcr.io/sigstore/cosign/cosign:${version}@sha256:${defaultCosignImage.split("@sha256:")[1]}`);
        expect(defaultCosignImage).to.match(/@sha256:[0-9a-f]{64}$/);
    });

    it("hands the hosts the cosign image a stack names (a mirror)", async () => {
        const mirror = `registry.example.com/mirror/cosign@sha256:${"3".repeat(64)}`;
        const run = await runProgram({ ...minimalConfig, cosignImage: mirror });
        const userData = parseUserData(decodeUserData(named(run.resources, "tasks-host").inputs.userDataBase64 as string));
        const config = userData.write_files.find((file) => file.path === "/etc/release-service.env")?.content;
        expect(config).to.include(`\nCOSIGN_IMAGE=${mirror}\n`);
    });
});
