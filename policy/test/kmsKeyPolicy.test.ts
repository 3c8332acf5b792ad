import { expect } from "chai";
import { secretsKeyPolicy } from "../../components/identity/iam";
import { keyPolicyViolations } from "../rules/kmsKeyPolicy";
import { analyze } from "./analyze";

const account = "123456789012";
const region = "eu-west-1";
const root = `arn:aws:iam::${account}:root`;
const deployer = `arn:aws:iam::${account}:role/microservices-deployer`;
const host = `arn:aws:iam::${account}:role/tasks-host-role-1a2b3c`;

/** The key policy the program gives each service's key: the five statements the pack must let through. */
function programPolicy() {
    return secretsKeyPolicy({
        partition: "aws",
        accountId: account,
        region,
        deployerArns: [deployer],
        readerArns: [],
        hostRoleArn: host,
        parameterPathArn: `arn:aws:ssm:${region}:${account}:parameter/microservices/dev/tasks`,
        certificateStoreArn: `arn:aws:ssm:${region}:${account}:parameter/microservices/dev/tasks/certificates`,
    });
}

type Policy = ReturnType<typeof programPolicy>;
type AnyStatement = Record<string, unknown>;

/** The program's policy with one statement changed. */
function withStatement(index: number, change: (statement: AnyStatement) => AnyStatement): string {
    const policy: Policy = programPolicy();
    const statements = policy.Statement as unknown as AnyStatement[];
    statements[index] = change(statements[index]);
    return JSON.stringify(policy);
}

const viaFix =
    'add "Condition": {"StringEquals": {"kms:ViaService": "ssm.<region>.amazonaws.com"}} so the key decrypts only ' +
    "through SSM, for the parameters that principal may read.";
const rootGrants = (sid: string, actions: string) =>
    `statement "${sid}" lets the account root (${root}) use ${actions}, with which any IAM principal of the account ` +
    "whose own policy allows it can give itself kms:Decrypt: leave changing the key policy and granting to the deployers.";
const rootMessage = (sid: string, actions: string) =>
    `statement "${sid}" lets the account root (${root}) use ${actions}, which hands the key to every IAM principal ` +
    "of the account whose own policy allows it: keep the root to managing the key, and grant decrypt-class actions " +
    "to the roles that need them.";

