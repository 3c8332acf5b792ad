import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { acmeDirectories, defaultAwsCliImage, defaultCosignImage, defaultProxyImage, renderUserData } from "./host/bootstrap";
import { ec2AssumeRolePolicy, hostPolicy, parameterPathArn, secretsKeyPolicy } from "./identity/iam";
import { ImageSource, serviceImage } from "./image";
import { parameterPath, releaseRecordPath, serviceTags } from "./naming";
import { amiParameterName, Platform } from "./platform";
import { releaseParameters, renderReleaseDocument } from "./release/document";
import { ImageSigner } from "./release/imageSigner";
import { ManagedNodeReady, ReleaseGate } from "./release/waiters";

export interface ServiceHostArgs {
    /** The image to run: `{ build: {...} }` to build and push it here, or `{ digest }` for one already pushed. */
    image: ImageSource;
    /** Platform the image is built for; the AMI and instance type must match it. @default "linux/amd64" */
    platform?: Platform;
    /**
     * Port the container listens on. The host's proxy serves the service in HTTPS on 443 to `ingressCidrs`, and in
     * plain HTTP on this port to peers allowed with `allowFrom`. Up to 45535.
     */
    port: number;
    /** Path that answers 200 once the service is ready; a release waits for it. @default "/health" */
    healthPath?: string;
    /** Plain environment of the container, sent with each release. Never put a secret here. @default {} */
    environment?: Record<string, pulumi.Input<string>>;
    /**
     * Secret environment of the container, by variable name. Each becomes an SSM SecureString parameter encrypted
     * with this service's own KMS key, and reaches the container as a file named by `NAME_FILE`. @default {}
     */
    secrets?: Record<string, pulumi.Input<string>>;
    /** @default "t3.micro" */
    instanceType?: pulumi.Input<string>;
    /**
     * CIDRs (IPv4 or IPv6) allowed to reach HTTPS on 443. Port 80 (a redirect to HTTPS, and the CA's HTTP challenges,
     * which come from addresses it does not publish) is then open to all. Empty: no public port at all; the service
     * is reachable only from peers allowed with `allowFrom`. @default []
     */
    ingressCidrs?: string[];
    /**
     * The DNS name clients use, whose A record must point at the Elastic IP (the program creates it when `dnsZoneId`
     * is given). Unset: the certificate names the Elastic IP itself (Let's Encrypt's shortlived profile).
     * @default none
     */
    domain?: string;
    /** A Route 53 public hosted zone in which to create `domain`'s A record. @default none: create it yourself */
    dnsZoneId?: pulumi.Input<string>;
    /** ACME directory the host's proxy gets its certificate from. @default Let's Encrypt production */
    acmeDirectory?: string;
    /** Contact address the CA may write to. @default none */
    acmeEmail?: string;
    /** VPC and public subnet of the host. @default the region's default VPC and its first default subnet */
    network?: { vpcId: pulumi.Input<string>; subnetId: pulumi.Input<string> };
    /**
     * The host's AMI. Unset: the current ECS-optimized Amazon Linux 2023 AMI, resolved when the host is created and
     * then kept, so AWS's weekly AMI releases replace nothing; set an id to move hosts to another AMI on purpose.
     * @default resolved once
     */
    ami?: string;
    /** Size of the encrypted gp3 root volume; the AMI needs at least 30. @default 30 */
    rootVolumeGiB?: number;
    /**
     * The IAM roles or users that run `pulumi up` for this stack. The service's secrets key lets these, and only these,
     * administer it and use it through SSM.
     */
    deployerArns: string[];
    /** Roles that may also decrypt the secrets through SSM, e.g. a read-only drift check's. @default [] */
    secretReaderArns?: string[];
    /** Extra tags on every resource; project, stack, service and Name are always set. @default {} */
    tags?: Record<string, string>;
    /** Seconds a new container has to answer its health check before the release fails. @default 120 */
    healthTimeoutSeconds?: number;
    /** Seconds a new host has to boot and come online in Systems Manager. @default 600 */
    hostReadyTimeoutSeconds?: number;
    /**
     * Seconds the host has, once online, to start a release: on a new host its bootstrap (the helper images' pulls)
     * comes first. @default 300
     */
    releaseStartTimeoutSeconds?: number;
    /** Seconds a started release has to pull the image and pass its health check. @default 420 */
    releaseTimeoutSeconds?: number;
    /** The reverse proxy's image, pinned by digest. @default caddy:<version>-alpine@sha256:<pinned> */
    proxyImage?: string;
    /** Image that runs the AWS CLI on the host, pinned by digest. @default public.ecr.aws/aws-cli/aws-cli:<version>@sha256:<pinned> */
    awsCliImage?: string;
    /**
     * Who must have signed the image: the host verifies its signature before it runs it, and refuses an unsigned or
     * foreign one. A GitHub workflow's URL (keyless), a PEM public key, or "none" (see release/imageSigner.ts). No
     * default: running unverified images is a choice.
     */
    imageSigner: ImageSigner;
    /** Image that runs cosign on the host, pinned by digest. @default ghcr.io/sigstore/cosign/cosign:<version>@sha256:<pinned> */
    cosignImage?: string;
}

