// One EC2 instance of the rig, for real on this machine: its own network namespace (with the private address moto gave
// the instance), its own mount namespace (/run on a tmpfs, /etc, /usr/local and /var/lib of its own), and its own
// Docker engine. It boots from the user data the program gave the instance, as cloud-init would, and runs what the
// SSM agent would run, so the release script, the proxy and the services are the ones a real host runs.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { gunzipSync } from "zlib";
import * as YAML from "yaml";
import { toolPath, unmountUnder } from "../../tools";
import { sh, VpcNetwork } from "./network";

const here = __dirname;

export interface CommandResult {
    code: number | null;
    output: string;
}

/** The text of user data as cloud-init reads it: gzip is unpacked, anything else is taken as is. */
export function userDataText(bytes: Buffer): string {
    return bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes).toString("utf8") : bytes.toString("utf8");
}

/** Quotes one word for sh. */
function quote(word: string): string {
    return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * cloud-init's runcmd as the script it writes and runs with /bin/sh: a list entry is one command with its words
 * quoted, a string entry is a shell line. Like cloud-init, a failing command does not stop the ones after it.
 */
export function runcmdScript(runcmd: (string | string[])[]): string {
    const lines = runcmd.map((entry) => (Array.isArray(entry) ? entry.map(quote).join(" ") : entry));
    return ["#!/bin/sh", ...lines, ""].join("\n");
}

export class Host {
    readonly folder: string;
    readonly namespace: string;
    /** Where the host's own processes log: the boot, the Docker engine, the agent's commands. */
    readonly logFile: string;
    private holder?: ChildProcess;
    private holderPid = 0;
    /** The cloud-init run, done or failed. */
    bootDone?: Promise<CommandResult>;
    /**
     * What the instance metadata gives every process on a real host (its role's credentials) and where the rig's AWS
     * is: the bootstrap and the units call AWS too, not only the agent's commands. Empty for an instance with no role.
     */
    identity: NodeJS.ProcessEnv = {};

    constructor(
        private readonly network: VpcNetwork,
        readonly instanceId: string,
        readonly privateIp: string,
        private readonly registry: string,
    ) {
        this.folder = fs.mkdtempSync(path.join(os.tmpdir(), `rig-${instanceId}-`));
        this.namespace = `righost-${instanceId.slice(-8)}`;
        this.logFile = path.join(this.folder, "host.log");
    }

    /** Powers the host on: its namespaces, then its Docker engine (the AMI's docker.service). */
    async start(): Promise<void> {
        await this.network.addHost(this.namespace, this.privateIp);
        const ready = path.join(this.folder, "ready");
        this.holder = spawn(
            "unshare",
            ["--mount", "--propagation", "private", "nsenter", `--net=/run/netns/${this.namespace}`, "bash", path.join(here, "host-init.sh"), this.folder],
            { stdio: ["ignore", "ignore", fs.openSync(this.logFile, "a")], detached: true },
        );
        const deadline = Date.now() + 10000;
        while (!fs.existsSync(ready) || !fs.readFileSync(ready, "utf8").trim()) {
            if (this.holder.exitCode !== null || Date.now() > deadline) {
                throw new Error(`host ${this.instanceId} did not start: ${fs.readFileSync(this.logFile, "utf8")}`);
            }
            await new Promise((resolve) => setTimeout(resolve, 50));
        }
        this.holderPid = Number(fs.readFileSync(ready, "utf8"));
        await this.writeFile("/usr/local/sbin/systemctl", fs.readFileSync(path.join(here, "systemctl.sh"), "utf8"), "0755");
        this.spawnInside(
            ["dockerd", "--data-root", path.join(this.folder, "docker"), "--insecure-registry", this.registry, "--log-level", "warn"],
            path.join(this.folder, "dockerd.log"),
        );
        const engineDeadline = Date.now() + 60000;
        while ((await this.exec("docker", ["info"])).code !== 0) {
            if (Date.now() > engineDeadline) throw new Error(`the Docker engine of ${this.instanceId} did not start`);
            await new Promise((resolve) => setTimeout(resolve, 200));
        }
    }

    /** The host's environment for commands run as root, as the agent and cloud-init have it. */
    env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
        return {
            PATH: toolPath("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"),
            HOME: "/root",
            ...this.identity,
            ...extra,
        };
    }

    /** Runs a command inside the host and waits for it. */
    exec(command: string, args: string[], env: NodeJS.ProcessEnv = this.env(), input?: string): Promise<CommandResult> {
        return new Promise((resolve, reject) => {
            const child = spawn("nsenter", ["-t", String(this.holderPid), "-m", "-n", "--", command, ...args], {
                env,
                stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
            });
            let output = "";
            child.stdout!.on("data", (chunk) => (output += chunk));
            child.stderr!.on("data", (chunk) => (output += chunk));
            child.on("error", reject);
            child.on("close", (code) => resolve({ code, output }));
            if (input !== undefined) {
                // A command may exit without reading all of its input; that is its answer, not an error here.
                child.stdin!.on("error", () => undefined);
                child.stdin!.end(input);
            }
        });
    }

    /** Writes a file inside the host, creating its folder, as cloud-init's write_files does. */
    writeFile(file: string, content: string, mode: string): Promise<CommandResult> {
        const script = 'mkdir -p "$(dirname "$1")" && cat >"$1" && chmod "$2" "$1"';
        return this.exec("sh", ["-c", script, "write", file, mode], this.env(), content);
    }

    /** Adds a line to the host's log. */
    log(text: string): void {
        // A host's last words may come after it was powered off.
        if (fs.existsSync(this.folder)) fs.appendFileSync(this.logFile, `${new Date().toISOString()} ${text}\n`);
    }

    /** Starts a long-running process inside the host, its output in `logFile`. */
    private spawnInside(argv: string[], logFile: string): ChildProcess {
        const log = fs.openSync(logFile, "a");
        const child = spawn("nsenter", ["-t", String(this.holderPid), "-m", "-n", "--", ...argv], {
            env: this.env(),
            stdio: ["ignore", log, log],
            detached: true,
        });
        child.unref();
        return child;
    }

    /**
     * Boots from user data as cloud-init would, in the background: write_files, then runcmd as one /bin/sh script.
     * A key the rig does not emulate fails the boot, so a new bootstrap feature is never silently skipped.
     */
    boot(userData: Buffer): void {
        this.bootDone = this.runCloudInit(userDataText(userData)).then((result) => {
            this.log(`cloud-init finished (${result.code}):\n${result.output}`);
            return result;
        });
    }

    private async runCloudInit(text: string): Promise<CommandResult> {
        if (!text.startsWith("#cloud-config\n")) return { code: 1, output: "user data is not #cloud-config" };
        const config = YAML.parse(text) as Record<string, unknown>;
        const known = ["write_files", "runcmd"];
        const unknownKeys = Object.keys(config).filter((key) => !known.includes(key));
        if (unknownKeys.length > 0) return { code: 1, output: `the rig does not emulate cloud-config ${unknownKeys.join(", ")}` };
        for (const file of (config.write_files ?? []) as { path: string; content: string; permissions?: string; owner?: string }[]) {
            const written = await this.writeFile(file.path, file.content, file.permissions ?? "0644");
            if (written.code !== 0) return written;
        }
        const script = "/var/lib/cloud/instance/scripts/runcmd";
        await this.writeFile(script, runcmdScript((config.runcmd ?? []) as (string | string[])[]), "0700");
        return this.exec("sh", [script]);
    }

    /** Powers the host off for good: its containers, its engine, its namespaces and its disk. */
    async terminate(): Promise<void> {
        if (this.holderPid) await powerOff(this.holderPid, this.namespace);
        await this.network.removeHost(this.namespace);
        unmountUnder(this.folder);
        fs.rmSync(this.folder, { recursive: true, force: true });
    }
}

