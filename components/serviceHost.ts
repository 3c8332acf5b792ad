import * as aws from "@pulumi/aws";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { defaultAwsCliImage, renderCloudConfig } from "./cloudInit";
import { ec2AssumeRolePolicy, parameterPathArn, parameterReadPolicy } from "./iam";
import { dockerHubImageName, parameterPath, serviceTags } from "./naming";
import { amiParameterName, Platform } from "./platform";

export interface ServiceHostArgs {
    /** Folder holding the service's Dockerfile: the build context, relative to the project. */
    context: string;
    /** Docker Hub repository, `namespace/name`. The image is pushed as docker.io/<repository>:<imageTag>. */
    repository: string;
    /** Tag pushed beside the digest; hosts always run the digest. @default the stack name */
    imageTag?: string;
    /** Platform the image is built for; the AMI and instance type must match it. @default "linux/amd64" */
    platform?: Platform;
    /** Docker Hub credentials used to push. The token should be a secret. */
    registry: { username: pulumi.Input<string>; token: pulumi.Input<string> };
    /** Port the container listens on; the host publishes the same port. */
    port: number;
    /** Plain environment of the container. Lands in user data, so never put a secret here. */
    environment?: Record<string, pulumi.Input<string>>;
    /**
     * Secret environment of the container, by variable name. Each becomes an SSM SecureString parameter that only
     * this host can read, fetched at boot into a root-only file. @default none
     */
    secrets?: Record<string, pulumi.Input<string>>;
    /** @default "t3.micro" */
    instanceType?: pulumi.Input<string>;
    /** CIDRs (IPv4 or IPv6) allowed to reach `port`. Empty: reachable only from peers allowed with `allowFrom`. @default [] */
    ingressCidrs?: string[];
    /** VPC and public subnet of the host. @default the region's default VPC and its first default subnet */
    network?: { vpcId: pulumi.Input<string>; subnetId: pulumi.Input<string> };
    /** Size of the encrypted gp3 root volume; the AMI needs at least 30. @default 30 */
    rootVolumeGiB?: number;
    /** Extra tags on every resource; project, stack, service and Name are always set. @default {} */
    tags?: Record<string, string>;
    /** Image that runs the AWS CLI at boot to fetch the secrets. @default public.ecr.aws/aws-cli/aws-cli:<pinned> */
    awsCliImage?: string;
}

const defaults = {
    platform: "linux/amd64",
    instanceType: "t3.micro",
    ingressCidrs: [],
    rootVolumeGiB: 30,
    environment: {},
    secrets: {},
    tags: {},
    awsCliImage: defaultAwsCliImage,
} satisfies Partial<ServiceHostArgs>;

/** The args with every default filled in. */
type Settings = ServiceHostArgs & Required<Pick<ServiceHostArgs, keyof typeof defaults>>;

/**
 * One containerized service on its own EC2 host: the image built and pushed to Docker Hub, the service's secrets in
 * SSM, a host identity that can read only those, a security group without SSH, and an instance that runs the image
 * by digest behind an Elastic IP. A new digest replaces the instance, the new one created before the old is deleted.
 */
export class ServiceHost extends pulumi.ComponentResource {
    /** http://<public IP>:<port> */
    public readonly url: pulumi.Output<string>;
    /** http://<private IP>:<port>, for peers in the VPC. */
    public readonly privateUrl: pulumi.Output<string>;
    public readonly publicIp: pulumi.Output<string>;
    public readonly privateIp: pulumi.Output<string>;
    public readonly instanceId: pulumi.Output<string>;
    /** The pushed image, `docker.io/<repository>@sha256:…`. */
    public readonly imageDigest: pulumi.Output<string>;
    public readonly securityGroupId: pulumi.Output<string>;
    /** SSM path of the service's secrets. */
    public readonly parameterPath: string;

    private readonly serviceName: string;
    private readonly port: number;
    private readonly tags: Record<string, string>;

