// The rig's AWS: moto behind the recording front, the rig's own Systems Manager, the VPC network with its hosts, and a
// local registry standing in for Docker Hub, with the images the stacks release built into it.
import {
    CreateSubnetCommand,
    CreateVpcCommand,
    DescribeAddressesCommand,
    DescribeInstancesCommand,
    DescribeSecurityGroupsCommand,
    DescribeTagsCommand,
    EC2Client,
} from "@aws-sdk/client-ec2";
import {
    CreateRoleCommand,
    GetInstanceProfileCommand,
    GetPolicyCommand,
    GetPolicyVersionCommand,
    GetRolePolicyCommand,
    IAMClient,
    ListAttachedRolePoliciesCommand,
    ListInstanceProfilesCommand,
    ListRolesCommand,
    ListRoleTagsCommand,
    ListInstanceProfilesForRoleCommand,
    ListRolePoliciesCommand,
} from "@aws-sdk/client-iam";
import { DescribeKeyCommand, GetKeyPolicyCommand, KMSClient, ListAliasesCommand, ListKeysCommand, ListResourceTagsCommand } from "@aws-sdk/client-kms";
import { DescribeParametersCommand, ListDocumentsCommand, ListTagsForResourceCommand, SSMClient } from "@aws-sdk/client-ssm";
import { STSClient } from "@aws-sdk/client-sts";
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { root } from "../../mocks";
import { buildAwsCliProbe, buildProxyImage, DockerEngine, Registry } from "../../release/engine";
import { freePort, tool, waitForPort } from "../../tools";
import { AwsFront } from "./front";
import { Host, removeLeftoverHosts } from "./host";
import { gatewayAddress, vpcCidr, VpcNetwork } from "./network";
import { SystemsManager } from "./systemsManager";

export const region = "eu-west-1";
/** The agent version of new hosts: a current one, with environment-variable parameters. */
export const currentAgentVersion = "3.3.3050.0";

/** The credentials the deployer runs `pulumi up` with, and the name the front records its calls under. */
export const deployer = { principal: "deployer", accessKeyId: "AKIARIGDEPLOYER00001", secretAccessKey: "rig" };
/**
 * The stand-in provider's own credentials. Its calls are how the rig imitates the real provider, not what the real
 * provider calls, so they are kept apart: what the real provider needs comes from test/engine/aws/actions.ts.
 */
const standIn = { principal: "stand-in provider", accessKeyId: "AKIARIGSTANDIN000001", secretAccessKey: "rig" };
const internal = { accessKeyId: "rig-internal", secretAccessKey: "rig" };

/** Where Elastic IPs come from in the rig: addresses the tests can route to the hosts (RFC 5737's TEST-NET-2). */
const publicPool = "198.51.100.";

export interface Clients {
    ec2: EC2Client;
    iam: IAMClient;
    kms: KMSClient;
    ssm: SSMClient;
    sts: STSClient;
}

function clients(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }): Clients {
    const config = { region, endpoint, credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey } };
    return { ec2: new EC2Client(config), iam: new IAMClient(config), kms: new KMSClient(config), ssm: new SSMClient(config), sts: new STSClient(config) };
}

/** Starts moto with AWS's managed IAM policies loaded, as every account has them. */
async function startMoto(): Promise<{ endpoint: string; stop(): void }> {
    const port = await freePort();
    const server = spawn(tool("moto_server"), ["-H", "127.0.0.1", "-p", String(port)], {
        stdio: "ignore",
        env: { ...process.env, MOTO_IAM_LOAD_MANAGED_POLICIES: "true" },
    });
    await waitForPort(port, 15000);
    return { endpoint: `http://127.0.0.1:${port}`, stop: () => server.kill() };
}

export class Cloud {
    readonly network = new VpcNetwork();
    readonly builder = new DockerEngine();
    readonly registry = new Registry(true);
    readonly hosts = new Map<string, Host>();
    front!: AwsFront;
    ssm!: SystemsManager;
    /** The stand-in provider's clients, through the front. */
    clients!: Clients;
    /** The rig's own look at moto, unrecorded. */
    internal!: Clients;
    /** The deployer's role: it runs `up` and administers the keys (the stacks' `deployerArns`). */
    deployerRoleArn = "";
    /** The agent version the next hosts get. */
    agentVersion = currentAgentVersion;
    private moto?: { endpoint: string; stop(): void };
    private nextPublicIp = 10;

