// The AWS knowledge the stand-in provider runs on (test/engine/aws): the real provider's replacement rules, AWS's
// limits, and the IAM requests each operation makes; and the program's own resources held against them.
import { expect } from "chai";
import { invokeRequests, operationRequests, resourceActions } from "./engine/aws/actions";
import { associationParameters, checkLimits, limitChecks, Place, roleInlinePolicies } from "./engine/aws/limits";
import { autonamed, diffInputs, knownInvokes, propertyRule, resourceRules, unknownInputs } from "./engine/aws/rules";
import { fakeAccountId, fakeRegion, isSecretValue, RecordedResource, runProgram, stackFileConfig } from "./mocks";

const place: Place = { partition: "aws", region: fakeRegion, accountId: fakeAccountId };
const x = (count: number) => "x".repeat(count);

/** Inputs as the provider sees them once the engine has unwrapped secrets. */
function plain(value: unknown): unknown {
    if (isSecretValue(value)) return plain(value.value);
    if (Array.isArray(value)) return value.map(plain);
    if (typeof value === "object" && value !== null) {
        return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, plain(inner)]));
    }
    return value;
}

describe("AWS rules of the stand-in provider", () => {
    let awsResources: RecordedResource[];
    before(async function () {
        this.timeout(120_000); // the program's first run under the mocks compiles it
        const run = await runProgram(stackFileConfig("prod"), "prod");
        awsResources = run.resources.filter((resource) => resource.type.startsWith("aws:"));
    });

    describe("what the program sends", () => {
        it("uses only types, inputs and invokes the tables know", () => {
            const unknown = awsResources.flatMap((r) => unknownInputs(r.type, r.inputs).map((path) => `${r.name}: ${path}`));
            expect(unknown).to.deep.equal([]);
            expect(awsResources.length).to.be.greaterThan(20);
            for (const type of Object.keys(resourceRules)) {
                expect(resourceActions, type).to.have.property(type);
                expect(limitChecks, type).to.have.property(type);
            }
            expect(knownInvokes).to.include("aws:iam/getSessionContext:getSessionContext");
        });

        it("breaks no AWS limit but the user data size (issue 16, finding 1)", () => {
            const violations = awsResources.flatMap((r) =>
                checkLimits(r.type, plain(r.inputs) as Record<string, unknown>, place).map((v) => `${r.name}: ${v.property}: ${v.reason}`),
            );
            expect(violations.filter((v) => !/-host: userData:/.test(v))).to.deep.equal([]);
        });
    });

    describe("replacement rules (rules.ts)", () => {
        const instance = "aws:ec2/instance:Instance";

        it("refuses an input the table does not know, nested fields included", () => {
            expect(propertyRule(instance, ["rootBlockDevice", "encrypted"])?.forceNew).to.equal(true);
            expect(propertyRule(instance, ["rootBlockDevice", "volumeSize"])?.forceNew).to.equal(false);
            expect(propertyRule(instance, ["rootBlockDevice", "bogus"])).to.equal(undefined);
            expect(propertyRule(instance, ["bogus"])).to.equal(undefined);
            expect(unknownInputs(instance, { ami: "ami-1", rootBlockDevice: { encrypted: true, bogus: 1 }, bogus: 2 })).to.deep.equal([
                "rootBlockDevice.bogus",
                "bogus",
            ]);
            expect(unknownInputs("aws:s3/bucket:Bucket", {})).to.deep.equal(["aws:s3/bucket:Bucket"]);
        });

        it("replaces an instance for its encryption or subnet but resizes its root volume in place", () => {
            const olds = { ami: "ami-1", subnetId: "subnet-1", rootBlockDevice: { encrypted: true, volumeSize: 30 } };
            expect(diffInputs(instance, olds, { ...olds, rootBlockDevice: { encrypted: true, volumeSize: 40 } })).to.deep.equal({
                changes: ["rootBlockDevice.volumeSize"],
                replaces: [],
            });
            expect(diffInputs(instance, olds, { ...olds, rootBlockDevice: { encrypted: false, volumeSize: 30 } }).replaces).to.deep.equal([
                "rootBlockDevice.encrypted",
            ]);
            expect(diffInputs(instance, olds, { ...olds, subnetId: "subnet-2" }).replaces).to.deep.equal(["subnetId"]);
            expect(diffInputs(instance, { ...olds, instanceType: "t3.micro" }, { ...olds, instanceType: "t3.small" }).replaces).to.deep.equal([]);
        });

        it("replaces an instance for new user data only with userDataReplaceOnChange", () => {
            const olds = { userData: "a", userDataReplaceOnChange: true };
            expect(diffInputs(instance, olds, { ...olds, userData: "b" }).replaces).to.deep.equal(["userData"]);
            expect(diffInputs(instance, { userData: "a" }, { userData: "b" }).replaces).to.deep.equal([]);
        });

        it("replaces an address association whose instance changes (issue 16, finding 2)", () => {
            const type = "aws:ec2/eipAssociation:EipAssociation";
            const olds = { allocationId: "eipalloc-1", instanceId: "i-1", allowReassociation: true };
            expect(diffInputs(type, olds, { ...olds, instanceId: "i-2" }).replaces).to.deep.equal(["instanceId"]);
            expect(resourceRules["aws:iam/rolePolicyAttachment:RolePolicyAttachment"].deleteBeforeReplace).to.equal(true);
        });

        it("updates an association's parameters in place, and tags never replace", () => {
            const type = "aws:ssm/association:Association";
            const olds = { name: "doc", parameters: { image: "a" }, tags: { a: "1" } };
            expect(diffInputs(type, olds, { ...olds, parameters: { image: "b" }, tags: { a: "2" } })).to.deep.equal({
                changes: ["parameters", "tags"],
                replaces: [],
            });
            expect(diffInputs(type, olds, { ...olds, name: "other" }).replaces).to.deep.equal(["name"]);
        });

        it("replaces a parameter moved down from the advanced tier, not up", () => {
            const type = "aws:ssm/parameter:Parameter";
            expect(diffInputs(type, { tier: "Advanced" }, { tier: "Standard" }).replaces).to.deep.equal(["tier"]);
            expect(diffInputs(type, { tier: "Standard" }, { tier: "Advanced" }).replaces).to.deep.equal([]);
        });

        it("replaces a security group rule whose source changes type", () => {
            const type = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
            const olds = { securityGroupId: "sg-1", cidrIpv4: "10.0.0.0/8", fromPort: 80 };
            expect(diffInputs(type, olds, { ...olds, cidrIpv4: "10.1.0.0/16" }).replaces).to.deep.equal([]);
            const switched = diffInputs(type, olds, { securityGroupId: "sg-1", referencedSecurityGroupId: "sg-2", fromPort: 80 });
            expect(switched.replaces).to.have.members(["cidrIpv4", "referencedSecurityGroupId"]);
        });

        it("autonames as the bridge does, and refuses a name past the maximum", () => {
            expect(autonamed("aws:iam/role:Role", "tasks-role", "abc1234")).to.equal("tasks-role-abc1234");
            expect(autonamed("aws:kms/alias:Alias", "key", "abc1234")).to.equal("alias/key-abc1234");
            expect(autonamed("aws:route53/record:Record", "www", "abc1234")).to.equal(undefined);
            expect(autonamed("aws:iam/role:Role", x(56), "abc1234")).to.have.length(64);
            expect(() => autonamed("aws:iam/role:Role", x(57), "abc1234")).to.throw("longer than maximum length 64");
        });
    });

    describe("AWS limits (limits.ts)", () => {
        const instance = "aws:ec2/instance:Instance";
        const reasons = (type: string, inputs: Record<string, unknown>) => checkLimits(type, inputs, place).map((v) => v.property);

        it("user data: 16 KB raw before base64, in userData and decoded userDataBase64", () => {
            expect(reasons(instance, { userData: x(16384) })).to.deep.equal([]);
            expect(reasons(instance, { userData: x(16383) + "é" })).to.deep.equal(["userData"]); // 16385 bytes
            expect(reasons(instance, { userDataBase64: Buffer.from(x(16384)).toString("base64") })).to.deep.equal([]);
            expect(reasons(instance, { userDataBase64: Buffer.from(x(16385)).toString("base64") })).to.deep.equal(["userDataBase64"]);
            expect(reasons(instance, { userDataBase64: "not base64!" })).to.deep.equal(["userDataBase64"]);
        });

        it("tags: 50, keys 128, values 256, no aws: prefix", () => {
            const many = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, "v"]));
            expect(reasons(instance, { tags: many(50), volumeTags: { [x(128)]: x(256) } })).to.deep.equal([]);
            expect(reasons(instance, { tags: many(51) })).to.deep.equal(["tags"]);
            expect(reasons(instance, { tags: { [x(129)]: "v" } })).to.deep.equal([`tags.${x(129)}`]);
            expect(reasons(instance, { volumeTags: { k: x(257) } })).to.deep.equal(["volumeTags.k"]);
            expect(reasons("aws:ec2/eip:Eip", { tags: { "AWS:owner": "me" } })).to.deep.equal(["tags.AWS:owner"]);
        });

        it("SSM parameters: value by tier, name with its ARN, depth, characters, prefix, description, key", () => {
            const type = "aws:ssm/parameter:Parameter";
            expect(reasons(type, { name: "/a/b", type: "SecureString", value: x(4096), keyId: "alias/app" })).to.deep.equal([]);
            expect(reasons(type, { name: "/a/b", value: x(4097) })).to.deep.equal(["value"]);
            expect(reasons(type, { name: "/a/b", tier: "Advanced", value: x(8192) })).to.deep.equal([]);
            expect(reasons(type, { name: "/a/b", tier: "Advanced", value: x(8193) })).to.deep.equal(["value"]);
            const arnPrefix = `arn:aws:ssm:${fakeRegion}:${fakeAccountId}:parameter`.length;
            expect(reasons(type, { name: "/" + x(1011 - arnPrefix - 1) })).to.deep.equal([]);
            expect(reasons(type, { name: "/" + x(1011 - arnPrefix) })).to.deep.equal(["name"]);
            expect(reasons(type, { name: "/" + Array(15).fill("l").join("/") })).to.deep.equal([]);
            expect(reasons(type, { name: "/" + Array(16).fill("l").join("/") })).to.deep.equal(["name"]);
            expect(reasons(type, { name: "/a b" })).to.deep.equal(["name"]);
            expect(reasons(type, { name: "/ssm/a" })).to.deep.equal(["name"]);
            expect(reasons(type, { name: "a", description: x(1024) })).to.deep.equal([]);
            expect(reasons(type, { name: "a", description: x(1025) })).to.deep.equal(["description"]);
            expect(reasons(type, { name: "a", type: "SecureString", keyId: `arn:aws:kms:${fakeRegion}:${fakeAccountId}:key/1234abcd-12ab-34cd-56ef-1234567890ab` })).to.deep.equal([]);
            expect(reasons(type, { name: "a", type: "SecureString", keyId: "my key" })).to.deep.equal(["keyId"]);
        });

        it("SSM documents: 64 KB of content, names of 3 to 128 and no reserved prefix", () => {
            const type = "aws:ssm/document:Document";
            expect(reasons(type, { name: "tasks-release", content: x(65536) })).to.deep.equal([]);
            expect(reasons(type, { name: "tasks-release", content: x(65537) })).to.deep.equal(["content"]);
            expect(reasons(type, { name: x(128) })).to.deep.equal([]);
            expect(reasons(type, { name: x(129) })).to.deep.equal(["name"]);
            expect(reasons(type, { name: "AWS-Release" })).to.deep.equal(["name"]);
        });

        it("associations: rate controls, targets, and parameters the document declares", () => {
            const type = "aws:ssm/association:Association";
            expect(reasons(type, { maxConcurrency: "1", maxErrors: "0", targets: [{ key: "InstanceIds", values: Array(50).fill("i") }] })).to.deep.equal([]);
            expect(reasons(type, { maxConcurrency: "0" })).to.deep.equal(["maxConcurrency"]);
            expect(reasons(type, { targets: [{ key: "InstanceIds", values: Array(51).fill("i") }] })).to.deep.equal(["targets[0].values"]);
            const document = JSON.stringify({ parameters: { image: {}, timeout: { default: "60" } } });
            expect(associationParameters(document, { image: "a" })).to.deep.equal([]);
            expect(associationParameters(document, { timeout: "5" }).map((v) => v.property)).to.deep.equal(["parameters.image"]);
            expect(associationParameters(document, { image: "a", extra: "b" }).map((v) => v.property)).to.deep.equal(["parameters.extra"]);
        });

        it("IAM: names, paths, descriptions, and policy sizes without white space", () => {
            const role = "aws:iam/role:Role";
            const trust = (size: number) => `{ "A": "${x(size - 8)}" }`; // 8 characters of JSON around the string
            expect(reasons(role, { name: x(64), path: "/ci/", description: x(1000), assumeRolePolicy: trust(2048) })).to.deep.equal([]);
            expect(reasons(role, { name: x(65) })).to.deep.equal(["name"]);
            expect(reasons(role, { name: "a role" })).to.deep.equal(["name"]);
            expect(reasons(role, { path: "ci" })).to.deep.equal(["path"]);
            expect(reasons(role, { description: x(1001) })).to.deep.equal(["description"]);
            expect(reasons(role, { assumeRolePolicy: trust(2049) })).to.deep.equal(["assumeRolePolicy"]);
            expect(reasons(role, { assumeRolePolicy: "{ \"A\": \"\u2603\" }" })).to.deep.equal(["assumeRolePolicy"]);
            const inline = (size: number) => `{"A":"${x(size - 8)}"}`;
            expect(roleInlinePolicies([inline(5120), inline(5120)])).to.deep.equal([]);
            expect(roleInlinePolicies([inline(5120), inline(5121)]).map((v) => v.property)).to.deep.equal(["policy"]);
            expect(reasons("aws:iam/rolePolicy:RolePolicy", { name: "p", policy: inline(10241) })).to.deep.equal(["policy"]);
            expect(reasons("aws:iam/policy:Policy", { name: "p", policy: inline(6144) })).to.deep.equal([]);
            expect(reasons("aws:iam/policy:Policy", { name: "p", policy: inline(6145) })).to.deep.equal(["policy"]);
            expect(reasons("aws:iam/instanceProfile:InstanceProfile", { name: x(129) })).to.deep.equal(["name"]);
        });

        it("KMS: 32 KB key policies, deletion window, and alias names", () => {
            expect(reasons("aws:kms/key:Key", { policy: x(32768), deletionWindowInDays: 7 })).to.deep.equal([]);
            expect(reasons("aws:kms/key:Key", { policy: x(32769), deletionWindowInDays: 6 })).to.deep.equal(["policy", "deletionWindowInDays"]);
            const alias = "aws:kms/alias:Alias";
            expect(reasons(alias, { name: "alias/microservices/dev/tasks" })).to.deep.equal([]);
            expect(reasons(alias, { name: "alias/" + x(250) })).to.deep.equal([]);
            expect(reasons(alias, { name: "alias/" + x(251) })).to.deep.equal(["name"]);
            expect(reasons(alias, { name: "alias/aws/ssm" })).to.deep.equal(["name"]);
            expect(reasons(alias, { name: "microservices" })).to.deep.equal(["name"]);
        });

        it("security groups and rules: 255 characters of the allowed set", () => {
            const group = "aws:ec2/securityGroup:SecurityGroup";
            expect(reasons(group, { name: x(255), description: "tasks host (dev)" })).to.deep.equal([]);
            expect(reasons(group, { name: x(256), description: "tâsks" })).to.deep.equal(["name", "description"]);
            expect(reasons(group, { name: "sg-tasks" })).to.deep.equal(["name"]);
            const rule = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule";
            expect(reasons(rule, { cidrIpv4: "0.0.0.0/0", fromPort: 65535, toPort: 65535, description: x(255) })).to.deep.equal([]);
            expect(reasons(rule, { cidrIpv4: "0.0.0.0/0", fromPort: 65536, description: x(256) })).to.deep.equal(["description", "fromPort"]);
            expect(reasons(rule, { cidrIpv4: "0.0.0.0/0", cidrIpv6: "::/0" })).to.deep.equal(["cidrIpv4"]);
        });

        it("Route 53 records: 255-byte names, 63-byte labels, TTL", () => {
            const record = "aws:route53/record:Record";
            // Five labels of 50 or more: the whole name crosses 255 before any label crosses 63.
            const name = (length: number) => [x(50), x(50), x(50), x(50), x(length - 204)].join(".");
            expect(reasons(record, { name: name(255), ttl: 2147483647 })).to.deep.equal([]);
            expect(reasons(record, { name: name(256), ttl: 2147483648 })).to.deep.equal(["name", "ttl"]);
            expect(reasons(record, { name: `${x(64)}.example.com` })).to.deep.equal(["name"]);
        });
    });

    describe("IAM requests of each operation (actions.ts)", () => {
        const base = { partition: "aws", region: fakeRegion, accountId: fakeAccountId };

        it("launches an instance with the image, subnet, groups, tags on create and the profile's role passed", () => {
            const requests = operationRequests("aws:ec2/instance:Instance", "create", {
                ...base,
                props: {
                    ami: "ami-1",
                    subnetId: "subnet-1",
                    vpcSecurityGroupIds: ["sg-1"],
                    instanceType: "t3.micro",
                    tags: { service: "tasks" },
                    rootBlockDevice: { encrypted: true },
                    instanceProfileRole: "tasks-role-abc1234",
                },
            });
            const run = requests.find((r) => r.action === "ec2:RunInstances");
            expect(run?.resources).to.include.members([
                `arn:aws:ec2:${fakeRegion}::image/ami-1`,
                `arn:aws:ec2:${fakeRegion}:${fakeAccountId}:subnet/subnet-1`,
                `arn:aws:ec2:${fakeRegion}:${fakeAccountId}:security-group/sg-1`,
            ]);
            expect(run?.context).to.include({ "aws:RequestTag/service": "tasks" });
            const tag = requests.find((r) => r.action === "ec2:CreateTags");
            expect(tag?.context).to.include({ "ec2:CreateAction": "RunInstances" });
            const pass = requests.find((r) => r.action === "iam:PassRole");
            expect(pass?.resources).to.deep.equal([`arn:aws:iam::${fakeAccountId}:role/tasks-role-abc1234`]);
            expect(pass?.context).to.deep.equal({ "iam:PassedToService": "ec2.amazonaws.com" });
            expect(requests.map((r) => r.action)).to.include.members([
                "ec2:DescribeImages",
                "ec2:DescribeInstanceAttribute",
                "ec2:DescribeVolumes",
                "ec2:DescribeInstanceCreditSpecifications",
            ]);
        });

        it("asks for credit specifications only for burstable instance types", () => {
            const read = (instanceType: string) =>
                operationRequests("aws:ec2/instance:Instance", "read", { ...base, props: { id: "i-1", instanceType } }).map((r) => r.action);
            expect(read("t3.micro")).to.include("ec2:DescribeInstanceCreditSpecifications");
            expect(read("m7g.large")).to.not.include("ec2:DescribeInstanceCreditSpecifications");
        });

        it("ends an update with the read, and refuses an input it cannot account for", () => {
            const c = { ...base, props: { name: "/app/dev/tasks/X", type: "SecureString", keyId: "key-1" } };
            const actions = operationRequests("aws:ssm/parameter:Parameter", "update", c, ["value"]).map((r) => r.action);
            expect(actions).to.deep.equal(["ssm:PutParameter", "kms:Encrypt", "ssm:GetParameter", "kms:Decrypt", "ssm:DescribeParameters", "ssm:ListTagsForResource"]);
            expect(() => operationRequests("aws:ssm/parameter:Parameter", "update", c, ["bogus"])).to.throw("bogus");
        });

        it("encrypts a SecureString through SSM with the parameter's ARN as context", () => {
            const c = { ...base, props: { name: "/app/dev/tasks/X", type: "SecureString", keyId: "key-1", tags: { a: "b" } } };
            const encrypt = operationRequests("aws:ssm/parameter:Parameter", "create", c).find((r) => r.action === "kms:Encrypt");
            expect(encrypt?.resources).to.deep.equal([`arn:aws:kms:${fakeRegion}:${fakeAccountId}:key/key-1`]);
            expect(encrypt?.context).to.include({
                "kms:ViaService": `ssm.${fakeRegion}.amazonaws.com`,
                "kms:EncryptionContext:PARAMETER_ARN": `arn:aws:ssm:${fakeRegion}:${fakeAccountId}:parameter/app/dev/tasks/X`,
            });
        });

        it("detaches a role from its instance profiles before deleting it", () => {
            const c = { ...base, props: { name: "tasks-role-1", instanceProfileNames: ["tasks-profile-1"] } };
            expect(operationRequests("aws:iam/role:Role", "delete", c).map((r) => `${r.action} ${r.resources[0]}`)).to.deep.equal([
                `iam:ListInstanceProfilesForRole arn:aws:iam::${fakeAccountId}:role/tasks-role-1`,
                `iam:RemoveRoleFromInstanceProfile arn:aws:iam::${fakeAccountId}:instance-profile/tasks-profile-1`,
                `iam:DeleteRole arn:aws:iam::${fakeAccountId}:role/tasks-role-1`,
            ]);
        });

        it("gets the caller's role for an assumed-role session context (issue 16, finding 3)", () => {
            const session = `arn:aws:sts::${fakeAccountId}:assumed-role/microservices-deployer/GitHubActions`;
            const requests = invokeRequests("aws:iam/getSessionContext:getSessionContext", { ...base, props: { arn: session } });
            expect(requests.map((r) => `${r.action} ${r.resources[0]}`)).to.deep.equal([
                `iam:GetRole arn:aws:iam::${fakeAccountId}:role/microservices-deployer`,
            ]);
            const user = `arn:aws:iam::${fakeAccountId}:user/alice`;
            expect(invokeRequests("aws:iam/getSessionContext:getSessionContext", { ...base, props: { arn: user } })).to.deep.equal([]);
        });

        it("reads AWS's public parameters under an ARN without an account, and caller identity needs no policy", () => {
            const name = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id";
            const [get] = invokeRequests("aws:ssm/getParameter:getParameter", { ...base, props: { name } });
            expect(get.resources).to.deep.equal([`arn:aws:ssm:${fakeRegion}::parameter${name}`]);
            const [identity] = invokeRequests("aws:index/getCallerIdentity:getCallerIdentity", { ...base, props: {} });
            expect(identity.noPolicyNeeded).to.equal(true);
            for (const token of knownInvokes) expect(() => invokeRequests(token, { ...base, props: {} }), token).to.not.throw();
        });
    });
});