    constructor(name: string, args: ServiceHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("microservices:index:ServiceHost", name, {}, opts);
        const settings: Settings = { ...defaults, ...args };
        this.serviceName = name;
        this.port = settings.port;
        this.tags = serviceTags(pulumi.getProject(), pulumi.getStack(), name, settings.tags);
        this.parameterPath = parameterPath(pulumi.getProject(), pulumi.getStack(), name);
        const region = aws.getRegionOutput({}, { parent: this }).region;

        const image = this.buildImage(settings);
        const parameters = this.storeSecrets(settings.secrets);
        const instanceProfile = this.createIdentity(region);
        const network = settings.network ?? this.defaultNetwork();
        const securityGroup = this.createSecurityGroup(network.vpcId, settings.ingressCidrs);
        const instance = this.createInstance(settings, {
            userData: this.userData(settings, image.repoDigest, region, Object.keys(parameters)),
            subnetId: network.subnetId,
            securityGroup,
            instanceProfile,
            parameters: Object.values(parameters),
        });
        const address = new aws.ec2.Eip(
            `${name}-eip`,
            { domain: "vpc", instance: instance.id, tags: this.tags },
            { parent: this },
        );

        this.publicIp = address.publicIp;
        this.privateIp = instance.privateIp;
        this.url = pulumi.interpolate`http://${address.publicIp}:${settings.port}`;
        this.privateUrl = pulumi.interpolate`http://${instance.privateIp}:${settings.port}`;
        this.instanceId = instance.id;
        this.imageDigest = image.repoDigest;
        this.securityGroupId = securityGroup.id;
        this.registerOutputs({
            url: this.url,
            privateUrl: this.privateUrl,
            publicIp: this.publicIp,
            privateIp: this.privateIp,
            instanceId: this.instanceId,
            imageDigest: this.imageDigest,
            securityGroupId: this.securityGroupId,
        });
    }

    /** Cloud-config that fetches the secrets and runs the image by digest. Holds no secret: it is stored in clear. */
    private userData(
        settings: Settings,
        digest: pulumi.Output<string>,
        region: pulumi.Output<string>,
        secretNames: string[],
    ): pulumi.Output<string> {
        return pulumi.all([digest, region, pulumi.output(settings.environment)]).apply(([image, regionName, environment]) =>
            renderCloudConfig({
                serviceName: this.serviceName,
                image,
                port: settings.port,
                region: regionName,
                parameterPath: this.parameterPath,
                secretNames,
                environment,
                awsCliImage: settings.awsCliImage,
            }),
        );
    }

    /** The host: the Docker-ready AMI, IMDSv2 only, an encrypted root volume, replaced when its user data changes. */
    private createInstance(
        settings: Settings,
        parts: {
            userData: pulumi.Output<string>;
            subnetId: pulumi.Input<string>;
            securityGroup: aws.ec2.SecurityGroup;
            instanceProfile: aws.iam.InstanceProfile;
            parameters: aws.ssm.Parameter[];
        },
    ): aws.ec2.Instance {
        const ami = aws.ssm.getParameterOutput({ name: amiParameterName(settings.platform) }, { parent: this });
        return new aws.ec2.Instance(
            `${this.serviceName}-host`,
            {
                ami: ami.insecureValue,
                instanceType: settings.instanceType,
                subnetId: parts.subnetId,
                vpcSecurityGroupIds: [parts.securityGroup.id],
                iamInstanceProfile: parts.instanceProfile.name,
                // A hop limit of 1 keeps the service's container away from the host's role credentials.
                metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
                rootBlockDevice: { volumeType: "gp3", volumeSize: settings.rootVolumeGiB, encrypted: true },
                userData: parts.userData,
                userDataReplaceOnChange: true,
                tags: this.tags,
                volumeTags: this.tags,
            },
            // The secrets must exist before the host boots and reads them.
            { parent: this, dependsOn: parts.parameters },
        );
    }

    /** Opens this service's port to another service's host, which calls it on its private address. */
    public allowFrom(peer: ServiceHost): aws.vpc.SecurityGroupIngressRule {
        return new aws.vpc.SecurityGroupIngressRule(
            `${this.serviceName}-from-${peer.serviceName}`,
            {
                securityGroupId: this.securityGroupId,
                referencedSecurityGroupId: peer.securityGroupId,
                ipProtocol: "tcp",
                fromPort: this.port,
                toPort: this.port,
                description: `${peer.serviceName} host to ${this.serviceName}`,
                tags: this.tags,
            },
            { parent: this },
        );
    }