    /** The registry as the hosts reach it, over the VPC. */
    get registryAddress(): string {
        return `${gatewayAddress}:${this.registry.address.split(":")[1]}`;
    }

    async start(): Promise<void> {
        await removeLeftoverHosts();
        this.moto = await startMoto();
        await this.network.start();
        this.front = new AwsFront(this.moto.endpoint);
        await this.front.start(gatewayAddress);
        this.front.principals.set(deployer.accessKeyId, deployer.principal);
        this.front.principals.set(standIn.accessKeyId, standIn.principal);
        this.ssm = new SystemsManager(this.moto.endpoint, region, this.front.endpoint);
        const ssm = this.ssm;
        this.front.handle("ssm:DescribeInstanceInformation", (params) => ssm.describeInstanceInformation(params));
        this.front.handle("ssm:CreateAssociation", (params) => ssm.createAssociation(params));
        this.front.handle("ssm:DescribeAssociation", (params) => ssm.describeAssociation(params));
        this.front.handle("ssm:ListAssociations", (params) => ssm.listAssociations(params));
        this.front.handle("ssm:DeleteAssociation", (params) => ssm.deleteAssociation(params));
        this.front.handle("ssm:StartAssociationsOnce", (params) => ssm.startAssociationsOnce(params));
        this.clients = clients(this.front.endpoint, standIn);
        this.internal = clients(this.moto.endpoint, internal);
        const { Role } = await this.internal.iam.send(
            new CreateRoleCommand({ RoleName: "microservices-deployer", AssumeRolePolicyDocument: "{}" }),
        );
        this.deployerRoleArn = Role!.Arn!;
        // The read-only role of the drift checks: a stack names it in secretReaderArns.
        await this.internal.iam.send(new CreateRoleCommand({ RoleName: "microservices-drift", AssumeRolePolicyDocument: "{}" }));
        await this.registry.start();
        await this.builder.start();
    }

    /** The environment of a process that acts as the deployer (the Pulumi CLI and its plugins). */
    deployerEnv(): NodeJS.ProcessEnv {
        return {
            AWS_ENDPOINT_URL: this.front.endpoint,
            AWS_ACCESS_KEY_ID: deployer.accessKeyId,
            AWS_SECRET_ACCESS_KEY: deployer.secretAccessKey,
            AWS_REGION: region,
            AWS_DEFAULT_REGION: region,
        };
    }

    /** The next Elastic IP address the rig hands out. */
    allocatePublicIp(): string {
        return `${publicPool}${this.nextPublicIp++}`;
    }

    /**
     * Powers on an instance moto created: the host starts (its engine running, as an instance is once "running"),
     * then boots from its user data in the background while its agent comes online when it can reach Systems
     * Manager: through a public address (the rig has no NAT gateway and no VPC endpoints), with a role allowed to.
     */
    async launch(instance: {
        instanceId: string;
        privateIp: string;
        publicIp?: string;
        userData: Buffer;
        roleName?: string;
    }): Promise<Host> {
        const host = new Host(this.network, instance.instanceId, instance.privateIp, this.registryAddress);
        this.hosts.set(instance.instanceId, host);
        const accessKeyId = `ASIARIG${instance.instanceId.slice(2).toUpperCase()}`;
        if (instance.roleName) {
            this.front.principals.set(accessKeyId, `role/${instance.roleName}`);
            host.identity = { AWS_ENDPOINT_URL: this.front.endpoint, AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: "rig" };
        }
        await host.start();
        host.boot(instance.userData);
        if (instance.roleName) {
            this.ssm.addNode(instance.instanceId, {
                host,
                agentVersion: this.agentVersion,
                credentials: { accessKeyId, secretAccessKey: "rig" },
            });
            void this.registerAgent(instance.instanceId, instance.roleName, instance.publicIp);
        }
        return host;
    }

