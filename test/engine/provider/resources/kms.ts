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
import { GetRoleCommand } from "@aws-sdk/client-iam";
import { Context, isAwsError, ResourceType, tagList } from "../resource";

/**
 * KMS refuses a key policy that names a principal that does not exist (MalformedPolicyDocumentException, "Policy
 * contains a statement with one or more invalid principals"); moto does not check, so the rig does.
 */
async function checkPrincipals(policy: unknown, cloud: Context["cloud"]): Promise<void> {
    if (typeof policy !== "string") return;
    const statements = (JSON.parse(policy).Statement ?? []) as { Principal?: { AWS?: string | string[] } }[];
    for (const statement of statements) {
        const arns = statement.Principal?.AWS === undefined ? [] : ([] as string[]).concat(statement.Principal.AWS);
        for (const arn of arns) {
            const role = /^arn:aws:iam::\d{12}:role\/(?:.*\/)?([^/]+)$/.exec(arn);
            if (!role) continue;
            try {
                await cloud.internal.iam.send(new GetRoleCommand({ RoleName: role[1] }));
            } catch {
                throw new Error(`MalformedPolicyDocumentException: Policy contains a statement with one or more invalid principals (${arn})`);
            }
        }
    }
}

export const key: ResourceType = {
    async create(inputs, { cloud }) {
        await checkPrincipals(inputs.policy, cloud);
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
            await checkPrincipals(news.policy, cloud);
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