    private buildImage(settings: Settings): docker.Image {
        return new docker.Image(
            `${this.serviceName}-image`,
            {
                imageName: dockerHubImageName(settings.repository, settings.imageTag ?? pulumi.getStack()),
                build: {
                    context: settings.context,
                    dockerfile: `${settings.context}/Dockerfile`,
                    platform: settings.platform,
                },
                registry: { server: "docker.io", username: settings.registry.username, password: settings.registry.token },
            },
            { parent: this },
        );
    }

    /** One SecureString parameter per secret, under this service's path, keyed by variable name. */
    private storeSecrets(secrets: Record<string, pulumi.Input<string>>): Record<string, aws.ssm.Parameter> {
        const parameters: Record<string, aws.ssm.Parameter> = {};
        for (const variable of Object.keys(secrets).sort()) {
            parameters[variable] = new aws.ssm.Parameter(
                `${this.serviceName}-${variable.toLowerCase().replace(/_/g, "-")}`,
                {
                    name: `${this.parameterPath}/${variable}`,
                    type: "SecureString",
                    value: pulumi.secret(secrets[variable]),
                    description: `${variable} of the ${this.serviceName} service`,
                    tags: this.tags,
                },
                { parent: this },
            );
        }
        return parameters;
    }

    /** A role the host takes: SSM Session Manager (instead of SSH) and read access to its own parameters only. */
    private createIdentity(region: pulumi.Output<string>): aws.iam.InstanceProfile {
        const role = new aws.iam.Role(
            `${this.serviceName}-role`,
            { assumeRolePolicy: JSON.stringify(ec2AssumeRolePolicy()), tags: this.tags },
            { parent: this },
        );
        const partition = aws.getPartitionOutput({}, { parent: this }).partition;
        new aws.iam.RolePolicyAttachment(
            `${this.serviceName}-session-manager`,
            { role: role.name, policyArn: pulumi.interpolate`arn:${partition}:iam::aws:policy/AmazonSSMManagedInstanceCore` },
            { parent: this },
        );
        const accountId = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
        new aws.iam.RolePolicy(
            `${this.serviceName}-read-parameters`,
            {
                role: role.name,
                policy: pulumi
                    .all([partition, region, accountId])
                    .apply(([p, r, a]) => JSON.stringify(parameterReadPolicy(parameterPathArn(p, r, a, this.parameterPath)))),
            },
            { parent: this },
        );
        return new aws.iam.InstanceProfile(
            `${this.serviceName}-profile`,
            { role: role.name, tags: this.tags },
            { parent: this },
        );
    }

    /** The region's default VPC and, for a stable choice, the first of its default subnets by id. */
    private defaultNetwork() {
        const vpcId = aws.ec2.getVpcOutput({ default: true }, { parent: this }).id;
        const subnets = aws.ec2.getSubnetsOutput(
            {
                filters: [
                    { name: "vpc-id", values: [vpcId] },
                    { name: "default-for-az", values: ["true"] },
                ],
            },
            { parent: this },
        );
        return { vpcId, subnetId: subnets.ids.apply((ids) => [...ids].sort()[0]) };
    }

    /** The service port open to the configured CIDRs, all egress, and no SSH. */
    private createSecurityGroup(vpcId: pulumi.Input<string>, ingressCidrs: string[]): aws.ec2.SecurityGroup {
        const group = new aws.ec2.SecurityGroup(
            `${this.serviceName}-sg`,
            { vpcId, description: `${this.serviceName} service host`, tags: this.tags },
            { parent: this },
        );
        for (const cidr of ingressCidrs) {
            const family = cidr.includes(":") ? { cidrIpv6: cidr } : { cidrIpv4: cidr };
            new aws.vpc.SecurityGroupIngressRule(
                `${this.serviceName}-ingress-${cidr.replace(/[:/]/g, "-")}`,
                {
                    securityGroupId: group.id,
                    ...family,
                    ipProtocol: "tcp",
                    fromPort: this.port,
                    toPort: this.port,
                    description: `${this.serviceName} port from ${cidr}`,
                    tags: this.tags,
                },
                { parent: this },
            );
        }
        new aws.vpc.SecurityGroupEgressRule(
            `${this.serviceName}-egress`,
            {
                securityGroupId: group.id,
                cidrIpv4: "0.0.0.0/0",
                ipProtocol: "-1",
                description: "image pulls, SSM, databases and log sinks",
                tags: this.tags,
            },
            { parent: this },
        );
        return group;
    }
}
