// What Systems Manager does that moto does not: managed nodes (the SSM agent of each host, online or not, and its
// version) and State Manager associations, which run a Command document on their targets when they are created,
// when a target comes online, and when asked to run once more. The documents themselves live in moto.
import { GetDocumentCommand, SSMClient } from "@aws-sdk/client-ssm";
import { randomUUID } from "crypto";
import { AwsError } from "./front";
import { Host } from "./host";

/** SSM Agent's first version that hands document parameters to commands as SSM_* variables (interpolationType ENV_VAR). */
export const envVarAgentVersion = "3.3.2746.0";

export interface ManagedNode {
    host: Host;
    agentVersion: string;
    /** Credentials of the instance profile's role, as the agent gets them from the instance metadata. */
    credentials: { accessKeyId: string; secretAccessKey: string };
    online: boolean;
}

interface Association {
    AssociationId: string;
    AssociationName?: string;
    Name: string;
    DocumentVersion?: string;
    Parameters: Record<string, string[]>;
    Targets: { Key: string; Values: string[] }[];
    MaxConcurrency?: string;
    MaxErrors?: string;
    /** Each run on each instance: its exit code and output, newest last. */
    runs: { instanceId: string; code: number | null; output: string }[];
}

interface DocumentParameter {
    type: string;
    default?: string;
    allowedPattern?: string;
    interpolationType?: string;
}

interface CommandDocument {
    schemaVersion: string;
    parameters?: Record<string, DocumentParameter>;
    mainSteps: { action: string; name: string; inputs: { runCommand: string[]; timeoutSeconds?: string } }[];
}

/** Compares dotted version numbers. */
function atLeast(version: string, minimum: string): boolean {
    const a = version.split(".").map(Number);
    const b = minimum.split(".").map(Number);
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
        if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
    }
    return true;
}

export class SystemsManager {
    readonly nodes = new Map<string, ManagedNode>();
    readonly associations = new Map<string, Association>();
    /** Runs still going, so a test can wait for the host's side to settle. */
    private readonly running = new Set<Promise<void>>();
    private readonly documents: SSMClient;

    constructor(
        motoEndpoint: string,
        private readonly region: string,
        private readonly frontEndpoint: string,
    ) {
        this.documents = new SSMClient({
            region,
            endpoint: motoEndpoint,
            credentials: { accessKeyId: "rig-internal", secretAccessKey: "rig-internal" },
        });
    }

    /** A host's agent starts: once online, it runs every association that targets it, as State Manager does. */
    addNode(instanceId: string, node: Omit<ManagedNode, "online">): void {
        this.nodes.set(instanceId, { ...node, online: false });
    }

    setOnline(instanceId: string): void {
        const node = this.nodes.get(instanceId);
        if (!node || node.online) return;
        node.online = true;
        for (const association of this.associations.values()) {
            if (this.targets(association).includes(instanceId)) this.runOn(association, instanceId);
        }
    }

    removeNode(instanceId: string): void {
        this.nodes.delete(instanceId);
    }

    /** Waits until no association is running on any host. */
    async settle(): Promise<void> {
        while (this.running.size > 0) await Promise.all([...this.running]);
    }

    // --- the API, as the front serves it -------------------------------------------------------------------------

    async describeInstanceInformation(params: Record<string, unknown>) {
        const filters = (params.Filters ?? []) as { Key: string; Values: string[] }[];
        const ids = filters.find((filter) => filter.Key === "InstanceIds")?.Values;
        const list = [...this.nodes.entries()]
            .filter(([id, node]) => node.online && (!ids || ids.includes(id)))
            .map(([id, node]) => ({ InstanceId: id, PingStatus: "Online", AgentVersion: node.agentVersion, PlatformType: "Linux" }));
        return { InstanceInformationList: list };
    }

    async createAssociation(params: Record<string, unknown>) {
        const association: Association = {
            AssociationId: randomUUID(),
            AssociationName: params.AssociationName as string | undefined,
            Name: params.Name as string,
            DocumentVersion: params.DocumentVersion as string | undefined,
            Parameters: (params.Parameters ?? {}) as Record<string, string[]>,
            Targets: (params.Targets ?? []) as { Key: string; Values: string[] }[],
            MaxConcurrency: params.MaxConcurrency as string | undefined,
            MaxErrors: params.MaxErrors as string | undefined,
            runs: [],
        };
        // SSM checks the parameters against the document when the association is created.
        await this.resolveParameters(association);
        this.associations.set(association.AssociationId, association);
        for (const instanceId of this.targets(association)) {
            if (this.nodes.get(instanceId)?.online) this.runOn(association, instanceId);
        }
        return { AssociationDescription: this.describe(association) };
    }

    async describeAssociation(params: Record<string, unknown>) {
        return { AssociationDescription: this.describe(this.find(params.AssociationId as string)) };
    }

