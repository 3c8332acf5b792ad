// The key check's own cost, measured in each service's runtime on its own code: key-check.mjs on the Node of the tasks
// image with the built callers module, key_check.py in the venv with the requests service's.
import * as path from "path";
import { lib } from "../shared/cli";

/** Microseconds one check takes, by the number of stored digests. */
export type CheckCost = { digests: number; microseconds: number }[];

/** The check's cost in `service` with each of `digests` stored digests; `tasksEntry`: the built tasks service. */
export async function keyCheckCost(service: "tasks" | "requests", tasksEntry: string, digests: number[], iterations = 20000): Promise<CheckCost> {
    const { runCommand } = await lib("processes.mjs");
    const { REQUESTS_DIR, TASKS_NODE, VENV_PYTHON } = await lib("paths.mjs");
    const counts = digests.map(String);
    const output: string =
        service === "tasks"
            ? await runCommand(TASKS_NODE, [path.join(__dirname, "key-check.mjs"), path.join(path.dirname(tasksEntry), "callers.js"), String(iterations), ...counts])
            : await runCommand(VENV_PYTHON, [path.join(__dirname, "key_check.py"), String(iterations), ...counts], {
                  env: { PATH: process.env.PATH, PYTHONPATH: REQUESTS_DIR },
              });
    return output.trim().split("\n").map((line) => JSON.parse(line));
}
