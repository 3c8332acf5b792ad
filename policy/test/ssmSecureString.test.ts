import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { namesSecret, ssmParameterViolations } from "../rules/ssmSecureString";
import { analyze } from "./analyze";

const fix = 'set type to "SecureString" so SSM encrypts the value with KMS.';

describe("policy ssm-secrets-are-securestring", () => {
    describe("secret names", () => {
        const secret = [
            "/microservices/dev/tasks/MONGODB_URI",
            "/microservices/dev/tasks/LOGSENE_TOKEN",
            "/microservices/dev/requests/DATABASE_URL",
            "/microservices/dev/requests/PAPERTRAIL_DESTINATION",
            "/app/dbPassword",
            "/app/APIKey",
            "/app/client-secrets",
            "/app/SENTRY_DSN",
            "/app/AWS_CREDENTIALS",
        ];
        const plain = ["/microservices/dev/tasks/LOG_LEVEL", "/app/PORT", "/app/region", "/tokens/dev/REGION"];
        for (const name of secret) it(`treats ${name} as a secret`, () => expect(namesSecret(name)).to.equal(true));
        for (const name of plain) it(`treats ${name} as plain`, () => expect(namesSecret(name)).to.equal(false));
    });

    const cases: { title: string; props: Parameters<typeof ssmParameterViolations>[0]; violations: string[] }[] = [
        {
            title: "passes a secret's SecureString parameter",
            props: { name: "/microservices/dev/tasks/MONGODB_URI", type: "SecureString", value: "mongodb://u:p@db/x" },
            violations: [],
        },
        {
            title: "passes a plain setting as String",
            props: { name: "/microservices/dev/tasks/LOG_LEVEL", type: "String", value: "info" },
            violations: [],
        },
        {
            title: "fails a String whose name marks a secret",
            props: { name: "/microservices/dev/tasks/LOGSENE_TOKEN", type: "String", value: "5e6f-7890" },
            violations: [`type is "String" but the name's last segment "LOGSENE_TOKEN" says it holds a secret: ${fix}`],
        },
        {
            title: "fails a String whose value looks like a credential, under an innocent name",
            props: { name: "/app/dev/settings", type: "String", value: "postgresql://app:hunter2@db:5432/app" },
            violations: [
                `type is "String" but value holds what looks like a URI with credentials (scheme://user:password@host): ${fix}`,
            ],
        },
        {
            title: "fails a StringList of tokens",
            props: { name: "/app/TOKENS", type: "StringList", value: "a,b" },
            violations: [`type is "StringList" but the name's last segment "TOKENS" says it holds a secret: ${fix}`],
        },
        {
            title: "fails a credential in insecureValue, whatever the type",
            props: { name: "/app/dev/ci", type: "SecureString", insecureValue: "AKIAIOSFODNN7EXAMPLE" },
            violations: [
                "insecureValue holds what looks like an AWS access key id (AKIA…): insecureValue is kept in clear text " +
                    'in the Pulumi state; pass the secret as value, wrapped in pulumi.secret(), with type "SecureString".',
            ],
        },
    ];
    for (const { title, props, violations } of cases) {
        it(title, () => expect(ssmParameterViolations(props, "resource")).to.deep.equal(violations));
    }

    it("falls back to the resource name when name is unset", () => {
        expect(ssmParameterViolations({ type: "String" }, "papertrail-destination")).to.deep.equal([
            `type is "String" but the name's last segment "papertrail-destination" says it holds a secret: ${fix}`,
        ]);
    });

    it("sees a Pulumi secret's plain value, as CrossGuard does", async () => {
        const inputs = {
            name: "/app/dev/settings",
            type: "String",
            value: {
                [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig,
                value: "mongodb://u:p4ss@db/app",
            },
        };
        const violations = await analyze({ type: "aws:ssm/parameter:Parameter", name: "settings", inputs });
        expect(
            violations.filter((v) => v.policy === "ssm-secrets-are-securestring").map((v) => v.message),
        ).to.deep.equal([
            `type is "String" but value holds what looks like a URI with credentials (scheme://user:password@host): ${fix}`,
        ]);
    });
});
