// A throwaway copy of the project's deploy files, for running the deploy scripts and the real Pulumi CLI without
// touching the committed stack files. Commands see a PATH that holds only the tools the scripts need, so no Docker or
// language host leaks in from the machine.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { root, sentinelSecrets } from "./mocks";
import { tool } from "./tools";

export const passphrase = "correct horse battery staple";
export const languageHostMissing =
    "error: failed to load language plugin nodejs: no language plugin 'pulumi-language-nodejs' found in the workspace or on your $PATH\n";

/** The environment variables scripts/stack-secrets.sh reads, holding the mocks' sentinel secrets. */
export const secretsEnvironment = {
    DOCKERHUB_USERNAME: "octocat",
    DOCKERHUB_TOKEN: sentinelSecrets.dockerHubToken,
    MONGODB_URI: sentinelSecrets.mongodbUri,
    POSTGRES_URL: sentinelSecrets.postgresUrl,
    LOGSENE_TOKEN: sentinelSecrets.logseneToken,
    PAPERTRAIL_DESTINATION: sentinelSecrets.papertrailDestination,
    TASKS_API_CALLERS: sentinelSecrets.tasksApiCallers,
    REQUESTS_API_CALLERS: sentinelSecrets.requestsApiCallers,
    REQUESTS_TASKS_API_KEY: sentinelSecrets.requestsTasksApiKey,
};

/** Tools the deploy scripts call, found where they are installed. The Pulumi CLI is the one install.sh builds. */
const toolsOnPath = ["bash", "env", "dirname", "grep", "awk", "sed", "mkdir", "script", "stty", "npm"];

export class ProjectCopy {
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), "project-"));
    readonly bin = path.join(this.dir, ".bin");
    readonly home = path.join(this.dir, ".home");
    /** The file backend of direct CLI calls; deploy.sh picks its own default, .pulumi-state. */
    readonly backend = `file://${path.join(this.dir, ".state")}`;

    /** `cli: false` leaves the Pulumi CLI out, for tests that run before it is built. */
    constructor({ cli = true } = {}) {
        const files = ["Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "scripts/deploy.sh", "scripts/stack-secrets.sh", "scripts/release-status.sh", "scripts/api-keys.sh"];
        for (const file of files) {
            fs.mkdirSync(path.dirname(path.join(this.dir, file)), { recursive: true });
            fs.copyFileSync(path.join(root, file), path.join(this.dir, file));
        }
        fs.symlinkSync(path.join(root, "node_modules"), path.join(this.dir, "node_modules"));
        fs.mkdirSync(this.bin);
        fs.mkdirSync(this.home);
        fs.mkdirSync(this.backend.slice("file://".length));
        fs.symlinkSync(process.execPath, path.join(this.bin, "node"));
        if (cli) fs.symlinkSync(tool("pulumi"), path.join(this.bin, "pulumi"));
        for (const name of toolsOnPath) fs.symlinkSync(systemTool(name), path.join(this.bin, name));
    }

    /** Puts a tool the tests installed (the AWS CLI, say) on the copy's PATH. */
    addTool(name: string): void {
        fs.symlinkSync(tool(name), path.join(this.bin, name));
    }

    /** A stand-in `docker` whose `info` succeeds, as with a running engine; it records its calls. */
    addDocker(): { calls(): string[] } {
        const log = path.join(this.dir, "docker-calls");
        fs.writeFileSync(path.join(this.bin, "docker"), `#!/usr/bin/env bash\necho "$*" >>'${log}'\n`, { mode: 0o755 });
        return { calls: () => (fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter(Boolean) : []) };
    }

    /** The environment of every command: only our tools, a private home, no update check, the stack's passphrase. */
    env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
        const all = { PATH: this.bin, HOME: this.home, PULUMI_SKIP_UPDATE_CHECK: "true", PULUMI_CONFIG_PASSPHRASE: passphrase, ...extra };
        // An undefined value removes the variable.
        return Object.fromEntries(Object.entries(all).filter(([, value]) => value !== undefined));
    }

    /** Runs a command in the copy, with stdin from `input` (never a terminal). */
    run(command: string, args: string[], extra: NodeJS.ProcessEnv = {}, input = "") {
        const result = spawnSync(command, args, { cwd: this.dir, env: this.env(extra), input, encoding: "utf8" });
        if (result.error) throw result.error;
        return result;
    }

    /** The real Pulumi CLI on this copy's file backend. */
    pulumi(args: string[], input = "", extra: NodeJS.ProcessEnv = {}) {
        return this.run("pulumi", args, { PULUMI_BACKEND_URL: this.backend, ...extra }, input);
    }

    /** Logs in to the file backend and creates the stack, as a user does by hand. */
    initStack(stack: string): void {
        for (const args of [["login", this.backend], ["stack", "init", stack]]) {
            const result = this.pulumi(args);
            if (result.status !== 0) throw new Error(`pulumi ${args.join(" ")}: ${result.stderr}`);
        }
    }

    deploy(stack: string, extra: NodeJS.ProcessEnv = {}, ...args: string[]) {
        return this.run("scripts/deploy.sh", [stack, ...args], extra);
    }

    stackFileText(stack: string): string {
        return fs.readFileSync(path.join(this.dir, `Pulumi.${stack}.yaml`), "utf8");
    }

    stackFile(stack: string): {
        config: Record<string, unknown>;
        encryptionsalt?: string;
        secretsprovider?: string;
        encryptedkey?: string;
    } {
        return YAML.parse(this.stackFileText(stack));
    }

    /** Sets config keys in the stack file by hand, keeping its comments, as a user editing it would. */
    editStackConfig(stack: string, entries: Record<string, unknown>): void {
        const document = YAML.parseDocument(this.stackFileText(stack));
        for (const [key, value] of Object.entries(entries)) document.setIn(["config", key], value);
        this.writeStackFile(stack, document.toString());
    }

    writeStackFile(stack: string, text: string): void {
        fs.writeFileSync(path.join(this.dir, `Pulumi.${stack}.yaml`), text);
    }

    exists(relative: string): boolean {
        return fs.existsSync(path.join(this.dir, relative));
    }

    remove(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

function systemTool(name: string): string {
    for (const folder of ["/usr/local/bin", "/usr/bin", "/bin"]) {
        const candidate = path.join(folder, name);
        if (fs.existsSync(candidate)) return candidate;
    }
    throw new Error(`${name} is not installed`);
}
