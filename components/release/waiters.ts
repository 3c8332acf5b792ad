// Two awaited steps that `pulumi up` takes around a release, as dynamic resources (they run in the deployer's process
// with its AWS credentials). Pulumi serializes their providers with the functions they call, so everything they use
// lives in this file and the AWS SDK is loaded inside them.
import type { SSMClient } from "@aws-sdk/client-ssm";
import * as pulumi from "@pulumi/pulumi";

/** The AWS SDK, loaded when a step runs rather than when the program starts. */
function sdk(): typeof import("@aws-sdk/client-ssm") {
    return require("@aws-sdk/client-ssm");
}

function ssmClient(region: string): SSMClient {
    return new (sdk().SSMClient)({ region });
}

function sleep(seconds: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
}

/**
 * Any changed input replaces the step, so it runs (and waits) again; the old one goes once the update is done. Only
 * inputs count: the old state also holds what the step produced (the gate's `at`), which the new inputs never have.
 */
function replaceOnAnyChange(olds: Record<string, unknown>, news: Record<string, unknown>): pulumi.dynamic.DiffResult {
    const outputsOnly = ["__provider", "at"];
    const keys = [...new Set([...Object.keys(olds), ...Object.keys(news)])].filter((key) => !outputsOnly.includes(key));
    const replaces = keys.filter((key) => JSON.stringify(olds[key]) !== JSON.stringify(news[key]));
    return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
}

/** SSM Agent's first version that hands document parameters to commands as SSM_* variables (interpolationType ENV_VAR). */
export const minimumAgentVersion = "3.3.2746.0";

/** Whether a dotted version is at least another. */
export function versionAtLeast(version: string, minimum: string): boolean {
    const have = version.split(".").map(Number);
    const need = minimum.split(".").map(Number);
    for (let i = 0; i < need.length; i++) {
        if ((have[i] || 0) !== need[i]) return (have[i] || 0) > need[i];
    }
    return true;
}

export interface ManagedNodeInputs {
    instanceIds: string[];
    /** SSM path of the hosts' release records: one goes with its host. */
    recordPath: string;
    region: string;
    timeoutSeconds: number;
    pollSeconds: number;
}

/**
 * Waits until every instance is a managed node that Systems Manager sees online. An association created before
 * that can report success without its document having run (terraform-provider-aws #31175). A node whose agent is too
 * old to pass the release's parameters fails at once: its release would fail without saying which one.
 */
export async function waitForManagedNodes(inputs: ManagedNodeInputs): Promise<void> {
    const { DescribeInstanceInformationCommand } = sdk();
    const client = ssmClient(inputs.region);
    const deadline = Date.now() + inputs.timeoutSeconds * 1000;
    for (;;) {
        const answer = await client.send(
            new DescribeInstanceInformationCommand({ Filters: [{ Key: "InstanceIds", Values: inputs.instanceIds }] }),
        );
        const online = (answer.InstanceInformationList ?? []).filter((node) => node.PingStatus === "Online");
        for (const node of online) {
            if (!versionAtLeast(node.AgentVersion ?? "0", minimumAgentVersion)) {
                throw new Error(
                    `${node.InstanceId} runs SSM Agent ${node.AgentVersion ?? "of an unknown version"}; releases need ` +
                        `${minimumAgentVersion} or later, which passes the release's parameters as environment variables. ` +
                        "Update the agent (the AWS-UpdateSSMAgent document) or move the host to a current AMI (hostAmi).",
                );
            }
        }
        const onlineIds = new Set(online.map((node) => node.InstanceId));
        const waiting = inputs.instanceIds.filter((id) => !onlineIds.has(id));
        if (waiting.length === 0) return;
        if (Date.now() >= deadline) {
            throw new Error(
                `${waiting.join(", ")} did not come online in Systems Manager within ${inputs.timeoutSeconds} s. Check the ` +
                    "instance's system log (aws ec2 get-console-output), that it has a public address or a route to the " +
                    "SSM endpoints, and that its role allows ssm:UpdateInstanceInformation.",
            );
        }
        await sleep(inputs.pollSeconds);
    }
}

