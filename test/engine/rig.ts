// The real Pulumi engine running the project's program, unchanged, against the rig's AWS: the CLI built from the Go
// module proxy, the program as an Automation API inline program (its language host lives in this process and is
// handed to the CLI with --client), the stand-in AWS provider attached with PULUMI_DEBUG_PROVIDERS, and Pulumi's own
// dynamic provider host for the release waits.
import * as auto from "@pulumi/pulumi/automation";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { root, sentinelSecrets } from "../mocks";
import { parseReleaseRecord, ReleaseRecord } from "../../components/release/waiters";
import { Cloud, deployer } from "./cloud/cloud";
import { RecordedCall } from "./cloud/front";
import { Operation, StandInAws } from "./provider/aws";
import { serveProvider } from "./provider/server";

export const project = "microservices";

/** One step the engine took, from its events: what it did to which resource. */
export interface Step {
    op: string;
    type: string;
    /** The resource's logical name. */
    name: string;
    /** The properties whose change caused an update or a replacement. */
    diffs: string[];
}

export interface RunResult {
    /** The steps as the engine started them, in order. */
    steps: Step[];
    /** Each step's start and end, in the order the engine reported them ("start op name", "done op name"). */
    timeline: string[];
    /** When each timeline entry came, in seconds from the command's start. */
    timelineSeconds: number[];
    /** Everything the CLI printed. */
    output: string;
    outputs: Record<string, unknown>;
    seconds: number;
}

/** The Pulumi CLI that scripts/install.sh builds, with Pulumi's dynamic provider plugin beside it. */
function pulumiRoot(): string {
    const cli = path.join(root, ".cache", "bin", "pulumi");
    if (!fs.existsSync(cli)) throw new Error("the Pulumi CLI is not built: run scripts/install.sh pulumi-cli");
    return path.join(root, ".cache");
}

/** The program, loaded afresh for each run, as `pulumi up` loads index.ts. */
async function program(): Promise<Record<string, unknown>> {
    for (const file of Object.keys(require.cache)) {
        const own = file.startsWith(root) && !file.includes(`${path.sep}node_modules${path.sep}`) && !file.includes(`${path.sep}test${path.sep}`);
        if (own) delete require.cache[file];
    }
    return { ...require(path.join(root, "index.ts")) };
}

/** One CLI command the rig ran: what the stand-in provider did for it, and the waits' own calls to AWS. */
export interface Run {
    command: "up" | "preview" | "refresh" | "destroy";
    stack: string;
    operations: Operation[];
    /** The calls the deployer's credentials made outside the provider: the release waits in the dynamic provider. */
    waits: RecordedCall[];
}

/** The callers and the requests service's key every rig stack gets, unless its config sets its own. */
const rigApiKeys = Object.fromEntries(
    (["tasksApiCallers", "requestsApiCallers", "requestsTasksApiKey"] as const).map((key) => [
        `${project}:${key}`,
        { value: sentinelSecrets[key], secret: true },
    ]),
);

export class Rig {
    /** Every command run so far, for holding what they needed against the CI roles' policies. */
    readonly runs: Run[] = [];
    readonly cloud = new Cloud();
    provider!: StandInAws;
    stack!: auto.Stack;
    private readonly folder = fs.mkdtempSync(path.join(os.tmpdir(), "rig-pulumi-"));
    private stopProvider?: () => Promise<void>;
    private providerPort = 0;

    /** Starts the rig's AWS and the stand-in provider. */
    async start(): Promise<void> {
        await this.cloud.start();
        this.provider = new StandInAws(this.cloud);
        const served = await serveProvider(this.provider);
        this.providerPort = served.port;
        this.stopProvider = served.stop;
        fs.mkdirSync(path.join(this.folder, "state"));
    }

    /** Creates a stack on the rig's file backend, with the given config (keys as `pulumi config set` takes them). */
    async createStack(stackName: string, config: Record<string, { value: string; secret?: boolean }>): Promise<auto.Stack> {
        const workDir = fs.mkdtempSync(path.join(this.folder, `${stackName}-`));
        // The project file declares the typed config the CLI checks; node_modules lets the CLI's plugin script find
        // Pulumi's dynamic provider host, as it does next to a real program.
        fs.copyFileSync(path.join(root, "Pulumi.yaml"), path.join(workDir, "Pulumi.yaml"));
        fs.symlinkSync(path.join(root, "node_modules"), path.join(workDir, "node_modules"));
        const pulumiCommand = await auto.PulumiCommand.get({ root: pulumiRoot(), skipVersionCheck: true });
        this.stack = await auto.LocalWorkspace.createOrSelectStack(
            { stackName, projectName: project, program },
            {
                workDir,
                pulumiCommand,
                envVars: {
                    ...(this.cloud.deployerEnv() as Record<string, string>),
                    // The dynamic provider host runs on the Node the deploy jobs use.
                    PATH: [path.join(root, ".cache", "node24", "bin"), process.env.PATH].join(path.delimiter),
                    PULUMI_HOME: path.join(this.folder, "home"),
                    PULUMI_BACKEND_URL: `file://${path.join(this.folder, "state")}`,
                    PULUMI_CONFIG_PASSPHRASE: "rig",
                    PULUMI_DEBUG_PROVIDERS: `aws:${this.providerPort}`,
                    PULUMI_SKIP_UPDATE_CHECK: "true",
                    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
                },
            },
        );
        for (const [key, { value, secret }] of Object.entries({ ...rigApiKeys, ...config })) {
            await this.stack.setConfig(key, { value, secret: Boolean(secret) }, key.includes("["));
        }
        return this.stack;
    }