const defaults = {
    platform: "linux/amd64",
    healthPath: "/health",
    instanceType: "t3.micro",
    ingressCidrs: [],
    rootVolumeGiB: 30,
    environment: {},
    secrets: {},
    tags: {},
    secretReaderArns: [],
    // Together at most 22 minutes a service; a first `up` waits for tasks, then requests: see docs/releases.md.
    healthTimeoutSeconds: 120,
    hostReadyTimeoutSeconds: 600,
    releaseStartTimeoutSeconds: 300,
    releaseTimeoutSeconds: 420,
    proxyImage: defaultProxyImage,
    awsCliImage: defaultAwsCliImage,
    acmeDirectory: acmeDirectories.letsencrypt,
    cosignImage: defaultCosignImage,
} satisfies Partial<ServiceHostArgs>;

/** The args with every default filled in. */
type Settings = ServiceHostArgs & Required<Pick<ServiceHostArgs, keyof typeof defaults>>;

/**
 * One containerized service on its own long-lived EC2 host. The host boots with a reverse proxy and a release
 * script, nothing else. The proxy serves HTTPS with a certificate it obtains and renews itself, and keeps it in a
 * store the service's next host reads before it starts. Each release is an SSM association that swaps containers
 * behind the proxy without downtime, and `pulumi up` waits for the host to record it healthy; a release that is not
 * healthy fails `pulumi up` while the previous one keeps serving. The Elastic IP moves to a new host only once that
 * host's release succeeded.
 */
export class ServiceHost extends pulumi.ComponentResource {
    /** https://<domain>, or https://<Elastic IP> without a domain. */
    public readonly url: pulumi.Output<string>;
    /** http://<private IP>:<port>, for peers in the VPC; known only once the host's release is healthy. */
    public readonly privateUrl: pulumi.Output<string>;
    public readonly publicIp: pulumi.Output<string>;
    public readonly instanceId: pulumi.Output<string>;
    /** The image the host runs, `repository@sha256:…`. */
    public readonly imageDigest: pulumi.Output<string>;
    /** The release the host serves: a hash of the image, the settings and the secrets' versions. */
    public readonly releaseId: pulumi.Output<string>;
    public readonly securityGroupId: pulumi.Output<string>;
    /** SSM path of the service's secrets. */
    public readonly parameterPath: string;
    /** SSM path under which the service's hosts record their releases, one parameter per instance. */
    private readonly recordPath: string;
    /** SSM path of the certificate store the service's hosts share. */
    private readonly certificateStorePath: string;

    private readonly serviceName: string;
    private readonly port: number;
    private readonly tags: Record<string, string>;
    private readonly region: pulumi.Output<string>;
    private readonly accountId: pulumi.Output<string>;
    private readonly partition: pulumi.Output<string>;

