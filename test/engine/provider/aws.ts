// The stand-in for pulumi-aws: checks inputs against AWS's limits, diffs with the real provider's replacement rules,
// and acts on the rig's AWS. Every resource type and function the program uses is here; anything else is refused.
import { DescribeSubnetsCommand, DescribeVpcsCommand } from "@aws-sdk/client-ec2";
import { GetParameterCommand } from "@aws-sdk/client-ssm";
import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { createHash } from "crypto";
import { Cloud, region } from "../cloud/cloud";
import { Context, ResourceType } from "./resource";
import * as ec2 from "./resources/ec2";
import * as iam from "./resources/iam";
import * as kms from "./resources/kms";
import * as ssm from "./resources/ssm";
import { ActionContext, AuthorizationRequest, invokeRequests, Operation as ProviderOperation, operationRequests } from "../aws/actions";
import { checkLimits } from "../aws/limits";
import { autonamed, diffInputs, resourceRules, unknownInputs } from "../aws/rules";
import { CheckFailure, DiffAnswer, Properties, ResourceCall, StandInProvider } from "./server";

const resourceTypes: Record<string, ResourceType> = {
    "aws:iam/role:Role": iam.role,
    "aws:iam/rolePolicy:RolePolicy": iam.rolePolicy,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": iam.rolePolicyAttachment,
    "aws:iam/instanceProfile:InstanceProfile": iam.instanceProfile,
    "aws:kms/key:Key": kms.key,
    "aws:kms/alias:Alias": kms.alias,
    "aws:ssm/parameter:Parameter": ssm.parameter,
    "aws:ssm/document:Document": ssm.document,
    "aws:ssm/association:Association": ssm.association,
    "aws:ec2/instance:Instance": ec2.instance,
    "aws:ec2/securityGroup:SecurityGroup": ec2.securityGroup,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ec2.securityGroupIngressRule,
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ec2.securityGroupEgressRule,
    "aws:ec2/eip:Eip": ec2.eip,
    "aws:ec2/eipAssociation:EipAssociation": ec2.eipAssociation,
};

/** The top-level input of a property path (`rootBlockDevice.volumeSize` is `rootBlockDevice`). */
const topLevel = (paths: string[]) => [...new Set(paths.map((path) => path.split(".")[0]))];

/** One engine operation as the rig saw it, with the IAM requests the real provider makes for it. */
export interface Operation {
    operation: "check" | "diff" | "create" | "read" | "update" | "delete" | "invoke";
    type: string;
    name: string;
    id?: string;
    requests: AuthorizationRequest[];
}

export class StandInAws implements StandInProvider {
    readonly version = "7.48.0";
    readonly operations: Operation[] = [];

    constructor(private readonly cloud: Cloud) {}

    private async context(): Promise<Context> {
        const identity = await this.cloud.clients.sts.send(new GetCallerIdentityCommand({}));
        return { cloud: this.cloud, account: identity.Account!, region, partition: "aws" };
    }

    /** Records an operation that acts on AWS, with the IAM requests the real provider makes for it. */
    private async record(
        operation: ProviderOperation,
        call: ResourceCall,
        props: Properties,
        id?: string,
        extra: { changed?: string[]; olds?: Properties } = {},
    ): Promise<void> {
        const context = await this.context();
        const actionContext: ActionContext = {
            partition: context.partition,
            region: context.region,
            accountId: context.account,
            props: { ...(await this.cloud.describe(call.type, props, extra.olds)), ...props, ...(id ? { id } : {}) },
            tags: (extra.olds?.tags ?? props.tags) as Record<string, string> | undefined,
        };
        const requests = await this.withResourceTags(operationRequests(call.type, operation, actionContext, extra.changed), operation);
        this.operations.push({ operation, type: call.type, name: call.name, id, requests });
    }

