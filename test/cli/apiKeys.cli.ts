// scripts/api-keys.sh through the real Pulumi CLI (built by scripts/install.sh), on a file backend with a passphrase.
// The steps run in order on one stack, as a user would: add, list, rotate, revoke.
import { expect } from "chai";
import { createHash } from "crypto";
import { project } from "../mocks";
import { ProjectCopy, secretsEnvironment } from "../projectCopy";

const sha256 = (text: string) => createHash("sha256").update(text, "ascii").digest("hex");
const keyShape = /^msk_[A-Za-z0-9_-]{43}$/;
type Callers = Record<string, { access: string; keys: string[] }>;

describe("scripts/api-keys.sh with the real Pulumi CLI", () => {
    let p: ProjectCopy;
    const stack = "trial";
    const keys: Record<string, string> = {};
    const apiKeys = (...args: string[]) => p.run("scripts/api-keys.sh", [stack, ...args], { PULUMI_BACKEND_URL: p.backend });
    const stored = (service: string): Callers => {
        const read = p.pulumi(["config", "get", "--stack", stack, `${service}ApiCallers`]);
        if (read.status !== 0) throw new Error(read.stderr);
        return JSON.parse(read.stdout).callers;
    };
    /** Runs a step that must print one new key, and returns it. */
    const newKey = (...args: string[]) => {
        const result = apiKeys(...args);
        expect(result.status, result.stderr).to.equal(0);
        expect(result.stdout).to.match(/^msk_\S+\n$/);
        const key = result.stdout.trim();
        expect(key).to.match(keyShape);
        expect(result.stderr).not.to.include(key);
        expect(result.stderr).to.include(`run \`pulumi up\` (scripts/deploy.sh ${stack})`);
        return key;
    };
    /** Runs a step that must fail with `message`, and change nothing. */
    const refused = (message: string, ...args: string[]) => {
        const before = p.stackFileText(stack);
        const result = apiKeys(...args);
        expect(result.stderr).to.equal(`api-keys: ${message}\n`);
        expect(result.stdout).to.equal("");
        expect(result.status).to.equal(1);
        expect(p.stackFileText(stack)).to.equal(before);
    };

    before(() => {
        p = new ProjectCopy();
        // dev's settings with Pulumi's default secrets provider, a passphrase, instead of dev's KMS key.
        p.writeStackFile(stack, p.stackFileText("dev").replace(/^secretsprovider: .*\n/m, ""));
        p.initStack(stack);
    });
    after(() => p.remove());

    it("adds the first callers of a new stack, whose other secrets are not set yet", () => {
        keys.ci = newKey("tasks", "add", "ci", "--write");
        keys.web = newKey("requests", "add", "web");
        // The other secrets, as deploy.sh sets them; the callers set above stay as they are.
        const { TASKS_API_CALLERS, REQUESTS_API_CALLERS, ...others } = secretsEnvironment;
        const set = p.run("scripts/stack-secrets.sh", [stack], { PULUMI_BACKEND_URL: p.backend, ...others });
        expect(set.status, set.stderr).to.equal(0);
    });

    it("stores only the digest of the printed key, with the access asked for (read by default)", () => {
        expect(stored("tasks")).to.deep.equal({ ci: { access: "write", keys: [sha256(keys.ci)] } });
        expect(stored("requests")).to.deep.equal({ web: { access: "read", keys: [sha256(keys.web)] } });
    });

    it("keeps the callers encrypted: neither key nor digest in the stack file, and the CLI shows them secret", () => {
        const text = p.stackFileText(stack);
        for (const value of [keys.ci, keys.web, sha256(keys.ci), sha256(keys.web), "callers"]) expect(text).not.to.include(value);
        for (const service of ["tasks", "requests"]) {
            expect(p.stackFile(stack).config[`${project}:${service}ApiCallers`]).to.have.all.keys("secure");
        }
        const shown = p.pulumi(["config", "--stack", stack, "--json"]);
        const values = JSON.parse(shown.stdout) as Record<string, { secret: boolean; value?: string }>;
        expect(values[`${project}:tasksApiCallers`]).to.deep.equal({ secret: true });
        expect(shown.stdout).not.to.include(sha256(keys.ci));
    });

    it("lists callers, access and number of keys, never a key or a digest", () => {
        const result = apiKeys("tasks", "list");
        expect(result.stdout).to.equal("ci write 1 key\n");
        expect(result.status).to.equal(0);
    });

    it("rotates: a second key beside the old one, in the order added, and refuses a third", () => {
        keys.ciNew = newKey("tasks", "rotate", "ci");
        expect(keys.ciNew).not.to.equal(keys.ci);
        expect(stored("tasks").ci.keys).to.deep.equal([sha256(keys.ci), sha256(keys.ciNew)]);
        expect(apiKeys("tasks", "list").stdout).to.equal("ci write 2 keys\n");
        refused("ci already has two keys; revoke the old one first: revoke ci --old", "tasks", "rotate", "ci");
    });

    it("revokes the old key after a rotation and keeps the new one", () => {
        const result = apiKeys("tasks", "revoke", "ci", "--old");
        expect(result.status, result.stderr).to.equal(0);
        expect(result.stdout).to.equal("");
        expect(stored("tasks")).to.deep.equal({ ci: { access: "write", keys: [sha256(keys.ciNew)] } });
        refused("ci has one key, no old one; to remove the caller: revoke ci", "tasks", "revoke", "ci", "--old");
    });

    it("removes a caller with its keys, but never the last one", () => {
        keys.mobile = newKey("tasks", "add", "mobile");
        expect(apiKeys("tasks", "revoke", "mobile").status).to.equal(0);
        expect(Object.keys(stored("tasks"))).to.deep.equal(["ci"]);
        refused("ci is the only caller of tasks, which refuses to start with none; add another first", "tasks", "revoke", "ci");
    });

    it("refuses an unknown service, a caller that exists, an unknown caller, a bad id and the caller requests of tasks", () => {
        refused('unknown service "billing"; it is tasks or requests', "billing", "list");
        refused("tasks already has a caller ci; to give it a new key: rotate ci", "tasks", "add", "ci");
        refused("tasks has no caller ghost", "tasks", "revoke", "ghost");
        refused("tasks has no caller ghost", "tasks", "rotate", "ghost");
        refused('"CI" cannot name a caller: 1 to 64 of a-z, 0-9 and -, starting with a letter', "tasks", "add", "CI");
        refused(
            "the caller requests of tasks is the requests service, whose key scripts/deploy.sh keeps (requestsTasksApiKey)",
            "tasks",
            "add",
            "requests",
        );
        refused(
            "usage: scripts/api-keys.sh STACK tasks|requests add|rotate|revoke|list [CALLER] [--read|--write|--old]",
            "tasks",
            "add",
            "x",
            "--admin",
        );
    });
});
