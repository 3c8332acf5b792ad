// The Pulumi CLI's own checks of the typed project config in Pulumi.yaml, run for real on the dev stack. The CLI
// checks before it starts the language host; with a valid config it gets exactly as far as that host.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { project, root, sentinelSecrets } from "../mocks";
import { languageHostMissing, ProjectCopy } from "../projectCopy";

const declarations: Record<string, { default?: unknown }> = YAML.parse(
    fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8"),
).config;
const requiredKeys = Object.keys(declarations)
    .filter((key) => !("default" in declarations[key]))
    .sort();

/** The CLI's way of listing keys: 'a', 'b' and 'c'. */
function quotedList(keys: string[]): string {
    const quoted = keys.map((key) => `'${key}'`);
    return quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(", ")} and ${quoted[quoted.length - 1]}`;
}

describe("the Pulumi CLI's checks of Pulumi.yaml's typed config", () => {
    let copy: ProjectCopy;
    const set = (...args: string[]) => {
        const result = copy.pulumi(["config", "set", "--stack", "dev", ...args]);
        expect(result.status, `pulumi config set ${args.join(" ")}: ${result.stderr}`).to.equal(0);
    };
    const setEverything = () => {
        const secrets = Object.entries(sentinelSecrets).map(([key, value]) => `--secret=${key}=${value}`);
        const result = copy.pulumi(["config", "set-all", "--stack", "dev", ...secrets, "--plaintext=dockerHubUsername=octocat"]);
        expect(result.status, result.stderr).to.equal(0);
    };
    const preview = () => copy.pulumi(["preview", "--stack", "dev"]);

    beforeEach(() => {
        copy = new ProjectCopy();
        copy.initStack("dev");
    });
    afterEach(() => copy.remove());

    it("reaches the language host, and no further, with every key set and typed as declared", () => {
        setEverything();
        const result = preview();
        expect(result.stderr).to.equal(languageHostMissing);
        expect(result.stdout).to.equal("Previewing update (dev):\n");
        expect(result.status).to.equal(1);
    });

    it("names every required key that is missing, at once", () => {
        // The Docker Hub account and token are needed only to build, so a stack that releases given digests has
        // neither: the program asks for them when it builds.
        expect(requiredKeys).to.have.members([
            "mongodbUri",
            "postgresUrl",
            "logseneToken",
            "papertrailDestination",
            "tasksApiCallers",
            "requestsApiCallers",
            "requestsTasksApiKey",
        ]);
        const result = preview();
        expect(result.stderr).to.equal(
            `error: validating stack config: Stack 'dev' is missing configuration values ${quotedList(requiredKeys)}\n`,
        );
        expect(result.stdout).to.equal("");
        expect(result.status).to.equal(1);
    });

    it("refuses to read back even a key that is set while a required key is missing", () => {
        const result = copy.pulumi(["config", "get", "--stack", "dev", "aws:region"]);
        expect(result.stderr).to.equal(`error: Stack 'dev' is missing configuration values ${quotedList(requiredKeys)}\n`);
        expect(result.status).to.equal(1);
    });

    it("refuses a plain-text value for a secret key at preview, though `config set` wrote it", () => {
        setEverything();
        set("mongodbUri", sentinelSecrets.mongodbUri);
        expect(copy.stackFile("dev").config[`${project}:mongodbUri`]).to.equal(sentinelSecrets.mongodbUri);
        expect(preview().stderr).to.equal(
            "error: validating stack config: Stack 'dev' with configuration key 'mongodbUri' must be encrypted as it's secret\n",
        );
    });

    for (const [what, args, key, type] of [
        ["a text for a list", ["ingressCidrs", "0.0.0.0/0"], "ingressCidrs", "array<string>"],
        ["a number in a list of text", ["--path", "tags[0]", "7"], "tags", "array<string>"],
        ["a list for a text", ["--path", "instanceType[0]", "t3.micro"], "instanceType", "string"],
        ["an object for a text", ["--path", "logLevel.name", "debug"], "logLevel", "string"],
    ] as const) {
        it(`refuses ${what}`, () => {
            setEverything();
            set(...args);
            const result = preview();
            expect(result.stderr).to.equal(
                `error: validating stack config: Stack 'dev' with configuration key '${key}' must be of type '${type}'\n`,
            );
            expect(result.status).to.equal(1);
        });
    }

    it("reports one wrong key at a time, the first by name, unlike the program's own check", () => {
        setEverything();
        set("--path", "tags[0]", "7");
        set("ingressCidrs", "0.0.0.0/0");
        expect(preview().stderr).to.equal(
            "error: validating stack config: Stack 'dev' with configuration key 'ingressCidrs' must be of type 'array<string>'\n",
        );
    });
});
