// The real Pulumi engine running the project's program, unchanged, against the rig's AWS: the CLI built from the Go
// module proxy, the program as an Automation API inline program (its language host lives in this process and is
// handed to the CLI with --client), the stand-in AWS provider attached with PULUMI_DEBUG_PROVIDERS, and Pulumi's own
// dynamic provider host for the release waits.
import * as auto from "@pulumi/pulumi/automation";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { root } from "../mocks";
import { Cloud } from "./cloud/cloud";
import { StandInAws } from "./provider/aws";
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
    steps: Step[];
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

export class Rig {
    readonly cloud = new Cloud();
    provider!: StandInAws;
    stack!: auto.Stack;
    private readonly folder = fs.mkdtempSync(path.join(os.tmpdir(), "rig-pulumi-"));
    private stopProvider?: () => Promise<void>;

    /** Starts the rig's AWS and the provider, and creates a stack on a file backend with the given config. */
    async start(stackName: string, config: Record<string, { value: string; secret?: boolean }>): Promise<void> {
        await this.cloud.start();
        this.provider = new StandInAws(this.cloud);
        const served = await serveProvider(this.provider);
        this.stopProvider = served.stop;

        const workDir = path.join(this.folder, "project");
        fs.mkdirSync(workDir);
        fs.mkdirSync(path.join(this.folder, "state"));
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
                    PULUMI_HOME: path.join(this.folder, "home"),
                    PULUMI_BACKEND_URL: `file://${path.join(this.folder, "state")}`,
                    PULUMI_CONFIG_PASSPHRASE: "rig",
                    PULUMI_DEBUG_PROVIDERS: `aws:${served.port}`,
                    PULUMI_SKIP_UPDATE_CHECK: "true",
                    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
                },
            },
        );
        await this.stack.setAllConfig(
            Object.fromEntries(Object.entries(config).map(([key, { value, secret }]) => [key, { value, secret: Boolean(secret) }])),
        );
    }

    private recorder() {
        const steps: Step[] = [];
        let output = "";
        return {
            steps,
            output: () => output,
            onOutput: (text: string) => (output += text),
            onEvent: (event: auto.EngineEvent) => {
                const metadata = event.resourcePreEvent?.metadata;
                if (!metadata || metadata.type.startsWith("pulumi:")) return;
                steps.push({ op: metadata.op, type: metadata.type, name: metadata.urn.split("::").pop()!, diffs: metadata.diffs ?? [] });
            },
        };
    }

    /** `pulumi up`; a failed run resolves too, with the CLI's output, so a test can read the reason. */
    async up(): Promise<RunResult & { failed: boolean }> {
        const record = this.recorder();
        const started = Date.now();
        try {
            const result = await this.stack.up({ onOutput: record.onOutput, onEvent: record.onEvent });
            return { steps: record.steps, output: record.output(), outputs: plain(result.outputs), seconds: (Date.now() - started) / 1000, failed: false };
        } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            return { steps: record.steps, output: `${record.output()}\n${message}`, outputs: {}, seconds: (Date.now() - started) / 1000, failed: true };
        }
    }

    async preview(options: auto.PreviewOptions = {}): Promise<RunResult & { changes: auto.OpMap }> {
        const record = this.recorder();
        const started = Date.now();
        const result = await this.stack.preview({ ...options, onOutput: record.onOutput, onEvent: record.onEvent });
        return { steps: record.steps, output: record.output(), outputs: {}, seconds: (Date.now() - started) / 1000, changes: result.changeSummary };
    }

    async refresh(): Promise<RunResult> {
        const record = this.recorder();
        const started = Date.now();
        await this.stack.refresh({ onOutput: record.onOutput, onEvent: record.onEvent });
        return { steps: record.steps, output: record.output(), outputs: {}, seconds: (Date.now() - started) / 1000 };
    }

    async destroy(): Promise<RunResult> {
        const record = this.recorder();
        const started = Date.now();
        await this.stack.destroy({ onOutput: record.onOutput, onEvent: record.onEvent });
        return { steps: record.steps, output: record.output(), outputs: {}, seconds: (Date.now() - started) / 1000 };
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
