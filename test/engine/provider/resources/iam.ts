// IAM roles, their policies and instance profiles, on moto's IAM.
import {
    AddRoleToInstanceProfileCommand,
    AttachRolePolicyCommand,
    CreateInstanceProfileCommand,
    CreateRoleCommand,
    DeleteInstanceProfileCommand,
    DeleteRoleCommand,
    DeleteRolePolicyCommand,
    DetachRolePolicyCommand,
    GetInstanceProfileCommand,
    GetRoleCommand,
    GetRolePolicyCommand,
    ListAttachedRolePoliciesCommand,
    PutRolePolicyCommand,
    RemoveRoleFromInstanceProfileCommand,
    TagRoleCommand,
    UpdateAssumeRolePolicyCommand,
} from "@aws-sdk/client-iam";
import { randomBytes } from "crypto";
import { Cloud } from "../../cloud/cloud";
import { Properties } from "../server";
import { isAwsError, ResourceType, tagList, tagMap } from "../resource";

export const role: ResourceType = {
    async create(inputs, { cloud }) {
        const answer = await cloud.clients.iam.send(
            new CreateRoleCommand({
                RoleName: inputs.name as string,
                AssumeRolePolicyDocument: inputs.assumeRolePolicy as string,
                Description: inputs.description as string | undefined,
                Path: (inputs.path as string | undefined) ?? "/",
                Tags: tagList(inputs.tags),
            }),
        );
        const created = answer.Role!;
        return { id: created.RoleName!, outs: roleOutputs(inputs, created) };
    },
    async read(id, state, { cloud }) {
        try {
            const { Role } = await cloud.clients.iam.send(new GetRoleCommand({ RoleName: id }));
            return roleOutputs(state, Role!);
        } catch (error) {
            if (isAwsError(error, "NoSuchEntity", "NoSuchEntityException")) return undefined;
            throw error;
        }
    },
    async update(id, olds, news, { cloud }) {
        if (olds.assumeRolePolicy !== news.assumeRolePolicy) {
            await cloud.clients.iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: id, PolicyDocument: news.assumeRolePolicy as string }));
        }
        if (JSON.stringify(olds.tags) !== JSON.stringify(news.tags)) {
            await cloud.clients.iam.send(new TagRoleCommand({ RoleName: id, Tags: tagList(news.tags) }));
        }
        return { ...olds, ...news, tagsAll: news.tags ?? {} };
    },
    async delete(id, _state, { cloud }) {
        await cloud.clients.iam.send(new DeleteRoleCommand({ RoleName: id }));
    },
};

function roleOutputs(inputs: Properties, created: { Arn?: string; RoleId?: string; RoleName?: string; Path?: string; Tags?: { Key?: string; Value?: string }[] }): Properties {
    return {
        ...inputs,
        arn: created.Arn,
        name: created.RoleName,
        uniqueId: created.RoleId,
        path: created.Path ?? "/",
        tagsAll: tagMap(created.Tags),
    };
}

export const rolePolicyAttachment: ResourceType = {
    async create(inputs, { cloud }) {
        await cloud.clients.iam.send(new AttachRolePolicyCommand({ RoleName: inputs.role as string, PolicyArn: inputs.policyArn as string }));
        // terraform-provider-aws names the attachment after its role, with a unique suffix.
        return { id: `${inputs.role}-${randomBytes(10).toString("hex")}`, outs: inputs };
    },
    async read(_id, state, { cloud }) {
        try {
            const answer = await cloud.clients.iam.send(new ListAttachedRolePoliciesCommand({ RoleName: state.role as string }));
            return answer.AttachedPolicies?.some((policy) => policy.PolicyArn === state.policyArn) ? state : undefined;
        } catch (error) {
            if (isAwsError(error, "NoSuchEntity", "NoSuchEntityException")) return undefined;
            throw error;
        }
    },
    async update(_id, _olds, news) {
        return news;
    },
    async delete(_id, state, { cloud }) {
        await cloud.clients.iam.send(new DetachRolePolicyCommand({ RoleName: state.role as string, PolicyArn: state.policyArn as string }));
    },
};

export const rolePolicy: ResourceType = {
    async create(inputs, { cloud }) {
        await put(inputs, cloud);
        return { id: `${inputs.role}:${inputs.name}`, outs: inputs };
    },
    async read(_id, state, { cloud }) {
        try {
            const answer = await cloud.clients.iam.send(
                new GetRolePolicyCommand({ RoleName: state.role as string, PolicyName: state.name as string }),
            );
            return { ...state, policy: decodeURIComponent(answer.PolicyDocument ?? "") };
        } catch (error) {
            if (isAwsError(error, "NoSuchEntity", "NoSuchEntityException")) return undefined;
            throw error;
        }
    },
    async update(_id, _olds, news, { cloud }) {
        await put(news, cloud);
        return news;
    },
    async delete(_id, state, { cloud }) {
        await cloud.clients.iam.send(new DeleteRolePolicyCommand({ RoleName: state.role as string, PolicyName: state.name as string }));
    },
};

async function put(inputs: Properties, cloud: Cloud) {
    await cloud.clients.iam.send(
        new PutRolePolicyCommand({ RoleName: inputs.role as string, PolicyName: inputs.name as string, PolicyDocument: inputs.policy as string }),
    );
}

export const instanceProfile: ResourceType = {
    async create(inputs, { cloud }) {
        const answer = await cloud.clients.iam.send(
            new CreateInstanceProfileCommand({ InstanceProfileName: inputs.name as string, Path: "/", Tags: tagList(inputs.tags) }),
        );
        if (inputs.role) {
            await cloud.clients.iam.send(
                new AddRoleToInstanceProfileCommand({ InstanceProfileName: inputs.name as string, RoleName: inputs.role as string }),
            );
        }
        const profile = answer.InstanceProfile!;
        return {
            id: profile.InstanceProfileName!,
            outs: { ...inputs, arn: profile.Arn, uniqueId: profile.InstanceProfileId, path: "/", tagsAll: inputs.tags ?? {} },
        };
    },
    async read(id, state, { cloud }) {
        try {
            const { InstanceProfile } = await cloud.clients.iam.send(new GetInstanceProfileCommand({ InstanceProfileName: id }));
            return { ...state, role: InstanceProfile?.Roles?.[0]?.RoleName };
        } catch (error) {
            if (isAwsError(error, "NoSuchEntity", "NoSuchEntityException")) return undefined;
            throw error;
        }
    },
    async update(id, olds, news, { cloud }) {
        if (olds.role !== news.role) {
            if (olds.role) {
                await cloud.clients.iam.send(new RemoveRoleFromInstanceProfileCommand({ InstanceProfileName: id, RoleName: olds.role as string }));
            }
            if (news.role) {
                await cloud.clients.iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: id, RoleName: news.role as string }));
            }
        }
        return { ...olds, ...news };
    },
    async delete(id, state, { cloud }) {
        if (state.role) {
            await cloud.clients.iam.send(new RemoveRoleFromInstanceProfileCommand({ InstanceProfileName: id, RoleName: state.role as string }));
        }
        await cloud.clients.iam.send(new DeleteInstanceProfileCommand({ InstanceProfileName: id }));
    },
};
