// The services' KMS keys and their aliases, on moto's KMS.
import {
    CreateAliasCommand,
    CreateKeyCommand,
    DeleteAliasCommand,
    DescribeKeyCommand,
    EnableKeyRotationCommand,
    GetKeyPolicyCommand,
    PutKeyPolicyCommand,
    ScheduleKeyDeletionCommand,
    UpdateAliasCommand,
    UpdateKeyDescriptionCommand,
} from "@aws-sdk/client-kms";
import { isAwsError, ResourceType, tagList } from "../resource";

export const key: ResourceType = {
    async create(inputs, { cloud }) {
        const { KeyMetadata } = await cloud.clients.kms.send(
            new CreateKeyCommand({
                Description: inputs.description as string | undefined,
                Policy: inputs.policy as string | undefined,
                Tags: tagList(inputs.tags).map(({ Key, Value }) => ({ TagKey: Key, TagValue: Value })),
            }),
        );
        if (inputs.enableKeyRotation) await cloud.clients.kms.send(new EnableKeyRotationCommand({ KeyId: KeyMetadata!.KeyId }));
        return {
            id: KeyMetadata!.KeyId!,
            outs: {
                ...inputs,
                arn: KeyMetadata!.Arn,
                keyId: KeyMetadata!.KeyId,
                keyUsage: "ENCRYPT_DECRYPT",
                customerMasterKeySpec: "SYMMETRIC_DEFAULT",
                isEnabled: true,
                multiRegion: false,
                tagsAll: inputs.tags ?? {},
            },
        };
    },
    async read(id, state, { cloud }) {
        try {
            const { KeyMetadata } = await cloud.clients.kms.send(new DescribeKeyCommand({ KeyId: id }));
            if (KeyMetadata?.KeyState === "PendingDeletion") return undefined;
            const { Policy } = await cloud.clients.kms.send(new GetKeyPolicyCommand({ KeyId: id, PolicyName: "default" }));
            return { ...state, policy: Policy, description: KeyMetadata?.Description };
        } catch (error) {
            if (isAwsError(error, "NotFoundException")) return undefined;
            throw error;
        }
    },
    async update(id, olds, news, { cloud }) {
        if (olds.policy !== news.policy) {
            await cloud.clients.kms.send(new PutKeyPolicyCommand({ KeyId: id, PolicyName: "default", Policy: news.policy as string }));
        }
        if (olds.description !== news.description) {
            await cloud.clients.kms.send(new UpdateKeyDescriptionCommand({ KeyId: id, Description: news.description as string }));
        }
        return { ...olds, ...news };
    },
    async delete(id, state, { cloud }) {
        await cloud.clients.kms.send(
            new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: (state.deletionWindowInDays as number | undefined) ?? 30 }),
        );
    },
};

export const alias: ResourceType = {
    async create(inputs, { cloud, partition, region, account }) {
        await cloud.clients.kms.send(new CreateAliasCommand({ AliasName: inputs.name as string, TargetKeyId: inputs.targetKeyId as string }));
        return {
            id: inputs.name as string,
            outs: { ...inputs, arn: `arn:${partition}:kms:${region}:${account}:${inputs.name}`, targetKeyArn: `arn:${partition}:kms:${region}:${account}:key/${inputs.targetKeyId}` },
        };
    },
    async read(_id, state) {
        return state;
    },
    async update(id, olds, news, { cloud }) {
        await cloud.clients.kms.send(new UpdateAliasCommand({ AliasName: id, TargetKeyId: news.targetKeyId as string }));
        return { ...olds, ...news };
    },
    async delete(id, _state, { cloud }) {
        await cloud.clients.kms.send(new DeleteAliasCommand({ AliasName: id }));
    },
};