    /** Runs a command and keeps what it needed from AWS. */
    private async recorded<T>(command: Run["command"], body: () => Promise<T>): Promise<T> {
        const operationsBefore = this.provider.operations.length;
        const callsBefore = this.cloud.front.calls.length;
        try {
            return await body();
        } finally {
            this.runs.push({
                command,
                stack: this.stack.name,
                operations: this.provider.operations.slice(operationsBefore),
                waits: this.cloud.front.calls.slice(callsBefore).filter((call) => call.principal === deployer.principal),
            });
        }
    }

    private recorder() {
        const steps: Step[] = [];
        const timeline: string[] = [];
        const timelineSeconds: number[] = [];
        const begun = Date.now();
        const mark = (entry: string) => {
            timeline.push(entry);
            timelineSeconds.push((Date.now() - begun) / 1000);
        };
        let output = "";
        return {
            steps,
            timeline,
            timelineSeconds,
            output: () => output,
            onOutput: (text: string) => (output += text),
            onEvent: (event: auto.EngineEvent) => {
                const started = event.resourcePreEvent?.metadata;
                if (started && !started.type.startsWith("pulumi:")) {
                    const name = started.urn.split("::").pop()!;
                    steps.push({ op: started.op, type: started.type, name, diffs: started.diffs ?? [] });
                    mark(`start ${started.op} ${name}`);
                }
                const done = event.resOutputsEvent?.metadata;
                if (done && !done.type.startsWith("pulumi:")) mark(`done ${done.op} ${done.urn.split("::").pop()}`);
            },
        };
    }

    /** `pulumi up`; a failed run resolves too, with the CLI's output, so a test can read the reason. */
    async up(): Promise<RunResult & { failed: boolean }> {
        return this.recorded("up", () => this.runUp());
    }

    private async runUp(): Promise<RunResult & { failed: boolean }> {
        const record = this.recorder();
        const started = Date.now();
        try {
            const result = await this.stack.up({ onOutput: record.onOutput, onEvent: record.onEvent });
            return { steps: record.steps, timeline: record.timeline, timelineSeconds: record.timelineSeconds, output: record.output(), outputs: plain(result.outputs), seconds: (Date.now() - started) / 1000, failed: false };
        } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            return { steps: record.steps, timeline: record.timeline, timelineSeconds: record.timelineSeconds, output: `${record.output()}\n${message}`, outputs: {}, seconds: (Date.now() - started) / 1000, failed: true };
        }
    }

    async preview(options: auto.PreviewOptions = {}): Promise<RunResult & { changes: auto.OpMap }> {
        return this.recorded("preview", () => this.runPreview(options));
    }

    private async runPreview(options: auto.PreviewOptions): Promise<RunResult & { changes: auto.OpMap }> {
        const record = this.recorder();
        const started = Date.now();
        const result = await this.stack.preview({ ...options, onOutput: record.onOutput, onEvent: record.onEvent });
        return { steps: record.steps, timeline: record.timeline, timelineSeconds: record.timelineSeconds, output: record.output(), outputs: {}, seconds: (Date.now() - started) / 1000, changes: result.changeSummary };
    }

    /** `pulumi refresh`, with the engine's count of what it found changed (`same` for what matches the state). */
    async refresh(): Promise<RunResult & { changes: auto.OpMap }> {
        return this.recorded("refresh", () => this.runRefresh());
    }

    private async runRefresh(): Promise<RunResult & { changes: auto.OpMap }> {
        const record = this.recorder();
        const started = Date.now();
        const result = await this.stack.refresh({ onOutput: record.onOutput, onEvent: record.onEvent });
        return {
            steps: record.steps,
            timeline: record.timeline, timelineSeconds: record.timelineSeconds,
            output: record.output(),
            outputs: {},
            seconds: (Date.now() - started) / 1000,
            changes: result.summary.resourceChanges ?? {},
        };
    }

    async destroy(): Promise<RunResult> {
        return this.recorded("destroy", () => this.runDestroy());
    }

    private async runDestroy(): Promise<RunResult> {
        const record = this.recorder();
        const started = Date.now();
        await this.stack.destroy({ onOutput: record.onOutput, onEvent: record.onEvent });
        return { steps: record.steps, timeline: record.timeline, timelineSeconds: record.timelineSeconds, output: record.output(), outputs: {}, seconds: (Date.now() - started) / 1000 };
    }

    /** Every record the service's hosts wrote in SSM, in order, as the front saw them. */
    hostRecords(service: string): ReleaseRecord[] {
        const path = `/${project}/${this.stack.name}/${service}/releases/`;
        return this.cloud.front.calls
            .filter((call) => call.action === "ssm:PutParameter" && String(call.params.Name).startsWith(path))
            .map((call) => parseReleaseRecord(String(call.params.Value)));
    }

    async setConfig(key: string, value: string, secret = false): Promise<void> {
        await this.stack.setConfig(key, { value, secret });
    }

    async stop(): Promise<void> {
        await this.cloud.ssm?.settle();
        await this.stopProvider?.();
        await this.cloud.stop();
        fs.rmSync(this.folder, { recursive: true, force: true });
    }
}

function plain(outputs: auto.OutputMap): Record<string, unknown> {
    return Object.fromEntries(Object.entries(outputs).map(([key, output]) => [key, output.value]));
}