    async listAssociations(params: Record<string, unknown>) {
        const filters = (params.AssociationFilterList ?? []) as { key: string; value: string }[];
        const matches = [...this.associations.values()].filter((association) =>
            filters.every(({ key, value }) =>
                key === "AssociationName" ? association.AssociationName === value : key === "Name" ? association.Name === value : true,
            ),
        );
        return {
            Associations: matches.map((association) => ({
                AssociationId: association.AssociationId,
                AssociationName: association.AssociationName,
                Name: association.Name,
                DocumentVersion: association.DocumentVersion,
                Targets: association.Targets,
            })),
        };
    }

    async deleteAssociation(params: Record<string, unknown>) {
        this.associations.delete(this.find(params.AssociationId as string).AssociationId);
        return {};
    }

    async startAssociationsOnce(params: Record<string, unknown>) {
        for (const id of params.AssociationIds as string[]) {
            const association = this.find(id);
            for (const instanceId of this.targets(association)) {
                if (this.nodes.get(instanceId)?.online) this.runOn(association, instanceId);
            }
        }
        return {};
    }

    // --- running a document on a host ----------------------------------------------------------------------------

    private find(id: string): Association {
        const association = this.associations.get(id);
        if (!association) throw new AwsError("AssociationDoesNotExist", `association ${id} does not exist`);
        return association;
    }

    private describe(association: Association) {
        const { runs, ...description } = association;
        const last = runs[runs.length - 1];
        const status = last === undefined ? "Pending" : last.code === 0 ? "Success" : "Failed";
        return { ...description, Overview: { Status: status } };
    }

    private targets(association: Association): string[] {
        return association.Targets.filter((target) => target.Key === "InstanceIds").flatMap((target) => target.Values);
    }

    private async document(association: Association): Promise<CommandDocument> {
        const answer = await this.documents.send(
            new GetDocumentCommand({ Name: association.Name, DocumentVersion: association.DocumentVersion }),
        );
        return JSON.parse(answer.Content ?? "{}");
    }

    /** Every parameter's value, with the document's defaults, checked against the document as SSM checks them. */
    private async resolveParameters(association: Association): Promise<Record<string, { value: string; spec: DocumentParameter }>> {
        const document = await this.document(association);
        const declared = document.parameters ?? {};
        const resolved: Record<string, { value: string; spec: DocumentParameter }> = {};
        for (const name of Object.keys(association.Parameters)) {
            if (!(name in declared)) throw new AwsError("InvalidParameters", `Parameter "${name}" is not defined in the document`);
        }
        for (const [name, spec] of Object.entries(declared)) {
            const given = association.Parameters[name];
            const value = given ? given.join(",") : spec.default;
            if (value === undefined) throw new AwsError("InvalidParameters", `Parameter "${name}" is required`);
            if (spec.allowedPattern && !new RegExp(spec.allowedPattern).test(value)) {
                throw new AwsError("InvalidParameters", `Parameter "${name}" fails to match the allowed pattern ${spec.allowedPattern}`);
            }
            resolved[name] = { value, spec };
        }
        return resolved;
    }

    /** What the agent does: each runShellScript step as a script, its parameters as SSM_* variables. */
    private runOn(association: Association, instanceId: string): void {
        const node = this.nodes.get(instanceId)!;
        const run = (async () => {
            const document = await this.document(association);
            const parameters = await this.resolveParameters(association);
            const environment: NodeJS.ProcessEnv = {
                AWS_SSM_INSTANCE_ID: instanceId,
                AWS_SSM_REGION_NAME: this.region,
                AWS_REGION: this.region,
                AWS_ENDPOINT_URL: this.frontEndpoint,
                AWS_ACCESS_KEY_ID: node.credentials.accessKeyId,
                AWS_SECRET_ACCESS_KEY: node.credentials.secretAccessKey,
            };
            if (atLeast(node.agentVersion, envVarAgentVersion)) {
                for (const [name, { value, spec }] of Object.entries(parameters)) {
                    if (spec.interpolationType === "ENV_VAR") environment[`SSM_${name}`] = value;
                }
            }
            for (const step of document.mainSteps) {
                if (step.action !== "aws:runShellScript") throw new Error(`the rig's agent does not run ${step.action}`);
                const script = step.inputs.runCommand
                    .join("\n")
                    .replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name: string) => parameters[name]?.value ?? "");
                const result = await node.host.exec("bash", ["-c", script], node.host.env(environment));
                association.runs.push({ instanceId, ...result });
                node.host.log(`association ${association.AssociationId} step ${step.name} exited ${result.code}:\n${result.output}`);
                if (result.code !== 0) return;
            }
        })().catch((error: Error) => {
            association.runs.push({ instanceId, code: null, output: String(error.stack ?? error) });
        });
        this.running.add(run);
        void run.finally(() => this.running.delete(run));
    }
}
