// What every resource type of the stand-in provider implements, and what it gets to work with.
import { Cloud } from "../cloud/cloud";
import { Properties } from "./server";

export interface Context {
    cloud: Cloud;
    account: string;
    region: string;
    partition: string;
}

/** One resource type: its create, read, update and delete, acting on the rig's AWS as the real provider would. */
export interface ResourceType {
    create(inputs: Properties, context: Context): Promise<{ id: string; outs: Properties }>;
    /** The resource as it is now, or undefined when it is gone. */
    read(id: string, state: Properties, context: Context): Promise<Properties | undefined>;
    update(id: string, olds: Properties, news: Properties, context: Context): Promise<Properties>;
    delete(id: string, state: Properties, context: Context): Promise<void>;
}

/** AWS tags as the APIs take them, from a Pulumi tag map. */
export function tagList(tags: unknown): { Key: string; Value: string }[] {
    return Object.entries((tags ?? {}) as Record<string, string>).map(([Key, Value]) => ({ Key, Value }));
}

/** A Pulumi tag map from AWS tags. */
export function tagMap(tags: { Key?: string; Value?: string }[] | undefined): Record<string, string> {
    return Object.fromEntries((tags ?? []).map((tag) => [tag.Key ?? "", tag.Value ?? ""]));
}

/** Whether an AWS SDK error is the given code (a resource already gone, say). */
export function isAwsError(error: unknown, ...codes: string[]): boolean {
    const name = (error as { name?: string; Code?: string }).name ?? (error as { Code?: string }).Code;
    return codes.includes(String(name));
}
