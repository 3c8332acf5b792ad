// The policy pack (policy/) over the resources the real program registers under the mocks, as `pulumi preview
// --policy-pack policy` would run it. The recorded inputs are in the engine's wire form (secrets wrapped), and the
// harness hands them to the policies the way @pulumi/policy does: secrets unwrapped to plain values.
import { expect } from "chai";
import { analyze, analyzeAll, policyView } from "../policy/test/analyze";
import { policies } from "../policy/policies";
import { decodeUserData, encodeUserData } from "./cloudConfig";
import { isSecretValue, named, ofType, RecordedResource, runProgram, sentinelSecrets, stackFileConfig } from "./mocks";

/** A copy of a recorded resource with some inputs replaced; the recorded run stays untouched. */
function modified(resource: RecordedResource, inputs: Record<string, unknown>): RecordedResource {
    return { ...resource, inputs: { ...structuredClone(resource.inputs), ...inputs } };
}

/** The violations of one policy for one resource. */
async function violationsOf(policy: string, resource: RecordedResource): Promise<string[]> {
    return (await analyze(resource))
        .filter((violation) => violation.policy === policy)
        .map((violation) => violation.message);
}

for (const stack of ["dev", "prod"]) {
    describe(`policy pack over the program (${stack} stack)`, () => {
        let resources: RecordedResource[];
        before(async () => {
            resources = (await runProgram(stackFileConfig(stack), stack)).resources;
        });

        it("records every kind of resource the policies are about", () => {
            for (const type of [
                "aws:ec2/instance:Instance",
                "aws:ec2/securityGroup:SecurityGroup",
                "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                "aws:ssm/parameter:Parameter",
                "aws:iam/role:Role",
                "aws:ssm/association:Association",
            ]) {
                expect(ofType(resources, type), type).not.to.be.empty;
            }
        });

        it("passes every policy of the pack on every resource", async () => {
            expect(policies).to.have.length(11);
            expect(await analyzeAll(resources)).to.deep.equal([]);
        });
    });
}

