// EC2 on moto, with real hosts behind the instances and real address translation behind the Elastic IPs.
import {
    AllocateAddressCommand,
    AssociateAddressCommand,
    AuthorizeSecurityGroupEgressCommand,
    AuthorizeSecurityGroupIngressCommand,
    CreateSecurityGroupCommand,
    CreateTagsCommand,
    DeleteSecurityGroupCommand,
    DescribeAddressesCommand,
    DescribeImagesCommand,
    DescribeInstancesCommand,
    DescribeSecurityGroupsCommand,
    DisassociateAddressCommand,
    IpPermission,
    ReleaseAddressCommand,
    RevokeSecurityGroupEgressCommand,
    RevokeSecurityGroupIngressCommand,
    RunInstancesCommand,
    TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import { GetInstanceProfileCommand } from "@aws-sdk/client-iam";
import { Properties } from "../server";
import { Context, isAwsError, ResourceType, tagList } from "../resource";

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The user data's bytes as EC2 gets them: `userDataBase64` decoded, or `userData` as UTF-8. */
export function userDataBytes(inputs: Properties): Buffer {
    if (typeof inputs.userDataBase64 === "string") return Buffer.from(inputs.userDataBase64, "base64");
    return Buffer.from(String(inputs.userData ?? ""), "utf8");
}

export const instance: ResourceType = {
    async create(inputs, context) {
        const { cloud } = context;
        const ec2 = cloud.clients.ec2;
        const ami = inputs.ami as string;
        const { Images } = await ec2.send(new DescribeImagesCommand({ ImageIds: [ami] }));
        const rootDevice = Images?.[0]?.RootDeviceName ?? "/dev/xvda";
        const root = (inputs.rootBlockDevice ?? {}) as { volumeSize?: number; volumeType?: string; encrypted?: boolean };
        const metadata = (inputs.metadataOptions ?? {}) as { httpEndpoint?: string; httpTokens?: string; httpPutResponseHopLimit?: number };
        const userData = userDataBytes(inputs);
        const groups = (inputs.vpcSecurityGroupIds ?? []) as string[];
        const network =
            inputs.associatePublicIpAddress === undefined
                ? { SubnetId: inputs.subnetId as string, SecurityGroupIds: groups }
                : {
                      NetworkInterfaces: [
                          {
                              DeviceIndex: 0,
                              SubnetId: inputs.subnetId as string,
                              Groups: groups,
                              AssociatePublicIpAddress: inputs.associatePublicIpAddress as boolean,
                          },
                      ],
                  };
        const profileName = inputs.iamInstanceProfile as string | undefined;
        const answer = await ec2.send(
            new RunInstancesCommand({
                ImageId: ami,
                InstanceType: inputs.instanceType as never,
                MinCount: 1,
                MaxCount: 1,
                ...network,
                IamInstanceProfile: profileName ? { Name: profileName } : undefined,
                MetadataOptions: {
                    HttpEndpoint: metadata.httpEndpoint as never,
                    HttpTokens: metadata.httpTokens as never,
                    HttpPutResponseHopLimit: metadata.httpPutResponseHopLimit,
                },
                BlockDeviceMappings: [
                    { DeviceName: rootDevice, Ebs: { VolumeSize: root.volumeSize, VolumeType: root.volumeType as never, Encrypted: root.encrypted } },
                ],
                UserData: userData.toString("base64"),
                TagSpecifications: [
                    { ResourceType: "instance", Tags: tagList(inputs.tags) },
                    { ResourceType: "volume", Tags: tagList(inputs.volumeTags) },
                ],
            }),
        );
        const created = answer.Instances![0];
        const instanceId = created.InstanceId!;
        const roleName = profileName
            ? (await cloud.clients.iam.send(new GetInstanceProfileCommand({ InstanceProfileName: profileName }))).InstanceProfile?.Roles?.[0]
                  ?.RoleName
            : undefined;
        await cloud.launch({
            instanceId,
            privateIp: created.PrivateIpAddress!,
            publicIp: created.PublicIpAddress,
            userData,
            roleName,
        });
        return { id: instanceId, outs: instanceOutputs(inputs, created, context) };
    },
    async read(id, state, context) {
        const { Reservations } = await context.cloud.clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
        const found = Reservations?.[0]?.Instances?.[0];
        if (!found || found.State?.Name === "terminated") return undefined;
        return instanceOutputs(state, found, context);
    },
    async update(id, olds, news, { cloud }) {
        const changed = Object.keys({ ...olds, ...news }).filter(
            (key) => key in news && JSON.stringify(olds[key]) !== JSON.stringify(news[key]),
        );
        const unsupported = changed.filter((key) => !["tags", "volumeTags", "userDataReplaceOnChange"].includes(key));
        if (unsupported.length > 0) throw new Error(`the rig does not update instances in place for ${unsupported.join(", ")}`);
        if (changed.includes("tags")) await cloud.clients.ec2.send(new CreateTagsCommand({ Resources: [id], Tags: tagList(news.tags) }));
        return { ...olds, ...news, tagsAll: news.tags ?? {} };
    },
    async delete(id, _state, { cloud }) {
        await cloud.clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
        await cloud.terminate(id);
    },
};

function instanceOutputs(
    inputs: Properties,
    found: { InstanceId?: string; PrivateIpAddress?: string; PublicIpAddress?: string; Placement?: { AvailabilityZone?: string }; SubnetId?: string },
    { partition, region, account }: Context,
): Properties {
    const dns = (ip?: string) => (ip ? `ip-${ip.replace(/\./g, "-")}.${region}.compute.internal` : "");
    return {
        ...inputs,
        arn: `arn:${partition}:ec2:${region}:${account}:instance/${found.InstanceId}`,
        privateIp: found.PrivateIpAddress,
        privateDns: dns(found.PrivateIpAddress),
        publicIp: found.PublicIpAddress ?? "",
        associatePublicIpAddress: Boolean(found.PublicIpAddress),
        availabilityZone: found.Placement?.AvailabilityZone,
        subnetId: found.SubnetId ?? inputs.subnetId,
        instanceState: "running",
        tagsAll: inputs.tags ?? {},
    };
}

export const securityGroup: ResourceType = {
    async create(inputs, { cloud, partition, region, account }) {
        const ec2 = cloud.clients.ec2;
        const { GroupId } = await ec2.send(
            new CreateSecurityGroupCommand({
                GroupName: inputs.name as string,
                Description: (inputs.description as string | undefined) ?? "Managed by Pulumi",
                VpcId: inputs.vpcId as string,
                TagSpecifications: [{ ResourceType: "security-group", Tags: tagList(inputs.tags) }],
            }),
        );
        // terraform-provider-aws removes the egress rule AWS adds to every new group, so the group holds only the
        // rules the program declares (resource_aws_security_group.go, "revoke the default egress rule").
        await ec2.send(
            new RevokeSecurityGroupEgressCommand({
                GroupId,
                IpPermissions: [{ IpProtocol: "-1", IpRanges: [{ CidrIp: "0.0.0.0/0" }] }],
            }),
        );
        return {
            id: GroupId!,
            outs: { ...inputs, arn: `arn:${partition}:ec2:${region}:${account}:security-group/${GroupId}`, ownerId: account, tagsAll: inputs.tags ?? {} },
        };
    },
    async read(id, state, { cloud }) {
        try {
            await cloud.clients.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] }));
            return state;
        } catch (error) {
            if (isAwsError(error, "InvalidGroup.NotFound")) return undefined;
            throw error;
        }
    },
    async update(id, olds, news, { cloud }) {
        if (JSON.stringify(olds.tags) !== JSON.stringify(news.tags)) {
            await cloud.clients.ec2.send(new CreateTagsCommand({ Resources: [id], Tags: tagList(news.tags) }));
        }
        return { ...olds, ...news, tagsAll: news.tags ?? {} };
    },
    async delete(id, _state, { cloud }) {
        // As the real provider does, wait out a network interface that still holds the group.
        for (let attempt = 0; ; attempt++) {
            try {
                await cloud.clients.ec2.send(new DeleteSecurityGroupCommand({ GroupId: id }));
                return;
            } catch (error) {
                if (!isAwsError(error, "DependencyViolation") || attempt >= 30) throw error;
                await wait(1000);
            }
        }
    },
};

