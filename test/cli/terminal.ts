// Runs a command at a terminal (a pseudo-terminal from util-linux `script`) and types the answers to its prompts.
import { spawn } from "child_process";
import { ProjectCopy } from "../projectCopy";

export interface TerminalRun {
    /** The prompts that were answered, in order. */
    prompts: string[];
    /** Everything the terminal showed. */
    output: string;
    status: number | null;
}

/** What the Pulumi CLI shows when it asks for the passphrase itself. */
const cliPassphrasePrompt = /Enter your passphrase/;

/**
 * Runs `commandLine` in the project copy at a terminal. Each time the output ends with the next expected prompt, it
 * types that prompt's answer. It fails when the CLI asks for a passphrase itself, or when the output stays still
 * for `idleMs` (a prompt nobody expected).
 */
export function answerTerminal(
    copy: ProjectCopy,
    commandLine: string,
    extra: NodeJS.ProcessEnv,
    answers: [prompt: string, answer: string][],
    idleMs = 20000,
): Promise<TerminalRun> {
    const pending = [...answers];
    const prompts: string[] = [];
    let output = "";
    const child = spawn("script", ["-qec", `stty cols 120 rows 40; ${commandLine}`, "/dev/null"], {
        cwd: copy.dir,
        env: copy.env({ TERM: "xterm", ...extra }),
    });
    return new Promise((resolve, reject) => {
        let idle: NodeJS.Timeout;
        const fail = (why: string) => {
            child.kill();
            reject(new Error(`${why}; the terminal showed:\n${output}`));
        };
        const watch = () => {
            clearTimeout(idle);
            idle = setTimeout(() => fail(`no output for ${idleMs} ms`), idleMs);
        };
        watch();
        child.stdout.on("data", (chunk: Buffer) => {
            const text = chunk.toString();
            output += text;
            watch();
            // The CLI asks the terminal for the cursor position and the background colour, and waits for answers.
            if (text.includes("\x1b[6n")) child.stdin.write("\x1b[1;1R");
            if (text.includes("\x1b]11;?")) child.stdin.write("\x1b]11;rgb:0000/0000/0000\x1b\\");
            if (cliPassphrasePrompt.test(text)) fail("the Pulumi CLI asked for the passphrase itself");
            if (pending.length > 0 && output.endsWith(pending[0][0])) {
                const [prompt, answer] = pending.shift() as [string, string];
                prompts.push(prompt);
                child.stdin.write(`${answer}\r`);
            }
        });
        child.on("exit", (status) => {
            clearTimeout(idle);
            resolve({ prompts, output, status });
        });
    });
}