    /**
     * Each request once per resource, carrying that resource's own tags as AWS evaluates aws:ResourceTag/* (a rule's
     * request on its security group carries the group's tags, an address association the instance's): the tables know
     * only the tags of the resource an operation is about. A create's calls after the creating one find the resource
     * with the tags it was created with.
     */
    private async withResourceTags(requests: AuthorizationRequest[], operation: ProviderOperation): Promise<AuthorizationRequest[]> {
        const split: AuthorizationRequest[] = [];
        for (const request of requests) {
            // The call that tags a resource just created finds it untagged: only its request tags count.
            const tagging = operation === "create" && /^(ec2:CreateTags|iam:Tag\w+|kms:TagResource|ssm:AddTagsToResource)$/.test(request.action);
            for (const resource of request.resources) {
                const tags = tagging ? undefined : await this.cloud.tagsOf(resource);
                if (!tags) {
                    split.push({ ...request, resources: [resource] });
                    continue;
                }
                const context = Object.fromEntries(Object.entries(request.context).filter(([key]) => !/^[a-z0-9]+:ResourceTag\//.test(key)));
                for (const [key, value] of Object.entries(tags)) {
                    context[`aws:ResourceTag/${key}`] = value;
                    if (resource.startsWith("arn:aws:ec2:")) context[`ec2:ResourceTag/${key}`] = value;
                }
                split.push({ ...request, resources: [resource], context });
            }
        }
        return split;
    }

    private resourceType(type: string): ResourceType {
        const found = resourceTypes[type];
        if (!found) throw new Error(`the stand-in AWS provider has no resource type ${type}`);
        return found;
    }

    async invoke(token: string, args: Properties) {
        const context = await this.context();
        const requests = invokeRequests(token, { partition: context.partition, region, accountId: context.account, props: args });
        this.operations.push({ operation: "invoke", type: token, name: "", requests });
        const { cloud } = this;
        switch (token) {
            case "aws:index/getRegion:getRegion":
                return { result: { id: region, name: region, region, description: "Europe (Ireland)", endpoint: `ec2.${region}.amazonaws.com` } };
            case "aws:index/getPartition:getPartition":
                return { result: { id: "aws", partition: "aws", dnsSuffix: "amazonaws.com", reverseDnsPrefix: "com.amazonaws" } };
            case "aws:index/getCallerIdentity:getCallerIdentity": {
                const identity = await cloud.clients.sts.send(new GetCallerIdentityCommand({}));
                return { result: { id: identity.Account, accountId: identity.Account, arn: identity.Arn, userId: identity.UserId } };
            }
            case "aws:ssm/getParameter:getParameter": {
                const { Parameter } = await cloud.clients.ssm.send(
                    new GetParameterCommand({ Name: args.name as string, WithDecryption: args.withDecryption as boolean | undefined }),
                );
                const value = Parameter!.Value!;
                return { result: { id: Parameter!.Name, name: Parameter!.Name, type: Parameter!.Type, value, insecureValue: value, version: Parameter!.Version, arn: Parameter!.ARN } };
            }
            case "aws:ec2/getVpc:getVpc": {
                const filters = args.default ? [{ Name: "isDefault", Values: ["true"] }] : [];
                const { Vpcs } = await cloud.clients.ec2.send(
                    new DescribeVpcsCommand({ Filters: filters, VpcIds: args.id ? [args.id as string] : undefined }),
                );
                if (!Vpcs?.length) return { failures: [{ property: "", reason: "no matching EC2 VPC found" }] };
                return { result: { id: Vpcs[0].VpcId, cidrBlock: Vpcs[0].CidrBlock, default: Vpcs[0].IsDefault } };
            }
            case "aws:ec2/getSubnets:getSubnets": {
                const filters = ((args.filters ?? []) as { name: string; values: string[] }[]).map((filter) => ({
                    Name: filter.name,
                    Values: filter.values,
                }));
                const { Subnets } = await cloud.clients.ec2.send(new DescribeSubnetsCommand({ Filters: filters }));
                return { result: { id: region, ids: (Subnets ?? []).map((subnet) => subnet.SubnetId) } };
            }
            default:
                throw new Error(`the stand-in AWS provider has no function ${token}`);
        }
    }

    /**
     * Autonames as the real provider does (the logical name and a random suffix from the engine's seed, kept from the
     * old inputs), refuses an input the rules do not know, and checks AWS's limits.
     */
    async check(call: ResourceCall, olds: Properties, news: Properties, randomSeed: Buffer) {
        this.operations.push({ operation: "check", type: call.type, name: call.name, requests: [] });
        this.resourceType(call.type);
        const inputs = { ...news };
        delete inputs.__defaults;
        const naming = resourceRules[call.type].autoname;
        if (naming && inputs[naming.property] === undefined) {
            const random = createHash("sha256").update(randomSeed).digest("hex").slice(0, 7);
            inputs[naming.property] = olds[naming.property] ?? autonamed(call.type, call.name, random);
        }
        const failures: CheckFailure[] = unknownInputs(call.type, inputs).map((property) => ({
            property,
            reason: `the stand-in provider does not know ${call.type} ${property}: add it to test/engine/aws/rules.ts`,
        }));
        const context = await this.context();
        failures.push(...checkLimits(call.type, inputs, { partition: context.partition, region, accountId: context.account }));
        return { inputs, failures };
    }

    /** The changed inputs, and those whose change forces a new resource, as terraform-provider-aws's schema says. */
    async diff(call: ResourceCall, _id: string, _olds: Properties, news: Properties, oldInputs: Properties): Promise<DiffAnswer> {
        this.operations.push({ operation: "diff", type: call.type, name: call.name, requests: [] });
        const { changes, replaces } = diffInputs(call.type, oldInputs, news);
        return { diffs: topLevel(changes), replaces: topLevel(replaces), deleteBeforeReplace: resourceRules[call.type].deleteBeforeReplace };
    }

    async create(call: ResourceCall, inputs: Properties, preview: boolean) {
        if (preview) return { id: "", outs: inputs };
        const created = await this.resourceType(call.type).create(inputs, await this.context());
        await this.record("create", call, created.outs, created.id);
        return created;
    }

    async read(call: ResourceCall, id: string, state: Properties, inputs: Properties) {
        await this.record("read", call, state, id);
        const outs = await this.resourceType(call.type).read(id, state, await this.context());
        return outs === undefined ? undefined : { id, outs, inputs };
    }

    async update(call: ResourceCall, id: string, olds: Properties, news: Properties, preview: boolean) {
        if (preview) return { ...olds, ...news };
        const changed = topLevel(diffInputs(call.type, olds, news).changes).filter((key) => key in news);
        await this.record("update", call, { ...olds, ...news }, id, { changed, olds });
        return this.resourceType(call.type).update(id, olds, news, await this.context());
    }

    async delete(call: ResourceCall, id: string, outs: Properties) {
        await this.record("delete", call, outs, id);
        await this.resourceType(call.type).delete(id, outs, await this.context());
    }
}