/** The outcome a host records for a release (the release script's `record`). */
export interface ReleaseRecord {
    release: string;
    status: string;
    at: string;
    image: string;
    reason: string;
    logs: string;
}

/** Reads a record: `name=value` lines, then, after a `logs:` line, the container's last log lines. */
export function parseReleaseRecord(text: string): ReleaseRecord {
    const record: ReleaseRecord = { release: "", status: "", at: "", image: "", reason: "", logs: "" };
    const [head, ...logs] = text.split("\nlogs:\n");
    for (const line of head.split("\n")) {
        const separator = line.indexOf("=");
        const name = line.slice(0, separator) as keyof ReleaseRecord;
        if (separator > 0 && name in record) record[name] = line.slice(separator + 1);
    }
    record.logs = logs.join("\nlogs:\n");
    return record;
}

export interface ReleaseGateInputs {
    serviceName: string;
    /**
     * The release's association, by name: the gate must not take the association's id, or a replaced association
     * would make the engine replace the gate, and what hangs on it, before the release even runs.
     */
    associationName: string;
    instanceIds: string[];
    /** SSM path of the records, one parameter per instance. */
    recordPath: string;
    releaseId: string;
    region: string;
    /** How long a host may take to start the release: on a new host, its boot and bootstrap come first. */
    startTimeoutSeconds: number;
    /** How long a started release may take to record its outcome: the pull and the health check. */
    timeoutSeconds: number;
    pollSeconds: number;
    /** The command that shows the release's state, quoted in errors. */
    statusCommand: string;
}

/** The failure as `pulumi up` prints it: what failed, why, the new container's last lines, and where to look. */
export function releaseFailure(inputs: ReleaseGateInputs, instanceId: string, record: ReleaseRecord): string {
    const logs = record.logs.trim() ? record.logs.trim().replace(/^/gm, "    ") : "    (none)";
    return [
        `The ${inputs.serviceName} release ${inputs.releaseId} failed on ${instanceId}: ${record.reason}.`,
        "The previous release keeps serving; nothing was switched.",
        "Last log lines of the new container:",
        logs,
        `See the release's state: ${inputs.statusCommand}`,
    ].join("\n");
}

async function readRecords(client: SSMClient, inputs: ReleaseGateInputs): Promise<Map<string, ReleaseRecord>> {
    const { GetParameterCommand } = sdk();
    const records = new Map<string, ReleaseRecord>();
    for (const instanceId of inputs.instanceIds) {
        try {
            const answer = await client.send(new GetParameterCommand({ Name: `${inputs.recordPath}/${instanceId}` }));
            records.set(instanceId, parseReleaseRecord(answer.Parameter?.Value ?? ""));
        } catch (error) {
            if ((error as { name?: string }).name !== "ParameterNotFound") throw error;
            records.set(instanceId, parseReleaseRecord(""));
        }
    }
    return records;
}

/** The id of the release's association, found by its name. */
async function associationId(client: SSMClient, name: string): Promise<string> {
    const { ListAssociationsCommand } = sdk();
    const answer = await client.send(
        new ListAssociationsCommand({ AssociationFilterList: [{ key: "AssociationName", value: name }] }),
    );
    const id = answer.Associations?.[0]?.AssociationId;
    if (!id) throw new Error(`the release's association ${name} does not exist`);
    return id;
}

/**
 * Waits until each host records the outcome of this release: first that it started (a new host boots and
 * bootstraps before that), then how it ended. Success passes; a failure throws with its reason. When a host already
 * recorded a failure of this very release (a retry after a failed `pulumi up`), the association is run once more and
 * only a newer record counts.
 */
