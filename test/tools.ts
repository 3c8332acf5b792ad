// Finds and runs the command-line tools the boot-path tests drive for real.
import { spawn, spawnSync, SpawnSyncReturns } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { root } from "./mocks";

/** Where scripts/install.sh puts the tools it builds or installs, searched before PATH. */
const toolFolders = [path.join(root, ".cache", "venv", "bin"), path.join(root, ".cache", "bin")];

/** The path of a tool, or an error that says how to get it: a missing tool fails the test, never skips it. */
export function tool(name: string): string {
    const folders = [...toolFolders, ...(process.env.PATH ?? "").split(path.delimiter)];
    for (const folder of folders) {
        const candidate = path.join(folder, name);
        if (fs.existsSync(candidate)) return candidate;
    }
    throw new Error(`${name} is not installed; run scripts/install.sh (or scripts/test.sh, which runs it)`);
}

/** PATH with the installed tools first. */
export function toolPath(...extraFolders: string[]): string {
    return [...extraFolders, ...toolFolders, process.env.PATH ?? ""].join(path.delimiter);
}

export function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, input?: string) {
    const result: SpawnSyncReturns<string> = spawnSync(command, args, { env, input, encoding: "utf8" });
    if (result.error) throw result.error;
    return result;
}

/** Runs a command to completion; a failure throws with its output. */
export function must(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
    const result = run(command, args, env);
    if (result.status !== 0) {
        throw new Error(`${command} ${args.join(" ")} failed (${result.status}):\n${result.stdout}${result.stderr}`);
    }
    return result.stdout;
}

export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const port = (server.address() as net.AddressInfo).port;
            server.close(() => resolve(port));
        });
    });
}

export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        const open = await new Promise<boolean>((resolve) => {
            const socket = net.connect(port, "127.0.0.1", () => socket.end(() => resolve(true)));
            socket.on("error", () => resolve(false));
        });
        if (open) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/** A real moto server on loopback, the AWS API (SSM) the tests talk to, and the real AWS CLI pointed at it. */
export interface Moto {
    endpoint: string;
    /** What an AWS client needs to reach it: the endpoint, test credentials, the region. */
    env: NodeJS.ProcessEnv;
    /** Runs the AWS CLI against it; a failure throws with the CLI's output. */
    aws(...args: string[]): string;
    /** Stores (or overwrites) a SecureString parameter and returns the version it got. */
    putSecureString(name: string, value: string): number;
    stop(): void;
}

export async function startMotoServer(): Promise<Moto> {
    const port = await freePort();
    const server = spawn(tool("moto_server"), ["-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
    await waitForPort(port, 15000);
    const endpoint = `http://127.0.0.1:${port}`;
    const env = {
        AWS_ENDPOINT_URL: endpoint,
        AWS_ACCESS_KEY_ID: "testing",
        AWS_SECRET_ACCESS_KEY: "testing",
        AWS_DEFAULT_REGION: "eu-west-1",
    };
    const aws = (...args: string[]) => must(tool("aws"), args, { ...process.env, PATH: toolPath(), ...env });
    return {
        endpoint,
        env,
        aws,
        putSecureString: (name, value) =>
            Number(
                JSON.parse(aws("ssm", "put-parameter", "--name", name, "--type", "SecureString", "--value", value, "--overwrite"))
                    .Version,
            ),
        stop: () => server.kill(),
    };
}

/** Unmounts whatever is still mounted under a folder, deepest first, so the folder can be deleted. */
export function unmountUnder(folder: string): void {
    const mounts = fs
        .readFileSync("/proc/mounts", "utf8")
        .split("\n")
        .map((line) => line.split(" ")[1])
        .filter((mount) => mount?.startsWith(folder))
        .sort()
        .reverse();
    for (const mount of mounts) spawnSync("umount", ["--lazy", mount]);
}