    /**
     * The agent registers with Systems Manager as soon as it can, retrying as the real one does: the host needs a
     * public address (the rig has no NAT gateway and no VPC endpoints) and a role that allows registering.
     */
    private async registerAgent(instanceId: string, roleName: string, publicIp: string | undefined): Promise<void> {
        const host = this.hosts.get(instanceId)!;
        if (!publicIp) {
            host.log("the SSM agent cannot reach Systems Manager: the host has no public address");
            return;
        }
        while (this.hosts.get(instanceId) === host) {
            if (await this.roleRunsAgent(roleName)) {
                host.log(`the SSM agent ${this.agentVersion} registered with Systems Manager`);
                this.ssm.setOnline(instanceId);
                return;
            }
            await new Promise((resolve) => setTimeout(resolve, 1000));
        }
    }

    /** What the real provider knows of a resource beyond its inputs and outputs, for the IAM requests it makes. */
    async describe(type: string, props: Record<string, unknown>, olds?: Record<string, unknown>): Promise<Record<string, unknown>> {
        const iam = this.internal.iam;
        switch (type) {
            case "aws:ec2/instance:Instance": {
                if (typeof props.iamInstanceProfile !== "string") return {};
                const profile = await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: props.iamInstanceProfile })).catch(() => undefined);
                return { instanceProfileRole: profile?.InstanceProfile?.Roles?.[0]?.RoleName };
            }
            case "aws:iam/role:Role": {
                if (typeof props.name !== "string") return {};
                const inline = await iam.send(new ListRolePoliciesCommand({ RoleName: props.name })).catch(() => undefined);
                const profiles = await iam.send(new ListInstanceProfilesForRoleCommand({ RoleName: props.name })).catch(() => undefined);
                return {
                    inlinePolicyNames: inline?.PolicyNames ?? [],
                    instanceProfileNames: (profiles?.InstanceProfiles ?? []).map((profile) => profile.InstanceProfileName),
                };
            }
            case "aws:iam/instanceProfile:InstanceProfile":
                return olds ? { previousRole: olds.role } : {};
            case "aws:kms/alias:Alias":
                return olds ? { previousTargetKeyId: olds.targetKeyId } : {};
            default:
                return {};
        }
    }

    /**
     * A VPC and subnet of the user's own, as `vpcId` and `subnetId` name them: no public address is mapped at launch
     * in it (CreateSubnet's default). It shares the default VPC's range, so its hosts sit on the rig's bridge too.
     */
    async createNetwork(subnetCidr: string): Promise<{ vpcId: string; subnetId: string }> {
        const { Vpc } = await this.internal.ec2.send(new CreateVpcCommand({ CidrBlock: vpcCidr }));
        const { Subnet } = await this.internal.ec2.send(new CreateSubnetCommand({ VpcId: Vpc!.VpcId, CidrBlock: subnetCidr }));
        return { vpcId: Vpc!.VpcId!, subnetId: Subnet!.SubnetId! };
    }

    /** The tags of the existing resource an ARN names, or undefined for a pattern or a kind the rig does not look up. */
    async tagsOf(arn: string): Promise<Record<string, string> | undefined> {
        const match = /^arn:aws:([a-z0-9]+):[^:]*:[^:]*:([a-z-]+)\/(.+)$/.exec(arn);
        if (!match || match[3].includes("*")) return undefined;
        const [, service, kind, id] = match;
        const pairs = (tags: { Key?: string; Value?: string }[] | undefined) =>
            Object.fromEntries((tags ?? []).map((tag) => [tag.Key!, tag.Value ?? ""]));
        const { ec2, iam, kms, ssm } = this.internal;
        try {
            if (service === "ec2") {
                const answer = await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: "resource-id", Values: [id] }] }));
                return pairs(answer.Tags);
            }
            if (service === "iam" && kind === "role") return pairs((await iam.send(new ListRoleTagsCommand({ RoleName: id.split("/").pop() }))).Tags);
            if (service === "iam" && kind === "instance-profile") {
                // moto has no ListInstanceProfileTags; GetInstanceProfile carries the same tags.
                const answer = await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: id.split("/").pop() }));
                return pairs(answer.InstanceProfile?.Tags);
            }
            if (service === "kms" && kind === "key") {
                const answer = await kms.send(new ListResourceTagsCommand({ KeyId: id }));
                return Object.fromEntries((answer.Tags ?? []).map((tag) => [tag.TagKey!, tag.TagValue ?? ""]));
            }
            if (service === "ssm" && (kind === "parameter" || kind === "document")) {
                const answer = await ssm.send(
                    new ListTagsForResourceCommand({ ResourceType: kind === "parameter" ? "Parameter" : "Document", ResourceId: kind === "parameter" ? `/${id}` : id }),
                );
                return pairs(answer.TagList);
            }
        } catch {
            return undefined; // not there (yet, or any more): the request carries what the tables know
        }
        return undefined;
    }

    /** Each KMS key's policy, by key ARN, deleted keys included. */
    async keyPolicies(): Promise<Map<string, string>> {
        const policies = new Map<string, string>();
        for (const key of (await this.internal.kms.send(new ListKeysCommand({}))).Keys ?? []) {
            const { Policy } = await this.internal.kms.send(new GetKeyPolicyCommand({ KeyId: key.KeyId, PolicyName: "default" }));
            policies.set(key.KeyArn!, Policy ?? "{}");
        }
        return policies;
    }

    /** What is left in the rig's AWS beyond what every account has: empty after a destroy. */
    async leftovers(): Promise<Record<string, string[]>> {
        const { ec2, iam, kms, ssm } = this.internal;
        const reservations = (await ec2.send(new DescribeInstancesCommand({}))).Reservations ?? [];
        const aliases = (await kms.send(new ListAliasesCommand({}))).Aliases ?? [];
        // AWS's own keys are in every account: those of alias/aws/*, and the aws/ebs key that moto makes (once per
        // encrypted volume) under this description.
        const awsKeys = aliases.filter((alias) => alias.AliasName?.startsWith("alias/aws/")).map((alias) => alias.TargetKeyId);
        const ebsDefault = "Default master key that protects my EBS volumes when no other key is defined";
        const found: Record<string, string[]> = {
            instances: reservations
                .flatMap((reservation) => reservation.Instances ?? [])
                .filter((instance) => instance.State?.Name !== "terminated")
                .map((instance) => instance.InstanceId!),
            addresses: ((await ec2.send(new DescribeAddressesCommand({}))).Addresses ?? []).map((address) => address.PublicIp!),
            securityGroups: ((await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [])
                .filter((group) => group.GroupName !== "default")
                .map((group) => group.GroupName!),
            roles: ((await iam.send(new ListRolesCommand({}))).Roles ?? [])
                .map((role) => role.RoleName!)
                .filter((name) => !["microservices-deployer", "microservices-drift"].includes(name)),
            instanceProfiles: ((await iam.send(new ListInstanceProfilesCommand({}))).InstanceProfiles ?? []).map(
                (profile) => profile.InstanceProfileName!,
            ),
            parameters: await this.parameterNames(),
            documents: ((await ssm.send(new ListDocumentsCommand({ Filters: [{ Key: "Owner", Values: ["Self"] }] }))).DocumentIdentifiers ?? []).map(
                (document) => document.Name!,
            ),
            associations: [...this.ssm.associations.keys()],
            keys: [],
            aliases: aliases.map((alias) => alias.AliasName!).filter((name) => !name.startsWith("alias/aws/")),
            hosts: [...this.hosts.keys()],
        };
        for (const key of (await kms.send(new ListKeysCommand({}))).Keys ?? []) {
            const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: key.KeyId }));
            if (awsKeys.includes(key.KeyId) || KeyMetadata?.Description === ebsDefault) continue;
            if (KeyMetadata?.KeyState !== "PendingDeletion") found.keys.push(`${key.KeyId} (${KeyMetadata?.KeyManager}: ${KeyMetadata?.Description})`);
        }
        return Object.fromEntries(Object.entries(found).filter(([, names]) => names.length > 0));
    }

    /** Every parameter of the account but AWS's own public ones (/aws/service/...), all pages. */
    private async parameterNames(): Promise<string[]> {
        const names: string[] = [];
        let NextToken: string | undefined;
        do {
            const page = await this.internal.ssm.send(new DescribeParametersCommand({ NextToken, MaxResults: 50 }));
            names.push(...(page.Parameters ?? []).map((parameter) => parameter.Name!).filter((name) => !name.startsWith("/aws/")));
            NextToken = page.NextToken;
        } while (NextToken);
        return names;
    }

    async terminate(instanceId: string): Promise<void> {
        this.ssm.removeNode(instanceId);
        await this.hosts.get(instanceId)?.terminate();
        this.hosts.delete(instanceId);
    }

    /** Whether the role's policies let the SSM agent register (ssm:UpdateInstanceInformation). */
    private async roleRunsAgent(roleName: string): Promise<boolean> {
        try {
            return await this.roleAllowsRegistering(roleName);
        } catch (error) {
            this.hosts.forEach((host) => host.log(`cannot read the role ${roleName}: ${error}`));
            return false;
        }
    }

    private async roleAllowsRegistering(roleName: string): Promise<boolean> {
        const iam = this.internal.iam;
        const documents: string[] = [];
        const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: roleName }));
        for (const policy of attached.AttachedPolicies ?? []) {
            const { Policy } = await iam.send(new GetPolicyCommand({ PolicyArn: policy.PolicyArn }));
            const version = await iam.send(
                new GetPolicyVersionCommand({ PolicyArn: policy.PolicyArn, VersionId: Policy?.DefaultVersionId }),
            );
            documents.push(decodeURIComponent(version.PolicyVersion?.Document ?? ""));
        }
        const inline = await iam.send(new ListRolePoliciesCommand({ RoleName: roleName }));
        for (const name of inline.PolicyNames ?? []) {
            const policy = await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: name }));
            documents.push(decodeURIComponent(policy.PolicyDocument ?? ""));
        }
        return documents.some((document) => document.includes("ssm:UpdateInstanceInformation"));
    }

    /**
     * Builds the rig's service stand-in, pushes it, and returns it pinned by digest as the hosts pull it. It answers
     * `<service>-<version>` on /version.
     */
    pushService(service: string, version: string, mode = "healthy"): string {
        const folder = fs.mkdtempSync(path.join(os.tmpdir(), "rig-image-"));
        fs.cpSync(path.join(root, "test", "fixtures", "engine-images"), folder, { recursive: true });
        fs.copyFileSync("/bin/busybox", path.join(folder, "busybox"));
        const tag = `${this.registry.address}/${service}:${version}`;
        this.builder.docker("build", "--quiet", "--file", path.join(folder, "service.Dockerfile"),
            "--build-arg", `MODE=${mode}`, "--build-arg", `VERSION=${service}-${version}`, "--tag", tag, folder);
        fs.rmSync(folder, { recursive: true, force: true });
        return this.push(tag);
    }

    /** The proxy and AWS CLI images of the hosts' bootstrap, pushed and pinned by digest. */
    pushHostImages(): { proxyImage: string; awsCliImage: string } {
        const proxy = `${this.registry.address}/caddy:rig`;
        buildProxyImage(this.builder, proxy);
        const awsCli = `${this.registry.address}/aws-cli:rig`;
        buildAwsCliProbe(this.builder, awsCli);
        return { proxyImage: this.push(proxy), awsCliImage: this.push(awsCli) };
    }

    private push(tag: string): string {
        this.builder.docker("push", "--quiet", tag);
        const digest = this.builder.docker("image", "inspect", "--format", "{{index .RepoDigests 0}}", tag).trim();
        return digest.replace(this.registry.address, this.registryAddress);
    }

    async stop(): Promise<void> {
        for (const instanceId of [...this.hosts.keys()]) await this.terminate(instanceId);
        await this.front?.stop();
        await this.registry.stop();
        await this.builder.destroy();
        await this.network.stop();
        this.moto?.stop();
    }
}