/** The rule as EC2's IpPermissions, from a vpc.SecurityGroup*Rule's inputs. */
function permission(inputs: Properties): IpPermission {
    const description = inputs.description as string | undefined;
    return {
        IpProtocol: inputs.ipProtocol as string,
        FromPort: inputs.fromPort as number | undefined,
        ToPort: inputs.toPort as number | undefined,
        IpRanges: inputs.cidrIpv4 ? [{ CidrIp: inputs.cidrIpv4 as string, Description: description }] : undefined,
        Ipv6Ranges: inputs.cidrIpv6 ? [{ CidrIpv6: inputs.cidrIpv6 as string, Description: description }] : undefined,
        UserIdGroupPairs: inputs.referencedSecurityGroupId
            ? [{ GroupId: inputs.referencedSecurityGroupId as string, Description: description }]
            : undefined,
    };
}

function securityGroupRule(direction: "ingress" | "egress"): ResourceType {
    return {
        async create(inputs, { cloud, partition, region, account }) {
            const request = {
                GroupId: inputs.securityGroupId as string,
                IpPermissions: [permission(inputs)],
                TagSpecifications: [{ ResourceType: "security-group-rule" as const, Tags: tagList(inputs.tags) }],
            };
            const answer =
                direction === "ingress"
                    ? await cloud.clients.ec2.send(new AuthorizeSecurityGroupIngressCommand(request))
                    : await cloud.clients.ec2.send(new AuthorizeSecurityGroupEgressCommand(request));
            const ruleId = answer.SecurityGroupRules![0].SecurityGroupRuleId!;
            return {
                id: ruleId,
                outs: {
                    ...inputs,
                    securityGroupRuleId: ruleId,
                    arn: `arn:${partition}:ec2:${region}:${account}:security-group-rule/${ruleId}`,
                    tagsAll: inputs.tags ?? {},
                },
            };
        },
        async read(_id, state) {
            return state;
        },
        async update(id) {
            throw new Error(`the rig does not update security group rule ${id} in place`);
        },
        async delete(id, state, { cloud }) {
            const request = { GroupId: state.securityGroupId as string, SecurityGroupRuleIds: [id] };
            if (direction === "ingress") await cloud.clients.ec2.send(new RevokeSecurityGroupIngressCommand(request));
            else await cloud.clients.ec2.send(new RevokeSecurityGroupEgressCommand(request));
        },
    };
}

