import { createHash, createPublicKey } from "crypto";

/**
 * Who must have signed an image before a host runs it, in one of three forms (the host's release script reads the
 * same three):
 * - a GitHub workflow's URL, `https://github.com/OWNER/REPO/.github/workflows/FILE@REF`: a keyless signature whose
 *   Sigstore certificate names that workflow at that ref, issued for GitHub Actions to a run of REPO on a push;
 * - a PEM public key (`-----BEGIN PUBLIC KEY-----`): a signature by its private key, with or without a
 *   transparency-log entry (a private registry or an air-gapped signer);
 * - `none`: no check at all, for local trials; the stack's outputs say so.
 */
export type ImageSigner = string;

export const githubActionsIssuer = "https://token.actions.githubusercontent.com";

const workflowIdentity = /^https:\/\/github\.com\/([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+)\/\.github\/workflows\/[A-Za-z0-9_.-]+\.ya?ml@refs\/(heads|tags)\/\S+$/;
const pemPublicKey = /^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PUBLIC KEY-----\n?$/;

export function imageSignerKind(signer: ImageSigner): "keyless" | "key" | "none" | undefined {
    if (signer === "none") return "none";
    if (workflowIdentity.test(signer)) return "keyless";
    if (pemPublicKey.test(signer)) return "key";
    return undefined;
}

/** What is wrong with a signer, or undefined. A key must parse as one; OWNER/REPO is the docs' placeholder. */
export function imageSignerProblem(signer: ImageSigner): string | undefined {
    const kind = imageSignerKind(signer);
    if (kind === undefined) {
        return "must be a GitHub workflow's URL (https://github.com/OWNER/REPO/.github/workflows/FILE.yml@refs/heads/BRANCH), a PEM public key, or none";
    }
    if (kind === "keyless" && signer.startsWith("https://github.com/OWNER/REPO/")) {
        return "names OWNER/REPO, the placeholder; put your repository";
    }
    if (kind === "key") {
        try {
            createPublicKey(signer);
        } catch {
            return "is not a public key that parses (PEM, as `cosign public-key` prints it)";
        }
    }
    return undefined;
}

/** One line saying what the hosts require of an image; with `none`, a warning. */
export function describeImageSigner(signer: ImageSigner): string {
    switch (imageSignerKind(signer)) {
        case "keyless":
            return `keyless: signed by ${signer} (issuer ${githubActionsIssuer}, a push)`;
        case "key": {
            const der = createPublicKey(signer).export({ type: "spki", format: "der" });
            return `key: signed by the public key sha256:${createHash("sha256").update(der).digest("hex")}`;
        }
        case "none":
            return (
                "NONE: imageSigner is none, so the hosts run any image, signed or not. " +
                "Fine for a local trial; give dev and prod a signer (docs/releases.md, \"Signed images only\")"
            );
        default:
            throw new Error(`imageSigner ${imageSignerProblem(signer)}`);
    }
}