    constructor(name: string, args: ServiceHostArgs, opts?: pulumi.ComponentResourceOptions) {
        super("microservices:index:ServiceHost", name, {}, opts);
        // An arg given as undefined (an unset stack setting) keeps its default.
        const given = Object.fromEntries(Object.entries(args).filter(([, value]) => value !== undefined)) as ServiceHostArgs;
        const settings: Settings = { ...defaults, ...given };
        this.serviceName = name;
        this.port = settings.port;
        this.tags = serviceTags(pulumi.getProject(), pulumi.getStack(), name, settings.tags);
        this.parameterPath = parameterPath(pulumi.getProject(), pulumi.getStack(), name);
        this.recordPath = releaseRecordPath(pulumi.getProject(), pulumi.getStack(), name);
        this.certificateStorePath = `${this.parameterPath}/certificates`;
        this.region = aws.getRegionOutput({}, { parent: this }).region;
        this.accountId = aws.getCallerIdentityOutput({}, { parent: this }).accountId;
        this.partition = aws.getPartitionOutput({}, { parent: this }).partition;

        const image = serviceImage(name, settings.image, settings.platform, this);
        const role = this.createRole();
        const { key, parameters } = this.storeSecrets(settings, role);
        const network = settings.network ?? this.defaultNetwork();
        const securityGroup = this.createSecurityGroup(network.vpcId, settings.ingressCidrs);
        const address = new aws.ec2.Eip(`${name}-eip`, { domain: "vpc", tags: this.tags }, { parent: this });
        if (settings.domain && settings.dnsZoneId) this.createRecord(settings.domain, settings.dnsZoneId, address);
        const host = this.createHost(settings, role, network.subnetId, securityGroup, address, key);
        const release = this.release(settings, image, parameters, host);
        const association = this.assignAddress(address, host, release);

        this.publicIp = address.publicIp;
        this.url = settings.domain ? pulumi.output(`https://${settings.domain}`) : pulumi.interpolate`https://${address.publicIp}`;
        // Known once this host took the address after its first healthy release, so a peer's release that uses it
        // waits for a new host to serve; a release on the same host changes neither, so the peer has nothing to do.
        this.privateUrl = pulumi
            .all([host.privateIp, association.id])
            .apply(([ip]) => `http://${ip}:${settings.port}`);
        this.instanceId = host.id;
        this.imageDigest = image;
        this.releaseId = release.releaseId;
        this.securityGroupId = securityGroup.id;
        this.registerOutputs({
            url: this.url,
            privateUrl: this.privateUrl,
            publicIp: this.publicIp,
            instanceId: this.instanceId,
            imageDigest: this.imageDigest,
            releaseId: this.releaseId,
            securityGroupId: this.securityGroupId,
        });
    }

    /**
     * Opens this service's port to another service's host, which calls it on its private address in plain HTTP: the
     * certificate names the public name, not the private address, and the traffic stays in the VPC.
     */
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

    private arn(path: string): pulumi.Output<string> {
        return pulumi.all([this.partition, this.region, this.accountId]).apply(([p, r, a]) => parameterPathArn(p, r, a, path));
    }

    /**
     * The host's role: the SSM agent (releases, Session Manager instead of SSH), its own parameters and records, and
     * its service's certificate store.
     */
    private createRole(): aws.iam.Role {
        const role = new aws.iam.Role(
            `${this.serviceName}-role`,
            { assumeRolePolicy: JSON.stringify(ec2AssumeRolePolicy()), tags: this.tags },
            { parent: this },
        );
        new aws.iam.RolePolicy(
            `${this.serviceName}-host-policy`,
            {
                role: role.name,
                policy: pulumi
                    .all([this.arn(this.parameterPath), this.arn(this.recordPath), this.arn(this.certificateStorePath)])
                    .apply(([parameters, records, store]) => JSON.stringify(hostPolicy(parameters, records, store))),
            },
            { parent: this },
        );
        return role;
    }

    /**
     * The service's own KMS key, which only this host's role (and the deployer, through SSM) can use, and one
     * SecureString parameter per secret encrypted with it, keyed by variable name. The key also encrypts the
     * certificate store.
     */
    private storeSecrets(settings: Settings, role: aws.iam.Role) {
        const secrets = settings.secrets;
        const key = new aws.kms.Key(
            `${this.serviceName}-secrets-key`,
            {
                description: `Encrypts the ${this.serviceName} service's secrets in SSM (${pulumi.getStack()})`,
                enableKeyRotation: true,
                deletionWindowInDays: 7,
                policy: pulumi
                    .all([
                        this.partition,
                        this.accountId,
                        this.region,
                        role.arn,
                        this.arn(this.parameterPath),
                        this.arn(this.certificateStorePath),
                    ])
                    .apply(([partition, accountId, region, hostRole, pathArn, storeArn]) =>
                        JSON.stringify(
                            secretsKeyPolicy({
                                partition,
                                accountId,
                                region,
                                deployerArns: settings.deployerArns,
                                readerArns: settings.secretReaderArns,
                                hostRoleArn: hostRole,
                                parameterPathArn: pathArn,
                                certificateStoreArn: storeArn,
                            }),
                        ),
                    ),
                tags: this.tags,
            },
            { parent: this },
        );
        new aws.kms.Alias(
            `${this.serviceName}-secrets-key-alias`,
            { name: `alias${this.parameterPath}`, targetKeyId: key.keyId },
            { parent: this },
        );
        const parameters: Record<string, aws.ssm.Parameter> = {};
        for (const variable of Object.keys(secrets).sort()) {
            parameters[variable] = new aws.ssm.Parameter(
                `${this.serviceName}-${variable.toLowerCase().replace(/_/g, "-")}`,
                {
                    name: `${this.parameterPath}/${variable}`,
                    type: "SecureString",
                    keyId: key.arn,
                    value: pulumi.secret(secrets[variable]),
                    description: `${variable} of the ${this.serviceName} service`,
                    tags: this.tags,
                },
                { parent: this },
            );
        }
        return { key, parameters };
    }

