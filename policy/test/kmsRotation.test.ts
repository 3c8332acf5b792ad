import { expect } from "chai";
import { kmsRotationViolations } from "../rules/kmsRotation";
import { analyze } from "./analyze";

const fix =
    "set enableKeyRotation to true so KMS rotates the key material every year (rotationPeriodInDays), and a leaked " +
    "copy of today's material stops covering new data.";

describe("policy kms-keys-rotate", () => {
    const cases: { title: string; props: Parameters<typeof kmsRotationViolations>[0]; violations: string[] }[] = [
        { title: "passes a key that rotates", props: { enableKeyRotation: true }, violations: [] },
        {
            title: "fails a key with rotation off",
            props: { enableKeyRotation: false },
            violations: [`enableKeyRotation is false: ${fix}`],
        },
        {
            title: "fails a key that leaves rotation unset (KMS's default is off)",
            props: { customerMasterKeySpec: "SYMMETRIC_DEFAULT" },
            violations: [`enableKeyRotation is not set, so the key never rotates: ${fix}`],
        },
        {
            title: "passes asymmetric and HMAC keys, which KMS cannot rotate",
            props: { customerMasterKeySpec: "RSA_3072", keyUsage: "SIGN_VERIFY" },
            violations: [],
        },
        {
            title: "passes a symmetric key used for MACs",
            props: { customerMasterKeySpec: "SYMMETRIC_DEFAULT", keyUsage: "GENERATE_VERIFY_MAC" },
            violations: [],
        },
    ];
    for (const { title, props, violations } of cases) {
        it(title, () => expect(kmsRotationViolations(props)).to.deep.equal(violations));
    }

    it("checks KMS keys through the pack", async () => {
        const messages = async (type: string, inputs: Record<string, unknown>) =>
            (await analyze({ type, name: "x", inputs }))
                .filter((violation) => violation.policy === "kms-keys-rotate")
                .map((violation) => violation.message);
        expect(await messages("aws:kms/key:Key", { enableKeyRotation: false })).to.deep.equal([
            `enableKeyRotation is false: ${fix}`,
        ]);
        expect(await messages("aws:kms/key:Key", { enableKeyRotation: true })).to.deep.equal([]);
        expect(await messages("aws:kms/alias:Alias", { name: "alias/x" })).to.deep.equal([]);
    });
});