export async function waitForRelease(inputs: ReleaseGateInputs): Promise<{ at: string }> {
    const { StartAssociationsOnceCommand } = sdk();
    const client = ssmClient(inputs.region);
    const stale = new Map<string, string>();
    for (const [instanceId, record] of await readRecords(client, inputs)) {
        if (record.release === inputs.releaseId && record.status === "failed") stale.set(instanceId, record.at);
    }
    if (stale.size > 0) {
        await client.send(new StartAssociationsOnceCommand({ AssociationIds: [await associationId(client, inputs.associationName)] }));
    }

    const startDeadline = Date.now() + inputs.startTimeoutSeconds * 1000;
    let outcomeDeadline: number | undefined;
    for (;;) {
        const done: string[] = [];
        let started = 0;
        for (const [instanceId, record] of await readRecords(client, inputs)) {
            if (record.release !== inputs.releaseId || stale.get(instanceId) === record.at) continue;
            started++;
            if (record.status === "failed") throw new Error(releaseFailure(inputs, instanceId, record));
            if (record.status === "succeeded") done.push(record.at);
        }
        if (done.length === inputs.instanceIds.length) return { at: done.sort().reverse()[0] };
        if (started === inputs.instanceIds.length) outcomeDeadline ??= Date.now() + inputs.timeoutSeconds * 1000;
        const see = `See the release's state: ${inputs.statusCommand}`;
        if (outcomeDeadline === undefined && Date.now() >= startDeadline) {
            throw new Error(
                `The ${inputs.serviceName} release ${inputs.releaseId} did not start within ${inputs.startTimeoutSeconds} s ` +
                    `(association ${inputs.associationName}): the host did not run it. ${see}`,
            );
        }
        if (outcomeDeadline !== undefined && Date.now() >= outcomeDeadline) {
            throw new Error(
                `The ${inputs.serviceName} release ${inputs.releaseId} started but recorded no outcome within ` +
                    `${inputs.timeoutSeconds} s (association ${inputs.associationName}). ${see}`,
            );
        }
        await sleep(inputs.pollSeconds);
    }
}

/** Removes the release records of hosts that are gone; a record already gone is fine. */
export async function removeReleaseRecords(inputs: ManagedNodeInputs): Promise<void> {
    const { DeleteParameterCommand } = sdk();
    const client = ssmClient(inputs.region);
    for (const instanceId of inputs.instanceIds) {
        try {
            await client.send(new DeleteParameterCommand({ Name: `${inputs.recordPath}/${instanceId}` }));
        } catch (error) {
            if ((error as { name?: string }).name !== "ParameterNotFound") throw error;
        }
    }
}

const managedNodeProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: ManagedNodeInputs) {
        await waitForManagedNodes(inputs);
        return { id: inputs.instanceIds.join(","), outs: inputs };
    },
    async delete(_id: string, olds: ManagedNodeInputs) {
        await removeReleaseRecords(olds);
    },
    // A host, once online, need not be waited for again: only another host (or record path) is a new step.
    async diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
        const changed = replaceOnAnyChange(olds, news);
        const replaces = changed.replaces!.filter((key) => ["instanceIds", "recordPath", "region"].includes(key));
        return { ...changed, replaces };
    },
    async update(_id: string, _olds: ManagedNodeInputs, news: ManagedNodeInputs) {
        return { outs: news };
    },
};

const releaseGateProvider: pulumi.dynamic.ResourceProvider = {
    async create(inputs: ReleaseGateInputs) {
        const { at } = await waitForRelease(inputs);
        return { id: inputs.associationName, outs: { ...inputs, at } };
    },
    async diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>) {
        return replaceOnAnyChange(olds, news);
    },
};

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

/** Done once each instance is an online managed node; an association created before that may never run. */
export class ManagedNodeReady extends pulumi.dynamic.Resource {
    declare public readonly instanceIds: pulumi.Output<string[]>;

    constructor(name: string, args: Inputs<ManagedNodeInputs>, opts?: pulumi.CustomResourceOptions) {
        super(managedNodeProvider, name, args, opts, "release", "ManagedNodeReady");
    }
}

/** Done once each host recorded that it runs the release; fails with the host's reason when it did not. */
export class ReleaseGate extends pulumi.dynamic.Resource {
    declare public readonly instanceIds: pulumi.Output<string[]>;
    declare public readonly releaseId: pulumi.Output<string>;
    /** When the release was recorded as serving. */
    declare public readonly at: pulumi.Output<string>;

    constructor(name: string, args: Inputs<ReleaseGateInputs>, opts?: pulumi.CustomResourceOptions) {
        super(releaseGateProvider, name, { ...args, at: undefined }, opts, "release", "ReleaseGate");
    }
}