    /**
     * The long-lived host: the Docker-ready AMI, IMDSv2 only, an encrypted root volume, and user data that only
     * bootstraps it (proxy and release script). A new host is created before the old one is deleted, and takes
     * traffic only once its release succeeded. Its user data names the Elastic IP (a certificate's subject, and how
     * the host knows it holds the address) and the key of the certificate store, neither of which ever changes.
     */
    private createHost(
        settings: Settings,
        role: aws.iam.Role,
        subnetId: pulumi.Input<string>,
        securityGroup: aws.ec2.SecurityGroup,
        address: aws.ec2.Eip,
        key: aws.kms.Key,
    ): aws.ec2.Instance {
        const profile = new aws.iam.InstanceProfile(
            `${this.serviceName}-profile`,
            { role: role.name, tags: this.tags },
            { parent: this },
        );
        const ami =
            settings.ami ?? aws.ssm.getParameterOutput({ name: amiParameterName(settings.platform) }, { parent: this }).insecureValue;
        const userDataBase64 = pulumi.all([this.region, address.publicIp, key.arn]).apply(([region, publicIp, keyArn]) =>
            renderUserData({
                serviceName: this.serviceName,
                port: settings.port,
                healthPath: settings.healthPath,
                region,
                recordPath: this.recordPath,
                proxyImage: settings.proxyImage,
                awsCliImage: settings.awsCliImage,
                tls: {
                    siteName: settings.domain ?? publicIp,
                    publicIp,
                    acmeDirectory: settings.acmeDirectory,
                    acmeEmail: settings.acmeEmail,
                    storePath: this.certificateStorePath,
                    storeKeyArn: keyArn,
                },
                cosignImage: settings.cosignImage,
            }),
        );
        return new aws.ec2.Instance(
            `${this.serviceName}-host`,
            {
                ami,
                instanceType: settings.instanceType,
                subnetId,
                // A subnet of the user's own maps no public address at launch, and the Elastic IP comes only after the
                // first release: without one now, the host could not reach Systems Manager to get that release.
                associatePublicIpAddress: true,
                vpcSecurityGroupIds: [securityGroup.id],
                iamInstanceProfile: profile.name,
                // A hop limit of 1 keeps the service's container away from the host's role credentials.
                metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 1 },
                rootBlockDevice: { volumeType: "gp3", volumeSize: settings.rootVolumeGiB, encrypted: true },
                userDataBase64,
                userDataReplaceOnChange: true,
                tags: this.tags,
                volumeTags: this.tags,
            },
            {
                parent: this,
                // Without a pinned AMI, the one resolved at creation stays: AWS's new AMIs replace no host by surprise.
                ignoreChanges: settings.ami ? [] : ["ami"],
                // The provider would stop and start the host to resize it; a new host takes over only once healthy.
                replaceOnChanges: ["instanceType"],
            },
        );
    }

    /**
     * A release: the SSM document that runs the host's release script, an association that runs it with this
     * release's inputs (replaced, so run again, whenever they change), and the gate that waits for the host to record
     * the outcome. The association waits for the host to be an online managed node. The host writes its record itself
     * (a parameter Pulumi does not manage, so a refresh sees no drift in it); the host's wait removes it with the host.
     */
    private release(
        settings: Settings,
        image: pulumi.Output<string>,
        parameters: Record<string, aws.ssm.Parameter>,
        host: aws.ec2.Instance,
    ): ReleaseGate {
        const name = this.serviceName;
        const content = renderReleaseDocument(name);
        const document = new aws.ssm.Document(
            `${name}-release-document`,
            { documentType: "Command", documentFormat: "JSON", content, tags: this.tags },
            { parent: this },
        );
        const managedNode = new ManagedNodeReady(
            `${name}-managed-node`,
            {
                instanceIds: pulumi.all([host.id]),
                recordPath: this.recordPath,
                region: this.region,
                timeoutSeconds: settings.hostReadyTimeoutSeconds,
                pollSeconds: 5,
            },
            { parent: this },
        );
        const secretVersions = Object.fromEntries(
            Object.entries(parameters).map(([variable, parameter]) => [
                variable,
                pulumi.all([parameter.name, parameter.version]).apply(([parameterName, version]) => ({
                    parameter: parameterName,
                    version,
                })),
            ]),
        );
        const inputs = pulumi
            .all([image, pulumi.output(settings.environment), pulumi.output(secretVersions)])
            .apply(([imageDigest, environment, secrets]) =>
                releaseParameters(content, {
                    image: imageDigest,
                    settings: { ...environment, PORT: String(settings.port) },
                    secrets,
                    healthTimeoutSeconds: settings.healthTimeoutSeconds,
                    imageSigner: settings.imageSigner,
                }),
            );
        // Named after the release, so the gate can find it without taking its id (see ReleaseGateInputs).
        const associationName = inputs.releaseId.apply((releaseId) => `${name}-release-${releaseId}`);
        const association = new aws.ssm.Association(
            `${name}-release`,
            {
                name: document.name,
                associationName,
                documentVersion: document.latestVersion,
                targets: [{ key: "InstanceIds", values: managedNode.instanceIds }],
                parameters: inputs,
                // Rate controls for when a release targets several hosts: one at a time, stop at the first failure.
                maxConcurrency: "1",
                maxErrors: "0",
                tags: this.tags,
            },
            {
                parent: this,
                // The provider updates an association in place and waits only on create: a release replaces it. The
                // old one goes first, so that no association of an older release is left to run on the host again.
                replaceOnChanges: ["parameters", "documentVersion", "targets"],
                deleteBeforeReplace: true,
            },
        );
        return new ReleaseGate(
            `${name}-release-gate`,
            {
                serviceName: name,
                associationName,
                instanceIds: managedNode.instanceIds,
                recordPath: this.recordPath,
                releaseId: inputs.releaseId,
                region: this.region,
                startTimeoutSeconds: settings.releaseStartTimeoutSeconds,
                timeoutSeconds: settings.releaseTimeoutSeconds,
                pollSeconds: 5,
                statusCommand: `scripts/release-status.sh ${pulumi.getStack()} ${name}`,
            },
            // Ordered after the association, but without a value from it: a replaced association replaces nothing here.
            { parent: this, dependsOn: [association] },
        );
    }

    /** The domain's A record, pointing at the Elastic IP, which never moves to another allocation. */
    private createRecord(domain: string, zoneId: pulumi.Input<string>, address: aws.ec2.Eip): aws.route53.Record {
        return new aws.route53.Record(
            `${this.serviceName}-dns`,
            { zoneId, name: domain, type: "A", ttl: 300, records: [address.publicIp] },
            { parent: this },
        );
    }

    /**
     * The public address, moved to a host only once its release succeeded; the old host keeps it until then. The
     * association takes the host's id, not the gate's: a release on the same host then plans no step here, where a
     * value from the gate would be unknown in every preview of a release, and the address association ForceNew on it.
     */
    private assignAddress(address: aws.ec2.Eip, host: aws.ec2.Instance, release: ReleaseGate): aws.ec2.EipAssociation {
        return new aws.ec2.EipAssociation(
            `${this.serviceName}-address`,
            // A VPC address moves from the old host to the new one in one call; the old association's deletion then
            // finds nothing to undo.
            { allocationId: address.allocationId, instanceId: host.id, allowReassociation: true },
            { parent: this, dependsOn: [release] },
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

    /**
     * HTTPS open to the configured CIDRs, and with them port 80 to all: Let's Encrypt validates an HTTP challenge from
     * addresses it does not publish, and port 80 answers nothing else than those and a redirect to HTTPS. All egress,
     * and no SSH. The service's own port faces no CIDR, only the peers `allowFrom` names.
     */
    private createSecurityGroup(vpcId: pulumi.Input<string>, ingressCidrs: string[]): aws.ec2.SecurityGroup {
        const group = new aws.ec2.SecurityGroup(
            `${this.serviceName}-sg`,
            { vpcId, description: `${this.serviceName} service host`, tags: this.tags },
            { parent: this },
        );
        const open = (kind: string, port: number, cidr: string, what: string) => {
            const family = cidr.includes(":") ? { cidrIpv6: cidr } : { cidrIpv4: cidr };
            new aws.vpc.SecurityGroupIngressRule(
                `${this.serviceName}-${kind}-${cidr.replace(/[:/]/g, "-")}`,
                {
                    securityGroupId: group.id,
                    ...family,
                    ipProtocol: "tcp",
                    fromPort: port,
                    toPort: port,
                    description: `${what} from ${cidr}`,
                    tags: this.tags,
                },
                { parent: this },
            );
        };
        for (const cidr of ingressCidrs) open("https", 443, cidr, `${this.serviceName} HTTPS`);
        if (ingressCidrs.length > 0) {
            for (const cidr of ["0.0.0.0/0", "::/0"]) open("http", 80, cidr, "redirect to HTTPS and ACME HTTP challenges");
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