describe("policy pack over modified copies of the program's resources (the harness can fail)", () => {
    let resources: RecordedResource[];
    before(async () => {
        resources = (await runProgram(stackFileConfig("dev"), "dev")).resources;
    });

    it("fails a host that allows IMDSv1", async () => {
        const host = named(resources, "tasks-host");
        const optional = modified(host, { metadataOptions: { httpTokens: "optional", httpEndpoint: "enabled" } });
        expect(await analyze(optional)).to.deep.equal([
            {
                policy: "ec2-imdsv2-required",
                message:
                    'metadataOptions.httpTokens is "optional": set it to "required" so the metadata service answers ' +
                    "only IMDSv2 session-token requests, and a forged request (SSRF) cannot read the host role's " +
                    "credentials.",
            },
        ]);
    });

    it("fails a host with an unencrypted root volume", async () => {
        const host = named(resources, "requests-host");
        const plain = modified(host, { rootBlockDevice: { volumeType: "gp3", volumeSize: 30 } });
        expect(await violationsOf("ebs-volumes-encrypted", plain)).to.have.length(1);
    });

    it("fails the dev stack's open ingress rule moved to port 22", async () => {
        const [rule] = ofType(resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").filter(
            (candidate) => candidate.inputs.cidrIpv4 === "0.0.0.0/0",
        );
        const ssh = modified(rule, { fromPort: 22, toPort: 22 });
        expect(await violationsOf("no-public-ssh-ingress", ssh)).to.have.length(1);
    });

    it("fails user data that carries a secret or runs an image by a moving tag, and a release by tag", async () => {
        const host = named(resources, "tasks-host");
        const userData = decodeUserData(host.inputs.userDataBase64 as string);
        const leaky = modified(host, {
            userDataBase64: encodeUserData(
                userData.replace("HEALTH_PATH=/health", `HEALTH_PATH=/health\n      MONGODB_URI=${sentinelSecrets.mongodbUri}`),
            ),
        });
        expect(userData).to.include("HEALTH_PATH=/health");
        expect(await violationsOf("no-secrets-in-user-data", leaky)).to.have.length(1);
        const floatingProxy = modified(host, {
            userDataBase64: encodeUserData(userData.replace(/caddy:[0-9.]+-alpine@sha256:[0-9a-f]{64}/g, "caddy:2")),
        });
        const fix = "which is pinned neither by digest nor by an exact version tag: pin it as caddy@sha256:<digest>, or by " +
            "a major.minor.patch tag such as :2.31.23.";
        expect(await violationsOf("host-image-pinned-by-digest", floatingProxy)).to.deep.equal([
            `userDataBase64 sets PROXY_IMAGE to caddy:2, ${fix}`,
            `userDataBase64 runs caddy:2 with docker, ${fix}`,
        ]);
        const association = named(resources, "tasks-release");
        const parameters = association.inputs.parameters as Record<string, string>;
        const tagged = modified(association, { parameters: { ...parameters, image: "docker.io/octocat/tasks:dev" } });
        expect(await violationsOf("host-image-pinned-by-digest", tagged)).to.deep.equal([
            "parameters.image releases docker.io/octocat/tasks:dev, which is not pinned by digest: reference it as " +
                "repository@sha256:<digest> (docker.Image's repoDigest) so the host runs exactly the image that was " +
                "built and tested.",
        ]);
    });

    it("fails a secret's parameter stored as String, and an untagged resource", async () => {
        const parameter = named(resources, "tasks-mongodb-uri");
        expect(
            await violationsOf("ssm-secrets-are-securestring", modified(parameter, { type: "String" })),
        ).to.have.length(1);
        const address = named(resources, "tasks-eip");
        expect(
            await violationsOf("required-tags", modified(address, { tags: { project: "microservices" } })),
        ).to.have.length(1);
    });

    it("hands secrets to the policies as plain values, as CrossGuard does", async () => {
        // Wire form: the secret is wrapped. Policy view: the plain value, with nothing to say it was secret.
        const parameter = named(resources, "tasks-mongodb-uri");
        expect(isSecretValue(parameter.inputs.value)).to.equal(true);
        expect((policyView(parameter.inputs) as Record<string, unknown>).value).to.equal(sentinelSecrets.mongodbUri);
        // So a credential-looking secret value is seen, and a String parameter holding it fails on its value alone.
        const renamed = modified(parameter, { name: "/microservices/dev/tasks/settings", type: "String" });
        expect(await violationsOf("ssm-secrets-are-securestring", renamed)).to.deep.equal([
            'type is "String" but value holds what looks like a URI with credentials (scheme://user:password@host): ' +
                'set type to "SecureString" so SSM encrypts the value with KMS.',
        ]);
    });

    it("fails a secrets key that does not rotate or lets the account root decrypt, and a secret on the AWS managed key", async () => {
        const key = named(resources, "tasks-secrets-key");
        expect(await violationsOf("kms-keys-rotate", modified(key, { enableKeyRotation: false }))).to.have.length(1);
        const policy = JSON.parse(key.inputs.policy as string);
        policy.Statement[0].Action.push("kms:Decrypt");
        const rootDecrypts = await violationsOf("kms-key-policy-limits-decrypt", modified(key, { policy: JSON.stringify(policy) }));
        expect(rootDecrypts).not.to.be.empty;
        expect(rootDecrypts.every((message) => message.startsWith('statement "AccountSeesKey"')), rootDecrypts.join("\n")).to.equal(true);
        const parameter = named(resources, "tasks-mongodb-uri");
        const { keyId, ...withoutKey } = parameter.inputs;
        expect(keyId).to.be.a("string");
        expect(
            await violationsOf("ssm-securestring-customer-key", { ...parameter, inputs: withoutKey }),
        ).to.have.length(1);
    });

    it("fails a release document that pastes its image into the command line", async () => {
        const document = named(resources, "tasks-release-document");
        const content = JSON.parse(document.inputs.content as string);
        delete content.parameters.image.allowedPattern;
        delete content.parameters.image.interpolationType;
        content.mainSteps[0].inputs.runCommand = ["docker run {{ image }}"];
        expect(
            await violationsOf("ssm-document-parameters-safe", modified(document, { content: JSON.stringify(content) })),
        ).to.have.length(1);
    });
});
