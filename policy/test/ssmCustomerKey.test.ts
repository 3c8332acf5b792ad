import { expect } from "chai";
import { secureStringKeyViolations } from "../rules/ssmCustomerKey";
import { analyze } from "./analyze";

const why =
    "The AWS managed key alias/aws/ssm lets every principal of the account that SSM allows decrypt; set keyId to the " +
    "ARN of a customer-managed key whose policy lets only the hosts' roles decrypt.";
const keyArn = "arn:aws:kms:eu-west-1:123456789012:key/0b6b5c7e-1111-4a4a-9f9f-2c2c2c2c2c2c";

describe("policy ssm-securestring-customer-key", () => {
    const cases: { title: string; props: Parameters<typeof secureStringKeyViolations>[0]; violations: string[] }[] = [
        {
            title: "passes a SecureString with a customer-managed key",
            props: { type: "SecureString", keyId: keyArn },
            violations: [],
        },
        {
            title: "passes a SecureString with a customer-managed key's alias",
            props: { type: "SecureString", keyId: "alias/microservices/dev/tasks" },
            violations: [],
        },
        { title: "passes a String, which has no key", props: { type: "String" }, violations: [] },
        {
            title: "fails a SecureString without keyId",
            props: { type: "SecureString" },
            violations: [`keyId is not set, so SSM encrypts the value with alias/aws/ssm. ${why}`],
        },
        {
            title: "fails a SecureString on alias/aws/ssm",
            props: { type: "SecureString", keyId: "alias/aws/ssm" },
            violations: [`keyId is "alias/aws/ssm", an AWS managed key. ${why}`],
        },
        {
            title: "fails a SecureString on the AWS managed key's alias ARN",
            props: { type: "SecureString", keyId: "arn:aws:kms:eu-west-1:123456789012:alias/aws/ssm" },
            violations: [`keyId is "arn:aws:kms:eu-west-1:123456789012:alias/aws/ssm", an AWS managed key. ${why}`],
        },
    ];
    for (const { title, props, violations } of cases) {
        it(title, () => expect(secureStringKeyViolations(props)).to.deep.equal(violations));
    }

    it("checks SSM parameters through the pack", async () => {
        const messages = async (inputs: Record<string, unknown>) =>
            (await analyze({ type: "aws:ssm/parameter:Parameter", name: "x", inputs }))
                .filter((violation) => violation.policy === "ssm-securestring-customer-key")
                .map((violation) => violation.message);
        expect(await messages({ name: "/app/LOG_LEVEL", type: "SecureString" })).to.have.length(1);
        expect(await messages({ name: "/app/LOG_LEVEL", type: "SecureString", keyId: keyArn })).to.deep.equal([]);
    });
});