export const securityGroupIngressRule = securityGroupRule("ingress");
export const securityGroupEgressRule = securityGroupRule("egress");

export const eip: ResourceType = {
    async create(inputs, { cloud, region }) {
        const answer = await cloud.clients.ec2.send(
            new AllocateAddressCommand({
                Domain: "vpc",
                Address: cloud.allocatePublicIp(),
                TagSpecifications: [{ ResourceType: "elastic-ip", Tags: tagList(inputs.tags) }],
            }),
        );
        const publicIp = answer.PublicIp!;
        return {
            id: answer.AllocationId!,
            outs: {
                ...inputs,
                allocationId: answer.AllocationId,
                publicIp,
                publicDns: `ec2-${publicIp.replace(/\./g, "-")}.${region}.compute.amazonaws.com`,
                domain: "vpc",
                tagsAll: inputs.tags ?? {},
            },
        };
    },
    async read(id, state, { cloud }) {
        const { Addresses } = await cloud.clients.ec2.send(new DescribeAddressesCommand({ AllocationIds: [id] })).catch((error) => {
            if (isAwsError(error, "InvalidAllocationID.NotFound")) return { Addresses: [] };
            throw error;
        });
        return Addresses?.length ? state : undefined;
    },
    async update(id, olds, news, { cloud }) {
        if (JSON.stringify(olds.tags) !== JSON.stringify(news.tags)) {
            await cloud.clients.ec2.send(new CreateTagsCommand({ Resources: [id], Tags: tagList(news.tags) }));
        }
        return { ...olds, ...news, tagsAll: news.tags ?? {} };
    },
    async delete(id, state, { cloud }) {
        await cloud.clients.ec2.send(new ReleaseAddressCommand({ AllocationId: id }));
        await cloud.network.stopTranslating(state.publicIp as string);
    },
};

/** The address an allocation has, and the association it is in, as EC2 sees them now. */
async function address(allocationId: string, context: Context) {
    const { Addresses } = await context.cloud.clients.ec2.send(new DescribeAddressesCommand({ AllocationIds: [allocationId] }));
    return Addresses![0];
}

export const eipAssociation: ResourceType = {
    async create(inputs, context) {
        const { cloud } = context;
        const instanceId = inputs.instanceId as string;
        const answer = await cloud.clients.ec2.send(
            new AssociateAddressCommand({
                AllocationId: inputs.allocationId as string,
                InstanceId: instanceId,
                AllowReassociation: inputs.allowReassociation as boolean | undefined,
            }),
        );
        const current = await address(inputs.allocationId as string, context);
        const host = cloud.hosts.get(instanceId);
        if (!host) throw new Error(`instance ${instanceId} has no host in the rig`);
        await cloud.network.translate(current.PublicIp!, host.privateIp);
        return {
            id: answer.AssociationId!,
            outs: { ...inputs, publicIp: current.PublicIp, privateIpAddress: host.privateIp, networkInterfaceId: current.NetworkInterfaceId },
        };
    },
    async read(id, state, context) {
        const current = await address(state.allocationId as string, context);
        return current?.AssociationId === id ? state : undefined;
    },
    async update(id) {
        throw new Error(`the rig does not update Elastic IP association ${id} in place`);
    },
    async delete(id, state, context) {
        try {
            await context.cloud.clients.ec2.send(new DisassociateAddressCommand({ AssociationId: id }));
        } catch (error) {
            // The address moved to another instance since (allowReassociation): this association is gone already, and
            // the provider treats that as deleted (resource_aws_eip_association.go).
            if (isAwsError(error, "InvalidAssociationID.NotFound")) return;
            throw error;
        }
        await context.cloud.network.stopTranslating(state.publicIp as string);
    },
};