/** Stops everything a host runs: its containers and units, its Docker engine, then every process in its network. */
async function powerOff(holderPid: number, namespace: string): Promise<void> {
    const inside = (script: string) => sh("nsenter", ["-t", String(holderPid), "-m", "-n", "--", "sh", "-c", script], true);
    await inside("for f in /run/*.service.pid; do [ -f \"$f\" ] && kill -- -$(cat \"$f\"); done; docker ps -aq | xargs -r docker rm -f");
    await inside("kill $(cat /run/docker.pid) 2>/dev/null; for i in 1 2 3 4 5 6 7 8 9 10; do [ -e /run/docker.pid ] || break; sleep 0.5; done");
    const pids = (await sh("ip", ["netns", "pids", namespace], true)).split("\n").filter(Boolean);
    if (pids.length > 0) await sh("kill", ["-9", ...pids], true);
}

/** Powers off the hosts an interrupted run left behind, found by their network namespaces. */
export async function removeLeftoverHosts(): Promise<void> {
    for (const line of (await sh("ip", ["netns", "list"], true)).split("\n")) {
        const namespace = line.split(" ")[0];
        if (!namespace.startsWith("righost-")) continue;
        const pids = (await sh("ip", ["netns", "pids", namespace], true)).split("\n").filter(Boolean);
        for (const pid of pids) {
            const command = fs.existsSync(`/proc/${pid}/cmdline`) ? fs.readFileSync(`/proc/${pid}/cmdline`, "utf8") : "";
            if (command.startsWith("sleep\0infinity")) await powerOff(Number(pid), namespace);
        }
        await sh("ip", ["netns", "pids", namespace], true).then((left) => left.trim() && sh("kill", ["-9", ...left.trim().split("\n")], true));
        await sh("ip", ["netns", "del", namespace], true);
    }
}
