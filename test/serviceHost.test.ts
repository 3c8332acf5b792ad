import { expect } from "chai";
import {
    fakeAccountId,
    fakeDeployerArn,
    fakeAmis,
    isSecretValue,
    minimalConfig,
    named,
    ofType,
    ProgramRun,
    runProgram,
    sentinelSecrets,
    stackFileConfig,
    valueOf,
} from "./mocks";
import { decodeUserData } from "./cloudConfig";

const amd64Ami = fakeAmis["/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"];
const arm64Ami = fakeAmis["/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id"];

type Inputs = Record<string, any>;
const inputsOf = (run: ProgramRun, name: string): Inputs => named(run.resources, name).inputs;

describe("ServiceHost resources (dev stack)", () => {
    let run: ProgramRun;
    before(async () => {
        run = await runProgram(stackFileConfig("dev"));
    });

    it("builds each image from its service folder for linux/amd64 and pushes it to Docker Hub", () => {
        for (const service of ["tasks", "requests"]) {
            const image = inputsOf(run, `${service}-image`);
            expect(image.imageName).to.equal(`docker.io/octocat/${service}:dev`);
            expect(image.build).to.deep.equal({
                context: `services/${service}`,
                dockerfile: `services/${service}/Dockerfile`,
                platform: "linux/amd64",
            });
            // A secret inside an input makes the whole input secret.
            expect(isSecretValue(image.registry), "the push token stays secret").to.equal(true);
            expect(image.registry.value).to.deep.equal({
                server: "docker.io",
                username: "octocat",
                password: sentinelSecrets.dockerHubToken,
            });
        }
    });

    it("stores each secret as a SecureString, encrypted with its service's own key, under a path unique to project, stack and service", () => {
        const parameters = ofType(run.resources, "aws:ssm/parameter:Parameter")
            .filter((p) => p.inputs.type === "SecureString")
            .map((p) => p.inputs as Inputs);
        const expected: Record<string, string> = {
            "/microservices/dev/tasks/LOGSENE_TOKEN": sentinelSecrets.logseneToken,
            "/microservices/dev/tasks/MONGODB_URI": sentinelSecrets.mongodbUri,
            "/microservices/dev/requests/DATABASE_URL": sentinelSecrets.postgresUrl,
            "/microservices/dev/requests/PAPERTRAIL_DESTINATION": sentinelSecrets.papertrailDestination,
            "/microservices/dev/requests/API_KEYS": JSON.stringify(JSON.parse(sentinelSecrets.requestsApiCallers)),
            "/microservices/dev/requests/TASKS_API_KEY": sentinelSecrets.requestsTasksApiKey,
        };
        // tasks' callers gain the caller requests (test/apiKeys.test.ts): here only that they are stored like the rest.
        const tasksCallers = parameters.find((p) => p.name === "/microservices/dev/tasks/API_KEYS");
        expected["/microservices/dev/tasks/API_KEYS"] = String((tasksCallers?.value as { value?: unknown })?.value);
        expect(parameters.map((p) => p.name)).to.have.members(Object.keys(expected));
        for (const parameter of parameters) {
            expect(isSecretValue(parameter.value)).to.equal(true);
            expect(parameter.value.value).to.equal(expected[parameter.name]);
            const service = parameter.name.split("/")[3];
            expect(parameter.keyId, parameter.name).to.equal(
                `arn:aws:kms:eu-west-1:${fakeAccountId}:key/${service}-secrets-key-key-id`,
            );
        }
    });

    it("gives each service a rotating KMS key that only its host (and the deployers, through SSM) can use, and only the deployers administer", () => {
        for (const service of ["tasks", "requests"]) {
            const key = inputsOf(run, `${service}-secrets-key`);
            expect(key).to.include({ enableKeyRotation: true, deletionWindowInDays: 7 });
            const viaSsm = { "kms:ViaService": "ssm.eu-west-1.amazonaws.com" };
            const inspection = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags", "kms:ListKeyPolicies"];
            expect(JSON.parse(key.policy).Statement).to.deep.equal([
                {
                    Sid: "AccountSeesKey",
                    Effect: "Allow",
                    Principal: { AWS: `arn:aws:iam::${fakeAccountId}:root` },
                    Action: inspection,
                    Resource: "*",
                },
                {
                    Sid: "DeployersAdministerKey",
                    Effect: "Allow",
                    Principal: { AWS: [fakeDeployerArn] },
                    Action: [
                        ...inspection,
                        "kms:PutKeyPolicy",
                        "kms:EnableKeyRotation",
                        "kms:DisableKeyRotation",
                        "kms:UpdateKeyDescription",
                        "kms:TagResource",
                        "kms:UntagResource",
                        "kms:CreateAlias",
                        "kms:UpdateAlias",
                        "kms:DeleteAlias",
                        "kms:EnableKey",
                        "kms:DisableKey",
                        "kms:ScheduleKeyDeletion",
                        "kms:CancelKeyDeletion",
                    ],
                    Resource: "*",
                },
                {
                    Sid: "DeployersUseKeyThroughSsm",
                    Effect: "Allow",
                    Principal: { AWS: [fakeDeployerArn] },
                    Action: ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"],
                    Resource: "*",
                    Condition: { StringEquals: viaSsm },
                },
                {
                    Sid: "HostReadsOwnParameters",
                    Effect: "Allow",
                    Principal: { AWS: `arn:aws:iam::${fakeAccountId}:role/${service}-role-1a2b3c` },
                    Action: "kms:Decrypt",
                    Resource: "*",
                    Condition: {
                        StringEquals: viaSsm,
                        StringLike: {
                            "kms:EncryptionContext:PARAMETER_ARN": `arn:aws:ssm:eu-west-1:${fakeAccountId}:parameter/microservices/dev/${service}/*`,
                        },
                    },
                },
                {
                    Sid: "HostStoresCertificates",
                    Effect: "Allow",
                    Principal: { AWS: `arn:aws:iam::${fakeAccountId}:role/${service}-role-1a2b3c` },
                    Action: "kms:Encrypt",
                    Resource: "*",
                    Condition: {
                        StringEquals: viaSsm,
                        StringLike: {
                            "kms:EncryptionContext:PARAMETER_ARN": `arn:aws:ssm:eu-west-1:${fakeAccountId}:parameter/microservices/dev/${service}/certificates/*`,
                        },
                    },
                },
            ]);
            expect(inputsOf(run, `${service}-secrets-key-alias`)).to.include({
                name: `alias/microservices/dev/${service}`,
                targetKeyId: `${service}-secrets-key-key-id`,
            });
        }
    });

    it("gives each host a role with the SSM agent's actions, read access to its own parameters, and write access to its release records and certificate store only", () => {
        for (const service of ["tasks", "requests"]) {
            const role = inputsOf(run, `${service}-role`);
            expect(JSON.parse(role.assumeRolePolicy).Statement).to.deep.equal([
                { Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" },
            ]);
            const pathArn = `arn:aws:ssm:eu-west-1:${fakeAccountId}:parameter/microservices/dev/${service}`;
            expect(JSON.parse(inputsOf(run, `${service}-host-policy`).policy)).to.deep.equal({
                Version: "2012-10-17",
                Statement: [
                    {
                        Sid: "RunSsmAgent",
                        Effect: "Allow",
                        Action: [
                            "ssm:UpdateInstanceInformation",
                            "ssm:ListAssociations",
                            "ssm:ListInstanceAssociations",
                            "ssm:DescribeAssociation",
                            "ssm:UpdateAssociationStatus",
                            "ssm:UpdateInstanceAssociationStatus",
                            "ssm:PutComplianceItems",
                            "ssm:PutInventory",
                            "ssm:GetDocument",
                            "ssm:DescribeDocument",
                            "ec2messages:AcknowledgeMessage",
                            "ec2messages:DeleteMessage",
                            "ec2messages:FailMessage",
                            "ec2messages:GetEndpoint",
                            "ec2messages:GetMessages",
                            "ec2messages:SendReply",
                            "ssmmessages:CreateControlChannel",
                            "ssmmessages:CreateDataChannel",
                            "ssmmessages:OpenControlChannel",
                            "ssmmessages:OpenDataChannel",
                        ],
                        Resource: "*",
                    },
                    {
                        Sid: "ReadOwnServiceParameters",
                        Effect: "Allow",
                        Action: ["ssm:GetParametersByPath", "ssm:GetParameters", "ssm:GetParameter"],
                        Resource: [pathArn, `${pathArn}/*`],
                    },
                    {
                        Sid: "RecordOwnReleases",
                        Effect: "Allow",
                        Action: "ssm:PutParameter",
                        Resource: `${pathArn}/releases/*`,
                    },
                    {
                        Sid: "StoreOwnCertificates",
                        Effect: "Allow",
                        Action: "ssm:PutParameter",
                        Resource: `${pathArn}/certificates/*`,
                    },
                ],
            });
            expect(inputsOf(run, `${service}-profile`).role).to.equal(`${service}-role-1a2b3c`);
        }
        expect(ofType(run.resources, "aws:iam/rolePolicy:RolePolicy")).to.have.length(2);
        // AWS's AmazonSSMManagedInstanceCore would let a host read every parameter in the account.
        expect(ofType(run.resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")).to.have.length(0);
    });

    it("opens HTTPS to the stack's networks and port 80 to all, the service ports only to peers (tasks to requests), and never SSH", () => {
        const ingress = ofType(run.resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
        expect(
            ingress.map((rule) => [rule.name, rule.inputs.securityGroupId, rule.inputs.fromPort, rule.inputs.cidrIpv4 ?? rule.inputs.cidrIpv6]),
        ).to.have.deep.members([
            ["tasks-https-0.0.0.0-0", "tasks-sg-id", 443, "0.0.0.0/0"],
            ["tasks-http-0.0.0.0-0", "tasks-sg-id", 80, "0.0.0.0/0"],
            ["tasks-http----0", "tasks-sg-id", 80, "::/0"],
            ["requests-https-0.0.0.0-0", "requests-sg-id", 443, "0.0.0.0/0"],
            ["requests-http-0.0.0.0-0", "requests-sg-id", 80, "0.0.0.0/0"],
            ["requests-http----0", "requests-sg-id", 80, "::/0"],
            ["tasks-from-requests", "tasks-sg-id", 8080, undefined],
        ]);
        expect(inputsOf(run, "tasks-from-requests").referencedSecurityGroupId).to.equal("requests-sg-id");
        for (const rule of ingress) {
            expect(rule.inputs.ipProtocol).to.equal("tcp");
            expect(rule.inputs.fromPort).to.equal(rule.inputs.toPort);
            expect(rule.inputs.fromPort).not.to.equal(22);
        }
        for (const service of ["tasks", "requests"]) {
            expect(inputsOf(run, `${service}-sg`).vpcId).to.equal("vpc-0defa017defa01700");
            expect(inputsOf(run, `${service}-sg`)).not.to.have.property("ingress");
            expect(inputsOf(run, `${service}-egress`)).to.include({ cidrIpv4: "0.0.0.0/0", ipProtocol: "-1" });
        }
    });

    it("runs each host on the Docker-ready Amazon Linux 2023 AMI with IMDSv2 and an encrypted gp3 root volume", () => {
        for (const service of ["tasks", "requests"]) {
            const host = inputsOf(run, `${service}-host`);
            expect(host.ami).to.equal(amd64Ami);
            expect(host.instanceType).to.equal("t3.micro");
            expect(host.subnetId, "the first default subnet, by id").to.equal("subnet-0aaaaaaaaaaaaaaaa");
            expect(host.vpcSecurityGroupIds).to.deep.equal([`${service}-sg-id`]);
            // Until the Elastic IP moves to it, the host reaches Systems Manager on an address of its own.
            expect(host.associatePublicIpAddress).to.equal(true);
            expect(host.iamInstanceProfile).to.equal(`${service}-profile-4d5e6f`);
            expect(host.metadataOptions).to.deep.equal({
                httpEndpoint: "enabled",
                httpTokens: "required",
                httpPutResponseHopLimit: 1,
            });
            expect(host.rootBlockDevice).to.deep.equal({ volumeType: "gp3", volumeSize: 30, encrypted: true });
            expect(host.userDataReplaceOnChange).to.equal(true);
            expect(host).not.to.have.property("keyName");
        }
    });

    it("keeps each public address on an Elastic IP that an association moves to the host", () => {
        for (const service of ["tasks", "requests"]) {
            expect(inputsOf(run, `${service}-eip`)).to.deep.equal({ domain: "vpc", tags: inputsOf(run, `${service}-eip`).tags });
            expect(inputsOf(run, `${service}-address`)).to.deep.equal({
                allocationId: `eipalloc-${service}-eip`,
                instanceId: `${service}-host-id`,
                allowReassociation: true,
            });
        }
    });

    it("tags every taggable resource with project, stack, service, Name and the stack's extra tags", () => {
        const tagged = run.resources.filter((resource) => resource.inputs.tags !== undefined);
        expect(tagged.length).to.be.greaterThan(20);
        for (const resource of tagged) {
            const service = resource.name.startsWith("tasks") ? "tasks" : "requests";
            expect(resource.inputs.tags, resource.name).to.deep.equal({
                environment: "dev",
                project: "microservices",
                stack: "dev",
                service,
                Name: `microservices-dev-${service}`,
            });
        }
    });

    it("exports the HTTPS URLs, the Elastic IPs, the digests, the release ids and the instance ids", async () => {
        const outputs = run.outputs;
        expect(Object.keys(outputs).sort()).to.deep.equal([
            "imageVerification",
            "requestsImageDigest",
            "requestsInstanceId",
            "requestsPublicIp",
            "requestsReleaseId",
            "requestsUrl",
            "tasksImageDigest",
            "tasksInstanceId",
            "tasksPublicIp",
            "tasksReleaseId",
            "tasksUrl",
        ]);
        for (const service of ["tasks", "requests"]) {
            expect(await valueOf(outputs[`${service}ReleaseId`])).to.equal(inputsOf(run, `${service}-release`).parameters.releaseId);
        }
        for (const service of ["tasks", "requests"]) {
            const publicIp = await valueOf(outputs[`${service}PublicIp`]);
            expect(publicIp).to.match(/^203\.0\.113\.\d+$/);
            expect(await valueOf(outputs[`${service}Url`])).to.equal(`https://${publicIp}`);
        }
        expect(await valueOf(outputs.tasksImageDigest)).to.match(/^docker\.io\/octocat\/tasks@sha256:[0-9a-f]{64}$/);
        expect(await valueOf(outputs.requestsImageDigest)).to.match(/^docker\.io\/octocat\/requests@sha256:[0-9a-f]{64}$/);
        expect(await valueOf(outputs.tasksInstanceId)).to.equal("tasks-host-id");
        expect(await valueOf(outputs.requestsInstanceId)).to.equal("requests-host-id");
    });
});

describe("ServiceHost settings", () => {
    it("builds for arm64 on the arm64 AMI when the stack asks for it", async () => {
        const run = await runProgram({ ...minimalConfig, imagePlatform: "linux/arm64", instanceType: "t4g.small" });
        for (const service of ["tasks", "requests"]) {
            expect(inputsOf(run, `${service}-image`).build.platform).to.equal("linux/arm64");
            expect(inputsOf(run, `${service}-host`)).to.include({ ami: arm64Ami, instanceType: "t4g.small" });
        }
    });

    it("uses the given VPC, subnet, repositories, per-service instance types and IPv6 CIDRs", async () => {
        const run = await runProgram({
            ...minimalConfig,
            vpcId: "vpc-0123456789abcdef0",
            subnetId: "subnet-0123456789abcdef0",
            tasksRepository: "acme/tasks-api",
            requestsRepository: "acme/requests-api",
            tasksInstanceType: "t3.large",
            ingressCidrs: ["2a05:d018::/36"],
        });
        expect(inputsOf(run, "tasks-image").imageName).to.equal("docker.io/acme/tasks-api:dev");
        expect(inputsOf(run, "requests-image").imageName).to.equal("docker.io/acme/requests-api:dev");
        expect(inputsOf(run, "tasks-host")).to.include({ instanceType: "t3.large", subnetId: "subnet-0123456789abcdef0" });
        expect(inputsOf(run, "requests-host").instanceType).to.equal("t3.micro");
        expect(inputsOf(run, "tasks-sg").vpcId).to.equal("vpc-0123456789abcdef0");
        expect(inputsOf(run, "tasks-https-2a05-d018---36")).to.include({ cidrIpv6: "2a05:d018::/36", fromPort: 443 });
        expect(inputsOf(run, "tasks-https-2a05-d018---36")).not.to.have.property("cidrIpv4");
    });

    it("creates each domain's A record on its Elastic IP in the stack's zone, and serves the domain's URL", async () => {
        const run = await runProgram({
            ...minimalConfig,
            dnsZone: "example.com",
            tasksDomain: "tasks.example.com",
            requestsDomain: "api.requests.example.com",
        });
        for (const [service, domain] of [["tasks", "tasks.example.com"], ["requests", "api.requests.example.com"]]) {
            const publicIp = await valueOf(run.outputs[`${service}PublicIp`]);
            expect(inputsOf(run, `${service}-dns`)).to.deep.equal({
                zoneId: "Z0123456789ABCDEFGHIJ",
                name: domain,
                type: "A",
                ttl: 300,
                records: [publicIp],
            });
            expect(await valueOf(run.outputs[`${service}Url`])).to.equal(`https://${domain}`);
        }
    });

    it("creates no record without a zone (the user points the domain at the tasksPublicIp output), and none for a service without a domain", async () => {
        const withoutZone = await runProgram({ ...minimalConfig, tasksDomain: "tasks.example.com" });
        expect(ofType(withoutZone.resources, "aws:route53/record:Record")).to.deep.equal([]);
        expect(await valueOf(withoutZone.outputs.tasksUrl)).to.equal("https://tasks.example.com");
        const oneDomain = await runProgram({ ...minimalConfig, dnsZone: "example.com", tasksDomain: "tasks.example.com" });
        expect(ofType(oneDomain.resources, "aws:route53/record:Record").map((record) => record.name)).to.deep.equal(["tasks-dns"]);
        expect(await valueOf(oneDomain.outputs.requestsUrl)).to.equal(`https://${await valueOf(oneDomain.outputs.requestsPublicIp)}`);
    });

    it("gets certificates from Let's Encrypt staging when asked, and warns that no client trusts them", async () => {
        const warnings: string[] = [];
        const warn = console.warn;
        console.warn = (message: string) => warnings.push(message);
        // The test config's imageSigner none warns too.
        const acmeWarnings = () => warnings.filter((warning) => warning.includes("acmeCa"));
        try {
            const staging = await runProgram({ ...minimalConfig, acmeCa: "letsencrypt-staging" });
            expect(acmeWarnings()).to.deep.equal([
                "warning: [runtime] acmeCa is letsencrypt-staging: the hosts' certificates are Let's Encrypt's staging ones, which no browser or client trusts",
            ]);
            warnings.length = 0;
            await runProgram(minimalConfig);
            expect(acmeWarnings()).to.deep.equal([]);
            const userData = decodeUserData(inputsOf(staging, "tasks-host").userDataBase64);
            expect(userData).to.include("ACME_CA=https://acme-staging-v02.api.letsencrypt.org/directory\n");
        } finally {
            console.warn = warn;
        }
    });

    it("opens no public port when the stack lists no CIDR, and keeps tasks reachable from requests", async () => {
        const run = await runProgram({ ...minimalConfig, ingressCidrs: [] });
        const ingress = ofType(run.resources, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule");
        expect(ingress.map((rule) => rule.name)).to.deep.equal(["tasks-from-requests"]);
    });
});
