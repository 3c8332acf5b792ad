// SSM parameters and documents on moto; State Manager associations on the rig's Systems Manager, through the front.
import {
    AddTagsToResourceCommand,
    CreateAssociationCommand,
    CreateDocumentCommand,
    DeleteAssociationCommand,
    DeleteDocumentCommand,
    DeleteParameterCommand,
    DescribeAssociationCommand,
    DescribeDocumentCommand,
    GetParameterCommand,
    PutParameterCommand,
    UpdateDocumentCommand,
    UpdateDocumentDefaultVersionCommand,
} from "@aws-sdk/client-ssm";
import { AwsError } from "../../cloud/front";
import { Properties } from "../server";
import { Context, isAwsError, ResourceType, tagList } from "../resource";

async function putParameter(inputs: Properties, overwrite: boolean, { cloud }: Context): Promise<number> {
    const answer = await cloud.clients.ssm.send(
        new PutParameterCommand({
            Name: inputs.name as string,
            Type: inputs.type as "String" | "SecureString",
            Value: inputs.value as string,
            KeyId: inputs.keyId as string | undefined,
            Description: inputs.description as string | undefined,
            Tier: (inputs.tier as "Standard" | undefined) ?? "Standard",
            Overwrite: overwrite,
            // Tags cannot go with Overwrite; the provider tags separately then.
            Tags: overwrite ? undefined : tagList(inputs.tags),
        }),
    );
    return answer.Version!;
}

export const parameter: ResourceType = {
    async create(inputs, context) {
        const version = await putParameter(inputs, false, context);
        const { partition, region, account } = context;
        return {
            id: inputs.name as string,
            outs: {
                ...inputs,
                arn: `arn:${partition}:ssm:${region}:${account}:parameter${inputs.name}`,
                version,
                tier: "Standard",
                dataType: "text",
                tagsAll: inputs.tags ?? {},
            },
        };
    },
    async read(id, state, { cloud }) {
        try {
            const { Parameter } = await cloud.clients.ssm.send(new GetParameterCommand({ Name: id, WithDecryption: true }));
            return { ...state, value: Parameter?.Value, version: Parameter?.Version };
        } catch (error) {
            if (isAwsError(error, "ParameterNotFound")) return undefined;
            throw error;
        }
    },
    async update(_id, olds, news, context) {
        const version = await putParameter(news, true, context);
        if (JSON.stringify(olds.tags) !== JSON.stringify(news.tags)) {
            await context.cloud.clients.ssm.send(
                new AddTagsToResourceCommand({ ResourceType: "Parameter", ResourceId: news.name as string, Tags: tagList(news.tags) }),
            );
        }
        return { ...olds, ...news, version, tagsAll: news.tags ?? {} };
    },
    async delete(id, _state, { cloud }) {
        await cloud.clients.ssm.send(new DeleteParameterCommand({ Name: id }));
    },
};

export const document: ResourceType = {
    async create(inputs, { cloud, partition, region, account }) {
        const { DocumentDescription } = await cloud.clients.ssm.send(
            new CreateDocumentCommand({
                Name: inputs.name as string,
                Content: inputs.content as string,
                DocumentType: inputs.documentType as "Command",
                DocumentFormat: (inputs.documentFormat as "JSON" | undefined) ?? "JSON",
                Tags: tagList(inputs.tags),
            }),
        );
        return {
            id: inputs.name as string,
            outs: {
                ...inputs,
                arn: `arn:${partition}:ssm:${region}:${account}:document/${inputs.name}`,
                latestVersion: DocumentDescription?.LatestVersion ?? "1",
                defaultVersion: DocumentDescription?.DefaultVersion ?? "1",
                documentVersion: DocumentDescription?.DocumentVersion ?? "1",
                hash: DocumentDescription?.Hash,
                status: "Active",
                tagsAll: inputs.tags ?? {},
            },
        };
    },
    async read(id, state, { cloud }) {
        try {
            const { Document } = await cloud.clients.ssm.send(new DescribeDocumentCommand({ Name: id }));
            return { ...state, latestVersion: Document?.LatestVersion, defaultVersion: Document?.DefaultVersion };
        } catch (error) {
            if (isAwsError(error, "InvalidDocument")) return undefined;
            throw error;
        }
    },
    async update(id, olds, news, { cloud }) {
        if (olds.content === news.content) return { ...olds, ...news };
        const { DocumentDescription } = await cloud.clients.ssm.send(
            new UpdateDocumentCommand({ Name: id, Content: news.content as string, DocumentVersion: "$LATEST" }),
        );
        const latestVersion = DocumentDescription!.DocumentVersion!;
        await cloud.clients.ssm.send(new UpdateDocumentDefaultVersionCommand({ Name: id, DocumentVersion: latestVersion }));
        return { ...olds, ...news, latestVersion, defaultVersion: latestVersion, documentVersion: latestVersion, hash: DocumentDescription?.Hash };
    },
    async delete(id, _state, { cloud }) {
        // SSM refuses to delete a document that associations still use.
        const inUse = [...cloud.ssm.associations.values()].filter((association) => association.Name === id);
        if (inUse.length > 0) {
            throw new AwsError("AssociatedInstances", `You must first delete all associations of the document ${id}`);
        }
        await cloud.clients.ssm.send(new DeleteDocumentCommand({ Name: id }));
    },
};

/** An association's parameters as SSM takes them: each value a one-element list. */
function associationParameters(parameters: unknown): Record<string, string[]> {
    return Object.fromEntries(Object.entries((parameters ?? {}) as Record<string, string>).map(([name, value]) => [name, [value]]));
}

export const association: ResourceType = {
    async create(inputs, { cloud, partition, region, account }) {
        const { AssociationDescription } = await cloud.clients.ssm.send(
            new CreateAssociationCommand({
                Name: inputs.name as string,
                AssociationName: inputs.associationName as string | undefined,
                DocumentVersion: inputs.documentVersion as string | undefined,
                Parameters: associationParameters(inputs.parameters),
                Targets: ((inputs.targets ?? []) as { key: string; values: string[] }[]).map((target) => ({
                    Key: target.key,
                    Values: target.values,
                })),
                MaxConcurrency: inputs.maxConcurrency as string | undefined,
                MaxErrors: inputs.maxErrors as string | undefined,
                Tags: tagList(inputs.tags),
            }),
        );
        const id = AssociationDescription!.AssociationId!;
        return {
            id,
            outs: { ...inputs, associationId: id, arn: `arn:${partition}:ssm:${region}:${account}:association/${id}`, tagsAll: inputs.tags ?? {} },
        };
    },
    async read(id, state, { cloud }) {
        try {
            await cloud.clients.ssm.send(new DescribeAssociationCommand({ AssociationId: id }));
            return state;
        } catch (error) {
            if (isAwsError(error, "AssociationDoesNotExist")) return undefined;
            throw error;
        }
    },
    async update(id) {
        // The program replaces an association whenever it changes: an update in place would be a new behaviour to model.
        throw new Error(`the rig does not update association ${id} in place; the program should have replaced it`);
    },
    async delete(id, _state, { cloud }) {
        await cloud.clients.ssm.send(new DeleteAssociationCommand({ AssociationId: id }));
    },
};