describe("policy kms-key-policy-limits-decrypt", () => {
    it("passes the program's statements: root sees the key, deployers administer it, deployers and host decrypt through SSM", () => {
        expect(keyPolicyViolations({ policy: JSON.stringify(programPolicy()) })).to.deep.equal([]);
    });

    it("fails an unset policy, which KMS replaces with its default (root gets kms:*)", () => {
        expect(keyPolicyViolations({})).to.deep.equal([
            "policy is not set: KMS then applies its default key policy, which lets the account root use kms:* and " +
                "so every IAM principal of the account whose own policy allows it; set a policy that lets only the " +
                "hosts' roles (and the deployer) decrypt, through SSM.",
        ]);
    });

    it("fails a policy that is not JSON", () => {
        expect(keyPolicyViolations({ policy: "{Statement:" })).to.deep.equal([
            "policy is not valid JSON: pass the key policy as JSON.stringify() of the policy document.",
        ]);
    });

    it("fails the account root with kms:*, as in KMS's default policy", () => {
        const policy = withStatement(0, (statement) => ({ ...statement, Action: "kms:*" }));
        expect(keyPolicyViolations({ policy })).to.deep.equal([
            rootGrants("AccountSeesKey", "kms:*"),
            rootMessage("AccountSeesKey", "kms:*"),
            `statement "AccountSeesKey" lets ${root} use kms:* without a kms:ViaService condition: ${viaFix}`,
        ]);
    });

    it("fails the account root or anyone allowed to change the key policy or create grants (they could grant Decrypt)", () => {
        const administers = withStatement(0, (statement) => ({ ...statement, Action: ["kms:Describe*", "kms:Put*", "kms:Create*"] }));
        expect(keyPolicyViolations({ policy: administers })).to.deep.equal([rootGrants("AccountSeesKey", "kms:Put*, kms:Create*")]);
        const anyone = withStatement(1, (statement) => ({ ...statement, Principal: "*" }));
        expect(keyPolicyViolations({ policy: anyone })).to.deep.equal([
            'statement "DeployersAdministerKey" lets any principal ("*") use kms:PutKeyPolicy, with which any IAM ' +
                "principal of the account whose own policy allows it can give itself kms:Decrypt: leave changing the " +
                "key policy and granting to the deployers.",
        ]);
    });

    it("fails the account root with decrypt even through SSM, and knows a bare account id is the root", () => {
        const policy = withStatement(2, (statement) => ({ ...statement, Principal: { AWS: account } }));
        expect(keyPolicyViolations({ policy })).to.deep.equal([
            `statement "DeployersUseKeyThroughSsm" lets the account root (${account}) use kms:Decrypt, ` +
                "kms:GenerateDataKey*, which hands the key to every IAM principal of the account whose own policy " +
                "allows it: keep the root to managing the key, and grant decrypt-class actions to the roles that " +
                "need them.",
        ]);
    });

    it('fails "*" as principal, even with a kms:ViaService condition (that is alias/aws/ssm\'s policy)', () => {
        const policy = withStatement(3, (statement) => ({ ...statement, Principal: { AWS: "*" } }));
        expect(keyPolicyViolations({ policy })).to.deep.equal([
            'statement "HostReadsOwnParameters" lets any principal ("*") use kms:Decrypt: name the roles that need ' +
                "the key (the hosts' roles, the deployer) as principals instead.",
        ]);
        const bare = withStatement(3, (statement) => ({ ...statement, Principal: "*" }));
        expect(keyPolicyViolations({ policy: bare })).to.have.length(1);
        // Allow with NotPrincipal allows everyone else.
        const allBut = withStatement(3, ({ Principal: _dropped, ...statement }) => ({
            ...statement,
            NotPrincipal: { AWS: deployer },
        }));
        expect(keyPolicyViolations({ policy: allBut })[0]).to.match(/lets any principal \("\*"\) use kms:Decrypt/);
    });

    it("fails a role that may decrypt without a kms:ViaService condition", () => {
        const policy = withStatement(3, ({ Condition: _dropped, ...statement }) => statement);
        expect(keyPolicyViolations({ policy })).to.deep.equal([
            `statement "HostReadsOwnParameters" lets ${host} use kms:Decrypt without a kms:ViaService condition: ` +
                viaFix,
        ]);
    });

    it("fails a kms:ViaService condition that is optional (IfExists) or names another service", () => {
        const optional = withStatement(2, (statement) => ({
            ...statement,
            Condition: { StringEqualsIfExists: { "kms:ViaService": `ssm.${region}.amazonaws.com` } },
        }));
        expect(keyPolicyViolations({ policy: optional })).to.have.length(1);
        const ec2 = withStatement(2, (statement) => ({
            ...statement,
            Condition: { StringEquals: { "kms:ViaService": `ec2.${region}.amazonaws.com` } },
        }));
        expect(keyPolicyViolations({ policy: ec2 })).to.deep.equal([
            `statement "DeployersUseKeyThroughSsm" lets ${deployer} use kms:Decrypt, kms:GenerateDataKey* through ` +
                `ec2.${region}.amazonaws.com, not SSM: ${viaFix}`,
        ]);
    });

    it("sees decrypt-class actions behind wildcards, in any case, and through NotAction", () => {
        for (const action of ["*", "kms:*", "KMS:decrypt", "kms:ReEncrypt*", "kms:Re*", "kms:GenerateDataKeyPair"]) {
            const policy = withStatement(0, (statement) => ({ ...statement, Action: [action] }));
            // "*" and kms:* also hand the root kms:PutKeyPolicy and kms:CreateGrant.
            expect(keyPolicyViolations({ policy }), action).to.have.length(["*", "kms:*"].includes(action) ? 3 : 2);
        }
        const notAction = withStatement(0, ({ Action: _dropped, ...statement }) => ({
            ...statement,
            NotAction: ["kms:Decrypt"],
        }));
        expect(keyPolicyViolations({ policy: notAction })[1]).to.equal(
            rootMessage(
                "AccountSeesKey",
                "every action but kms:Decrypt (so kms:ReEncryptFrom, kms:ReEncryptTo, kms:GenerateDataKey, " +
                    "kms:GenerateDataKeyWithoutPlaintext, kms:GenerateDataKeyPair, " +
                    "kms:GenerateDataKeyPairWithoutPlaintext)",
            ),
        );
    });

    it("lets Encrypt, DescribeKey and Deny statements through, and names statements without a Sid by index", () => {
        const encryptOnly = withStatement(0, (statement) => ({
            ...statement,
            Action: ["kms:Encrypt", "kms:Describe*"],
        }));
        expect(keyPolicyViolations({ policy: encryptOnly })).to.deep.equal([]);
        const deny = withStatement(0, (statement) => ({ ...statement, Effect: "Deny", Action: "kms:*" }));
        expect(keyPolicyViolations({ policy: deny })).to.deep.equal([]);
        const noSid = withStatement(3, ({ Sid: _sid, Condition: _condition, ...statement }) => statement);
        expect(keyPolicyViolations({ policy: noSid })[0]).to.match(/^statement 3 lets /);
    });

    it("reports through the pack on keys and standalone key policies", async () => {
        const messages = async (type: string, inputs: Record<string, unknown>) =>
            (await analyze({ type, name: "x", inputs }))
                .filter((violation) => violation.policy === "kms-key-policy-limits-decrypt")
                .map((violation) => violation.message);
        const rootKmsAll = withStatement(0, (statement) => ({ ...statement, Action: "kms:*" }));
        expect(await messages("aws:kms/key:Key", { policy: rootKmsAll })).to.have.length(3);
        expect(await messages("aws:kms/keyPolicy:KeyPolicy", { keyId: "k", policy: rootKmsAll })).to.have.length(3);
        expect(await messages("aws:kms/key:Key", { policy: JSON.stringify(programPolicy()) })).to.deep.equal([]);
    });
});
